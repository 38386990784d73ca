"""Transition shim: facts in deploycheck.analysis.entrypoint, verdicts in deploycheck.verdicts.entry_point."""
from deploycheck.analysis.entrypoint import requirement_names  # noqa: F401
from deploycheck.verdicts.entry_point import entry_point_imports, entry_point_model_fn  # noqa: F401


def entry_point(folder):  # noqa: ANN001, ANN201
    return folder.facts.entry_point
