"""Verdicts: each rubric check compares facts (``folder.facts``) with the rubric and returns a
:class:`deploycheck.model.Outcome`. Verdict modules never read student files themselves.

One module per check-id prefix; every public verdict takes a :class:`~deploycheck.discovery.Target`
and never raises (:func:`guarded`).
"""
from __future__ import annotations

import functools
from typing import Callable, ParamSpec

from deploycheck.discovery import LAB_NAMES, DeployFolder, Target
from deploycheck.model import Outcome, blocked, failed, skipped

STRUCTURE = "structure.deploy_folder"
_P = ParamSpec("_P")


def guarded(fn: Callable[_P, Outcome]) -> Callable[_P, Outcome]:
    """Any exception while judging one repo becomes a failed Outcome naming the check (hostile
    input must never raise out of a check and stop the run)."""
    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Outcome:
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the safety net for one broken repo
            return failed(f"{fn.__name__.replace('_', ' ')}: could not analyse this repo ({type(e).__name__}: {e}); "
                          "check that the deploy folder holds ordinary files")
    return wrapper


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
