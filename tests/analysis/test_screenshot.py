"""deploycheck.analysis.screenshot: text classification, candidate choice, the limited worker, the OCR cache."""
import importlib.util
import io
import json
import sys
import threading

import pytest
from PIL import Image, ImageDraw

from deploycheck.analysis import screenshot as ss
from deploycheck.analysis import ocr
from deploycheck.analysis import screenshot_text as st
from tests.helpers import ROOT, make_target

_spec = importlib.util.spec_from_file_location("fixture_screenshots", ROOT / "fixtures" / "screenshots.py")
scenes = sys.modules.setdefault("fixture_screenshots", importlib.util.module_from_spec(_spec))
if not hasattr(scenes, "SCENES"):
    _spec.loader.exec_module(scenes)

needs_ocr = pytest.mark.skipif(not ocr.engine().available, reason=f"no OCR engine: {ocr.engine().detail}")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPLOYCHECK_OCR", raising=False)
    monkeypatch.delenv("DEPLOYCHECK_TESSERACT", raising=False)


def png(img: Image.Image) -> bytes:
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()


# ------------------------------------------------------------------ classify_text (OCR text as Tesseract gives it)

def test_notebook_prediction():
    f = st.classify_text("In [6]: predictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])\nOut[6]: array([0, 2])\n")
    assert f.classification == "prediction" and f.values == (0, 2)
    assert f.calls[0].label == "predict( call" and "predictor.predict(" in f.calls[0].snippet
    assert any(e.label == "array([...]) output" and e.snippet == "Out[6]: array([0, 2])" for e in f.outputs)
    assert "no endpoint or cloud console is visible" in f.note      # only a notebook: said, not failed


def test_ocr_slips_inside_a_list_of_numbers():
    f = st.classify_text("$ cat out.json\n[o, 2]\n")
    assert f.values == (0, 2)
    assert st.parse_values("0, l, 2") == (0, 1, 2) and st.parse_values("'setosa' 'virginica'") == ("setosa", "virginica")
    assert st.parse_values("model = SKLearnModel(role)") == ()


def test_small_square_brackets_misread_as_parentheses():
    f = st.classify_text(">>> predictor. predict([[5.1, 3.5, 1.4 0.21 (6.7, 3.0, 5.2, 2.3]])\n(0, 2)\n")
    assert f.classification == "prediction" and f.values == (0, 2)
    f = st.classify_text("$ gcloud ai endpoints predict 123 --region=us-central1 --json-request=in.json\n[0, 2)\n")
    assert f.classification == "prediction" and f.values == (0, 2)
    assert st.classify_text("Screen size (1280, 800)\n").classification == "unrelated"


def test_request_body_is_not_the_prediction():
    f = st.classify_text("Test inference\nRequest body\n[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]\nSend Request\n"
                         "sklearn-iris-endpoint InService\n")
    assert f.classification == "cloud" and f.values == ()
    f = st.classify_text("Test inference\nRequest body\n[[5.1, 3.5, 1.4, 0.2]]\nResponse (200 OK, 41 ms)\n[1]\n")
    assert f.classification == "prediction" and f.values == (1,)


def test_invoke_endpoint_answer_without_cat_is_a_prediction():
    f = st.classify_text('$ aws sagemaker-runtime invoke-endpoint --endpoint-name iris-ep --body fileb://x.json out.json\n'
                         '{\n"ContentType": "application/json",\n"InvokedProductionVariant": "AllTraffic"\n}\n')
    assert f.classification == "prediction" and f.platform == "aws"
    assert any("InvokedProductionVariant" in e.label for e in f.outputs)
    assert any(e.shown == "endpoint iris-ep" for e in f.cloud)


def test_vertex_json_answer_over_several_lines():
    f = st.classify_text('{\n"predictions": [\n1,\n2\n],\n"deployedModelId": "5566778899001122334",\n}\n')
    assert f.classification == "prediction" and f.values == (1, 2) and f.platform == "gcp"


def test_labelled_prediction_without_call_passes_with_a_note():
    f = st.classify_text("$ python predict.py\nPrediction: [0 2]\n")
    assert f.classification == "prediction" and f.values == (0, 2)
    assert f.note.startswith("only the output is visible")
    assert st.classify_text("$ python run.py\nresult: 2\n").classification == "unrelated"


def test_boto3_response_dict_printed_in_colab():
    f = st.classify_text("{'ResponseMetadata': {'RequestId': 'a1b2', 'HTTPStatusCode': 200}, 'ContentType': "
                         "'application/json', 'InvokedProductionVariant': 'AllTraffic', 'Body': "
                         "<botocore.response.StreamingBody object at 0x7f3a2c1b5e50>}\n")
    assert f.classification == "prediction" and f.platform == "aws"


def test_cloud_context_alone():
    f = st.classify_text("Amazon SageMaker > Endpoints\nEndpoints (1)\nsklearn-iris-endpoint InService us-east-1\n")
    assert f.classification == "cloud" and f.platform == "aws" and f.values == ()
    shown = {e.shown for e in f.cloud}
    assert {"SageMaker", "InService", "us-east-1", "endpoint sklearn-iris-endpoint"} <= shown
    f = st.classify_text("Vertex Al Online prediction Region us-centrall\n")    # Tesseract's usual slips
    assert f.classification == "cloud" and {"Vertex AI", "us-central1"} <= {e.shown for e in f.cloud}


def test_local_evaluation_printout_is_not_a_prediction_proof():
    f = st.classify_text("print(confusion_matrix(y_test, y_pred))\n[[50 0 0]\n[0 47 3]\n[0 2 48]]\n")
    assert f.classification == "unrelated" and f.values[:3] == (50, 0, 0)
    assert st.seems_like(None, f, "").startswith("printed values (50, 0, 0")


def test_unrelated_text_and_chart():
    f = st.classify_text("Feature importance (random forest)\n0.5\n0.4\n0.3\n0.2\n0.1\n0.0\nsepal length petal width\n")
    assert f.classification == "unrelated"
    assert st.seems_like(None, f, "Feature importance (random forest)\n0.5\n0.4\n0.3\n0.2\n0.1\n0.0\n") == "a chart or plot"
    text = "My data science project\nThis repository holds the notebooks of my course project about houses.\n"
    f = st.classify_text(text)
    assert f.classification == "unrelated" and st.seems_like(None, f, text) == "text that shows no prediction call or output"


def test_curl_needs_a_predict_url():
    assert st.classify_text("$ curl https://example.com/index.html\n<html>\n").classification == "unrelated"
    f = st.classify_text("$ curl -X POST http://localhost:8080/invocations -d @x.json\n[0]\n")
    assert f.classification == "prediction" and f.values == (0,)


def test_credentials_in_a_screenshot_are_never_quoted():
    key = "AKIA" + "Q3EGRTYHJ5KZ7WX2"
    secret = "k9Lq2Zx8Vb/Nf4Tr7Yw+Hs1Pd6Gm3Jc5Ue0Ai2Ro"
    token = "ya29." + "a0AfH6SMBx" * 4
    text = (f"aws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
            f"$ curl -H 'Authorization: Bearer {token}' https://x-aiplatform.googleapis.com/v1/e/1:predict\n[0]\n")
    f = st.classify_text(text)
    everything = st.redact(text) + json.dumps([e.snippet for e in f.calls + f.outputs + f.cloud])
    assert key not in everything and secret not in everything and token[:12] not in everything
    assert "AKIA…X2" in st.redact(text)


def test_snippets_are_short_and_printable():
    line = "student@lab:~/gcp_deploy$ " + "x" * 200 + " gcloud ai endpoints predict 123 --region=us-central1\x1b[0m"
    f = st.classify_text(line + "\n[0, 2]\n")
    call = f.calls[0].snippet
    assert len(call) <= st.SNIPPET and "gcloud ai endpoints predict" in call and "\x1b" not in call
    assert not call.startswith("student@lab")


# ------------------------------------------------------------------ candidates

def test_candidates_order_and_exclusions(tmp_path):
    t = make_target(tmp_path, {
        "aws_deploy/README.md": "# x\n\n![a](assets/prediction.png)\n![b](https://user-images.githubusercontent.com/1/2.png)\n",
        "aws_deploy/assets/prediction.png": b"x",            # embedded: an assets/ folder does not exclude it
        "aws_deploy/assets/other.png": b"x",                 # not embedded: a web asset
        "aws_deploy/zzz_screenshot.png": b"x",
        "aws_deploy/aaa.png": b"x",
        "aws_deploy/favicon.ico.png": b"x",
        "aws_deploy/eval.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": [
            "for i in range(3):\n", "    fig.savefig(f'plots/cm_{i}.png')\n"]}]}),
        "aws_deploy/plots/cm_1.png": b"x",
    })
    cands, links = ss.find_candidates(t.folder)
    order = [(c.path, c.excluded) for c in cands]
    assert order[0] == ("aws_deploy/assets/prediction.png", None)
    assert order[1] == ("https://user-images.githubusercontent.com/1/2.png", None) and cands[1].remote
    assert order[2] == ("aws_deploy/zzz_screenshot.png", None)          # a proof-like name before others
    assert order[3] == ("aws_deploy/aaa.png", None)
    excluded = dict(order[4:])
    assert excluded["aws_deploy/assets/other.png"] == "a static web asset (in assets/)"
    assert excluded["aws_deploy/favicon.ico.png"] == "a logo or icon (by its name)"
    assert excluded["aws_deploy/plots/cm_1.png"].startswith("a generated image (aws_deploy/eval.ipynb line 2 (savefig)")
    assert links == ()


def test_github_links_to_files_of_the_repo_are_read_locally(tmp_path):
    t = make_target(tmp_path, {
        "aws_deploy/README.md": "![p](https://raw.githubusercontent.com/me/lab/main/aws_deploy/img/p.png)\n"
                                "![q](/docs/q.png)\n"
                                "![r](https://github.com/me/lab/blob/main/../../../etc/r.png?raw=true)\n",
        "aws_deploy/img/p.png": b"x", "docs/q.png": b"x"})
    cands, _ = ss.find_candidates(t.folder)
    assert [(c.path, c.remote) for c in cands] == [("aws_deploy/img/p.png", False), ("docs/q.png", False)]


# ------------------------------------------------------------------ the worker, its limits, the cache

@needs_ocr
def test_cache_hit_on_regrading_runs_no_ocr(tmp_path):
    data = scenes.load("terminal_invoke_endpoint")
    files = {"aws_deploy/README.md": "# x\n\n![p](p.png)\n", "aws_deploy/p.png": data}
    t1 = make_target(tmp_path / "one", files)
    before = dict(ocr.STATS)
    f1 = ss.screenshot_facts(t1.folder)
    assert f1.best.classification == "prediction" and not f1.best.cached
    assert ocr.STATS["ocr_runs"] == before["ocr_runs"] + 1
    cached = list((tmp_path / "cache" / "ocr").rglob("*.json"))
    assert [p.name for p in cached] == [f"{f1.best.sha256}.{ocr.engine().cache_id}.json"]
    # another repo (another student, or the next grading run) with the same image: no OCR at all
    t2 = make_target(tmp_path / "two", files)
    f2 = ss.screenshot_facts(t2.folder)
    assert f2.best.cached and f2.best.classification == "prediction" and f2.best.facts.values == (0, 2)
    assert ocr.STATS["ocr_runs"] == before["ocr_runs"] + 1 and ocr.STATS["cache_hits"] == before["cache_hits"] + 1
    # a damaged cache file is ignored and rewritten, never trusted
    cached[0].write_text("{not json")
    doc, hit, _ = ocr.read_image(data)
    assert not hit and "text" in doc and json.loads(cached[0].read_text())["sha256"] == f1.best.sha256


def test_cache_entries_are_keyed_by_engine(tmp_path, monkeypatch):
    data = png(Image.new("RGB", (400, 300), "white").crop((0, 0, 400, 300)))
    img = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(img).rectangle([50, 50, 200, 150], fill="navy")
    data = png(img)
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    doc, hit, _ = ocr.read_image(data)
    assert not hit and doc["width"] == 400 and "text" not in doc
    doc, hit, _ = ocr.read_image(data)
    assert hit
    names = [p.name for p in (tmp_path / "cache" / "ocr").rglob("*.json")]
    assert len(names) == 1 and names[0].endswith(f".none-{ocr.PREP_VERSION}.json")


def test_parallel_cache_writes_never_leave_half_a_file(tmp_path):
    eng = ocr.OcrEngine("tesseract", True, "5.3.0", "/usr/bin/tesseract")
    sha = "ab" * 32
    docs = [{"text": str(i) * 20_000, "width": i} for i in range(8)]
    threads = [threading.Thread(target=ocr._cache_put, args=(sha, eng, d)) for d in docs for _ in range(3)]
    seen: list = []
    reader = threading.Thread(target=lambda: [seen.append(ocr._cache_get(sha, eng)) for _ in range(200)])
    reader.start()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    reader.join()
    final = ocr._cache_get(sha, eng)
    assert final is not None and final["text"] == str(final["width"]) * 20_000
    assert all(d is None or d["text"] == str(d["width"]) * 20_000 for d in seen)
    assert not [p for p in (tmp_path / "cache" / "ocr").rglob("*") if p.name.endswith(".tmp")]


@needs_ocr
def test_huge_image_is_scaled_down_before_ocr():
    img = Image.new("RGB", (6000, 4000), "white")
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, 6000, 300], fill=(35, 47, 62))
    d.rectangle([500, 1000, 3000, 2500], outline="black", width=20)
    doc, _, _ = ocr.read_image(png(img))
    w, h = doc["ocr_size"]
    assert (doc["width"], doc["height"]) == (6000, 4000) and w * h <= ocr.OCR_MAX_PIXELS and w < 6000


def test_pixels_are_capped_before_decoding():
    before = ocr.STATS["worker_runs"]
    img = Image.new("1", (9000, 5000), 1)        # 45 Mpx, a few KB as PNG
    doc, _, _ = ocr.read_image(png(img))
    assert doc["problem"] == "too_large" and (doc["width"], doc["height"]) == (9000, 5000)
    assert ocr.STATS["worker_runs"] == before


def test_worker_memory_limit_is_enforced(monkeypatch):
    """The worker lowers its own address-space limit before decoding: a decode that needs more dies
    inside the worker (reported, not raised), whatever the grader's own limits are."""
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    monkeypatch.setattr(ocr, "MEMORY_BYTES", 160 * 1024 ** 2)
    img = Image.new("RGB", (6000, 5000), "white")
    ImageDraw.Draw(img).rectangle([10, 10, 500, 500], fill="red")
    doc, hit, _ = ocr.read_image(png(img))
    assert not hit and "limit" in doc.get("ocr_error", ""), doc
    monkeypatch.setattr(ocr, "MEMORY_BYTES", 2 * 1024 ** 3)
    doc, _, _ = ocr.read_image(png(img))
    assert doc.get("stddev", 0) > 0 and not doc.get("problem"), doc


def test_engine_settings(monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "easyocr")
    e = ocr.engine()
    assert not e.available and "DEPLOYCHECK_OCR=easyocr is not an OCR engine deploycheck knows" in e.detail
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    assert ocr.engine().cache_id == f"none-{ocr.PREP_VERSION}" and ocr.engine().label == "none"
    monkeypatch.delenv("DEPLOYCHECK_OCR")
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", "/bin/true")
    e = ocr.engine()
    assert not e.available and "--version failed" in e.detail


def test_cache_dir_follows_the_settings(tmp_path, monkeypatch):
    assert ocr.cache_dir() == tmp_path / "cache" / "ocr"
    monkeypatch.delenv("DEPLOYCHECK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ocr.cache_dir() == tmp_path / "xdg" / "deploycheck" / "ocr"


def test_plausibility_sentences():
    assert st.plausibility((0, 2), None).plausible is None
    p = st.plausibility((0, 2), st.KnownOutputs(classes=(0, 1, 2), source="x"))
    assert p.plausible and "among this model's classes (0, 1, 2)" in p.sentence
    p = st.plausibility((7,), st.KnownOutputs(classes=(0, 1, 2), source="the pickle's classes_"))
    assert p.plausible is False and p.sentence.startswith("7 is not one of this model's classes")
    p = st.plausibility((0.37,), st.KnownOutputs(local_values=(1, 0)))
    assert p.plausible is False and "whole numbers" in p.sentence
    p = st.plausibility(("Setosa",), st.KnownOutputs(classes=("setosa",)))
    assert p.plausible
