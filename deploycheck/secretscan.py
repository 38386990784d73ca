"""Transition shim: facts in deploycheck.analysis.secrets, verdict in deploycheck.verdicts.security."""
from deploycheck.analysis.secrets import redact_key_id, scan_bytes, scan_repo  # noqa: F401
from deploycheck.verdicts.security import security_secrets  # noqa: F401
