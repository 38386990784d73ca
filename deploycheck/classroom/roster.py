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


MAX_PROBLEMS = 12      # rows listed in one RosterError (the count says how many more)


def _records(p: Path, shown: str) -> list[tuple[int, int, list[str]]]:
    """(first line, last line, cells) of each CSV record of ``p``; a quote that is never closed, or
    one that makes a record span several lines (no roster cell holds a line break: a stray quote
    swallowed the rows below it), is a RosterError naming the line it opens on."""
    out: list[tuple[int, int, list[str]]] = []
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            prev = 0
            try:
                for cells in reader:
                    out.append((prev + 1, reader.line_num, cells))
                    prev = reader.line_num
            except csv.Error as e:
                first, last = prev + 1, reader.line_num
                if "unexpected end of data" in str(e):
                    why = "a quote (\") opened on this line is never closed; close it, or remove it"
                elif last > first:
                    why = (f"a quote (\") opened on this line is closed only on line {last}, so lines {first}-{last} "
                           f"read as one cell: close the quote on line {first}, or remove it")
                else:
                    why = f"not readable as CSV ({e}): quote the whole cell, or remove the quote"
                raise RosterError(f"{shown}:{first}: {why}") from None
    except UnicodeDecodeError:
        raise RosterError(f"--roster {shown}: not UTF-8 text; save the CSV as UTF-8") from None
    for first, last, cells in out:
        if last > first:
            raise RosterError(f"{shown}:{first}: a quote (\") opened on this line is closed only on line {last}, so "
                              f"lines {first}-{last} read as one row: close the quote on line {first}, or remove it")
    return out


def read(path: str | Path) -> list[RosterRow]:
    """The students of one roster file, in file order. Every row with content becomes a student or
    an error: rows that cannot be read (an unclosed quote, no student id, more cells than columns,
    the same student twice with different repos) raise one :class:`RosterError` listing each as
    ``file:line: reason``; nothing is ever skipped silently."""
    p = Path(path)
    shown = str(path)
    if not p.is_file():
        raise RosterError(f"--roster {path}: file not found; give a CSV with columns student,repo or a GitHub "
                          "Classroom roster/grades download")
    records = [(n, cells) for n, _last, cells in _records(p, shown) if any(c.strip() for c in cells)]
    if not records:
        raise RosterError(f"--roster {path}: the file is empty")
    header_line, raw_header = records[0]
    header = [h.strip().lower() for h in raw_header]
    kind = _kind(set(header))
    if not kind:
        raise RosterError(f"--roster {path}: unknown columns ({', '.join(raw_header)}); expected student,repo, GitHub "
                          "Classroom's roster download (identifier,github_username,github_id,name) or its grades "
                          "download (github_username,...,student_repository_url,...)")
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    out: list[RosterRow] = []
    problems: list[str] = []
    first_of: dict[str, RosterRow] = {}
    for n, raw in records[1:]:
        where = f"{shown}:{n}"
        extra_cells = [c for c in raw[width:] if c.strip()]
        if extra_cells:
            problems.append(f"{where}: {len(raw[:width]) + len(extra_cells)} cells but the header has {width} "
                            f"columns (a comma inside a name? put that cell in double quotes)")
            continue
        d: dict[str, str] = {}
        for h, v in zip(header, raw):
            if h and h not in d:
                d[h] = v.strip()
        canvas = {field_: d.get(col, "") for col, field_ in _CANVAS.items() if d.get(col)}
        repo = d.get("student_repository_url", "") or next((d[c] for c in _REPO if d.get(c)), "")
        if kind == "plain":
            key = d.get("student", "")
            entry = RosterEntry(name=d.get("name", ""), github_username=d.get("github_username", ""),
                                identifier=d.get("identifier", ""))
            missing = "the student cell is empty"
        elif kind == "github-roster":
            key = d.get("github_username", "") or d.get("identifier", "")
            entry = RosterEntry(name=d.get("name", ""), github_username=d.get("github_username", ""),
                                identifier=d.get("identifier", ""),
                                extra=(("github_id", d["github_id"]),) if d.get("github_id") else ())
            missing = "both identifier and github_username are empty"
        else:
            key = d.get("github_username", "") or d.get("roster_identifier", "")
            extra = tuple((c, d[c]) for c in CARRIED if d.get(c))
            entry = RosterEntry(name=d.get("name", ""), github_username=d.get("github_username", ""),
                                identifier=d.get("roster_identifier", ""), extra=extra)
            missing = "both github_username and roster_identifier are empty"
        entry = replace(entry, canvas_id=canvas.get("canvas_id", ""), sis_user_id=canvas.get("sis_user_id", ""),
                        sis_login_id=canvas.get("sis_login_id", ""), section=canvas.get("section", ""))
        if not key:
            problems.append(f"{where}: no student id ({missing}) for the row {', '.join(c for c in raw if c.strip())!r}: "
                            "fill it in, or delete the row")
            continue
        row = RosterRow(key=key, repo=repo, entry=entry, where=where, base=p.parent)
        k = key.casefold()
        first = first_of.get(k)
        if first is not None:
            if first.repo and repo and first.repo != repo:
                problems.append(f"{where}: {key} again (first on line {first.where.rsplit(':', 1)[1]}) with another "
                                f"repo ({repo}, not {first.repo}): keep the one row that is right")
            else:                      # the same student again: one row holding what both say
                merged = _merge_rows(first, row)
                out[out.index(first)] = first_of[k] = merged
            continue
        first_of[k] = row
        out.append(row)
    if problems:
        more = f"\n  ... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        raise RosterError(f"--roster {path}: {len(problems)} row(s) cannot be graded as written; fix them (nothing "
                          "was graded):\n  " + "\n  ".join(problems[:MAX_PROBLEMS]) + more)
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


def _merge_rows(old: RosterRow, new: RosterRow) -> RosterRow:
    """One row with what both say (``old``'s values win; the row that gives the repo is the one cited)."""
    keep = old if old.repo or not new.repo else new
    return RosterRow(key=old.key, repo=old.repo or new.repo, entry=_merge_entry(old.entry, new.entry),
                     where=keep.where, base=keep.base)


def _names(r: RosterRow) -> list[str]:
    """Every name a roster row is known by: its GitHub username, its GitHub Classroom identifier (an
    e-mail or a student number) and its key."""
    return list(dict.fromkeys(k.casefold() for k in (r.entry.github_username, r.entry.identifier, r.key) if k))


def combine(files: list[list[RosterRow]]) -> list[RosterRow]:
    """Join several roster files on any name a row is known by (GitHub username, GitHub Classroom
    identifier, student key: a plain roster keyed by e-mail meets classroom_roster.csv's row with that
    identifier and its username), keeping the order of first appearance; a student in only one file is
    kept (a roster student with no repo is reported as such, never dropped). Two files that give one
    student different repos are a RosterError naming both lines."""
    merged: list[RosterRow] = []
    index: dict[str, int] = {}
    problems: list[str] = []
    for rows in files:
        for r in rows:
            at = next((index[k] for k in _names(r) if k in index), None)
            if at is None:
                at = len(merged)
                merged.append(r)
            else:
                old = merged[at]
                if old.repo and r.repo and old.repo != r.repo:
                    problems.append(f"{r.where}: {r.key} has the repo {r.repo}, but {old.where} gives {old.repo}: make "
                                    "the rosters agree (or give only one of them a repo column)")
                    continue
                merged[at] = _merge_rows(old, r)
            for k in _names(merged[at]):
                index.setdefault(k, at)
    if problems:
        raise RosterError(f"the --roster files disagree ({len(problems)} student(s)); nothing was graded:\n  "
                          + "\n  ".join(problems[:MAX_PROBLEMS]))
    return merged
