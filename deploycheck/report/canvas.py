"""canvas.csv: a file Canvas's Gradebook import takes as is.

Columns ``Student, ID, SIS User ID, SIS Login ID, Section, <assignment name> (<assignment id>)``:
the header Canvas's own gradebook export writes and its importer reads. Sources: Canvas Community,
"How do I import grades in the Gradebook?" (Instructor Guide, community.canvaslms.com ...ta-p/807)
and instructure/canvas-lms ``app/models/gradebook_importer.rb`` (the header needs "Student" and
"ID" first and "Section" last among the student columns; a student is matched by ``ID`` (the
Canvas user id), then ``SIS User ID``, then ``SIS Login ID``, then by name; an assignment column
"Name (123)" updates assignment 123, a column without an id creates a new assignment, whose points
come from the optional "Points Possible" row). One assignment column, on the common scale.
Students that could not be graded get an empty cell (Canvas leaves their grade unchanged).
"""
from __future__ import annotations

import re
from pathlib import Path

from deploycheck import model
from deploycheck.report._files import write_csv
from deploycheck.report.results import error_of, fmt, name_of, roster_of

HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
DEFAULT_ASSIGNMENT = "Deploy lab"


def assignment_column(spec: str | None) -> tuple[str, bool]:
    """("Name (ID)", has_id) from --canvas-assignment ("Deploy lab (1234)" or just a name)."""
    s = (spec or DEFAULT_ASSIGNMENT).strip()
    m = re.match(r"^(.*\S)\s*\((\d+)\)$", s)
    if m:
        return f"{m.group(1)} ({m.group(2)})", True
    return s, False


def rows(students: list[model.StudentResult], assignment: str | None) -> tuple[list[str], list[list[str]]]:
    col, has_id = assignment_column(assignment)
    body: list[list[str]] = []
    if not has_id and students:
        # a new assignment: Canvas takes its points from this row
        body.append(["Points Possible", "", "", "", "", fmt(students[0].max_score)])
    for s in students:
        r = roster_of(s)
        body.append([r.get("name") or name_of(s), r.get("canvas_id", ""), r.get("sis_user_id", ""),
                     r.get("sis_login_id", ""), r.get("section", ""), "" if error_of(s) else fmt(s.score)])
    return [*HEADER, col], body


def unmatched(students: list[model.StudentResult]) -> list[str]:
    """Students whose canvas.csv row has no Canvas ID, SIS User ID or SIS Login ID (the roster gave none):
    Canvas's importer can match them only by name."""
    return [s.student for s in students if not any(roster_of(s).get(k) for k in ("canvas_id", "sis_user_id",
                                                                                    "sis_login_id"))]


def warning(students: list[model.StudentResult]) -> str | None:
    """The one line the run prints when canvas.csv has rows Canvas can match only by name."""
    miss = unmatched(students)
    if not miss:
        return None
    shown = ", ".join(miss[:5]) + (f" and {len(miss) - 5} more" if len(miss) > 5 else "")
    return (f"canvas.csv: {len(miss)} of {len(students)} students have no Canvas ID, SIS User ID or SIS Login ID "
            f"({shown}): Canvas's grade import can match them only by their name, and asks you to match by hand "
            "each name it does not find; add the ID (or SIS Login ID) column of Canvas's gradebook export to the "
            "--roster file")


def write(students: list[model.StudentResult], out: Path, assignment: str | None) -> Path:
    header, body = rows(students, assignment)
    return write_csv(out / "canvas.csv", header, body)
