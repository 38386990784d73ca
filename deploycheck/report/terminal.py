"""The "deploycheck grades" section of pytest's terminal summary. Student strings lose every
escape sequence and control character (escape.terminal).

One student (what a student sees from ``deploycheck grade --repo .``)::

    no_artifact (aws): 13/23 points, 5 of 14 checks failed

    FIX THIS FIRST: artifact.present -> aws_deploy/model.tar.gz
      aws_deploy/ has no model.tar.gz: save the trained model with joblib.dump(model,
      "model.joblib"), ...
      fixing it also unblocks: artifact.valid, artifact.version, artifact.safe, predict.local

    THEN FIX:
      readme.cleanup -> aws_deploy/README.md
        aws_deploy/README.md does not say how to delete ...

    PASSED (9): structure.deploy_folder, readme.present, ...

A check awaiting an instructor's review (status ``review``) is listed under its own heading, never as
a failure, and keeps its points. A class prints one line per student (:func:`student_line`).
"""
from __future__ import annotations

import shutil
import textwrap

from deploycheck import model
from deploycheck.report.escape import terminal as tx
from deploycheck.report.results import Group, error_of, fix_file, fmt, late_of, nothing_on_time, platform_label, triage


def student_line(s: model.StudentResult) -> str:
    t = triage(s)
    err = error_of(s)
    head = f"{tx(s.student, 40):<24} {tx(s.platform or '-', 4):<4} "
    if err:
        return head + f"{'—':>6}/{fmt(s.max_score):<6} not graded: {tx(err, 300)}"
    tail = (" nothing to grade at the deadline" if nothing_on_time(s) else
            f" fix first: {t.first.id}" + (f" ({tx(fix_file(t.first), 120)})" if fix_file(t.first) else "")
            if t.first else (" all checks passed" if not (t.errors or t.review) else " no failing check"))
    n = t.n_failed
    if n > 1:
        tail += f"; {n} failing in all"
    if t.review:
        tail += f"; {len(t.review)} to review ({', '.join(c.id for c in t.review)})"
    if t.errors:
        tail += f"; {len(t.errors)} error(s) of the run"
    late = late_of(s)
    if late:
        tail += f"; {late['count']} late commit(s)"
        if late.get("latest_score") is not None:
            tail += f", latest would get {fmt(late['latest_score'])}"
    return head + f"{fmt(s.score):>6}/{fmt(s.max_score):<6}" + tail


def _width() -> int:
    return max(60, min(120, shutil.get_terminal_size((100, 24)).columns))


def _wrap(text: str, indent: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]


def _target(c: model.CheckResult) -> str:
    f = fix_file(c)
    return f"{c.id} -> {tx(f, 120)}" if f else c.id


def _waiting(g: Group, indent: str, width: int) -> list[str]:
    """What waits for ``g``'s check: the checks it blocked (they did not run: "unblocks" names only
    those), then the checks that ran and failed with messages of their own, each shown with it."""
    blocked = [b for b in g.blocked if b.blocked_by]
    own = [b for b in g.blocked if not b.blocked_by]
    out = _wrap("fixing it also unblocks: " + ", ".join(b.id for b in blocked), indent, width) if blocked else []
    if own:
        out += _wrap(f"also failing (each needs {g.check.id} too):", indent, width)
        for b in own:
            out.append(f"{indent}  {_target(b)}")
            out += _wrap(tx(b.message), indent + "    ", width)
    return out


def student_detail(s: model.StudentResult, width: int | None = None) -> list[str]:
    """Every line for one student: fix this first, the other failures grouped, errors of the run,
    what passed, what does not apply."""
    w = width or _width()
    t = triage(s)
    err = error_of(s)
    n_failed, n_graded = t.n_failed, t.n_graded
    late_only = nothing_on_time(s)
    head = f"{tx(s.student, 60)} ({tx(platform_label(s), 30)}): "
    if err:
        return [head + f"not graded: {tx(err, 300)}"]
    head += f"{fmt(s.score)}/{fmt(s.max_score)} points, "
    if n_failed:
        head += f"{n_failed} of {n_graded} checks failed"
    elif t.review or t.errors:
        head += f"{len(t.passed)} of {n_graded} checks passed"
    else:
        head += f"all {n_graded} checks passed"
    if t.review:
        head += f", {len(t.review)} awaiting your instructor's review"
    if t.errors:
        head += f", {len(t.errors)} could not be graded"
    out = [head]
    if t.first is not None:
        first = next(g for g in t.groups if g.check is t.first)
        out += ["", "NOTHING TO GRADE AT THE DEADLINE:" if late_only else f"FIX THIS FIRST: {_target(t.first)}"]
        out += _wrap(tx(t.first.message), "  ", w)
        out += [] if late_only else _waiting(first, "  ", w)
    rest = [g for g in t.groups if g.check is not t.first]
    if rest:
        out += ["", "THEN FIX:"]
        for g in rest:
            out.append(f"  {_target(g.check)}")
            out += _wrap(tx(g.check.message), "    ", w)
            out += _waiting(g, "    ", w)
    if t.review:
        out += ["", "AWAITING YOUR INSTRUCTOR'S REVIEW (no points lost; deploycheck could not decide):"]
        for c in t.review:
            out += _wrap(f"{c.id}: {tx(c.message)}", "  ", w)
    if t.errors:
        out += ["", "ERRORS OF THE GRADING RUN (not your fault; tell your instructor):"]
        for c in t.errors:
            out += _wrap(f"{c.id}: {tx(c.message)}", "  ", w)
    if t.passed:
        out += [""] + _wrap(f"PASSED ({len(t.passed)}): " + ", ".join(c.id for c in t.passed), "", w)
    if t.skipped:
        out += _wrap("DOES NOT APPLY: " + ", ".join(c.id for c in t.skipped), "", w)
    for plat, cs in s.other_checks.items():
        bad = [c for c in cs if c.status == model.FAILED and not c.error]
        out += [""] + _wrap(f"ALSO GRADED ON {tx(plat, 10).upper()} (not counted: {tx(s.platform or '', 10)} scored "
                            f"better): " + ("; ".join(f"{c.id} failed: {tx(c.message, 300)}" for c in bad)
                                            if bad else "no check failed"), "", w)
    decided = [c for c in s.checks if c.override is not None]
    if decided:
        out += _wrap("DECIDED BY YOUR INSTRUCTOR: " + ", ".join(
            f"{c.id} {c.status} (deploycheck said {c.override.machine_status})" for c in decided if c.override), "", w)
    for note in s.notes:
        out += _wrap(f"note: {tx(note, 400)}", "", w)
    late = late_of(s)
    if late:
        line = f"late: {late['count']} commit(s) after the deadline"
        if late.get("latest_score") is not None:
            line += f"; the latest commit would get {fmt(late['latest_score'])}/{fmt(s.max_score)}"
        out.append(line)
    return out


def lines(students: list[model.StudentResult]) -> list[str]:
    if len(students) == 1:
        return student_detail(students[0])
    return [student_line(s) for s in students]
