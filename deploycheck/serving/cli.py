"""``deploycheck serve PATH --port N``: the local serving emulation as a real HTTP server.

    deploycheck serve .            # a repo: its aws_deploy/ (or gcp_deploy/) folder
    deploycheck serve aws_deploy --port 8080
    curl localhost:8080/ping
    curl -H 'Content-Type: application/json' -d '[[5.1,3.5,1.4,0.2]]' localhost:8080/invocations
    curl -d '{"instances": [[5.1,3.5,1.4,0.2]]}' localhost:8080/v1/models/model:predict   # --platform gcp

Routes: ``GET /ping`` (both), ``POST /invocations`` (SageMaker), ``POST /v1/models/model:predict``
and ``POST /predict`` (Vertex / AI Platform). Every request runs the student's code in a fresh
sandboxed child of the pre-warmed fork server (the same path as ``predict.local``).
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 6 * 1024 * 1024


def resolve_folder(path: str, platform: str | None = None) -> Any:
    """The DeployFolder for PATH (a repo or a deploy folder); raises ValueError with a message."""
    from deploycheck import submission as sm
    p = Path(path).resolve()
    if not p.is_dir():
        raise ValueError(f"{path} is not a folder")
    sub = sm.load_submission("serve", str(p))
    folders = [f for f in sub.folders if platform in (None, f.platform)]
    if folders:
        return folders[0]
    plat = platform or sm.platform_of(p.name)
    if plat is None:
        raise ValueError(f"no aws_deploy/ or gcp_deploy/ folder in {path}; pass the deploy folder, "
                         "or --platform aws|gcp for a folder with another name")
    f = sm.DeployFolder(plat, p, p.name, p.parent)
    sm._list_folder(f)
    return f


def make_handler(folder: Any, args: dict[str, Any], extract: str | None, timeout: float, memory_mb: int):
    from deploycheck import sandbox
    plat = folder.platform
    routes = {"/invocations"} if plat == "aws" else {"/v1/models/model:predict", "/predict"}

    class Handler(BaseHTTPRequestHandler):
        server_version = "deploycheck-serve"

        def log_message(self, fmt: str, *a: Any) -> None:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % a))

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            if self.path in ("/ping", "/health", "/v1/models/model"):
                self._send(200, b"" if plat == "aws" else b"{}", "application/json")
            else:
                self._send(404, json.dumps({"error": f"no route {self.path}"}).encode(), "application/json")

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            if path not in routes:
                self._send(404, json.dumps({"error": f"no route {path}; use POST {' or '.join(sorted(routes))}"}).encode(),
                           "application/json")
                return
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                self._send(413, json.dumps({"error": "request larger than 6 MB"}).encode(), "application/json")
                return
            body = self.rfile.read(n) if n else b""
            ctype = self.headers.get("ContentType") or self.headers.get("Content-Type")
            if plat == "gcp":
                ctype = ctype or "application/json"
            job = dict(args, body_b64=base64.b64encode(body).decode(), content_type=ctype,
                       accept=self.headers.get("Accept"), full_body=True)
            res = sandbox.run("deploycheck.serving:job_predict", job, interpreter=sandbox.Interpreter.grader(),
                              folder=folder.path, extract=extract,
                              limits=sandbox.Limits(timeout=timeout, memory_mb=memory_mb))
            d = res.data if res.ok and isinstance(res.data, dict) else None
            if d is None:
                msg = res.describe() if res.status != "error" else res.error
                self._send(500, json.dumps({"error": f"the model process failed: {msg}",
                                            "stderr": res.stderr_tail[-2000:]}).encode(), "application/json")
                return
            if d.get("phase") in ("import", "model_fn", "sample"):
                self._send(500, json.dumps({"error": d.get("error"), "phase": d.get("phase"),
                                            "traceback": d.get("traceback")}).encode(), "application/json")
                return
            raw = base64.b64decode(d.get("response_b64") or "")
            status = int(d.get("status") or 500)
            if status == 500 and d.get("error") and plat == "aws":
                raw = json.dumps({"error": d.get("error"), "traceback": d.get("traceback")}).encode()
                self._send(500, raw, "application/json")
                return
            self._send(status, raw, d.get("content_type") or "application/json")

    return Handler


def build_server(path: str, port: int, host: str = "127.0.0.1", platform: str | None = None,
                 timeout: float | None = None, memory_mb: int | None = None) -> ThreadingHTTPServer:
    from deploycheck import localpredict, sandbox
    from deploycheck.outcome import Outcome
    folder = resolve_folder(path, platform)
    plan = localpredict.serving_plan(folder)
    if isinstance(plan, Outcome):
        raise ValueError(plan.message)
    _art, args, extract = plan
    sandbox.prestart()
    handler = make_handler(folder, args, extract, timeout or sandbox.DEFAULT_TIMEOUT,
                           memory_mb or sandbox.DEFAULT_MEMORY_MB)
    srv = ThreadingHTTPServer((host, port), handler)
    srv.daemon_threads = True
    srv.deploy_folder = folder  # type: ignore[attr-defined]
    return srv


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deploycheck serve", description=__doc__.split("\n\n")[0])
    ap.add_argument("path", help="a student repo or a deploy folder")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--platform", choices=["aws", "gcp"])
    ap.add_argument("--sandbox-timeout", type=float, default=None)
    ap.add_argument("--sandbox-memory", type=int, default=None)
    a = ap.parse_args(argv)
    try:
        srv = build_server(a.path, a.port, a.host, a.platform, a.sandbox_timeout, a.sandbox_memory)
    except (ValueError, OSError) as e:
        print(f"deploycheck serve: {e}", file=sys.stderr)
        return 2
    f = srv.deploy_folder  # type: ignore[attr-defined]
    host, port = srv.server_address[:2]
    routes = "POST /invocations" if f.platform == "aws" else "POST /v1/models/model:predict, POST /predict"
    print(f"serving {f.rel}/ ({f.platform.upper()} emulation) on http://{host}:{port}  "
          f"[GET /ping, {routes}]  Ctrl-C to stop", flush=True)
    def _stop(*_: Any) -> None:
        raise KeyboardInterrupt
    import signal
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
