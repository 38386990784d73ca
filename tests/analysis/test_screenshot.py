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


# ------------------------------------------------------------------ issue 23: every common form of an output

CALL = "predictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])"


@pytest.mark.parametrize("text", [
    f"[7]: {CALL}\n[7]: [0, 2]\n",                   # JupyterLab / SageMaker Studio: no "Out"
    f"(7]: {CALL}\n(71: (0, 2]\n",                   # ... as Tesseract reads its small brackets
    f"0 deploy.ipynb [7]: {CALL}\n[7]: [0, 2]\n",    # a file sidebar on the same line
])
def test_notebook_output_that_is_a_plain_list(text):
    f = st.classify_text(text)
    assert f.classification == "prediction" and f.values == (0, 2), f
    assert f.calls[0].snippet.startswith(("[7]:", "(7]:")) and "deploy.ipynb" not in f.calls[0].snippet


def test_vertex_prediction_object_and_its_printed_predictions():
    f = st.classify_text("[12]: response = endpoint.predict(instances=[[5.1, 3.5, 1.4, 0.2]])\nresponse\n"
                         "[12]: Prediction(predictions=[0.0, 2.0], deployed_model_id='5566778899001122334',\n"
                         "metadata=None, model_version_id='1',\n")
    assert f.classification == "prediction" and f.values == (0.0, 2.0)
    assert [e.label for e in f.calls] == ["predict( call"] and "endpoint.predict(" in f.calls[0].snippet
    f = st.classify_text("response = endpoint.predict(instances=[[5.1, 3.5, 1.4, 0.2]])\n"
                         "print(response.predictions)\n[0.0, 2.0]\n")
    assert f.classification == "prediction" and f.values == (0.0, 2.0)


POSTMAN = """Collections ML lab / invoke endpoint
POST https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/sklearn-iris-endpoint/invocations | Send
Params Authorization Headers(9) Body Pre-request Script Tests Settings
@raw JSONv AWS Signature: us-east-1 / sagemaker
{request}
Body Cookies Headers (5) Test Results Status: 200 OK Time: 87ms Size: 312B
Pretty Raw Preview Visualize JSON v
{response}
"""


def test_postman_pretty_printed_answer_with_line_numbers():
    text = POSTMAN.format(request="1 [\n2 [5.1, 3.5, 1.4, 0.2],\n3 [6.7, 3.0, 5.2, 2.3]\n4 ]",
                          response="1 [\n2 0,\n3 2\n4 ]")
    f = st.classify_text(text)
    assert f.classification == "prediction" and f.values == (0, 2), f
    assert f.outputs[-1].snippet == "[ 0, 2 ]" and any(e.label == ":predict request" for e in f.calls)
    assert {e.shown for e in f.cloud} >= {"endpoint sklearn-iris-endpoint", "us-east-1"}


def test_postman_one_line_answer_is_the_response_not_the_request():
    f = st.classify_text(POSTMAN.format(request="1 [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]", response="1 [0,2]"))
    assert f.classification == "prediction" and f.values == (0, 2)
    assert [e.snippet for e in f.outputs] == ["1 [0,2]"]
    # the request sent, and no answer yet: not a prediction (Postman's "raw JSON" body is what was sent)
    f = st.classify_text(POSTMAN.format(request="1 [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]", response=""))
    assert f.classification == "cloud" and f.values == () and not f.outputs


def test_csv_lines_after_cat():
    f = st.classify_text('$ aws sagemaker-runtime invoke-endpoint --endpoint-name iris-ep --content-type text/csv '
                         '--accept text/csv --body fileb://payload.csv out.csv\n{\n"InvokedProductionVariant": '
                         '"AllTraffic"\n}\n$ cat payload.csv\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n$ cat out.csv\n0\n2\n$\n')
    assert f.classification == "prediction" and f.values == (0, 2)
    assert any(e.label == "printed values (CSV)" and e.snippet == "0 2" for e in f.outputs)
    assert "endpoint invoke-endpoint" not in {e.shown for e in f.cloud}       # the command is no endpoint name


@pytest.mark.parametrize("text,values", [
    (f"In [6]: {CALL}\nOut[6]: array([@, 2)}})\n", (0, 2)),            # a dotted zero read as @
    (f"In (6): {CALL}\ntie array({{®, 2])\n", (0, 2)),                 # a phone photo: Out[6] unread, ® for 0
    (f"In [6]: {CALL}\nOut[6]: array([O, 2])\n", (0, 2)),
    (f"[8]: {CALL}\n[8]: array([[0.97, 0.03, 0. J,\nmodel.tar.gz [0.01, 0.12, 0.87]])\n",
     (0.97, 0.03, 0.0, 0.01, 0.12, 0.87)),                               # predict_proba, a sidebar, a stray J
    (f"[5] | print({CALL})\n0 README.md [0 2]\n", (0, 2)),              # VS Code, a sidebar before the output
    ("$ gcloud ai endpoints predict 123 --region=us-central1 --json-request=r.json\n"
     "[[0.97, 0.03, 0.0], [0.01, 0.12, 0.87]]\n", (0.97, 0.03, 0.0, 0.01, 0.12, 0.87)),   # probabilities
    ('$ curl -X POST https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/1:predict'
     ' -d @r.json\n{"predictions": [0, 2], "deployedModelId": "55"}\n', (0, 2)),        # compact JSON
])
def test_values_read_tolerantly(text, values):
    f = st.classify_text(text)
    assert f.classification == "prediction" and f.values == values, f


def test_at_sign_is_a_zero_only_among_numbers():
    assert st.parse_values("@, 2") == (0, 2) and st.parse_values("O.5, 1") == (0.5, 1)
    assert st.parse_values("'@home'") == () and st.parse_values("Oslo") == ("Oslo",)
    # in a JSON body or a Python list a label is quoted: a bare word there is OCR's reading of something else
    assert st.parse_values("[to]", quoted_labels=True) == () and st.parse_values("['to']", quoted_labels=True) == ("to",)


def test_a_cut_off_output_is_uncertain():
    text = f"In [6]: {CALL}\nOutlal.: sarravliTQ 771)\n"
    f = st.classify_text(text, [92.0, 31.0])
    assert f.classification == "uncertain" and "could not read it with confidence" in f.note
    assert st.classify_text(text, [92.0, 91.0]).classification == "cloud"   # read with confidence: decided
    assert st.classify_text(f"In [6]: {CALL}\n", [92.0]).classification == "cloud"   # nothing below the call
    # an output marker whose values are unreadable: partial
    f = st.classify_text(f"In [6]: {CALL}\nOut[6]: arr@y(L®\n", [92.0, 38.0])
    assert f.classification == "uncertain" and "only partly visible" in f.note
    f = st.classify_text(f"In [6]: {CALL}\nOut[6]: arr@y(L®\n", [92.0, 88.0])
    assert f.classification == "prediction"


def test_a_photo_read_only_in_part_is_uncertain():
    text = "predictor.predict(rows)\nee oe Se ae\nSa ee ee :\n"
    assert st.classify_text(text, [60.0, 20.0, 15.0], photo=True).classification == "uncertain"
    # a screenshot with a few unsure letters below the call: no sign of an output there, decided
    assert st.classify_text(text, [60.0, 20.0, 15.0]).classification == "cloud"
    assert st.classify_text("Amazon SageMaker Endpoints InService\nee oe\n", [40.0, 20.0],
                            photo=False).classification == "cloud"


def test_endpoint_names_compared():
    m = st.endpoint_match(["sklearn-iris-endpoint"], ["sklearn-iris-endpoint", "other"])
    assert m.plausible and m.sentence == "the endpoint shown (sklearn-iris-endpoint) is the one your README names"
    m = st.endpoint_match(["old-endpoint"], ["sklearn-iris-endpoint"])
    assert m.plausible is False and "but your README names sklearn-iris-endpoint" in m.sentence
    assert st.endpoint_match([], ["x"]).plausible is None


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
    assert len(names) == 1 and names[0].endswith(f".none-{ocr.PREP_VERSION}-{ocr.reader_hash()}.json")


def test_parallel_cache_writes_never_leave_half_a_file(tmp_path):
    eng = ocr.OcrEngine("tesseract", True, "5.3.0", "/usr/bin/tesseract")
    sha = "ab" * 32
    docs = [{"text": str(i) * 20_000, "width": i} for i in range(8)]
    threads = [threading.Thread(target=ocr._cache_put, args=(sha, eng, None, d)) for d in docs for _ in range(3)]
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
    """The OCR job's address space is limited before it decodes: a decode that needs more fails inside the
    sandbox (reported, not raised), whatever the grader's own limits are."""
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    monkeypatch.setattr(ocr, "MEMORY_MB", 40)
    img = Image.new("RGB", (6000, 5000), "white")
    ImageDraw.Draw(img).rectangle([10, 10, 500, 500], fill="red")
    doc, hit, _ = ocr.read_image(png(img))
    assert not hit and doc.get("limit") == "memory" and "memory" in doc.get("ocr_error", ""), doc
    monkeypatch.setattr(ocr, "MEMORY_MB", 1536)
    doc, _, _ = ocr.read_image(png(img))
    assert doc.get("stddev", 0) > 0 and not doc.get("problem"), doc


def test_engine_settings(monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "easyocr")
    e = ocr.engine()
    assert not e.available and "DEPLOYCHECK_OCR=easyocr is not an OCR engine deploycheck knows" in e.detail
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    assert ocr.engine().cache_id == f"none-{ocr.PREP_VERSION}-{ocr.reader_hash()}" and ocr.engine().label == "none"
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
    p = st.plausibility((0.37,), st.KnownOutputs(local_values=(1,)))
    assert p.plausible is False and "whole numbers (1)" in p.sentence
    p = st.plausibility((0, 2), st.KnownOutputs(local_values=(0, 2)))
    assert p.plausible and p.sentence == ("the values shown (0, 2) are what your model predicts locally for the "
                                          "README's sample request")
    p = st.plausibility((6, 2), st.KnownOutputs(local_values=(0, 2)))          # a dotted zero read as 6
    assert p.plausible and "match what your model predicts" in p.sentence and "digits OCR often misreads" in p.sentence
    p = st.plausibility((1,), st.KnownOutputs(local_values=(0, 2)))
    assert p.plausible is None and "fine if the screenshot shows another request" in p.sentence
    p = st.plausibility(("setosa",), st.KnownOutputs(local_values=(0, 2)))
    assert p.plausible is False and "is the screenshot from this model?" in p.sentence
    p = st.plausibility(("Setosa",), st.KnownOutputs(classes=("setosa",)))
    assert p.plausible
