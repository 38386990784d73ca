"""report.json: DESIGN.md's schema (students -> checks) plus, per student, ``raw_score``,
``raw_max_score``, ``name``, ``roster``, ``commit`` (graded commit), ``late`` (count, last time,
latest commit, the score it would get), ``error`` (not graded, why), ``fix_first``, ``review`` (the
checks awaiting an instructor's decision); and ``meta``. A check entry may hold ``override`` (the
instructor's reason and the machine's own verdict) and, for errors of the run, ``traceback``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deploycheck import model
from deploycheck.report._files import write_text
from deploycheck.report.results import triage


def student_json(s: model.StudentResult) -> dict[str, Any]:
    d = s.to_json()
    t = triage(s)
    if t.first is not None:
        d["fix_first"] = t.first.id
    if t.review:
        d["review"] = [c.id for c in t.review]
    return d


def write(students: list[model.StudentResult], out: Path, meta: dict[str, Any]) -> Path:
    doc = {"students": [student_json(s) for s in students], "meta": meta}
    return write_text(out / "report.json", json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")


def read(path: Path) -> tuple[list[model.StudentResult], dict[str, Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    students = [model.StudentResult.from_json({k: v for k, v in s.items() if k not in ("fix_first", "review")})
                for s in doc["students"]]
    return students, dict(doc.get("meta") or {})
