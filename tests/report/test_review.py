"""The ``review`` status: a check whose evidence is genuinely uncertain keeps its points until an
instructor decides, is counted and listed apart in every output, and is never shown as a failure."""
from __future__ import annotations

import csv
import io
import json
import tomllib

import pytest
from PIL import Image

from deploycheck import model, overrides, rubric as rb
from deploycheck.report import ReportOptions, RunMeta, terminal, write_all
from deploycheck.report.results import build_students, score, triage
from deploycheck.proof import browser as br

R = rb.Rubric(dict(rb.RUBRIC))
SHOT = "aws_deploy/prediction.png"
OCR = "predictor.predict(x)\nOut[7]: array([@, 2])"


def rec(student, cid, o, platform="aws"):
    return model.CheckRecord(student, platform, f"/r/{student}", cid, o)


def uncertain():
    return model.review("aws_deploy/prediction.png shows predictor.predict(...) and an output OCR could not read "
                        "with confidence (“array([@, 2])”)", screenshot=model.Screenshot(SHOT, OCR))


def students(repo=""):
    records = [rec("rita", "structure.deploy_folder", model.passed("found aws_deploy/")),
               rec("rita", "readme.present", model.passed("README.md")),
               rec("rita", "proof.screenshot", uncertain()),
               rec("fred", "structure.deploy_folder", model.passed("found aws_deploy/")),
               rec("fred", "readme.present", model.failed("aws_deploy/README.md is empty: write the steps")),
               rec("fred", "proof.screenshot", model.passed("shows a prediction"))]
    out = build_students(records, [], R, {"structure.deploy_folder", "readme.present", "proof.screenshot"})
    if repo:
        from dataclasses import replace
        out = [replace(s, repo=repo) for s in out]
    return out


def test_review_keeps_its_points_and_is_neither_passed_nor_failed():
    c = score("proof.screenshot", uncertain(), R)
    pts = rb.RUBRIC["proof.screenshot"].points
    assert c.status == "review" and c.score == pts and c.max_score == pts and c.screenshot.ocr_text == OCR
    fred, rita = students()                                                # students without a roster: sorted
    assert rita.score == rita.max_score == 3 and fred.score == 2                                   # no points lost until decided
    t = triage(rita)
    assert [c.id for c in t.review] == ["proof.screenshot"] and t.first is None and not t.groups
    assert "proof.screenshot" not in [c.id for c in t.passed]
    # an error of the run that says review earns nothing (errors never raise a score)
    assert score("proof.screenshot", model.Outcome("review", "x", error=True), R).score == 0


def test_terminal_lists_review_apart_and_never_says_all_passed():
    fred, rita = students()
    one = terminal.lines([rita])
    assert one[0].startswith("rita (aws): 3/3 points, 2 of 3 checks passed, 1 awaiting your instructor's review")
    assert "all" not in one[0] and not any("FIX THIS FIRST" in ln for ln in one)
    i = one.index("AWAITING YOUR INSTRUCTOR'S REVIEW (no points lost; deploycheck could not decide):")
    assert one[i + 1].startswith("  proof.screenshot: aws_deploy/prediction.png shows")
    line = terminal.lines([fred, rita])[1]
    assert "all checks passed" not in line and "1 to review (proof.screenshot)" in line


def test_every_file_output_counts_and_lists_review(tmp_path):
    write_all(students(), tmp_path, RunMeta(), ReportOptions(canvas=True, github_csv=True))
    doc = json.loads((tmp_path / "report.json").read_text())
    rita = doc["students"][1]
    assert rita["review"] == ["proof.screenshot"] and "fix_first" not in rita
    c = next(c for c in rita["checks"] if c["id"] == "proof.screenshot")
    assert c["status"] == "review" and c["score"] == c["max_score"] == 1
    assert c["screenshot"] == {"path": SHOT, "ocr_text": OCR}
    md = (tmp_path / "summary.md").read_text()
    assert "(1 to review)" in md and "### Awaiting instructor review (no points lost until decided)" in md
    assert "- rita: `proof.screenshot`:" in md
    grades = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text())))
    assert grades[1]["review"] == "proof.screenshot" and grades[0]["review"] == ""
    assert grades[1]["proof.screenshot"] == "1" and grades[1]["score"] == grades[1]["max_score"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "review.csv").read_text(encoding="utf-8"), newline="")))
    assert len(rows) == 1 and rows[0]["student"] == "rita" and rows[0]["check"] == "proof.screenshot"
    assert rows[0]["screenshot"] == SHOT and rows[0]["ocr_text"] == OCR
    # the override entry pastes as is into an overrides file
    ov = overrides.parse(tomllib.loads(rows[0]["override"]))
    assert ov.get("rita", "proof.screenshot").status == "passed"
    gs = json.loads((tmp_path / "results" / "rita.json").read_text())
    assert gs["score"] == 3 and "Awaiting your instructor's review (no points lost): proof.screenshot" in gs["output"]
    t = next(t for t in gs["tests"] if t["name"] == "(to review) proof.screenshot")
    assert t["status"] == "passed" and t["score"] == 1 and t["output"].startswith("awaiting your instructor's review")
    canvas = (tmp_path / "canvas.csv").read_text()
    assert canvas.splitlines()[-1].endswith(",3")                       # the score Canvas imports keeps the points


def test_md_single_student_has_a_review_section(tmp_path):
    from deploycheck.report import markdown
    text = markdown.render([students()[1]])
    assert "### Awaiting your instructor's review (no points lost)" in text and "### Fix this first" not in text
    assert "🔎" in text


@pytest.fixture
def review_page(tmp_path):
    repo = tmp_path / "repo"
    (repo / "aws_deploy").mkdir(parents=True)
    Image.new("RGB", (320, 200), (20, 20, 20)).save(repo / SHOT)
    out = tmp_path / "report"
    write_all(students(str(repo)), out, RunMeta(), ReportOptions())
    return out


def test_class_page_shows_each_review_item_with_screenshot_ocr_and_override(review_page):
    page = (review_page / "index.html").read_text()
    assert 'id="only-review"' in page and 'data-review="proof.screenshot"' in page and 'data-review=""' in page
    assert "Needs review:" in page and "array([@, 2])" in page
    assert 'src="proof/rita/own-prediction.png"' in page
    assert "[[override]]\nstudent = &#34;rita&#34;\ncheck = &#34;proof.screenshot&#34;" in page
    assert "1 check to review" in page


needs_chromium = pytest.mark.skipif(not br.available()[0], reason=br.available()[1])


@needs_chromium
def test_needs_review_filter_in_chromium(review_page):

    def drive(b):
        ctx = b.new_context(viewport={"width": 1200, "height": 900})
        url = br.serve_folder(ctx, review_page) + "index.html"       # (Chromium's jail has no view of the grader's files)
        try:
            page = ctx.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, wait_until="load")
            rows = page.locator("tr.student-row")
            visible = lambda: [r.get_attribute("data-student") for r in rows.all() if r.is_visible()]
            res = {"all": visible()}
            page.check("#only-review")
            res["review"], res["count"] = visible(), page.inner_text("#count")
            page.click("tr.student-row[data-student=rita] td.score")
            res["detail"] = page.inner_text("#s-1")
            page.uncheck("#only-review")
            res["again"] = visible()
            res["errors"] = errors
            return res
        finally:
            ctx.close()

    r = br.run(drive)
    assert r["errors"] == []
    assert r["all"] == ["fred", "rita"] and r["review"] == ["rita"] and r["count"] == "1 of 2 students"
    assert "Needs review: proof.screenshot" in r["detail"] and "array([@, 2])" in r["detail"]
    assert "[[override]]" in r["detail"] and r["again"] == ["fred", "rita"]
