"""proof.screenshot (verdicts.proof over deploycheck.analysis.screenshot): the verdict and its message
for each realistic fixture screenshot (fixtures/screenshots.py), the fallback without OCR, and today's
image checks (size, blank, unreadable, bombs, symlinks)."""
import importlib.util
import io
import json
import os
import struct
import sys
import zlib

import pytest
from PIL import Image, ImageDraw

from deploycheck.analysis import screenshot as ss
from deploycheck.analysis import ocr
from deploycheck.analysis import screenshot_text as st
from deploycheck.discovery import Target
from deploycheck.verdicts.proof import proof_screenshot
from tests.helpers import ROOT, make_target

_spec = importlib.util.spec_from_file_location("fixture_screenshots", ROOT / "fixtures" / "screenshots.py")
scenes = sys.modules.setdefault("fixture_screenshots", importlib.util.module_from_spec(_spec))
if not hasattr(scenes, "SCENES"):
    _spec.loader.exec_module(scenes)

needs_ocr = pytest.mark.skipif(not ocr.engine().available, reason=f"no OCR engine: {ocr.engine().detail}")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One OCR cache for this test session, shared by the xdist workers (atomic writes make that safe)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if base.name.startswith("popen-gw") else base) / "ocr-cache"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(autouse=True)
def _cache(shared_cache, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(shared_cache))
    monkeypatch.delenv("DEPLOYCHECK_OCR", raising=False)
    monkeypatch.delenv("DEPLOYCHECK_TESSERACT", raising=False)


def scene_repo(tmp_path, name, platform=None, **extra):
    """A repo whose README embeds the scene as proof.png / proof.jpg (a neutral name: judged by content)."""
    platform = platform or ("gcp" if any(w in name for w in ("vertex", "gcloud", "curl")) else "aws")
    folder = f"{platform}_deploy"
    filename = "proof." + scenes.BY_NAME[name].filename.rsplit(".", 1)[1]
    files = {f"{folder}/{filename}": scenes.load(name), **extra,
             f"{folder}/README.md": f"# Deployment\n\nMy prediction:\n\n![prediction]({filename})\n"}
    return make_target(tmp_path, files, platform)


def shot(w=800, h=500, fmt="PNG", blank=False, mode="RGB"):
    img = Image.new(mode, (w, h), "white" if mode == "RGB" else (255, 255, 255, 0))
    if not blank:
        d = ImageDraw.Draw(img)
        d.rectangle([w // 10, h // 10, w // 2, h // 3], fill="navy")
        d.ellipse([w // 2, h // 2, w - w // 10, h - h // 10], fill="orange")
    b = io.BytesIO()
    img.save(b, fmt)
    return b.getvalue()


def png_header_only(w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------ each fixture screenshot

# scene -> (status, words the message must hold, predicted values the data must hold or None). Values are
# checked where OCR reads them reliably: DejaVu Sans Mono's dotted zero is read as 6, 8 or 9 in some layouts
# (the verdict does not depend on them; the message says when digits differ in a way OCR explains).
EXPECTED = {
    "sagemaker_console_test_inference": ("passed", ["shows a prediction", "[0, 2]", "InService",
                                                    "endpoint sklearn-iris-endpoint"], [0, 2]),
    "jupyter_predict": ("passed", ["shows a prediction", "predictor.predict(", "array([", "SageMaker"], [0, 2]),
    "jupyter_predict_retina": ("passed", ["shows a prediction", "predictor.predict(", "array([0, 2])"], [0, 2]),
    "jupyterlab_boto3_labels": ("passed", ["runtime.invoke_", '"predictions": ["setosa", "virginica"]', "eu-west-1",
                                           "endpoint iris-names-endpoint"], ["setosa", "virginica"]),
    "terminal_invoke_endpoint": ("passed", ["aws sagemaker-runtime invoke-endpoint", "[0, 2]"], [0, 2]),
    "terminal_curl_vertex": ("passed", ['"predictions": [ 0 ]', "aiplatform.googleapis.com",
                                        "endpoint 1234567890123456789"], [0]),
    "terminal_gcloud_aiplatform": ("passed", ["gcloud ai-platform predict", "[0, 2]", "AI Platform"], [0, 2]),
    "terminal_gcloud_ai_endpoints": ("passed", ["gcloud ai endpoints predict", "[0, 2]"], [0, 2]),
    # (the quoted response line depends on the OCR engine's reading of "deployedModelId": not checked)
    "vertex_console_test": ("passed", ['"predictions"', "Vertex AI", "endpoint wine-endpoint"], None),
    "sagemaker_console_endpoints": ("failed", ["SageMaker console", "endpoint sklearn-iris-endpoint", "InService",
                                               "but no prediction", "predictor.predict(...)"], None),
    "sagemaker_console_models_empty": ("failed", ["SageMaker console", "Models (0)", "but no prediction"], None),
    "vertex_endpoints_list": ("failed", ["Vertex AI / AI Platform console", "endpoint wine-endpoint",
                                         "but no prediction", "gcloud ai endpoints predict"], None),
    "jupyter_call_without_output": ("failed", ["the call", "predictor.predict(", "but not its output",
                                               "capture the output"], None),
    "chart_feature_importance": ("failed", ["looks like a chart or plot", "Feature importance",
                                            "replace it with a screenshot of a prediction"], None),
    "logo512": ("failed", ["looks like a logo or icon", "replace it with"], None),
    "photo": ("failed", ["looks like", "replace it with"], None),
    "blankish": ("failed", ["looks like an almost empty page", "replace it with"], None),
    "favicon": ("failed", ["is 32×32 pixels, too small", "at least 300×200"], None),
    # issue 23's forms
    "studio_plain_list": ("passed", ["shows a prediction", "predictor.predict(", "0, 2]", "endpoint sklearn-iris-endpoint"],
                          [0, 2]),
    "vertex_sdk_prediction_object": ("passed", ["endpoint.predict(instances=", "Prediction(predictions=[0.0, 2.0]",
                                                "us-central1"], [0.0, 2.0]),
    "vertex_sdk_print_predictions": ("passed", ["endpoint.predict(instances=", "2.0]",
                                                "endpoint 1234567890123456789"], None),
    "vscode_dark_print": ("passed", ["print (predictor.predict", "2]", "endpoint sklearn-iris-endpoint"], None),
    "studio_nested_proba": ("passed", ["predictor.predict(", "array([[0.97, 0.03"], None),
    "jupyter_small_font": ("passed", ["shows a prediction", "predictor.predict(", "array(["], [0, 2]),
    "postman_invocations": ("passed", ["/endpoints/sklearn-iris-endpoint/invocations", "“[ 0, 2 ]”",
                                       "endpoint sklearn-iris-endpoint"], [0, 2]),
    "postman_one_line": ("passed", ["/endpoints/sklearn-iris-endpoint/invocations", "[0,2]"], [0, 2]),
    "postman_vertex_dark": ("passed", ['"predictions": [ 0, 2 ]', "endpoint 1234567890123456789",
                                       "aiplatform.googleapis.com"], [0, 2]),
    "terminal_csv_lines": ("passed", ["invoke-endpoint --endpoint-name sklearn-iris-endpoint", "“0 2”"], [0, 2]),
    "terminal_gcloud_nested": ("passed", ["gcloud ai endpoints predict", "[[0.97, 0.03, 0.0], [0.01, 0.12, 0.87]]"],
                               [0.97, 0.03, 0.0, 0.01, 0.12, 0.87]),
    "terminal_curl_compact": ("passed", ['{"predictions": [0, 2]', "endpoint 1234567890123456789"], [0, 2]),
    "phone_photo_notebook": ("passed", ["shows a prediction", "predictor.predict(", "array(["], [0, 2]),
    "phone_photo_terminal": ("passed", ["invoke-endpoint", "InvokedProductionVariant", "endpoint sklearn-iris-endp"],
                             None),
    "deploycheck_proof_card": ("failed", ["is deploycheck's own proof picture", "LOCAL EMULATION",
                                          "not a screenshot of your deployed endpoint"], None),
    "deploycheck_proof_card_cropped": ("failed", ["is deploycheck's own proof picture", "by deploycheck",
                                                  "not a screenshot of your deployed endpoint"], None),
    "cropped_through_output": ("review", ["shows the call", "predictor.predict(", "could not read it with confidence",
                                          "your instructor will look at it", "no points lost"], None),
}


def test_every_scene_has_an_expectation():
    assert set(EXPECTED) == set(scenes.BY_NAME)


@needs_ocr
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_screenshot_verdict(tmp_path, name):
    status, words, values = EXPECTED[name]
    o = proof_screenshot(scene_repo(tmp_path, name))
    assert o.status == status, o.message
    for w in words:
        assert w in o.message, (w, o.message)
    s = scenes.BY_NAME[name]
    d = o.data
    assert o.screenshot.path.endswith("/proof." + s.filename.rsplit(".", 1)[1]) and d["engine"].startswith("tesseract 5")
    kind = {"too_small": "unusable", "review": "uncertain"}.get(s.kind, s.kind)
    assert d["classification"] == kind, d
    if kind in ("prediction", "cloud", "uncertain"):
        assert d["evidence"] and all(len(e["text"]) <= st.SNIPPET for e in d["evidence"])
        assert o.screenshot.ocr_text and len(o.screenshot.ocr_text) <= ss.TEXT_LIMIT
    if values is not None:
        assert d["values"] == values
    json.dumps(d)                                  # report.json-ready


@needs_ocr
def test_values_plausible_for_the_models_classes(tmp_path):
    t = scene_repo(tmp_path, "jupyter_predict")
    o = proof_screenshot(t, known=st.KnownOutputs(classes=(0, 1, 2), source="the pickle's classes_"))
    assert o.status == "passed" and "are among this model's classes (0, 1, 2)" in o.message
    assert o.data["plausible"] is True
    o = proof_screenshot(scene_repo(tmp_path / "b", "jupyterlab_boto3_labels"),
                         known=st.KnownOutputs(classes=("setosa", "versicolor"), source="the pickle's classes_"))
    assert o.status == "passed"               # said, not failed on: an OCR slip must not cost the point
    assert "virginica is not one of this model's classes (setosa, versicolor" in o.message
    assert o.data["plausible"] is False


@needs_ocr
def test_values_compared_with_the_local_prediction(tmp_path):
    o = proof_screenshot(scene_repo(tmp_path, "terminal_invoke_endpoint"),
                         known=st.KnownOutputs(local_values=("setosa",), source="predict.local"))
    assert o.status == "passed" and "predicts locally for the README's sample request labels (setosa)" in o.message
    assert o.data["plausible"] is False


@needs_ocr
def test_prediction_wins_over_other_images_and_readme_image_is_preferred(tmp_path):
    t = scene_repo(tmp_path, "jupyter_predict", **{
        "aws_deploy/screenshot_console.png": scenes.load("sagemaker_console_endpoints"),
        "aws_deploy/plot.png": scenes.load("chart_feature_importance")})
    o = proof_screenshot(t)
    assert o.status == "passed" and o.screenshot.path == "aws_deploy/proof.png"
    assert [c["classification"] for c in o.data["candidates"]][0] == "prediction"
    # the README embeds the console page: it is read first, then the next candidates until a prediction
    t = make_target(tmp_path / "b", {
        "aws_deploy/README.md": "# x\n\n![endpoint](img/console.png)\n",
        "aws_deploy/img/console.png": scenes.load("sagemaker_console_endpoints"),
        "aws_deploy/result.png": scenes.load("terminal_invoke_endpoint")})
    o = proof_screenshot(t)
    assert o.status == "passed" and o.screenshot.path == "aws_deploy/result.png"
    assert o.data["candidates"][0] == {"path": "aws_deploy/img/console.png", "classification": "cloud"}


@needs_ocr
def test_generated_plot_and_web_assets_are_not_candidates(tmp_path):
    t = make_target(tmp_path, {
        "aws_deploy/README.md": "# x\n\n![results](confusion.png)\n",
        "aws_deploy/train.py": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('confusion.png')\n",
        "aws_deploy/confusion.png": scenes.load("chart_feature_importance"),
        "aws_deploy/app/public/logo512.png": scenes.load("logo512"),
        "aws_deploy/static/hero.png": scenes.load("photo"),
    })
    before = ocr.STATS["worker_runs"]
    o = proof_screenshot(t)
    assert o.status == "failed" and o.data["classification"] == "missing"
    assert "no screenshot of a prediction in aws_deploy/" in o.message
    assert "aws_deploy/confusion.png is a generated image (aws_deploy/train.py line 3 (savefig) writes it)" in o.message
    assert "aws_deploy/app/public/logo512.png is a logo or icon" in o.message
    assert "aws_deploy/static/hero.png is a static web asset (in static/)" in o.message
    assert "predictor.predict(...)" in o.message
    assert all(c["classification"] == "excluded" for c in o.data["candidates"])
    assert ocr.STATS["worker_runs"] == before          # excluded images are never decoded


def test_remote_github_image_is_for_review_until_read(tmp_path):
    url = "https://github.com/user-attachments/assets/0b6a4c5e-1f7d-4a53-9a3e-6f1f2c9d8e11"
    t = make_target(tmp_path, {"aws_deploy/README.md": f"# x\n\nMy prediction:\n\n<img src=\"{url}\" width=600>\n"
                                                       "![build](https://img.shields.io/badge/build-passing-green.svg)\n"})
    o = proof_screenshot(t)
    assert o.status == "review" and url in o.message and "could not be read" in o.message
    assert o.data["classification"] == "remote" and o.data["screenshot_url"] == url and o.screenshot.remote
    assert len(o.data["candidates"]) == 1     # the shields.io badge is no candidate


def test_other_remote_images_do_not_count(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": "# x\n\n![badge](https://img.shields.io/badge/x-y-green.png)\n"})
    o = proof_screenshot(t)
    assert o.status == "failed" and o.message.startswith("no screenshot in aws_deploy/: add a screenshot of a prediction")


# ------------------------------------------------------------------ without OCR

@pytest.mark.parametrize("setting,words", [
    ({"DEPLOYCHECK_OCR": "off"}, "OCR is turned off (DEPLOYCHECK_OCR=off)"),
    ({"DEPLOYCHECK_TESSERACT": "/nonexistent/tesseract"}, "DEPLOYCHECK_TESSERACT=/nonexistent/tesseract is not an "
                                                           "executable file: install Tesseract"),
])
def test_without_ocr_engine_the_image_is_for_review(tmp_path, monkeypatch, setting, words):
    """Issue 21: content not read is never a pass. Without an OCR engine the image is kept for review
    (no points lost until an instructor decides), with the reason."""
    for k, v in setting.items():
        monkeypatch.setenv(k, v)
    before = dict(ocr.STATS)
    o = proof_screenshot(scene_repo(tmp_path, "sagemaker_console_endpoints"))   # would fail if it were read
    assert o.status == "review", o.message
    assert "aws_deploy/proof.png (1280×800) could not be read" in o.message
    assert words in o.message and "for your instructor to decide" in o.message
    assert o.data["classification"] == "not_read" and o.data["engine"] == "none" and o.screenshot.ocr_text == ""
    assert ocr.STATS["ocr_runs"] == before["ocr_runs"]
    # today's image checks still apply without OCR
    o = proof_screenshot(make_target(tmp_path / "b", {"aws_deploy/shot.png": shot(blank=True)}))
    assert o.status == "failed" and "blank (a single colour)" in o.message
    o = proof_screenshot(make_target(tmp_path / "c", {"aws_deploy/shot.png": shot(40, 30)}))
    assert o.status == "failed" and "aws_deploy/shot.png is 40×30 pixels" in o.message


@needs_ocr
def test_ocr_timeout_is_never_a_pass(tmp_path, monkeypatch):
    """Issue 21: a read that times out is for review (no points lost), never a pass, and not cached."""
    monkeypatch.setattr(ocr, "WALL_SECONDS", 0.05)
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    o = proof_screenshot(scene_repo(tmp_path, "jupyter_predict"))
    assert o.status == "review" and "could not be read (OCR failed: reading it was still running" in o.message
    assert not list((tmp_path / "cache").rglob("*.json"))    # a failure of this run is not cached


@needs_ocr
def test_noise_fails_quickly(tmp_path):
    """Issue 21: a 6000x6600 noise image (under every size limit) used to keep OCR busy until it timed out,
    and the timeout passed. It is recognised as noise before any OCR."""
    from tests.analysis.test_ocr_sandbox import noise_png
    before = ocr.STATS["ocr_runs"]
    t = make_target(tmp_path, {"aws_deploy/README.md": "# x\n\n![proof](p1.png)\n", "aws_deploy/p1.png": noise_png()})
    o = proof_screenshot(t)
    assert o.status == "failed" and "aws_deploy/p1.png is random noise, not a screenshot" in o.message, o.message


# ------------------------------------------------------------------ today's image checks

def test_no_image(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/README.md": "# x"}))
    assert o.status == "failed"
    assert o.message.startswith("no screenshot in aws_deploy/: add a screenshot of a prediction from your SageMaker")
    o = proof_screenshot(make_target(tmp_path / "g", {"gcp_deploy/README.md": "# x"}, "gcp"))
    assert "gcloud ai endpoints predict" in o.message


def test_too_small(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/shot.png": shot(40, 30)}))
    assert o.status == "failed" and "aws_deploy/shot.png is 40×30 pixels" in o.message


def test_blank(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/shot.png": shot(blank=True)}))
    assert o.status == "failed" and "blank (a single colour)" in o.message
    o = proof_screenshot(make_target(tmp_path / "t", {"aws_deploy/shot.png": shot(blank=True, mode="RGBA")}))
    assert o.status == "failed" and "blank" in o.message


def test_unreadable(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/shot.png": b"not an image at all"}))
    assert o.status == "failed" and "is not a readable image" in o.message and "save it again as PNG" in o.message
    o = proof_screenshot(make_target(tmp_path / "b", {"aws_deploy/shot.png": shot()[:300]}))
    assert o.status == "failed" and "not a readable image" in o.message


def test_only_screenshot_formats_are_decoded(tmp_path):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 800 500\nshowpage\n"     # would need Ghostscript
    tiff = io.BytesIO()
    Image.new("RGB", (800, 500), "navy").save(tiff, "TIFF")
    for i, data in enumerate((eps, tiff.getvalue())):
        o = proof_screenshot(make_target(tmp_path / str(i), {"aws_deploy/shot.png": data}))
        assert o.status == "failed" and "is not a readable image" in o.message, o.message


def test_decompression_bomb_is_refused_without_decoding(tmp_path):
    before = ocr.STATS["worker_runs"]
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/bomb.png": png_header_only(100_000, 100_000)}))
    assert o.status == "failed" and "decompression bomb" in o.message and "normal screen-sized" in o.message
    o = proof_screenshot(make_target(tmp_path / "b", {"aws_deploy/big.png": png_header_only(9000, 8000)}))
    assert o.status == "failed" and "9000×8000 pixels, too large to check" in o.message
    assert ocr.STATS["worker_runs"] == before          # nothing was decoded


def test_symlinked_image_does_not_count(tmp_path):
    real = tmp_path / "elsewhere.png"
    real.write_bytes(shot())
    make_target(tmp_path, {"aws_deploy/README.md": "# x\n\n![proof](shot.png)\n"})
    os.symlink(real, tmp_path / "repo" / "aws_deploy" / "shot.png")
    o = proof_screenshot(make_target(tmp_path, {}))
    assert o.status == "failed" and "symlink" in o.message


@pytest.mark.parametrize("fmt,name", [("JPEG", "p.jpg"), ("GIF", "p.gif"), ("WEBP", "p.webp")])
def test_other_formats_are_decoded(tmp_path, monkeypatch, fmt, name):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    o = proof_screenshot(make_target(tmp_path, {f"gcp_deploy/{name}": shot(fmt=fmt)}, "gcp"))
    assert o.status == "review" and f"gcp_deploy/{name} (800×500) could not be read" in o.message, o.message


def test_readme_embedded_image_elsewhere_in_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    t = make_target(tmp_path, {"aws_deploy/README.md": "# x\n\n![proof](../docs/img/pred.png)\n",
                               "docs/img/pred.png": shot()})
    o = proof_screenshot(t)
    assert o.status == "review" and o.screenshot.path == "docs/img/pred.png"          # (not read: OCR off)


def test_usable_image_wins_over_broken_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    t = make_target(tmp_path, {"aws_deploy/a_icon.png": shot(20, 20), "aws_deploy/screenshot_endpoint.png": shot()})
    o = proof_screenshot(t)
    assert o.status == "review" and "screenshot_endpoint.png" in o.message          # (not read: OCR off)


def test_no_folder(tmp_path):
    t = make_target(tmp_path, {"a.txt": "x"})
    o = proof_screenshot(Target("stu", None, t.submission, "stu"))
    assert o.status == "failed" and o.blocked_by == "structure.deploy_folder"


@needs_ocr
def test_the_local_prediction_is_compared_with_the_screenshot_without_being_asked(tmp_path):
    import shutil

    from deploycheck.discovery import targets_for
    from deploycheck.settings import Settings
    from deploycheck.verdicts.predict import predict_local
    repo = tmp_path / "alice"
    shutil.copytree(ROOT / "fixtures" / "built" / "classroom" / "complete_aws", repo)
    (t,) = targets_for("alice", str(repo))
    assert predict_local(t, Settings()).status == "passed"          # answers [0, 2]
    o = proof_screenshot(t, Settings())
    assert o.status == "passed" and o.data.get("plausible") is True, o.message
