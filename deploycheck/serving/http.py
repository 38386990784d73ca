"""``deploycheck serve PATH``: the student's model behind the container's own request path, on a
local HTTP port, the way the cloud endpoint would answer.

    deploycheck serve path/to/repo --port 8080       # its aws_deploy/ (or gcp_deploy/) folder
    curl -s localhost:8080/ping
    curl -s -X POST localhost:8080/invocations -H 'Content-Type: application/json' --data '[[5.1,3.5,1.4,0.2]]'

SageMaker: ``GET /ping``, ``POST /invocations`` (and ``/execution-parameters``) reach the container
(what the image's nginx forwards: ``location ~ ^/(ping|invocations|execution-parameters)``); any
other path gets nginx's ``404 {}``. Vertex / AI Platform: ``POST /predict``,
``/v1/models/model:predict`` and the public API paths
``/v1/projects/P/locations/L/endpoints/E:predict`` and ``/v1/projects/P/models/M[/versions/V]:predict``;
``GET /ping`` / ``/health`` answer 200 when the model loads, 500 when it does not.

Each request runs in a fresh sandboxed container start under the declared image's runtime
environment (:mod:`deploycheck.serving.local`), so the model is loaded for every request. Only
loopback: the server binds to 127.0.0.1 / ::1 and answers 403 to any Host header other than
localhost, 127.0.0.1 or [::1] with this port (a web page cannot reach it through DNS rebinding).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from deploycheck.serving import local

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder
    from deploycheck.model import Platform
    from deploycheck.sandbox import Limits

MAX_BODY = local.MAX_REQUEST
# what a proxy does not pass on (RFC 9110 7.6.1), and what this server writes itself
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
                        "content-length", "server", "date"})
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_AWS_ROUTE = re.compile(r"^/(ping|invocations|execution-parameters)")          # the image's nginx.conf
_GCP_PREDICT = re.compile(r"^/(predict|v1/models/[^/:]+:predict|v1/projects/[^/]+/(locations/[^/]+/endpoints/[^/:]+"
                          r"|models/[^/:]+(/versions/[^/:]+)?):predict)$")
_GCP_HEALTH = re.compile(r"^/(ping|health|v1/models/[^/:]+)$")


def resolve_folder(path: str, platform: Platform | None = None) -> DeployFolder:
    """The DeployFolder for PATH (a repo or a deploy folder); raises ValueError with a message."""
    from deploycheck.discovery import load_submission, make_folder, platform_of, platform_of_words
    p = Path(path).resolve()
    if not p.is_dir():
        raise ValueError(f"{path} is not a folder")
    sub = load_submission("serve", str(p))
    folders = [f for f in sub.folders if platform in (None, f.platform)]
    if folders:
        return folders[0]
    plat = platform or platform_of(p.name) or platform_of_words(p.name)
    if plat is None:
        raise ValueError(f"no aws_deploy/ or gcp_deploy/ folder in {path}; pass the deploy folder, "
                         "or --platform aws|gcp for a folder with another name")
    return make_folder(plat, p, p.parent)


def _plan(folder: DeployFolder) -> local.Target:
    """What the container would run for the folder (the same plan predict.local uses)."""
    from deploycheck.analysis.plan import Unservable
    plan = folder.facts.serving_plan
    if isinstance(plan, Unservable):
        raise ValueError(plan.message)
    return plan.target


class Server(ThreadingHTTPServer):
    daemon_threads = True
    deploy_folder: DeployFolder | None = None       # the folder served (set by build_server)

    def __init__(self, addr: tuple[str, int], target: local.Target, runtime: local.Runtime, limits: Limits | None,
                 runner: local.Runner | None, log: TextIO):
        self.target, self.runtime, self.limits, self.runner, self.log = target, runtime, limits, runner, log
        self._told: set[str] = set()
        self._lock = threading.Lock()
        # Every sandbox job runs on this one thread, one at a time, like the container's one worker
        # (the sandbox starts its servers from a long-lived thread of its own, so a request thread
        # ending never takes a server with it).
        self._jobs = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploycheck-serve")
        super().__init__(addr, Handler)

    def run(self, requests: list[local.HttpRequest]) -> local.LocalRun:
        return self._jobs.submit(local.run, self.target, requests, limits=self.limits, runner=self.runner,
                                 runtime=self.runtime).result()

    def server_close(self) -> None:
        super().server_close()
        self._jobs.shutdown(wait=False)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def allowed_hosts(self) -> set[str]:
        return {f"localhost:{self.port}", f"127.0.0.1:{self.port}", f"[::1]:{self.port}"}

    def tell(self, msg: str) -> None:
        with self._lock:
            if msg not in self._told:
                self._told.add(msg)
                print(msg, file=self.log, flush=True)


class Server6(Server):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "deploycheck-serve"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *a: Any) -> None:
        print("%s - %s" % (self.address_string(), fmt % a), file=self.server.log, flush=True)

    def _send(self, status: int, body: bytes, ctype: str | None, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in headers or ():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        if host in self.server.allowed_hosts():
            return True
        self._json(403, {"error": f"Host {host or '(none)'!r} is not allowed: deploycheck serve answers only "
                                  f"localhost:{self.server.port}, 127.0.0.1:{self.server.port} or "
                                  f"[::1]:{self.server.port}"})
        return False

    def _body(self) -> bytes | None:
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self._json(413, {"error": f"the request is larger than {MAX_BODY // (1024 * 1024)} MB, the endpoint's limit"})
            return None
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        if not self._host_ok():
            return
        body = self._body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        srv = self.server
        if srv.target.platform == "aws":
            if not _AWS_ROUTE.match(path):
                self._send(404, b"{}", "application/octet-stream")     # nginx: return 404 "{}"
                return
            headers = tuple((k, v) for k, v in self.headers.items() if k.lower() in ("content-type", "contenttype", "accept"))
            req = local.HttpRequest(method, self.path, headers, body)
            run = srv.run([req])
        else:
            if method == "GET" and _GCP_HEALTH.match(path):
                run = srv.run([])
                if self._trouble(run):
                    return
                if run.startup:
                    self._json(500, {"error": run.startup.error})
                else:
                    self._send(200, b"{}", "application/json")
                return
            if method != "POST" or not _GCP_PREDICT.match(path):
                self._json(404, {"error": {"code": 404, "message": f"no route {method} {path}; use POST /predict",
                                           "status": "NOT_FOUND"}})
                return
            req = local.HttpRequest("POST", path, (("Content-Type", self.headers.get("Content-Type") or ""),), body)
            run = srv.run([req])
        if self._trouble(run):
            return
        if run.startup:
            where = "the container would not start" if srv.target.platform == "aws" else "the model would not deploy"
            srv.tell(f"note: {where} on the real service: {run.startup.error.splitlines()[0]}")
        if not run.answers:
            self._json(500, {"error": run.startup.error if run.startup else "no answer"})
            return
        a = run.answers[-1]
        if a.failure:
            srv.tell(f"{a.failure.phase}: {a.failure.error.splitlines()[0] if a.failure.error else a.failure.error_type}")
        # as the container's front proxy passes it on: its status, headers and body (the framing is ours)
        self._send(a.status or 500, a.body, a.content_type,
                   [(k, v) for k, v in a.headers if k.lower() not in HOP_BY_HOP and k.lower() != "content-type"])

    def _trouble(self, run: local.LocalRun) -> bool:
        if run.machine_error:
            self._json(503, {"error": f"deploycheck could not run the model (not the model's fault): {run.machine_error}"})
            return True
        if run.inconclusive:
            self.server.tell(run.inconclusive)
        if run.sandbox_status != "ok":
            # gunicorn kills a worker past its timeout; nginx then answers 502
            self._json(502, {"error": f"the model process stopped: {run.sandbox_detail}"})
            return True
        return False


def build_server(path: str, port: int = 8080, host: str = "127.0.0.1", platform: Platform | None = None,
                 timeout: float | None = None, memory_mb: int | None = None, runner: local.Runner | None = None,
                 log: TextIO | None = None) -> Server:
    """A ready server for the repo or deploy folder at ``path`` (raises ValueError with a message)."""
    if host not in LOOPBACK:
        raise ValueError(f"deploycheck serve listens on loopback only (127.0.0.1 or ::1), not {host}: it runs "
                         "untrusted student code")
    log = log or sys.stderr
    folder = resolve_folder(path, platform)
    target = _plan(folder)
    if target.image is None:
        raise ValueError("no serving image for this folder")
    for note in (target.assumed, target.image_note):
        if note:
            print(f"note: {note}", file=log, flush=True)
    from deploycheck.runtimes import envs
    envs.set_progress(lambda m: print(m, file=log, flush=True))     # a first build takes minutes
    try:
        runtime = local.runtime_for(target.image)
    except envs.EnvBuildError as e:
        raise ValueError(str(e)) from e
    limits = None
    if timeout or memory_mb:
        from deploycheck import sandbox
        limits = sandbox.Limits(timeout=timeout or sandbox.DEFAULT_TIMEOUT, memory_mb=memory_mb or sandbox.DEFAULT_MEMORY_MB)
    folder.facts.sample            # the documented request, read before the port listens (start-up hint)
    cls = Server6 if ":" in host else Server
    srv = cls(("::1" if host == "::1" else ("127.0.0.1" if host == "localhost" else host), port), target, runtime,
              limits, runner, log)
    srv.deploy_folder = folder
    return srv


def documented_curl(folder: DeployFolder, port: int) -> str:
    """The folder's request (``folder.facts.sample``, the one predict.local sends) as a curl command
    against this server, with where it is documented; "" when none is documented."""
    import shlex
    import tempfile
    s = folder.facts.sample
    if s.synthesized or s.client_error:
        return ""
    path = "/invocations" if folder.platform == "aws" else "/predict"
    cmd = ["curl", "-s", "-X", "POST", f"localhost:{port}{path}"]
    if s.content_type is not None:
        cmd += ["-H", f"Content-Type: {s.content_type}"]
    if s.accept is not None:
        cmd += ["-H", f"Accept: {s.accept}"]
    try:
        printable = all(c.isprintable() or c in "\n\t\r" for c in s.body.decode("utf-8"))
    except UnicodeDecodeError:
        printable = False
    if printable and len(s.body) <= 2000:
        cmd += ["--data-binary", s.body.decode("utf-8")]
    else:
        fd, name = tempfile.mkstemp(prefix="deploycheck-request-", suffix=".bin")
        with os.fdopen(fd, "wb") as fh:
            fh.write(s.body)
        cmd += ["--data-binary", f"@{name}"]
    how = f" ({s.inferred})" if s.inferred else ""
    return (f"your request ({s.source}{': ' + s.form if s.form else ''}){how}, as predict.local sends it:\n  "
            + " ".join(shlex.quote(c) for c in cmd))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deploycheck serve", description=__doc__.split("\n\n")[0])
    ap.add_argument("path", help="a student repo or a deploy folder")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--host", default="127.0.0.1", choices=LOOPBACK)
    ap.add_argument("--platform", choices=["aws", "gcp"])
    ap.add_argument("--sandbox-timeout", type=float, default=None)
    ap.add_argument("--sandbox-memory", type=int, default=None)
    a = ap.parse_args(argv)
    try:
        srv = build_server(a.path, a.port, a.host, a.platform, a.sandbox_timeout, a.sandbox_memory)
    except (ValueError, OSError) as e:
        print(f"deploycheck serve: {e}", file=sys.stderr)
        return 2
    t = srv.target
    routes = "GET /ping, POST /invocations" if t.platform == "aws" else "GET /ping, POST /predict"
    print(f"serving {t.rel}/ as {srv.runtime.label} on http://localhost:{srv.port}  [{routes}]  Ctrl-C to stop",
          flush=True)
    if srv.deploy_folder is not None:
        hint = documented_curl(srv.deploy_folder, srv.port)
        if hint:
            print(hint, flush=True)
    import signal

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", flush=True)
    finally:
        srv.server_close()
        from deploycheck import sandbox
        sandbox.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
