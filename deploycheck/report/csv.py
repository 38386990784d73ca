"""grades.csv: one row per student, one column per check id (points earned; empty when the check
was skipped or did not run), the raw and scaled totals, the graded commit, the late columns and
``review`` (the checks awaiting an instructor's decision: they keep their points until then) and
``overrides`` (the checks an instructor decided, with deploycheck's own verdict and the reason), ``dates``
(with a deadline: whether GitHub received the graded commit late, on time, or could not say) and
``similar_to`` (the students the class's integrity signals pair with this one, and what they share;
no points depend on it).
review.csv: one row per check awaiting review, with what the instructor needs to decide it (the
message, the student's screenshot and its OCR text) and the override to paste."""
from __future__ import annotations

from pathlib import Path

from deploycheck import model
from deploycheck.report._files import write_csv
from deploycheck.overrides import snippet as override_snippet
from deploycheck.report.results import check_ids, commit_of, dates_cell, error_of, fmt, late_of, name_of, similar_to


def rows(students: list[model.StudentResult]) -> tuple[list[str], list[list[str]]]:
    ids = check_ids(students)
    header = ["student", "name", "platform", "graded_commit", *ids, "raw_score", "raw_max_score", "score", "max_score",
              "late_commits", "last_late_commit", "latest_commit_score", "review", "overrides", "dates", "similar_to",
              "error"]
    out = []
    for s in students:
        byid = {c.id: c for c in s.checks}
        cells = []
        for cid in ids:
            c = byid.get(cid)
            cells.append("" if c is None or c.status == model.SKIPPED or c.error else fmt(c.score))
        err = error_of(s)
        late = late_of(s) or {}
        commit = commit_of(s) or {}
        out.append([s.student, name_of(s), s.platform or "", commit.get("sha", ""), *cells,
                    fmt(s.raw_score if s.raw_score is not None else ""),
                    fmt(s.raw_max_score if s.raw_max_score is not None else ""),
                    "" if err else fmt(s.score), fmt(s.max_score),
                    str(late.get("count", "")) if late else "", str(late.get("last_time", "")) if late else "",
                    fmt(late["latest_score"]) if late.get("latest_score") is not None else "",
                    " ".join(c.id for c in s.checks if c.needs_review), overrides_cell(s), dates_cell(s),
                    "; ".join(f"{other}: {', '.join(kinds)}" for other, kinds in similar_to(s)), err or ""])
    return header, out


def overrides_cell(s: model.StudentResult) -> str:
    """``readme.cleanup: passed (deploycheck: failed; reason ...)`` for each check an instructor decided."""
    return "; ".join(f"{c.id}: {c.status} (deploycheck: {c.override.machine_status}; {c.override.reason})"
                     for c in s.checks if c.override is not None)


REVIEW_HEADER = ("student", "name", "check", "points", "message", "screenshot", "ocr_text", "override")


def review_rows(students: list[model.StudentResult]) -> list[list[str]]:
    return [[s.student, name_of(s), c.id, fmt(c.max_score), c.message, c.screenshot.path if c.screenshot else "",
             c.screenshot.ocr_text if c.screenshot else "", override_snippet(s.student, c.id)]
            for s in students for c in s.checks if c.needs_review]


def write(students: list[model.StudentResult], out: Path) -> Path:
    header, body = rows(students)
    return write_csv(out / "grades.csv", header, body)


def write_review(students: list[model.StudentResult], out: Path) -> Path:
    return write_csv(out / "review.csv", REVIEW_HEADER, review_rows(students))
