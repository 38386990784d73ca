"""Transition shim: facts in deploycheck.analysis.artifact, verdicts in deploycheck.verdicts.artifact."""
from deploycheck.analysis.artifact import make_tar_gz  # noqa: F401
from deploycheck.verdicts.artifact import (artifact_present, artifact_safe, artifact_valid,  # noqa: F401
                                           artifact_version)


def model_artifact(folder):  # noqa: ANN001, ANN201
    return folder.facts.artifact


def is_unsafe(folder) -> bool:  # noqa: ANN001
    info = folder.facts.artifact
    return info is not None and not info.loadable
