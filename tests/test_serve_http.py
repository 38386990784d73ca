"""`deploycheck serve`: a real HTTP server answering /ping, /invocations and :predict."""
from __future__ import annotations

import io
import json
import tarfile
import threading
import urllib.error
import urllib.request

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from deploycheck.serving import cli

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def model_bytes() -> bytes:
    X, y = load_iris(return_X_y=True)
    b = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=500).fit(X, y), b)
    return b.getvalue()


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(path, platform=None):
        srv = cli.build_server(str(path), 0, platform=platform, timeout=10)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"
    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def call(url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def test_aws_routes(tmp_path, serve):
    d = tmp_path / "repo" / "aws_deploy"
    d.mkdir(parents=True)
    (d / "inference.py").write_text("import joblib, os\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n")
    data = model_bytes()
    with tarfile.open(d / "model.tar.gz", "w:gz") as tf:
        ti = tarfile.TarInfo("model.joblib")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    base = serve(tmp_path / "repo")
    assert call(base + "/ping")[0] == 200
    st, ct, body = call(base + "/invocations", json.dumps(ROWS).encode(), {"Content-Type": "application/json"})
    assert (st, ct, json.loads(body)) == (200, "application/json", [0, 2])
    st, ct, body = call(base + "/invocations", b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
                        {"Content-Type": "text/csv", "Accept": "text/csv"})
    assert st == 200 and ct == "text/csv" and body.split() == [b"0", b"2"]
    buf = io.BytesIO()
    np.save(buf, np.array(ROWS))
    st, ct, body = call(base + "/invocations", buf.getvalue(),
                        {"Content-Type": "application/x-npy", "Accept": "application/x-npy"})
    assert st == 200 and np.load(io.BytesIO(body)).tolist() == [0, 2]
    assert call(base + "/invocations", b"x", {"Content-Type": "text/plain"})[0] == 415
    assert call(base + "/invocations", json.dumps(ROWS).encode(), {"Content-Type": "application/json", "Accept": "image/png"})[0] == 406
    st, _, body = call(base + "/invocations", b"[[1, 2]]", {"Content-Type": "application/json"})
    assert st == 500 and "features" in json.loads(body)["error"]
    assert call(base + "/v1/models/model:predict", b"{}")[0] == 404


def test_gcp_routes_from_the_deploy_folder(tmp_path, serve):
    d = tmp_path / "gcp_deploy"
    d.mkdir()
    (d / "model.joblib").write_bytes(model_bytes())
    base = serve(d)
    body = json.dumps({"instances": ROWS}).encode()
    for route in ("/v1/models/model:predict", "/predict"):
        st, ct, out = call(base + route, body, {"Content-Type": "application/json"})
        assert st == 200 and json.loads(out) == {"predictions": [0, 2]}
    st, _, out = call(base + "/predict", b"not json")
    assert st == 400 and "error" in json.loads(out)


def test_main_reports_unusable_path(tmp_path, capsys):
    assert cli.main([str(tmp_path / "missing"), "--port", "0"]) == 2
    assert "not a folder" in capsys.readouterr().err
