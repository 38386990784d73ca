"""Verdicts: each rubric check compares facts (``folder.facts``) with the rubric and returns a
:class:`deploycheck.model.Outcome` (``passed``, ``failed``, ``review``, ``skipped``, ``blocked``,
``run_error``). Verdict modules never read student files themselves.

One module per check-id prefix; every public verdict takes a :class:`~deploycheck.discovery.Target`.
A verdict never catches ``Exception``: a bounded student-input problem is raised as
:class:`deploycheck.errors.StudentInputError` (the check fails with its message), and anything else
that escapes is an error of the run (:mod:`deploycheck.errors`, applied by the plugin).
"""
from __future__ import annotations

from deploycheck.discovery import LAB_NAMES, DeployFolder, Target
from deploycheck.model import Outcome, blocked, skipped

STRUCTURE = "structure.deploy_folder"


def where_to_deploy(t: Target) -> str:
    """The one thing to fix when a repo has no deploy folder."""
    if t.submission.problem:
        return t.submission.problem
    return ("put your deployment in aws_deploy/ (SageMaker) or gcp_deploy/ (GCP) at the root of the repo")


def no_folder(t: Target) -> Outcome | None:
    """``blocked by structure.deploy_folder`` when the target has no deploy folder, else None."""
    if t.folder is not None:
        return None
    return blocked(STRUCTURE, where_to_deploy(t))


def folder_of(t: Target) -> DeployFolder:
    """The target's deploy folder (call after :func:`no_folder` returned None)."""
    f = t.folder
    assert f is not None
    return f


def folder_label(t: Target) -> str:
    f = t.folder
    if f is not None:
        return f"{f.rel}/"
    return f"{LAB_NAMES.get(t.platform or 'aws', 'aws_deploy')}/"


def aws_only(t: Target, check: str) -> Outcome | None:
    """Skipped on GCP (does not apply), blocked without a folder, else None."""
    if t.platform == "gcp":
        return skipped(f"does not apply to GCP: {check} checks the SageMaker entry-point script; GCP's prebuilt "
                       "scikit-learn containers load model.joblib/model.pkl themselves")
    return no_folder(t)
