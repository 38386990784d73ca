"""A small local fake of the Vertex AI REST API (v1), enough for the real ``google-cloud-aiplatform``
client with ``api_transport="rest"`` and ``api_endpoint="http://127.0.0.1:PORT"``.

It implements what :mod:`deploycheck.cloud.gcp` calls: ``models:upload``, ``endpoints`` create,
``:deployModel``, ``:predict``, ``:undeployModel``, get / list / delete of models and endpoints and
``operations`` get. Every mutation is a long-running operation: the create call answers
``done: false`` and the operation is done after ``lro_polls`` GETs of it (0 = done at once), so
the client's LRO polling is exercised.

The fake never loads a model. Predictions are configured like moto's SageMaker results
(``POST /fake-vertex/results {"endpoint": NAME|"*", "predictions": [...]}``); faults are injected
with ``POST /fake-vertex/faults {"match": ":predict", "status": 503, "count": 2}`` (the next two
requests whose path contains ``:predict`` answer 503) or :meth:`FakeVertex.add_fault`.

REST shapes follow the v1 reference (https://cloud.google.com/vertex-ai/docs/reference/rest/v1):
JSON field names in lowerCamelCase, LRO ``response`` carries an ``@type``.

    with FakeVertex() as fv:
        aiplatform.init(project="p", location="us-central1", api_endpoint=fv.url,
                        api_transport="rest", credentials=AnonymousCredentials())
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_T = "type.googleapis.com/google.cloud.aiplatform.v1."
_LOC = r"/v1/(?P<parent>projects/[^/]+/locations/[^/]+)"


class FakeVertex:
    """Thread-backed fake server. ``url`` is ``http://127.0.0.1:PORT``; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, lro_polls: int = 1):
        self.lro_polls = lro_polls
        self.models: dict[str, dict] = {}
        self.endpoints: dict[str, dict] = {}
        self.operations: dict[str, dict] = {}
        self.results: dict[str, list] = {}
        self.faults: list[dict] = []
        self.requests: list[tuple[str, str]] = []     # (method, path) log, for tests
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _handle(self, method: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                status, payload = fake.dispatch(method, self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

            def do_PATCH(self):
                self._handle("PATCH")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeVertex":
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-vertex", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeVertex":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ test hooks
    def set_result(self, endpoint: str, predictions: list) -> None:
        """Predictions the endpoint (full resource name, or ``*``) answers."""
        with self._lock:
            self.results[endpoint] = list(predictions)

    def add_fault(self, match: str, status: int = 503, count: int = 1, method: str | None = None) -> None:
        """The next ``count`` requests whose path contains ``match`` answer ``status``."""
        with self._lock:
            self.faults.append({"match": match, "status": status, "count": count, "method": method})

    # ------------------------------------------------------------------ helpers
    def _now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    def _op(self, parent: str, response: dict | None, meta_type: str) -> dict:
        name = f"{parent}/operations/{next(self._ids)}"
        op = {"name": name, "metadata": {"@type": _T + meta_type,
                                         "genericMetadata": {"createTime": self._now()}},
              "done": False, "_polls": self.lro_polls, "_response": response}
        self.operations[name] = op
        return self._op_view(op) if self.lro_polls else self._finish(op)

    def _finish(self, op: dict) -> dict:
        op["done"] = True
        op["_polls"] = 0
        return self._op_view(op)

    @staticmethod
    def _op_view(op: dict) -> dict:
        out = {k: v for k, v in op.items() if not k.startswith("_")}
        if op["done"]:
            out["response"] = op["_response"] or {"@type": "type.googleapis.com/google.protobuf.Empty"}
        return out

    @staticmethod
    def _label_filter(items: list[dict], flt: str) -> list[dict]:
        for key, val in re.findall(r'labels\.([\w-]+)\s*=\s*"?([^"\s]+)"?', flt or ""):
            items = [i for i in items if (i.get("labels") or {}).get(key) == val]
        return items

    # ------------------------------------------------------------------ routing
    def dispatch(self, method: str, raw_path: str, body: dict) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        with self._lock:
            self.requests.append((method, path))
            for f in self.faults:
                if f["count"] > 0 and f["match"] in path and (f["method"] in (None, method)):
                    f["count"] -= 1
                    return f["status"], {"error": {"code": f["status"], "message": "injected fault",
                                                   "status": "UNAVAILABLE" if f["status"] == 503 else "INTERNAL"}}
            if path.startswith("/fake-vertex/"):
                return self._control(path, body)
            try:
                return self._api(method, path, query, body)
            except KeyError as e:
                return 404, {"error": {"code": 404, "message": f"{e.args[0]} not found", "status": "NOT_FOUND"}}

    def _control(self, path: str, body: dict) -> tuple[int, Any]:
        if path == "/fake-vertex/results":
            self.set_result(body.get("endpoint", "*"), body.get("predictions", []))
            return 200, {}
        if path == "/fake-vertex/faults":
            self.add_fault(body["match"], int(body.get("status", 503)), int(body.get("count", 1)), body.get("method"))
            return 200, {}
        if path == "/fake-vertex/state":
            return 200, {"models": sorted(self.models), "endpoints": sorted(self.endpoints)}
        return 404, {"error": {"code": 404, "message": "unknown control path"}}

    def _api(self, method: str, path: str, query: dict, body: dict) -> tuple[int, Any]:
        m = re.fullmatch(r"/(?:v1|ui)/(?P<name>projects/[^/]+/locations/[^/]+/(?:[^/]+/[^/]+/)?operations/[^/:]+)", path)
        if m and method == "GET":
            op = self.operations[m["name"]]
            if not op["done"]:
                op["_polls"] -= 1
                if op["_polls"] <= 0:
                    return 200, self._finish(op)
            return 200, self._op_view(op)

        # ---- models
        if method == "POST" and (m := re.fullmatch(_LOC + r"/models:upload", path)):
            parent = m["parent"]
            name = f"{parent}/models/{next(self._ids)}"
            src = body.get("model", {})
            model = {"name": name, "displayName": src.get("displayName", ""), "labels": src.get("labels", {}),
                     "artifactUri": src.get("artifactUri", ""), "containerSpec": src.get("containerSpec", {}),
                     "versionId": "1", "supportedDeploymentResourcesTypes": [1],  # DEDICATED_RESOURCES
                     "createTime": self._now(), "updateTime": self._now()}
            self.models[name] = model
            return 200, self._op(parent, {"@type": _T + "UploadModelResponse", "model": name, "modelVersionId": "1"},
                                 "UploadModelOperationMetadata")
        if m := re.fullmatch(_LOC + r"/models", path):
            items = [v for k, v in self.models.items() if k.startswith(m["parent"] + "/")]
            return 200, {"models": self._label_filter(items, query.get("filter", [""])[0])}
        if m := re.fullmatch(r"/v1/(?P<name>projects/[^/]+/locations/[^/]+/models/[^/:@]+)(?:@[^/:]*)?", path):
            name = m["name"]
            if method == "GET":
                return 200, self.models[name]
            if method == "DELETE":
                if any(d.get("model") == name for e in self.endpoints.values() for d in e.get("deployedModels", [])):
                    return 400, {"error": {"code": 400, "status": "FAILED_PRECONDITION",
                                           "message": "model is deployed to an endpoint; undeploy it first"}}
                del self.models[name]
                return 200, self._op(name.rsplit("/models/", 1)[0], None, "DeleteOperationMetadata")

        # ---- endpoints
        if m := re.fullmatch(_LOC + r"/endpoints", path):
            parent = m["parent"]
            if method == "POST":
                name = f"{parent}/endpoints/{next(self._ids)}"
                ep = {"name": name, "displayName": body.get("displayName", ""), "labels": body.get("labels", {}),
                      "deployedModels": [], "trafficSplit": {}, "createTime": self._now(), "updateTime": self._now()}
                self.endpoints[name] = ep
                return 200, self._op(parent, {"@type": _T + "Endpoint", **ep}, "CreateEndpointOperationMetadata")
            items = [v for k, v in self.endpoints.items() if k.startswith(parent + "/")]
            return 200, {"endpoints": self._label_filter(items, query.get("filter", [""])[0])}
        if m := re.fullmatch(r"/v1/(?P<name>projects/[^/]+/locations/[^/]+/endpoints/[^/:]+)(?::(?P<verb>\w+))?", path):
            name, verb = m["name"], m["verb"]
            ep = self.endpoints[name]
            if verb is None and method == "GET":
                return 200, ep
            if verb is None and method == "DELETE":
                if ep["deployedModels"]:
                    return 400, {"error": {"code": 400, "status": "FAILED_PRECONDITION",
                                           "message": "endpoint has deployed models; undeploy them first"}}
                del self.endpoints[name]
                return 200, self._op(name, None, "DeleteOperationMetadata")
            parent = name.rsplit("/endpoints/", 1)[0]
            if verb == "deployModel":
                dm = dict(body.get("deployedModel", {}))
                dm["model"] = dm.get("model", "").split("@")[0]
                self.models[dm["model"]]  # KeyError -> 404 like the real service
                dm["id"] = str(next(self._ids))
                dm["createTime"] = self._now()
                ep["deployedModels"].append(dm)
                ep["trafficSplit"] = {dm["id"]: 100}
                return 200, self._op(name, {"@type": _T + "DeployModelResponse", "deployedModel": dm},
                                     "DeployModelOperationMetadata")
            if verb == "undeployModel":
                dmid = body.get("deployedModelId")
                ep["deployedModels"] = [d for d in ep["deployedModels"] if d["id"] != dmid]
                ep["trafficSplit"] = {k: v for k, v in (body.get("trafficSplit") or {}).items() if k != dmid}
                return 200, self._op(name, {"@type": _T + "UndeployModelResponse"}, "UndeployModelOperationMetadata")
            if verb == "predict":
                if not ep["deployedModels"]:
                    return 400, {"error": {"code": 400, "status": "FAILED_PRECONDITION",
                                           "message": "endpoint has no deployed model"}}
                n = len(body.get("instances") or [])
                preds = self.results.get(name, self.results.get("*"))
                if preds is None:
                    preds = ["fake-vertex: no result configured"] * n
                dm = ep["deployedModels"][0]
                return 200, {"predictions": preds, "deployedModelId": dm["id"], "model": dm.get("model", ""),
                             "modelDisplayName": "", "modelVersionId": "1"}
        return 404, {"error": {"code": 404, "message": f"fake-vertex: {method} {path} is not implemented",
                               "status": "NOT_FOUND"}}


def main(argv: list[str] | None = None) -> int:
    """``python -m deploycheck.cloud.fake_vertex [--port N]``: serve until interrupted."""
    import argparse
    ap = argparse.ArgumentParser(description="local fake of the Vertex AI REST API")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args(argv)
    fv = FakeVertex(port=a.port).start()
    print(fv.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
