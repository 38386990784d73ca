"""The offline stand-ins of the clouds, started and stopped in one place; all listen on 127.0.0.1.

* AWS: moto, in-process (:func:`in_process_aws`, ``mock_aws``) or as a ``ThreadedMotoServer``
  (:func:`start_moto_server`) that several clients and processes can share.
* Cloud Storage: ``gcp-storage-emulator`` (:func:`start_storage_emulator`).
* Vertex AI: :class:`FakeVertex`, a small fake of the Vertex REST API (v1), enough for the real
  ``google-cloud-aiplatform`` client with ``api_transport="rest"``: ``models:upload``, endpoints
  create / ``:deployModel`` / ``:predict`` / ``:undeployModel``, get / list / delete of models and
  endpoints, and long-running operations (done after ``lro_polls`` GETs, so the client's LRO polling
  runs). Shapes follow https://cloud.google.com/vertex-ai/docs/reference/rest/v1 (lowerCamelCase JSON,
  LRO ``response`` with an ``@type``). It never loads a model: answers are primed like moto's SageMaker
  results (:meth:`FakeVertex.set_result`); faults (:meth:`FakeVertex.add_fault`) and denied IAM
  permissions (:meth:`FakeVertex.deny`, answered like the real service: 403 ``PERMISSION_DENIED``,
  "Permission 'aiplatform.endpoints.create' denied on resource '//aiplatform.googleapis.com/…' (or it
  may not exist).") are injected for tests.

:func:`services` starts the three once per process (``--cloud moto``), or takes running ones from
``$DEPLOYCHECK_MOTO_ENDPOINT``, ``$DEPLOYCHECK_STORAGE_ENDPOINT``, ``$DEPLOYCHECK_VERTEX_ENDPOINT``
(``python -m deploycheck.cloud.offline`` starts a set and prints those variables).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from deploycheck.cloud.base import CloudError
from deploycheck.settings import env

HOST = "127.0.0.1"
MOTO_ACCOUNT = "123456789012"          # moto's default account id
_T = "type.googleapis.com/google.cloud.aiplatform.v1."
_LOC = r"/v1/(?P<parent>projects/[^/]+/locations/[^/]+)"


# ---------------------------------------------------------------------- AWS: moto
@contextlib.contextmanager
def in_process_aws() -> Iterator[None]:
    """moto in this process (no socket at all); boto3 gets dummy credentials, never the real chain."""
    from moto import mock_aws
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        with mock_aws():
            yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def serve_in_thread(server: socketserver.TCPServer, name: str = "offline-http") -> tuple[str, Callable[[], None]]:
    """Serve an ``http.server`` server on a daemon thread: (its http://127.0.0.1:PORT url, stop)."""
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
    return f"http://{HOST}:{server.server_address[1]}", stop


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_moto_server() -> tuple[str, Callable[[], None]]:
    """A ThreadedMotoServer on 127.0.0.1: (url, stop)."""
    import logging

    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.WARNING)     # one log line per request otherwise
    port = free_port()
    srv = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    srv.start()
    return f"http://{HOST}:{port}", srv.stop


def prime_sagemaker(endpoint_url: str | None, region: str, body: bytes, content_type: str) -> None:
    """Make moto's next ``invoke_endpoint`` answer ``body`` (moto keeps text bodies: pass UTF-8).
    Server mode: moto's ``/moto-api/static/sagemaker/endpoint-results`` API; in-process: its backend."""
    result = {"Body": body.decode("utf-8"), "ContentType": content_type,
              "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""}
    if endpoint_url is None:
        from moto.sagemakerruntime.models import sagemakerruntime_backends
        backend = sagemakerruntime_backends[MOTO_ACCOUNT][region]
        backend.results_queue.append((result["Body"], result["ContentType"], result["InvokedProductionVariant"],
                                      result["CustomAttributes"]))
        return
    _post(f"{endpoint_url}/moto-api/static/sagemaker/endpoint-results",
          {"account_id": MOTO_ACCOUNT, "region": region, "results": [result]})


# ---------------------------------------------------------------------- GCP: storage emulator
def start_storage_emulator() -> tuple[str, Callable[[], None]]:
    """gcp-storage-emulator on 127.0.0.1 (in memory): (url for STORAGE_EMULATOR_HOST, stop)."""
    from gcp_storage_emulator.server import create_server
    port = free_port()
    srv = create_server(HOST, port, in_memory=True)
    srv._api.daemon = True          # its API thread is not a daemon: it would keep the process alive
    srv.start()
    return f"http://{HOST}:{port}", srv.stop


def prime_vertex(vertex_url: str, endpoint: str, predictions: list[Any]) -> None:
    """Make the fake Vertex endpoint answer ``predictions``."""
    _post(f"{vertex_url}/fake-vertex/results", {"endpoint": endpoint, "predictions": predictions})


def _post(url: str, payload: dict[str, Any]) -> None:
    import urllib3
    r = urllib3.request("POST", url, json=payload, timeout=30.0, retries=False)
    if r.status >= 400:
        raise RuntimeError(f"POST {url}: HTTP {r.status} {r.data[:200]!r}")


# ---------------------------------------------------------------------- the three together
@dataclass(frozen=True)
class OfflineServices:
    moto_url: str
    storage_url: str
    vertex_url: str


_RUNNING: list[OfflineServices] = []
_STOPS: list[Callable[[], None]] = []
_LOCK = threading.Lock()


def services() -> OfflineServices:
    """The offline stand-ins of this process, started on first use (or taken from the environment)."""
    with _LOCK:
        if not _RUNNING:
            try:
                moto = env("MOTO_ENDPOINT") or _started(start_moto_server())
                gcs = env("STORAGE_ENDPOINT") or _started(start_storage_emulator())
                vx = env("VERTEX_ENDPOINT") or _started(_fake_vertex())
            except Exception as e:  # noqa: BLE001 - any failure to start is the run's, said in one line
                _stop_all()
                raise CloudError(f"could not start the offline cloud stand-ins (moto, gcp-storage-emulator, fake "
                                 f"Vertex) on {HOST}: {type(e).__name__}: {e}") from e
            _RUNNING.append(OfflineServices(moto, gcs, vx))
        return _RUNNING[0]


def _started(started: tuple[str, Callable[[], None]]) -> str:
    _STOPS.append(started[1])
    return started[0]


def _fake_vertex() -> tuple[str, Callable[[], None]]:
    fv = FakeVertex().start()
    return fv.url, fv.stop


def stop_services() -> None:
    with _LOCK:
        _stop_all()


def _stop_all() -> None:
    while _STOPS:
        with contextlib.suppress(Exception):
            _STOPS.pop()()
    _RUNNING.clear()


# ---------------------------------------------------------------------- Vertex AI: the fake
class FakeVertex:
    """Thread-backed fake server on 127.0.0.1; ``url`` is ``http://127.0.0.1:PORT``. A context manager."""

    def __init__(self, port: int = 0, lro_polls: int = 1):
        self.lro_polls = lro_polls
        self.models: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.results: dict[str, list[Any]] = {}
        self.faults: list[dict[str, Any]] = []
        self.denied: set[str] = set()
        self.requests: list[tuple[str, str]] = []     # (method, path), for tests
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                status, payload = fake.dispatch(method, self.path, body if isinstance(body, dict) else {})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self.server = ThreadingHTTPServer((HOST, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self._stop: Callable[[], None] = self.server.server_close          # until started

    def start(self) -> FakeVertex:
        self.url, self._stop = serve_in_thread(self.server, "fake-vertex")
        return self

    def stop(self) -> None:
        self._stop()

    def __enter__(self) -> FakeVertex:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test hooks
    def set_result(self, endpoint: str, predictions: list[Any]) -> None:
        """Predictions the endpoint (full resource name, or ``*``) answers."""
        with self._lock:
            self.results[endpoint] = list(predictions)

    def add_fault(self, match: str, status: int = 503, count: int = 1, method: str | None = None) -> None:
        """The next ``count`` requests whose path contains ``match`` answer ``status``."""
        with self._lock:
            self.faults.append({"match": match, "status": status, "count": count, "method": method})

    def deny(self, *permissions: str) -> None:
        """Requests that need one of these IAM permissions (``aiplatform.endpoints.create``...) answer 403."""
        with self._lock:
            self.denied.update(permissions)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _now() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    def _op(self, parent: str, response: dict[str, Any] | None, meta_type: str) -> dict[str, Any]:
        name = f"{parent}/operations/{next(self._ids)}"
        op = {"name": name, "metadata": {"@type": _T + meta_type, "genericMetadata": {"createTime": self._now()}},
              "done": False, "_polls": self.lro_polls, "_response": response}
        self.operations[name] = op
        return self._op_view(op) if self.lro_polls else self._finish(op)

    def _finish(self, op: dict[str, Any]) -> dict[str, Any]:
        op["done"], op["_polls"] = True, 0
        return self._op_view(op)

    @staticmethod
    def _op_view(op: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in op.items() if not k.startswith("_")}
        if op["done"]:
            out["response"] = op["_response"] or {"@type": "type.googleapis.com/google.protobuf.Empty"}
        return out

    @staticmethod
    def _label_filter(items: list[dict[str, Any]], flt: str) -> list[dict[str, Any]]:
        for key, val in re.findall(r'labels\.([\w-]+)\s*=\s*"?([^"\s]+)"?', flt or ""):
            items = [i for i in items if (i.get("labels") or {}).get(key) == val]
        return items

    @staticmethod
    def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
        return code, {"error": {"code": code, "status": status, "message": message}}

    def _check(self, permission: str, resource: str) -> tuple[int, dict[str, Any]] | None:
        if permission not in self.denied:
            return None
        return self._error(403, "PERMISSION_DENIED", f"Permission '{permission}' denied on resource "
                           f"'//aiplatform.googleapis.com/{resource}' (or it may not exist).")

    # ------------------------------------------------------------------ routing
    def dispatch(self, method: str, raw_path: str, body: dict[str, Any]) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        with self._lock:
            self.requests.append((method, path))
            for f in self.faults:
                if f["count"] > 0 and f["match"] in path and f["method"] in (None, method):
                    f["count"] -= 1
                    return self._error(f["status"], "UNAVAILABLE" if f["status"] == 503 else "INTERNAL", "injected fault")
            if path.startswith("/fake-vertex/"):
                return self._control(path, body)
            try:
                return self._api(method, path, query, body)
            except KeyError as e:
                return self._error(404, "NOT_FOUND", f"{e.args[0]} not found")

    def _control(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if path == "/fake-vertex/results":
            self.set_result(body.get("endpoint", "*"), body.get("predictions", []))
            return 200, {}
        if path == "/fake-vertex/faults":
            self.add_fault(body["match"], int(body.get("status", 503)), int(body.get("count", 1)), body.get("method"))
            return 200, {}
        if path == "/fake-vertex/state":
            return 200, {"models": sorted(self.models), "endpoints": sorted(self.endpoints)}
        return self._error(404, "NOT_FOUND", "unknown control path")

    def _api(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        m = re.fullmatch(r"/(?:v1|ui)/(?P<name>projects/[^/]+/locations/[^/]+/(?:[^/]+/[^/]+/)?operations/[^/:]+)", path)
        if m and method == "GET":
            op = self.operations[m["name"]]
            if not op["done"]:
                op["_polls"] -= 1
                if op["_polls"] <= 0:
                    return 200, self._finish(op)
            return 200, self._op_view(op)
        flt = query.get("filter", [""])[0]
        if method == "POST" and (m := re.fullmatch(_LOC + r"/models:upload", path)):
            return self._check("aiplatform.models.upload", m["parent"]) or self._upload(m["parent"], body)
        if m := re.fullmatch(_LOC + r"/models", path):
            items = [v for k, v in self.models.items() if k.startswith(m["parent"] + "/")]
            return self._check("aiplatform.models.list", m["parent"]) or (200, {"models": self._label_filter(items, flt)})
        if m := re.fullmatch(r"/v1/(?P<name>projects/[^/]+/locations/[^/]+/models/[^/:@]+)(?:@[^/:]*)?", path):
            return self._model(method, m["name"])
        if m := re.fullmatch(_LOC + r"/endpoints", path):
            parent = m["parent"]
            if method == "POST":
                return self._check("aiplatform.endpoints.create", parent) or self._create_endpoint(parent, body)
            items = [v for k, v in self.endpoints.items() if k.startswith(parent + "/")]
            return self._check("aiplatform.endpoints.list", parent) or (200, {"endpoints": self._label_filter(items, flt)})
        if m := re.fullmatch(r"/v1/(?P<name>projects/[^/]+/locations/[^/]+/endpoints/[^/:]+)(?::(?P<verb>\w+))?", path):
            return self._endpoint(method, m["name"], m["verb"], body)
        return self._error(404, "NOT_FOUND", f"fake-vertex: {method} {path} is not implemented")

    def _upload(self, parent: str, body: dict[str, Any]) -> tuple[int, Any]:
        name = f"{parent}/models/{next(self._ids)}"
        src = body.get("model", {})
        self.models[name] = {"name": name, "displayName": src.get("displayName", ""), "labels": src.get("labels", {}),
                             "artifactUri": src.get("artifactUri", ""), "containerSpec": src.get("containerSpec", {}),
                             "versionId": "1", "supportedDeploymentResourcesTypes": [1],  # DEDICATED_RESOURCES
                             "createTime": self._now(), "updateTime": self._now()}
        return 200, self._op(parent, {"@type": _T + "UploadModelResponse", "model": name, "modelVersionId": "1"},
                             "UploadModelOperationMetadata")

    def _model(self, method: str, name: str) -> tuple[int, Any]:
        if method == "GET":
            return self._check("aiplatform.models.get", name) or (200, self.models[name])
        denied = self._check("aiplatform.models.delete", name)
        if denied:
            return denied
        if any(d.get("model") == name for e in self.endpoints.values() for d in e.get("deployedModels", [])):
            return self._error(400, "FAILED_PRECONDITION", "model is deployed to an endpoint; undeploy it first")
        del self.models[name]
        return 200, self._op(name.rsplit("/models/", 1)[0], None, "DeleteOperationMetadata")

    def _create_endpoint(self, parent: str, body: dict[str, Any]) -> tuple[int, Any]:
        name = f"{parent}/endpoints/{next(self._ids)}"
        ep = {"name": name, "displayName": body.get("displayName", ""), "labels": body.get("labels", {}),
              "deployedModels": [], "trafficSplit": {}, "createTime": self._now(), "updateTime": self._now()}
        self.endpoints[name] = ep
        return 200, self._op(parent, {"@type": _T + "Endpoint", **ep}, "CreateEndpointOperationMetadata")

    def _endpoint(self, method: str, name: str, verb: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        perm = "aiplatform.endpoints." + {None: "get" if method == "GET" else "delete", "deployModel": "deploy",
                                          "undeployModel": "undeploy"}.get(verb, verb or "")
        denied = self._check(perm, name)
        if denied:
            return denied
        ep = self.endpoints[name]
        if verb is None and method == "GET":
            return 200, ep
        if verb is None and method == "DELETE":
            if ep["deployedModels"]:
                return self._error(400, "FAILED_PRECONDITION", "endpoint has deployed models; undeploy them first")
            del self.endpoints[name]
            return 200, self._op(name, None, "DeleteOperationMetadata")
        if verb == "deployModel":
            dm = dict(body.get("deployedModel", {}))
            dm["model"] = dm.get("model", "").split("@")[0]
            self.models[dm["model"]]  # KeyError -> 404 like the real service
            dm["id"], dm["createTime"] = str(next(self._ids)), self._now()
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
                return self._error(400, "FAILED_PRECONDITION", "endpoint has no deployed model")
            preds = self.results.get(name, self.results.get("*"))
            if preds is None:
                preds = ["fake-vertex: no result configured"] * len(body.get("instances") or [])
            dm = ep["deployedModels"][0]
            return 200, {"predictions": preds, "deployedModelId": dm["id"], "model": dm.get("model", ""),
                         "modelDisplayName": "", "modelVersionId": "1"}
        return self._error(404, "NOT_FOUND", f"fake-vertex: {method} {name}:{verb} is not implemented")


def main() -> int:
    """``python -m deploycheck.cloud.offline``: start moto, the GCS emulator and the Vertex fake, print
    the variables that make every deploycheck process on this machine use them, serve until Ctrl-C."""
    svc = services()
    print(f"export DEPLOYCHECK_MOTO_ENDPOINT={svc.moto_url}\nexport DEPLOYCHECK_STORAGE_ENDPOINT={svc.storage_url}\n"
          f"export DEPLOYCHECK_VERTEX_ENDPOINT={svc.vertex_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        stop_services()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
