"""summary.md for ``$GITHUB_STEP_SUMMARY``: no raw HTML, no image or link from a student string
(everything a student wrote goes through :func:`escape.markdown`). Checks awaiting an instructor's
review have their own section (never among the failures); a class table counts them per student and
lists them below the table."""
from __future__ import annotations

from pathlib import Path

from deploycheck import model
from deploycheck.report._files import write_text
from deploycheck.report.escape import markdown as md
from deploycheck.report.escape import markdown_code as code
from deploycheck.report.escape import markdown_id
from deploycheck.report.results import (Group, dates_of, error_of, fix_file, fmt, late_of, nothing_on_time, platform_label,
                                        similar_to, triage, waits_for)

ICON = {"passed": "✅", "failed": "❌", "skipped": "⏭️", "review": "🔎"}


def _check_line(c: model.CheckResult, indent: str = "") -> str:
    line = f"{indent}- `{c.id}` {ICON[c.status]} {fmt(c.score)}/{fmt(c.max_score)}: {md(c.message or c.status, 400)}"
    if c.override is not None:
        line += f" (deploycheck's own verdict was {c.override.machine_status})"
    return line


def _blocked_line(b: model.CheckResult, g: Group, indent: str = "") -> str:
    return _check_line(b, indent) + f" ({waits_for(b, g)})".replace(g.check.id, f"`{g.check.id}`")


def student_block(s: model.StudentResult) -> list[str]:
    """Fix this first (check, file, message, what it unblocks); what waits for it; the other failures
    grouped; errors of the run; what passed; what does not apply."""
    t = triage(s)
    lines = [f"**{markdown_id(s.student)}** ({md(platform_label(s))}): **{fmt(s.score)} / {fmt(s.max_score)}**", ""]
    err = error_of(s)
    if err:
        lines += [f"**Not graded:** {md(err)}", ""]
    if s.notes:                 # about the repo as a whole (a model file git ignores, an odd file name)
        lines += [f"**Note:** {md(n, 600)}" for n in s.notes] + [""]
    first = next((g for g in t.groups if g.check is t.first), None)
    if first is not None and nothing_on_time(s):
        lines += ["### Nothing to grade at the deadline", "", md(first.check.message, 600), ""]
    elif first is not None:
        f = fix_file(first.check)
        lines += ["### Fix this first", "",
                  f"`{first.check.id}`" + (f" in {code(f)}" if f else "") + f": {md(first.check.message, 600)}", ""]
        if first.blocked:
            lines += ["### Blocked until it is fixed", ""]
            lines += [_blocked_line(b, first) for b in first.blocked] + [""]
    rest = [g for g in t.groups if g is not first]
    if rest:
        lines += ["### Then fix", ""]
        for g in rest:
            f = fix_file(g.check)
            lines.append(_check_line(g.check) + (f" (in {code(f)})" if f else ""))
            lines += [_blocked_line(b, g, "  ") for b in g.blocked]
        lines.append("")
    if t.review:
        lines += ["### Awaiting your instructor's review (no points lost)", ""]
        lines += [_check_line(c) for c in t.review] + [""]
    if t.errors:
        lines += ["### Errors of the grading run (not your fault)", ""]
        lines += [_check_line(c) for c in t.errors] + [""]
    if t.passed:
        lines += ["### Passed", ""] + [_check_line(c) for c in t.passed] + [""]
    if t.skipped:
        lines += ["### Does not apply", ""] + [_check_line(c) for c in t.skipped] + [""]
    for plat, cs in s.other_checks.items():
        bad = [c for c in cs if c.status == model.FAILED and not c.error]
        lines += [f"### Also graded on {md(plat)} (not counted: {md(s.platform or '')} scored better)", ""]
        lines += [_check_line(c) for c in bad] if bad else ["every check passed, was awaiting review or did not apply"]
        lines.append("")
    late = late_of(s)
    if late:
        ls = late.get("latest_score")
        lines += [f"Late: {late['count']} commit(s) after the deadline, the last at {md(late.get('last_time', ''))}"
                  + (f"; the latest commit would get {fmt(ls)}/{fmt(s.max_score)}" if ls is not None else ""), ""]
    return lines


def render(students: list[model.StudentResult]) -> str:
    lines = ["## deploycheck", ""]
    if len(students) == 1:
        lines += student_block(students[0])
    else:
        lines += ["| student | platform | score | fix first |", "|---|---|---|---|"]
        to_review: list[str] = []
        pairs: list[str] = []
        for s in students:
            t = triage(s)
            err = error_of(s)
            first = (f"not graded: {md(err, 200)}" if err else "nothing to grade at the deadline" if nothing_on_time(s)
                     else f"`{t.first.id}`" if t.first else "—")
            late = late_of(s)
            score = "—" if err else f"{fmt(s.score)}/{fmt(s.max_score)}"
            if late:
                score += f" ({late['count']} late)"
            if (dates_of(s) or {}).get("pushed_late"):
                score += " (pushed after the deadline)"
            for other, kinds in similar_to(s):
                if s.student < other:
                    pairs.append(f"- {markdown_id(s.student)} and {markdown_id(other)}: {md(', '.join(kinds))}")
            if t.review and not err:
                score += f" ({len(t.review)} to review)"
                to_review += [f"- {markdown_id(s.student)}: `{c.id}`: {md(c.message, 300)}" for c in t.review]
            lines.append(f"| {markdown_id(s.student)} | {md(s.platform or '—')} | {score} | {first} |")
        if to_review:
            lines += ["", "### Awaiting instructor review (no points lost until decided)", "", *to_review]
        if pairs:
            lines += ["", "### Similar hand-ins (integrity signals: evidence for the instructor, no points depend on "
                      "them; the class page shows it side by side)", "", *pairs]
    return "\n".join(lines).rstrip("\n") + "\n"


def write(students: list[model.StudentResult], out: Path) -> Path:
    return write_text(out / "summary.md", render(students))
