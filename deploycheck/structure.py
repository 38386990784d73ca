"""Transition shim (see deploycheck.verdicts.structure)."""
from deploycheck.verdicts.structure import deploy_folder  # noqa: F401
from deploycheck.verdicts import no_folder


def needs_folder(t, check: str = ""):  # noqa: ANN001, ANN201 - old call sites only
    return no_folder(t)
