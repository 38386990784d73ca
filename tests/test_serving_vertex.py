"""Vertex / AI Platform prebuilt scikit-learn container emulation, in-process."""
from __future__ import annotations

import json
import pickle

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from deploycheck.serving import vertex


@pytest.fixture(scope="module")
def model():
    X, y = load_iris(return_X_y=True)
    return DecisionTreeClassifier(random_state=0).fit(X, y)


BODY = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}).encode()


def test_joblib_predictions(tmp_path, model):
    joblib.dump(model, tmp_path / "model.joblib")
    r = vertex.invoke(str(tmp_path), BODY)
    assert r.status == 200 and json.loads(r.body) == {"predictions": [0, 2]}


def test_joblib_preferred_over_pkl(tmp_path, model):
    joblib.dump(model, tmp_path / "model.joblib")
    (tmp_path / "model.pkl").write_bytes(b"not a pickle")
    assert vertex.invoke(str(tmp_path), BODY).status == 200


def test_pkl_loaded_with_pickle(tmp_path, model):
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    assert json.loads(vertex.invoke(str(tmp_path), BODY).body)["predictions"] == [0, 2]


def test_no_model_file(tmp_path):
    r = vertex.invoke(str(tmp_path), BODY)
    assert r.phase == "model_fn" and "model.joblib" in r.error


@pytest.mark.parametrize("body,words", [(b"nojson", "JSON"), (b'{"rows": []}', "instances"),
                                        (b'{"instances": 3}', "must be a list")])
def test_bad_requests_are_400_error_objects(tmp_path, model, body, words):
    joblib.dump(model, tmp_path / "model.joblib")
    r = vertex.invoke(str(tmp_path), body)
    assert r.status == 400 and words in json.loads(r.body)["error"]


def test_prediction_failure_is_500(tmp_path, model):
    joblib.dump(model, tmp_path / "model.joblib")
    r = vertex.invoke(str(tmp_path), b'{"instances": [[1, 2]]}')
    assert r.status == 500 and json.loads(r.body)["error"].startswith("Prediction failed")
