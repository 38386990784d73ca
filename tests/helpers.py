"""Shared helpers for the unit tests (``from tests.helpers import ...``)."""
import textwrap
from pathlib import Path

from deploycheck.discovery import Target, load_submission


def write_files(root: Path, files: dict[str, str | bytes], dedent: bool = True) -> Path:
    """Write `files` ({relative path: text or bytes}) below `root`; text is dedented unless told not to."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not isinstance(content, bytes):
            content = (textwrap.dedent(content) if dedent else content).encode()
        p.write_bytes(content)
    return root


def make_target(tmp_path: Path, files: dict[str, str | bytes], platform: str | None = "aws",
                student: str = "stu", dedent: bool = True) -> Target:
    """A tiny student repo at tmp_path/repo holding `files`, loaded (uncached) as a Target."""
    repo = write_files(tmp_path / "repo", files, dedent)
    sub = load_submission.__wrapped__(student, str(repo))
    return Target(student, platform, sub, student)


ROOT = Path(__file__).resolve().parents[1]


def build_reference(dest: Path) -> None:
    """reference_deploys/build.py --out dest, in-process (saves an interpreter start)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_reference_build", ROOT / "reference_deploys" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.build(root=dest)


def dump_with_version(obj, path, version: str, compress=0) -> Path:
    """``joblib.dump`` ``obj`` so that its ``_sklearn_version`` reads ``version``: for tests of the
    static pickle scanner only (the example repos are pickled for real in each image's runtime).

    scikit-learn writes ``sklearn.base.__version__`` into each estimator's state
    (``BaseEstimator.__getstate__``); it is swapped for the duration of the dump and restored."""
    import joblib
    import sklearn.base as skbase

    old = skbase.__version__
    skbase.__version__ = version
    try:
        joblib.dump(obj, str(path), compress=compress)
    finally:
        skbase.__version__ = old
    return Path(path)


def json_server(route):
    """A local HTTP server answering JSON: ``route(method, path, headers, body)`` returns (status,
    document, extra headers); headers are given lower-cased. Returns (base URL, stop)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code, doc, extra = route(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            raw = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            self._answer("GET")

        def do_POST(self):
            self._answer("POST")

        def log_message(self, *a):
            pass
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}", srv.shutdown
