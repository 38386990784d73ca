"""Hostile student strings in every sink: Markdown (rendered by GitHub's own cmark-gfm), terminal,
HTML, CSV; and the writers' formats."""
from __future__ import annotations

import csv
import io
import json
import re

import cmarkgfm
import pytest

from deploycheck import model
from deploycheck.report import ReportOptions, RunMeta, markdown, terminal, write_all
from deploycheck.report.escape import csv_cell

HOSTILE = ("<script>alert(1)</script> ![x](https://evil.example/p.png) [click](javascript:alert(1)) | `code` "
           "\x1b[2J\x1b[1;1H\x1b]0;owned\x07 24/24 all checks passed\r\n## forged heading www.evil.example "
           "mail@evil.example <img src=x onerror=alert(2)> &lt;b&gt; \u202etxt.exe <!-- x --> ~~s~~ _i_ **b**")


def hostile_student(sid="mallory", error=None):
    checks = (model.CheckResult("structure.deploy_folder", "passed", 1, 1, HOSTILE),
              model.CheckResult("readme.present", "failed", 0, 1, HOSTILE, file=HOSTILE),
              model.CheckResult("readme.cleanup", "failed", 0, 2, HOSTILE, blocked_by="readme.present"),
              model.CheckResult("predict.local", "skipped", 0, 0, HOSTILE, error=True))
    return model.StudentResult(sid, HOSTILE, "aws", 1.0, 24.0, checks, notes=(HOSTILE,), name=HOSTILE, raw_score=1,
                               raw_max_score=4, error=error,
                               extra={"roster": {"name": "=cmd|' /C calc'!A0", "canvas_id": "+1", "sis_user_id": "-2",
                                                 "sis_login_id": "@x", "section": "\tLab", "github_username": "\rgh",
                                                 "assignment_name": "=HYPERLINK(\"https://evil\")"},
                                      "commit": {"sha": "a" * 40, "time": "2024-05-01T00:00:00+00:00"},
                                      "late": {"count": 1, "last_time": HOSTILE, "latest_score": 2.0}})


@pytest.mark.parametrize("n", [1, 2])
def test_markdown_has_no_html_link_or_image_from_students(n):
    students = [hostile_student(f"s{i}") for i in range(n)]
    if n == 2:
        students[1] = hostile_student("s1", error=HOSTILE)           # shown in the class table
    text = markdown.render(students)
    html = cmarkgfm.github_flavored_markdown_to_html(text, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
    for bad in ("<script", "<img", "<a ", "<!--", "<b>", "<del>", "<em>i", "<strong>b", "forged heading</h"):
        assert bad not in html, (bad, html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html          # shown as text
    assert "\x1b" not in text and "\u202e" not in text
    if n == 1:
        body = text.split("### Fix this first", 1)[1]
        assert body.index("readme.present") < body.index("### Blocked until") < body.index("readme.cleanup")
        assert "blocked by `readme.present`" in body and "### Errors of the grading run (not your fault)" in body


def test_terminal_lines_have_no_control_characters():
    lines = terminal.lines([hostile_student()]) + terminal.lines([hostile_student("a"), hostile_student("b")])
    for line in lines:
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", line), repr(line)
    assert "owned" not in "".join(lines)                              # the OSC title payload is gone
    one = terminal.lines([hostile_student()])
    assert one[0].startswith("mallory (aws): 1/24 points, 2 of 3 checks failed")
    assert one[2].startswith("FIX THIS FIRST: readme.present -> ")
    assert one.index("ERRORS OF THE GRADING RUN (not your fault; tell your instructor):") > 2
    assert any("fixing it also unblocks: readme.cleanup" in line for line in one)
    assert any(line.startswith("  predict.local: error") or line.startswith("  predict.local: ") for line in one)


def test_every_csv_cell_is_neutralised(tmp_path):
    write_all([hostile_student(error="=2+2 not graded")], tmp_path, RunMeta(), ReportOptions(canvas=True, github_csv=True))
    for name in ("grades.csv", "canvas.csv", "github-classroom.csv"):
        rows = list(csv.reader(io.StringIO((tmp_path / name).read_text(encoding="utf-8"), newline="")))
        for row in rows:
            for cell in row:
                assert not cell or cell[0] not in "=+-@\t\r", (name, cell)
        assert any(cell.startswith("'") for row in rows for cell in row), name
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("-") == "'-" and csv_cell("3.5") == "3.5" and csv_cell(None) == ""


def test_html_escapes_everything(tmp_path):
    write_all([hostile_student()], tmp_path, RunMeta(finished=1700000000.0), ReportOptions())
    page = (tmp_path / "index.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page and "<!-- x -->" not in page
    assert page.count("<script>") == 1 and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Fix this first:" in page and "blocked by readme.present" in page and "error of the run" in page


def test_gradescope_output_starts_with_fix_first(tmp_path):
    write_all([hostile_student()], tmp_path, RunMeta(), ReportOptions())
    gs = json.loads((tmp_path / "results" / "mallory.json").read_text())
    assert gs["output"].startswith("Fix this first: readme.present") and gs["score"] == 1.0
    assert [t["name"] for t in gs["tests"]] == ["readme.present", "(blocked by readme.present) readme.cleanup",
                                                "(error of the run) predict.local", "structure.deploy_folder"]


def test_canvas_without_assignment_id_creates_an_assignment(tmp_path):
    s = model.StudentResult("zoe", "/r", "aws", 12.5, 24.0, name="Zoë Núñez", extra={"roster": {"canvas_id": "7"}})
    write_all([s], tmp_path, RunMeta(), ReportOptions(canvas_assignment="Deploy lab"))
    assert (tmp_path / "canvas.csv").read_bytes() == (
        "Student,ID,SIS User ID,SIS Login ID,Section,Deploy lab\r\n"
        "Points Possible,,,,,24\r\n"
        "Zoë Núñez,7,,,,12.5\r\n").encode()
    assert not (tmp_path / "github-classroom.csv").exists()           # not a GitHub Classroom roster


def test_markdown_ids_stay_readable_but_safe():
    from deploycheck.report.escape import markdown_id
    assert markdown_id("no_readme") == "no_readme" and markdown_id("dup-b_2") == "dup-b_2"
    for sid in ("_x_", "a@b.example", "www.evil.example", "https.evil"):
        html = cmarkgfm.github_flavored_markdown_to_html(f"| {markdown_id(sid)} |")
        assert "<a " not in html and "<em>" not in html, (sid, html)


def test_gradescope_not_graded_has_no_score_never_a_zero(tmp_path):
    """README: a student who could not be graded gets no score (an empty cell), never a zero."""
    s = model.StudentResult("ghost", "", None, 0.0, 23.0, (), error="no repository for ghost in r.csv")
    write_all([s], tmp_path, RunMeta())
    doc = json.loads((tmp_path / "results" / "ghost.json").read_text())
    assert "score" not in doc and doc["tests"] == [] and "Not graded: no repository" in doc["output"]
    assert doc["extra_data"]["deploycheck"] == "not graded"


def _rostered(sid, **roster):
    return model.StudentResult(sid, "/r", "aws", 1.0, 1.0, extra={"roster": roster} if roster else {})


def test_canvas_rows_without_an_id_are_warned_about_by_name():
    from deploycheck.report import warnings
    class_ = [_rostered("amy", canvas_id="7"), _rostered("bob", sis_login_id="bob@uni"), _rostered("cat", name="Cat"),
              _rostered("dan")]
    (w,) = warnings(class_, ReportOptions(canvas=True))
    assert w.startswith("canvas.csv: 2 of 4 students have no Canvas ID, SIS User ID or SIS Login ID (cat, dan)")
    assert "--roster" in w
    assert warnings(class_[:2], ReportOptions(canvas=True)) == []
    assert warnings(class_, ReportOptions()) == []                     # no canvas.csv, nothing to say


def test_github_classroom_csv_holds_github_logins_only(tmp_path):
    """github_username is the roster's login; an e-mail, a roster identifier or a student number never
    stands in for one (a student who has not linked a GitHub account gets an empty cell)."""
    class_ = [_rostered("zoe-n", github_username="zoe-n", identifier="zoe@uni.example"),
              _rostered("42", identifier="42"),                                     # not linked yet
              _rostered("amy_uni.example", identifier="amy@uni.example"),
              _rostered("bob"), _rostered("carl.s"), _rostered("dee@uni.example")]   # plain roster ids
    write_all(class_, tmp_path, RunMeta(), ReportOptions(github_csv=True))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "github-classroom.csv").read_text())))
    assert [(r["github_username"], r["roster_identifier"]) for r in rows] == [
        ("zoe-n", "zoe@uni.example"), ("", "42"), ("", "amy@uni.example"), ("bob", ""), ("", ""), ("", "")]
