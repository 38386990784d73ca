"""github-classroom.csv: the columns of GitHub Classroom's assignment grades download, in its
order (github/gh-classroom ``assignment_grades.go``, ``gradeCSVHeaders``): assignment_name,
assignment_url, starter_code_url, github_username, roster_identifier, student_repository_name,
student_repository_url, submission_timestamp, points_awarded, points_available (+ group_name for
group assignments). Values carried from the roster files; ``submission_timestamp`` is the graded
commit's committer date; ``points_awarded`` / ``points_available`` are on the common scale."""
from __future__ import annotations

import re
from pathlib import Path

from deploycheck import model
from deploycheck.report._files import write_csv
from deploycheck.report.results import commit_of, error_of, fmt, roster_of

HEADER = ("assignment_name", "assignment_url", "starter_code_url", "github_username", "roster_identifier",
          "student_repository_name", "student_repository_url", "submission_timestamp", "points_awarded",
          "points_available")


# GitHub's rule for a login: letters, digits and single hyphens inside, at most 39 characters
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")


def github_username(s: model.StudentResult) -> str:
    """The student's GitHub login: the roster's; else, on a plain roster (no GitHub Classroom
    identifier), the student id when it is shaped like a login; never an e-mail or an identifier."""
    r = roster_of(s)
    if r.get("github_username"):
        return r["github_username"]
    if r.get("identifier"):         # in the GitHub Classroom roster, not linked to a GitHub account yet
        return ""
    return s.student if _LOGIN.match(s.student) else ""


def rows(students: list[model.StudentResult]) -> tuple[list[str], list[list[str]]]:
    group = any(roster_of(s).get("group_name") for s in students)
    body = []
    for s in students:
        r = roster_of(s)
        src = str(s.source or s.repo or "")
        row = [r.get("assignment_name", ""), r.get("assignment_url", ""), r.get("starter_code_url", ""),
               github_username(s), r.get("identifier", ""),
               r.get("student_repository_name", ""), src if "://" in src or "@" in src else "",
               (commit_of(s) or {}).get("time", ""), "" if error_of(s) else fmt(s.score), fmt(s.max_score)]
        if group:
            row.append(r.get("group_name", ""))
        body.append(row)
    return [*HEADER, *(("group_name",) if group else ())], body


def write(students: list[model.StudentResult], out: Path) -> Path:
    header, body = rows(students)
    return write_csv(out / "github-classroom.csv", header, body)
