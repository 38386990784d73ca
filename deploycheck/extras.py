"""Transition shim (see deploycheck.verdicts.extras)."""
from deploycheck.verdicts.extras import custom_image  # noqa: F401
