"""Instructor overrides: ``--overrides FILE.toml`` replaces the machine's verdict of chosen checks.

A file is a list of entries::

    [[override]]
    student = "s1"              # the student id as in report.json
    check = "readme.cleanup"    # any check id
    status = "passed"           # passed | failed
    reason = "clean-up shown in the screen recording"

Overrides are applied after grading, on every run (:func:`deploycheck.report.results.build_students`),
so re-grades and the results cache (which stores only the machine's verdicts) keep them. The report
keeps the machine's verdict and the reason beside each one. A malformed file (not TOML, an unknown
key, a missing key, a status other than passed/failed, an entry given twice) ends the run with a
one-line usage error; an entry whose student or check does not exist is a one-line warning.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from deploycheck import rubric as rb
from deploycheck.model import FAILED, PASSED, Status

STATUSES: tuple[Status, ...] = (PASSED, FAILED)
_KEYS = ("student", "check", "status", "reason")


class OverrideError(ValueError):
    """A file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Entry:
    student: str
    check: str
    status: Status
    reason: str


@dataclass(frozen=True)
class Overrides:
    """The entries of a run, by (student, check)."""
    entries: Mapping[tuple[str, str], Entry]
    source: str = ""

    def get(self, student: str, check: str) -> Entry | None:
        return self.entries.get((student, check))

    def warnings(self, students: Iterable[str], graded: Mapping[str, Iterable[str]]) -> list[str]:
        """One line per entry that was not applied: its check id is not in the rubric, its student is
        not in ``students`` (the class of this run, before sharding), or that check of that student has
        no verdict in this run (``graded``: student -> checks with a verdict)."""
        known = set(students)
        out = []
        for e in self.entries.values():
            what = f"{self.source}: the override of {e.check!r} for {e.student!r} was not applied"
            if e.check not in rb.RUBRIC:
                out.append(f"{what}: there is no check {e.check!r}{rb.did_you_mean(e.check, rb.CHECK_IDS)}")
            elif e.student not in known:
                out.append(f"{what}: there is no student {e.student!r} in this class"
                           f"{rb.did_you_mean(e.student, known)}")
            elif e.check not in set(graded.get(e.student, ())):
                out.append(f"{what}: that check was not graded for that student in this run (a shard, -k, a "
                           "disabled check, or the student could not be graded)")
        return out


NONE = Overrides({})


def parse(data: Mapping[str, Any], where: str = "overrides") -> Overrides:
    extra = sorted(set(data) - {"override"})
    if extra:
        raise OverrideError(f"{where}: unknown key {extra[0]!r}; write each override as a [[override]] table "
                            "with student, check, status and reason")
    items = data.get("override", [])
    if not isinstance(items, list):
        raise OverrideError(f"{where}: write each override as a [[override]] table (an array of tables)")
    entries: dict[tuple[str, str], Entry] = {}
    for n, item in enumerate(items, 1):
        at = f"{where}: override #{n}"
        if not isinstance(item, Mapping):
            raise OverrideError(f"{at} is not a table")
        bad = sorted(set(item) - set(_KEYS))
        if bad:
            raise OverrideError(f"{at}: unknown key {bad[0]!r}{rb.did_you_mean(bad[0], _KEYS)}; "
                                "allowed: student, check, status, reason")
        missing = [k for k in _KEYS if not isinstance(item.get(k), str) or not item[k].strip()]
        if missing:
            raise OverrideError(f"{at}: {missing[0]} is missing (every override needs student, check, status and "
                                "a reason, kept in the report)")
        status = item["status"].strip().lower()
        if status not in STATUSES:
            raise OverrideError(f"{at}: status must be \"passed\" or \"failed\", not {item['status']!r}")
        e = Entry(item["student"].strip(), item["check"].strip(), PASSED if status == PASSED else FAILED,
                  item["reason"].strip())
        if (e.student, e.check) in entries:
            raise OverrideError(f"{at}: {e.student} / {e.check} is overridden twice; keep one entry")
        entries[(e.student, e.check)] = e
    return Overrides(entries, where)


def load(path: str | Path | None) -> Overrides:
    if not path:
        return NONE
    where = f"--overrides {path}"
    data = rb.read_toml(path, where, OverrideError)
    return parse(data, where)


def toml_string(s: str) -> str:
    """A TOML basic string holding ``s`` (JSON's escapes are TOML's; DEL must be escaped too)."""
    return json.dumps(s).replace("\x7f", "\\u007f")


def snippet(student: str, check: str, status: str = PASSED, reason: str = "") -> str:
    """The entry to paste into an overrides file to decide ``check`` for ``student``."""
    return "\n".join(("[[override]]", f"student = {toml_string(student)}", f"check = {toml_string(check)}",
                      f"status = {toml_string(status)}    # or \"{FAILED if status == PASSED else PASSED}\"",
                      f"reason = {toml_string(reason or 'checked by hand: ...')}"))
