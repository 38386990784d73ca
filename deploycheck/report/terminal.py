"""The "deploycheck grades" section of pytest's terminal summary. Student strings lose every
escape sequence and control character (escape.terminal)."""
from __future__ import annotations

from deploycheck import model
from deploycheck.report.escape import terminal as tx
from deploycheck.report.results import error_of, fix_file, fmt, late_of, triage


def student_line(s: model.StudentResult) -> str:
    t = triage(s)
    err = error_of(s)
    head = f"{tx(s.student, 40):<24} {tx(s.platform or '-', 4):<4} "
    if err:
        return head + f"{'—':>6}/{fmt(s.max_score):<6} not graded: {tx(err, 300)}"
    tail = (f" fix first: {t.first.id}" + (f" ({tx(fix_file(t.first), 120)})" if fix_file(t.first) else "")
            if t.first else (" all checks passed" if not t.errors else " no failing check"))
    n = sum(1 + len(g.blocked) for g in t.groups)
    if n > 1:
        tail += f"; {n} failing in all"
    if t.errors:
        tail += f"; {len(t.errors)} error(s) of the run"
    late = late_of(s)
    if late:
        tail += f"; {late['count']} late commit(s)"
        if late.get("latest_score") is not None:
            tail += f", latest would get {fmt(late['latest_score'])}"
    return head + f"{fmt(s.score):>6}/{fmt(s.max_score):<6}" + tail


def student_detail(s: model.StudentResult) -> list[str]:
    """Every line for one student: fix first, the other failures grouped, errors, what passed."""
    t = triage(s)
    out = [student_line(s)]
    if t.first is not None:
        f = fix_file(t.first)
        out.append(f"  FIX THIS FIRST: {t.first.id}{f' ({tx(f, 120)})' if f else ''}: {tx(t.first.message)}")
    for g in t.groups:
        if g.check is not t.first:
            out.append(f"  failed   {g.check.id}: {tx(g.check.message)}")
        for b in g.blocked:
            out.append(f"    blocked by {b.blocked_by or g.check.id}: {b.id}")
    for c in t.errors:
        out.append(f"  error of the run (not your fault) {c.id}: {tx(c.message)}")
    if t.passed:
        out.append("  passed   " + ", ".join(c.id for c in t.passed))
    return out


def lines(students: list[model.StudentResult]) -> list[str]:
    if len(students) == 1:
        return student_detail(students[0])
    return [student_line(s) for s in students]
