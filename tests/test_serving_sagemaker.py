"""The SageMaker scikit-learn container emulation, in-process on a model we trained ourselves."""
from __future__ import annotations

import io
import json

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from deploycheck.serving import sagemaker as sm

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
MODEL_FN = "import joblib, os\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"


@pytest.fixture(scope="module")
def model():
    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(X, y)


@pytest.fixture
def dirs(tmp_path, model, monkeypatch):
    md, cd = tmp_path / "model", tmp_path / "code"
    md.mkdir()
    cd.mkdir()
    joblib.dump(model, md / "model.joblib")
    monkeypatch.setattr("sys.path", list(__import__("sys").path))  # import_user_module edits sys.path

    def write(src: str, name: str = "inference.py"):
        (cd / name).write_text(src)
        return str(md), str(cd), name
    return write


def npy(a) -> bytes:
    b = io.BytesIO()
    np.save(b, np.asarray(a))
    return b.getvalue()


def test_default_json_in_json_out(dirs):
    r = sm.invoke(*dirs(MODEL_FN), json.dumps(ROWS).encode(), "application/json", None)
    assert r.status == 200 and r.content_type == "application/json"
    assert json.loads(r.body) == [0, 2]


def test_default_csv_in_csv_out(dirs):
    r = sm.invoke(*dirs(MODEL_FN), b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", "text/csv", "text/csv")
    assert r.status == 200 and r.body.decode().split() == ["0", "2"]


def test_single_csv_row_is_1d_like_the_container(dirs):
    # csv_to_numpy squeezes one row to 1-D; model.predict rejects it -> 500, as on the endpoint
    r = sm.invoke(*dirs(MODEL_FN), b"5.1,3.5,1.4,0.2", "text/csv", None)
    assert r.status == 500 and "2D array" in r.error


def test_default_npy_in_npy_out_keeps_dtype(dirs):
    r = sm.invoke(*dirs(MODEL_FN), npy(ROWS), "application/x-npy", "application/x-npy")
    assert r.status == 200
    assert np.load(io.BytesIO(r.body)).tolist() == [0, 2]


def test_accept_any_means_json(dirs):
    r = sm.invoke(*dirs(MODEL_FN), json.dumps(ROWS).encode(), "application/json", "*/*")
    assert r.content_type == "application/json"


def test_utf8_types_cast_to_float32(dirs):
    src = MODEL_FN + "def predict_fn(data, model):\n    return [str(data.dtype)]\n"
    r = sm.invoke(*dirs(src), json.dumps(ROWS).encode(), "application/json", None)
    assert json.loads(r.body) == ["float32"]
    r = sm.invoke(*dirs(src), npy(np.asarray(ROWS, dtype=np.float64)), "application/x-npy", None)
    assert json.loads(r.body) == ["float64"]


def test_unsupported_content_type_415(dirs):
    r = sm.invoke(*dirs(MODEL_FN), b"x", "text/plain", None)
    assert r.status == 415
    body = json.loads(r.body)
    assert body["error"] == "UnsupportedFormatError" and "Content type text/plain is not supported" in body["error-message"]


def test_unsupported_accept_406(dirs):
    r = sm.invoke(*dirs(MODEL_FN), json.dumps(ROWS).encode(), "application/json", "image/png")
    assert r.status == 406 and "image/png" in json.loads(r.body)["error-message"]


def test_custom_input_and_output_fn(dirs):
    src = MODEL_FN + (
        "import json\n"
        "def input_fn(body, ctype):\n    return [list(r.values()) for r in json.loads(body)['rows']]\n"
        "def output_fn(pred, accept):\n    return json.dumps({'labels': [int(p) for p in pred]}), 'application/json'\n")
    body = json.dumps({"rows": [dict(zip("abcd", r)) for r in ROWS]}).encode()
    r = sm.invoke(*dirs(src), body, "application/json", None)
    assert r.status == 200 and json.loads(r.body) == {"labels": [0, 2]}


def test_transform_fn_alone(dirs):
    src = MODEL_FN + "def transform_fn(model, body, ctype, accept):\n    return b'[42]', 'application/json'\n"
    r = sm.invoke(*dirs(src), b"[]", "application/json", None)
    assert r.status == 200 and r.body == b"[42]"


def test_transform_fn_with_input_fn_is_rejected(dirs):
    src = MODEL_FN + "def transform_fn(m, b, c, a):\n    pass\ndef input_fn(b, c):\n    pass\n"
    r = sm.invoke(*dirs(src), b"[]", "application/json", None)
    assert r.phase == "import" and sm.TRANSFORM_FN_CONFLICT in r.error


def test_missing_model_fn_uses_the_containers_error(dirs):
    r = sm.invoke(*dirs("x = 1\n"), json.dumps(ROWS).encode(), "application/json", None)
    assert r.phase == "model_fn" and "Please provide a model_fn implementation" in r.error


def test_model_fn_exception_is_reported_with_traceback(dirs):
    r = sm.invoke(*dirs("def model_fn(model_dir):\n    raise ValueError('boom here')\n"), b"[]", "application/json", None)
    assert r.phase == "model_fn" and r.error_type == "ValueError" and "boom here" in r.error
    assert "inference.py" in r.traceback


def test_predict_exception_is_500(dirs):
    r = sm.invoke(*dirs(MODEL_FN), json.dumps([[1, 2]]).encode(), "application/json", None)
    assert r.status == 500 and "features" in r.error


def test_import_error_is_phase_import(dirs):
    r = sm.invoke(*dirs("from sklearn.externals import joblib\n" + MODEL_FN), b"[]", "application/json", None)
    assert r.phase == "import" and "sklearn.externals" in r.error


def test_code_dir_inside_archive_is_used(tmp_path):
    md = tmp_path / "m"
    (md / "code").mkdir(parents=True)
    (md / "code" / "inference.py").write_text("x=1")
    assert sm.code_location(str(md), str(tmp_path / "w"), "src/inference.py") == (str(md / "code"), "inference.py")
    assert sm.code_location(str(tmp_path / "none"), "/w", "src/inference.py") == ("/w", "src/inference.py")


def test_encoders_roundtrip():
    assert sm.encode(np.array([1, 2]), "text/csv") == b"1\n2\n"
    assert json.loads(sm.encode(np.array([[1.5]]), "application/json")) == [[1.5]]
    with pytest.raises(sm.UnsupportedFormatError):
        sm.decode(b"x", "application/xml")
