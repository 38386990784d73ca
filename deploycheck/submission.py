"""Transition module: discovery lives in :mod:`deploycheck.discovery`; this module keeps where the
repos come from (``--repo``/``--classroom``/``--roster``) until the classroom package takes it over."""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from deploycheck.discovery import (DeployFolder, Submission, Target, load_submission, platform_of,  # noqa: F401
                                   targets_for as _targets_for)
from deploycheck.model import AWS, GCP, PLATFORMS  # noqa: F401


# ---------------------------------------------------------------- where the repos come from

@dataclass(frozen=True)
class RepoRef:
    student: str
    path: str


def _safe_id(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name.strip()) or "student"
    return s


def repos_from_options(repos: list[str], classroom: str | None, roster: str | None) -> list[RepoRef]:
    """Resolve --repo/--classroom/--roster into (student id, path) pairs, sorted and unique.

    Raises ValueError with a usage message when the inputs are unusable."""
    refs: list[RepoRef] = []
    for r in repos or []:
        p = Path(r)
        name = p.absolute().resolve().name if p.exists() else p.name
        refs.append(RepoRef(_safe_id(name or "repo"), str(p)))
    if classroom:
        c = Path(classroom)
        if not c.is_dir():
            raise ValueError(f"--classroom {classroom}: not a folder; give a folder with one sub-folder per student repo")
        for e in sorted(os.scandir(c), key=lambda e: e.name):
            if e.name.startswith("."):
                continue
            refs.append(RepoRef(_safe_id(e.name), e.path))
    if roster:
        rp = Path(roster)
        if not rp.is_file():
            raise ValueError(f"--roster {roster}: file not found; give a CSV with columns student,repo")
        with open(rp, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        if rows and not {"student", "repo"} <= set(k.strip().lower() for k in rows[0].keys() if k):
            raise ValueError(f"--roster {roster}: needs the columns student,repo (found {', '.join(rows[0].keys())})")
        for row in rows:
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            if not row.get("student"):
                continue
            path = Path(row["repo"])
            if not path.is_absolute():
                path = rp.parent / path
            refs.append(RepoRef(_safe_id(row["student"]), str(path)))
    # unique student ids (two repos with the same folder name get a suffix)
    seen: dict[str, int] = {}
    out: list[RepoRef] = []
    for r in refs:
        n = seen.get(r.student, 0)
        seen[r.student] = n + 1
        out.append(r if n == 0 else RepoRef(f"{r.student}_{n + 1}", r.path))
    return out


def targets_for(ref: RepoRef, platform: str = "auto") -> list[Target]:
    return _targets_for(ref.student, ref.path, platform)
