"""results/<student>.json in Gradescope's autograder format: ``score`` (common scale), ``output``
that starts with the one thing to fix first, then one test per check grouped the same way. A check
awaiting review is a test with its points, status "passed" (Gradescope knows only passed/failed) and
the name prefix "(to review)"; the output lists them on a line of their own."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deploycheck import model
from deploycheck.report._files import write_text
from deploycheck.report.results import error_of, fix_file, fmt, nothing_on_time, triage, waits_for


def result(s: model.StudentResult) -> dict[str, Any]:
    t = triage(s)
    lines = []
    err = error_of(s)
    if err:
        lines.append(f"Not graded: {err}")
    if t.first is not None and nothing_on_time(s):
        lines.append(f"Nothing to grade at the deadline: {t.first.message}")
    elif t.first is not None:
        f = fix_file(t.first)
        lines.append(f"Fix this first: {t.first.id}{f' ({f})' if f else ''}: {t.first.message}")
    elif not err:
        lines.append("Every check passed." if not (t.errors or t.review) else "No failing check.")
    if t.review and not err:
        lines.append(f"Awaiting your instructor's review (no points lost): {', '.join(c.id for c in t.review)}")
    lines += [f"Note: {n}" for n in s.notes]
    lines.append(f"Platform: {s.platform or 'none found'}; score {fmt(s.score)}/{fmt(s.max_score)} "
                 f"(raw {fmt(s.raw_score or 0)}/{fmt(s.raw_max_score or 0)})")
    tests: list[dict[str, Any]] = []

    def add(c: model.CheckResult, prefix: str = "") -> None:
        out = c.message or c.status
        if c.status == model.SKIPPED:
            out = f"skipped: {out}"
        elif c.status == model.REVIEW:
            out = f"awaiting your instructor's review (no points lost): {out}"
        tests.append({"name": f"{prefix}{c.id}", "score": c.score, "max_score": c.max_score,
                      "status": "failed" if c.status == model.FAILED and not c.error else "passed", "output": out})

    for g in t.groups:
        add(g.check)
        for b in g.blocked:
            add(b, prefix=f"({waits_for(b, g)}) ")
    for c in t.review:
        add(c, prefix="(to review) ")
    for c in t.errors:
        add(c, prefix="(error of the run) ")
    for c in t.passed:
        add(c)
    for c in t.skipped:
        add(c)
    doc: dict[str, Any] = {"output": "\n".join(lines), "tests": tests, "visibility": "visible"}
    if err:
        # not graded (no repo, a clone that failed): no score at all, never a zero; say why
        doc["extra_data"] = {"deploycheck": "not graded", "reason": err}
    else:
        doc["score"] = s.score
    return doc


def write(students: list[model.StudentResult], out: Path) -> None:
    for s in students:
        write_text(out / "results" / f"{s.student}.json", json.dumps(result(s), indent=2, ensure_ascii=False) + "\n")
