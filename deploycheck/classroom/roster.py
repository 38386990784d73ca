"""Roster files -> :class:`RosterRow`s.

Three formats are recognised from their header row (column names are matched case-insensitively,
surrounding spaces ignored, a UTF-8 byte-order mark is fine):

* a plain CSV: ``student, repo`` (``repo`` may also be called ``url``, ``repository`` or ``path``);
* GitHub Classroom's roster download (``classroom_roster.csv``):
  ``"identifier","github_username","github_id","name"`` (no repositories: combine it with the
  assignment's grades download, or a plain CSV, by giving ``--roster`` twice);
* GitHub Classroom's assignment grades download (``grades.csv``, the same columns that
  ``gh classroom assignment-grades`` writes): ``assignment_name, assignment_url, starter_code_url,
  github_username, roster_identifier, student_repository_name, student_repository_url,
  submission_timestamp, points_awarded, points_available`` and ``group_name`` for group assignments.

Sources for the GitHub Classroom columns: github/gh-classroom
``cmd/gh-classroom/assignment-grades/assignment_grades.go`` (``gradeCSVHeaders``), GitHub's REST
schema "classroom-assignment-grade" (docs.github.com/en/rest/classroom/classroom), and the roster
download's header as reported in earthlab/abc-classroom#59 (``identifier, github_username,
github_id, name``; github_id added by education/classroom PR #1312).

Any roster may also carry the Canvas columns ``ID`` (or ``Canvas ID``), ``SIS User ID``,
``SIS Login ID``, ``Section`` and a display ``name``: they are copied to the gradebooks exactly.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

from deploycheck.classroom.refs import RosterEntry

GRADES_COLUMNS = ("assignment_name", "assignment_url", "starter_code_url", "github_username", "roster_identifier",
                  "student_repository_name", "student_repository_url", "submission_timestamp", "points_awarded",
                  "points_available")
ROSTER_COLUMNS = ("identifier", "github_username", "github_id", "name")
# grades-export columns worth carrying to our own GitHub Classroom-style CSV
CARRIED = ("assignment_name", "assignment_url", "starter_code_url", "student_repository_name", "group_name",
           "github_id")

_REPO = ("repo", "url", "repository", "path", "repo_url", "clone_url")
_CANVAS = {"id": "canvas_id", "canvas id": "canvas_id", "canvas_id": "canvas_id", "canvas user id": "canvas_id",
           "sis user id": "sis_user_id", "sis_user_id": "sis_user_id",
           "sis login id": "sis_login_id", "sis_login_id": "sis_login_id",
           "section": "section"}


class RosterError(ValueError):
    """A roster that cannot be used; the message is one line."""


@dataclass(frozen=True)
class RosterRow:
    """One student as read from the roster files (before cloning)."""
    key: str                        # the raw id: github_username for GitHub Classroom files, else `student`
    repo: str = ""                  # URL or path as written ("" when this file gives none)
    entry: RosterEntry = field(default_factory=RosterEntry)
    where: str = ""                 # file:line, for messages
    base: Path | None = None        # folder relative repo paths are taken from


def _kind(cols: set[str]) -> str:
    if "student_repository_url" in cols and "github_username" in cols:
        return "github-grades"
    if {"identifier", "github_username"} <= cols:
        return "github-roster"
    if "student" in cols and cols & set(_REPO):
        return "plain"
    return ""


def read(path: str | Path) -> list[RosterRow]:
    p = Path(path)
    if not p.is_file():
        raise RosterError(f"--roster {path}: file not found; give a CSV with columns student,repo or a GitHub "
                          "Classroom roster/grades download")
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise RosterError(f"--roster {path}: not UTF-8 text; save the CSV as UTF-8") from None
    except csv.Error as e:
        raise RosterError(f"--roster {path}: not a readable CSV ({e})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise RosterError(f"--roster {path}: the file is empty")
    header = [h.strip().lower() for h in rows[0]]
    kind = _kind(set(header))
    if not kind:
        raise RosterError(f"--roster {path}: unknown columns ({', '.join(rows[0])}); expected student,repo, GitHub "
                          "Classroom's roster download (identifier,github_username,github_id,name) or its grades "
                          "download (github_username,...,student_repository_url,...)")
    out: list[RosterRow] = []
    for n, raw in enumerate(rows[1:], start=2):
        d: dict[str, str] = {}
        for h, v in zip(header, raw):
            if h and h not in d:
                d[h] = v.strip()
        canvas = {field_: d.get(col, "") for col, field_ in _CANVAS.items() if d.get(col)}
        where = f"{p.name}:{n}"
        if kind == "plain":
            key = d.get("student", "")
            repo = next((d[c] for c in _REPO if d.get(c)), "")
            entry = RosterEntry(name=d.get("name", ""), github_username=d.get("github_username", ""),
                                identifier=d.get("identifier", ""))
        elif kind == "github-roster":
            key = d.get("github_username", "")
            repo = ""
            entry = RosterEntry(name=d.get("name", ""), github_username=key, identifier=d.get("identifier", ""),
                                extra=(("github_id", d["github_id"]),) if d.get("github_id") else ())
            if not key:
                key = d.get("identifier", "")
        else:
            key = d.get("github_username", "")
            repo = d.get("student_repository_url", "")
            extra = tuple((c, d[c]) for c in CARRIED if d.get(c))
            entry = RosterEntry(name=d.get("name", ""), github_username=key, identifier=d.get("roster_identifier", ""),
                                extra=extra)
        entry = replace(entry, canvas_id=canvas.get("canvas_id", ""), sis_user_id=canvas.get("sis_user_id", ""),
                        sis_login_id=canvas.get("sis_login_id", ""), section=canvas.get("section", ""))
        if not key:
            continue
        out.append(RosterRow(key=key, repo=repo, entry=entry, where=where, base=p.parent))
    return out


def _merge_entry(a: RosterEntry, b: RosterEntry) -> RosterEntry:
    """``a`` with the fields ``b`` adds (a's non-empty values win)."""
    extra = dict(b.extra)
    extra.update({k: v for k, v in a.extra if v})
    return RosterEntry(
        name=a.name or b.name, github_username=a.github_username or b.github_username,
        identifier=a.identifier or b.identifier, canvas_id=a.canvas_id or b.canvas_id,
        sis_user_id=a.sis_user_id or b.sis_user_id, sis_login_id=a.sis_login_id or b.sis_login_id,
        section=a.section or b.section, extra=tuple(extra.items()))


def combine(files: list[list[RosterRow]]) -> list[RosterRow]:
    """Join several roster files on the GitHub username (else the student key), keeping the order
    of first appearance; a student in only one file is kept (a roster student with no repo is
    reported as such, never dropped)."""
    merged: dict[str, RosterRow] = {}
    for rows in files:
        for r in rows:
            k = (r.entry.github_username or r.key).casefold()
            if k not in merged:
                merged[k] = r
                continue
            old = merged[k]
            merged[k] = RosterRow(key=old.key, repo=old.repo or r.repo, entry=_merge_entry(old.entry, r.entry),
                                  where=old.where if old.repo or not r.repo else r.where,
                                  base=old.base if old.repo or not r.repo else r.base)
    return list(merged.values())
