"""Vertex AI / AI Platform: the job (through the sandbox, in the image's environment) and
``deploycheck serve`` give the same answers, shaped like Google's: ``{"predictions": [...]}``,
400 FAILED_PRECONDITION "Prediction failed: ..." for model errors (a "parameters" key reaches
``predict`` as a keyword and fails), 400 INVALID_ARGUMENT for requests the API front end rejects;
loading: exactly one of model.joblib / model.pkl, and only scikit-learn objects."""
from __future__ import annotations

import http.client
import json
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deploycheck.runtimes import catalog, envs
from deploycheck.serving import http as serve_http
from deploycheck.serving import local

sys.path.insert(0, str(Path(__file__).parent))
import cases  # noqa: E402

IMAGE = "vertex:sklearn-cpu.1-2"


@pytest.fixture(scope="module")
def env():
    try:
        return envs.ensure(catalog.image(IMAGE))
    except envs.EnvUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def folder(env, tmp_path_factory):
    d = tmp_path_factory.mktemp("gcp") / "gcp_deploy"
    d.mkdir()
    subprocess.run([env.python, "-I", "-c", "import sys, joblib\nfrom sklearn.datasets import load_iris\n"
                    "from sklearn.tree import DecisionTreeClassifier\nX, y = load_iris(return_X_y=True)\n"
                    "joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), sys.argv[1])",
                    str(d / "model.joblib")], check=True, timeout=300, env={"PATH": "/usr/bin:/bin"})
    return d


def _runtime(env) -> local.Runtime:
    return local.Runtime(env.label, env.image, env, sklearn=env.image.sklearn)


def _target(d: Path) -> local.Target:
    return local.Target(platform="gcp", folder=d, rel="gcp_deploy", image=catalog.image(IMAGE))


def _serve_all(target, runtime, bodies):
    srv = serve_http.Server(("127.0.0.1", 0), target, runtime, None, None, open(os.devnull, "w"))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = []
    try:
        for body in bodies:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            conn.request("POST", "/v1/projects/p/locations/us-central1/endpoints/123:predict", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            out.append((r.status, r.getheader("Content-Type"), r.read()))
            conn.close()
    finally:
        srv.shutdown()
        srv.server_close()
    return out


def test_request_forms_job_equals_serve_and_google_shapes(env, folder):
    names = [n for n, _ in cases.VERTEX_REQUESTS]
    bodies = [b for _, b in cases.VERTEX_REQUESTS]
    run = local.run(_target(folder), [local.HttpRequest("POST", "/predict", (), b) for b in bodies], runtime=_runtime(env))
    assert not run.machine_error and run.startup is None, run
    got = {n: (a.status, a.content_type, a.body) for n, a in zip(names, run.answers)}
    served = dict(zip(names, _serve_all(_target(folder), _runtime(env), bodies)))
    assert served == got
    ok = json.loads(got["instances"][2])
    assert got["instances"][:2] == (200, "application/json; charset=UTF-8") and ok == {"predictions": [0, 2, 1]}
    assert json.loads(got["instances_one"][2]) == {"predictions": [0]}

    def err(name):
        status, _ct, body = got[name]
        e = json.loads(body)["error"]
        return status, e["status"], e["message"]
    for name in ("with_parameters", "empty_parameters"):
        status, st, msg = err(name)
        assert (status, st) == (400, "FAILED_PRECONDITION")
        assert msg.startswith('"Prediction failed: Exception during sklearn prediction: ') and "'parameters'" in msg
    status, st, msg = err("wrong_shape")
    assert (status, st) == (400, "FAILED_PRECONDITION") and "4 features" in msg
    assert err("flat_instances")[:2] == (400, "FAILED_PRECONDITION")      # 1-D: "Expected 2D array"
    assert err("dict_instances")[:2] == (400, "FAILED_PRECONDITION")
    for name in ("missing_instances", "instances_not_list", "not_json", "bare_list"):
        assert err(name)[:2] == (400, "INVALID_ARGUMENT"), name
    assert 'Unknown name "rows"' in err("missing_instances")[2]


def _run_with(tmp_path, env, files: dict[str, bytes]):
    d = tmp_path / "gcp_deploy"
    d.mkdir()
    for name, data in files.items():
        (d / name).write_bytes(data)
    return local.run(_target(d), [local.HttpRequest("POST", "/predict", (), cases.VERTEX_REQUESTS[0][1])],
                     runtime=_runtime(env))


def test_exactly_one_model_file(tmp_path, env, folder):
    model = (folder / "model.joblib").read_bytes()
    run = _run_with(tmp_path, env, {"model.joblib": model, "model.pkl": model})
    assert run.startup and "Multiple model files are found in the model_path" in run.startup.error
    assert not run.answers


def test_no_model_file(tmp_path, env):
    run = _run_with(tmp_path, env, {"README.md": b"x"})
    assert run.startup and "Could not find either model.joblib or model.pkl in /tmp/model/0001" in run.startup.error


def test_not_a_scikit_learn_object(tmp_path, env):
    run = _run_with(tmp_path, env, {"model.pkl": pickle.dumps({"weights": [1, 2]}, protocol=2)})
    assert run.startup and "Invalid model type detected: builtins.dict" in run.startup.error


def test_model_pkl_is_read_with_pickle(tmp_path, env, folder):
    # a joblib file named model.pkl is not a plain pickle stream: pickle.loads fails like on the service
    run = _run_with(tmp_path, env, {"model.pkl": (folder / "model.joblib").read_bytes()})
    assert run.startup and run.startup.error.startswith(
        "Failed to load model: Could not load the model: /tmp/model/0001/model.pkl. invalid load key")
