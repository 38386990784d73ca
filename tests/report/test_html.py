"""The class report page (deploycheck.report.html), also exercised in real Chromium."""
import os
import re

import pytest
from PIL import Image

from deploycheck.proof import browser as br
from deploycheck import model
from deploycheck.report import html as htmlreport

EVIL = "<script>alert('pwned')</script></td><img src=x onerror=alert(2)>"


def _check(cid, status, msg="", pts=1, screenshot=None, ocr_text="", proof=None, **data):
    return model.CheckResult(cid, status, pts if status in ("passed", "review") else 0, 0 if status == "skipped" else pts,
                             msg, data=data, screenshot=model.Screenshot(screenshot, ocr_text) if screenshot else None,
                             proof=proof or {})


def _student(student, repo, platform, score, max_score, checks, notes=()):
    return model.StudentResult(student, repo, platform, score, max_score, tuple(checks), tuple(notes))


def _students():
    return [
        _student("alice", str(REPO), "aws", 3, 3,
                 [_check("structure.deploy_folder", "passed", "found aws_deploy/"),
                  _check("readme.cleanup", "passed", "ok"),
                  _check("proof.screenshot", "passed", "shows a prediction", screenshot="aws_deploy/shot.png",
                         ocr_text="predictions: [0, 1] <b>"),
                  _check("proof.generated", "passed", "proof",
                         proof={"local": "proof/alice/aws-local.png", "readme": "proof/alice/readme.png"})]),
        _student("bob", str(REPO), "gcp", 1, 3,
                 [_check("structure.deploy_folder", "passed", "found gcp_deploy/"),
                  _check("readme.cleanup", "failed", "gcp_deploy/README.md never deletes the endpoint: add "
                         "`gcloud ai endpoints delete`."),
                  _check("proof.screenshot", "failed", "a symlink", screenshot="aws_deploy/link.png"),
                  _check("proof.generated", "failed", EVIL, proof={"local": "../../etc/passwd",
                                                                   "x": "javascript:alert(3)"})]),
        _student("mallory<b>", EVIL, None, 0, 1, [_check("structure.deploy_folder", "failed", EVIL)], notes=[EVIL]),
    ]


REPO = None


@pytest.fixture
def report_dir(tmp_path):
    global REPO
    REPO = tmp_path / "repo"
    (REPO / "aws_deploy").mkdir(parents=True)
    Image.new("RGB", (200, 100), (0, 0, 200)).save(REPO / "aws_deploy" / "shot.png")
    (tmp_path / "secret.png").write_bytes(b"not yours")
    os.symlink(tmp_path / "secret.png", REPO / "aws_deploy" / "link.png")     # never followed
    out = tmp_path / "report"
    (out / "proof" / "alice").mkdir(parents=True)
    Image.new("RGB", (300, 120), (0, 160, 0)).save(out / "proof" / "alice" / "aws-local.png")
    Image.new("RGB", (300, 200), (240, 240, 240)).save(out / "proof" / "alice" / "readme.png")
    htmlreport.write(_students(), out, {"finished": 1700000000, "shard": None, "run_id": "r1"})
    return out


def test_page_is_self_contained_and_escaped(report_dir):
    page = (report_dir / "index.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page
    assert page.count("<script>") == 1                       # our own inline script only
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)   # no CDN / external files
    assert "../../etc/passwd" not in page and "javascript:" not in page
    assert 'src="proof/alice/aws-local.png"' in page and 'src="proof/alice/readme.png"' in page
    # the student's own screenshot, copied, between the generated card and the README snapshot, with its OCR text
    assert page.index("proof/alice/aws-local.png") < page.index("proof/alice/own-shot.png") < \
        page.index("proof/alice/readme.png")
    assert (report_dir / "proof" / "alice" / "own-shot.png").read_bytes()[:4] == b"\x89PNG"
    assert "predictions: [0, 1] &lt;b&gt;" in page
    assert not (report_dir / "proof" / "bob" / "own-link.png").exists() and "own-link" not in page
    for cid in ("structure.deploy_folder", "readme.cleanup", "proof.generated"):
        assert f'title="{cid}"' in page


needs_chromium = pytest.mark.skipif(not br.available()[0], reason=br.available()[1])


@needs_chromium
def test_page_in_chromium(report_dir, tmp_path):
    shot = tmp_path / "index-detail.png"

    def drive(b):
        ctx = b.new_context(viewport={"width": 1200, "height": 900})
        url = br.serve_folder(ctx, report_dir) + "index.html"       # (Chromium's jail has no view of the grader's files)
        try:
            page = ctx.new_page()
            errors, dialogs = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url, wait_until="load")
            rows = page.locator("tr.student-row")
            visible = lambda: [r.get_attribute("data-student") for r in rows.all() if r.is_visible()]
            res = {"all": visible()}
            page.fill("#filter", "bob")
            res["by_name"] = visible()
            page.fill("#filter", "readme.clean")          # a failing check id (prefix works too)
            res["by_check"] = visible()
            res["count"] = page.inner_text("#count")
            page.fill("#filter", "structure.deploy_folder")
            res["by_check2"] = visible()
            page.fill("#filter", "")
            page.click("#sort-score")
            res["sorted"] = [r.get_attribute("data-student") for r in rows.all()]
            page.click("#sort-score")
            res["sorted_back"] = [r.get_attribute("data-student") for r in rows.all()]
            res["detail_hidden_before"] = not page.locator("#s-1").is_visible()
            page.click("tr.student-row[data-student=bob] td.score")
            res["detail_visible"] = page.locator("#s-1").is_visible()
            res["detail_text"] = page.inner_text("#s-1")
            page.click("tr.student-row[data-student=alice] td.name a")
            # images load lazily (a class of hundreds must not load every PNG up front)
            page.wait_for_function("Array.from(document.querySelectorAll('#s-0 img'))"
                                   ".every(i => i.complete && i.naturalWidth > 0)", timeout=10_000)
            res["alice_imgs"] = page.eval_on_selector_all(
                "#s-0 img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
            page.screenshot(path=str(shot), full_page=True)
            res["errors"], res["dialogs"] = errors, dialogs
            return res
        finally:
            ctx.close()

    r = br.run(drive)
    assert r["errors"] == [] and r["dialogs"] == []
    assert r["all"] == ["alice", "bob", "mallory<b>"]
    assert r["by_name"] == ["bob"]
    assert r["by_check"] == ["bob"] and r["count"] == "1 of 3 students"
    assert r["by_check2"] == ["mallory<b>"]
    assert r["sorted"] == ["alice", "bob", "mallory<b>"] and r["sorted_back"] == ["mallory<b>", "bob", "alice"]
    assert r["detail_hidden_before"] and r["detail_visible"]
    assert "never deletes the endpoint" in r["detail_text"] and "<script>alert('pwned')</script>" in r["detail_text"]
    assert sorted(r["alice_imgs"]) == [["proof/alice/aws-local.png", 300], ["proof/alice/own-shot.png", 200],
                                       ["proof/alice/readme.png", 300]]
    with Image.open(shot) as im:
        assert im.width >= 1200 and im.height > 400
