"""Transition module: discovery lives in :mod:`deploycheck.discovery`; this module keeps where the
repos come from (``--repo``/``--classroom``/``--roster``) until the classroom package takes it over."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from deploycheck.discovery import (DeployFolder, Submission, Target, load_submission, platform_of,  # noqa: F401
                                   targets_for as _targets_for)
from deploycheck.model import AWS, GCP, PLATFORMS  # noqa: F401


# where the repos come from: moved to deploycheck.classroom (kept importable here until the lead merges)
from deploycheck.classroom import RepoRef, repos_from_options, safe_id as _safe_id  # noqa: E402,F401


def targets_for(ref: RepoRef, platform: str = "auto") -> list[Target]:
    return _targets_for(ref.student, ref.path, platform)
