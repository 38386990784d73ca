"""Transition shim: the verdict records live in :mod:`deploycheck.model`, the never-raise guard in
:mod:`deploycheck.verdicts`. Import from there; this module goes away once every caller has moved."""
from deploycheck.model import FAILED, PASSED, SKIPPED, Outcome, failed, passed, skipped  # noqa: F401
from deploycheck.verdicts import guarded  # noqa: F401
