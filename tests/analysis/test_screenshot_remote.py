"""Remote images a README embeds (issue 21): fetched by the grader from a local HTTP server (no internet),
within its limits, and read like committed ones; what cannot be fetched is for review."""
import http.server
import importlib.util
import sys
import threading
import time

import pytest

from deploycheck.analysis import ocr
from deploycheck.analysis import screenshot_remote as remote
from deploycheck.verdicts.proof import proof_screenshot
from tests.helpers import ROOT, make_target

_spec = importlib.util.spec_from_file_location("fixture_screenshots", ROOT / "fixtures" / "screenshots.py")
scenes = sys.modules.setdefault("fixture_screenshots", importlib.util.module_from_spec(_spec))
if not hasattr(scenes, "SCENES"):
    _spec.loader.exec_module(scenes)

needs_ocr = pytest.mark.skipif(not ocr.engine().available, reason=f"no OCR engine: {ocr.engine().detail}")


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    hits: list = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.hits.append(self.path)
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body, delay = route
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if delay:
            for b in body:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(delay)
        else:
            self.wfile.write(body)


@pytest.fixture
def server(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DEPLOYCHECK_REMOTE_IMAGES", "any")            # the test server is on 127.0.0.1
    routes: dict = {}
    handler = type("H", (_Handler,), {"routes": routes, "hits": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    remote.clear()
    yield f"http://127.0.0.1:{srv.server_address[1]}", routes, handler.hits
    srv.shutdown()
    remote.clear()


def _png(name):
    return scenes.load(name)


@needs_ocr
def test_a_remote_screenshot_is_fetched_and_read(server, tmp_path):
    base, routes, hits = server
    routes["/user-attachments/assets/0b6a.png"] = (200, {"Content-Type": "image/png"}, _png("terminal_invoke_endpoint"), 0)
    routes["/r"] = (302, {"Location": "/user-attachments/assets/0b6a.png"}, b"", 0)
    url = f"{base}/r?raw=true.png"
    t = make_target(tmp_path, {"aws_deploy/README.md": f"# x\n\nMy prediction:\n\n![p]({url})\n"})
    o = proof_screenshot(t)
    assert o.status == "passed" and "shows a prediction" in o.message and url in o.message, o.message
    assert o.data["classification"] == "prediction" and o.data["screenshot_url"] == url and o.data["values"] == [0, 2]
    assert hits == ["/r?raw=true.png", "/user-attachments/assets/0b6a.png"]


@needs_ocr
def test_a_remote_console_page_fails_like_a_committed_one(server, tmp_path):
    base, routes, _ = server
    routes["/shot.png"] = (200, {"Content-Type": "image/png"}, _png("sagemaker_console_endpoints"), 0)
    t = make_target(tmp_path, {"aws_deploy/README.md": f"![p]({base}/shot.png)\n"})
    o = proof_screenshot(t)
    assert o.status == "failed" and "but no prediction" in o.message and f"{base}/shot.png" in o.message


@pytest.mark.parametrize("route,why", [
    (None, "answered HTTP 404"),
    ((200, {"Content-Type": "text/html"}, b"<html>sign in</html>", 0), "is not an image (the server sent text/html)"),
    ((200, {"Content-Type": "image/png", "Content-Length": str(ocr.MAX_BYTES + 1)}, b"x", 0), "larger than 25 MB"),
    ((302, {"Location": "/shot.png"}, b"", 0), "redirects more than 3 times"),
])
def test_what_cannot_be_fetched_is_for_review(server, tmp_path, route, why):
    base, routes, _ = server
    if route is not None:
        routes["/shot.png"] = route
    t = make_target(tmp_path, {"aws_deploy/README.md": f"![p]({base}/shot.png)\n"})
    o = proof_screenshot(t)
    assert o.status == "review" and why in o.message and "your instructor will look at it" in o.message, o.message
    assert o.data["classification"] == "remote"


def test_a_slow_server_is_given_up(server, tmp_path, monkeypatch):
    base, routes, _ = server
    monkeypatch.setattr(remote, "TOTAL_SECONDS", 1.0)
    routes["/slow.png"] = (200, {"Content-Type": "image/png"}, b"\x89PNG" + b"\0" * 200, 0.05)
    got = remote.fetch(f"{base}/slow.png")
    assert got.data is None and "took more than 1 s" in got.problem


def test_the_grader_never_fetches_from_its_own_network(server, tmp_path, monkeypatch):
    """By default only public addresses are fetched: a README cannot make the grader read its own machine,
    its local network or a cloud metadata service."""
    base, routes, hits = server
    monkeypatch.setenv("DEPLOYCHECK_REMOTE_IMAGES", "public")
    routes["/shot.png"] = (200, {"Content-Type": "image/png"}, _png("terminal_invoke_endpoint"), 0)
    for url in (f"{base}/shot.png", "http://169.254.169.254/latest/meta-data/x.png", "http://localhost:9/x.png",
                "http://[::1]:9/x.png", "http://10.0.0.1/x.png"):
        remote.clear()
        got = remote.fetch(url)
        assert got.data is None and "private or local address" in got.problem, (url, got)
    assert hits == []


def test_remote_images_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_REMOTE_IMAGES", "off")
    remote.clear()
    got = remote.fetch("https://github.com/user-attachments/assets/0b6a")
    assert got.data is None and "DEPLOYCHECK_REMOTE_IMAGES=off" in got.problem


def test_badges_are_no_candidates_but_other_hosted_images_are(tmp_path, monkeypatch):
    from deploycheck.analysis import screenshot as ss
    t = make_target(tmp_path, {"aws_deploy/README.md": (
        "![ci](https://github.com/me/lab/actions/workflows/ci.yml/badge.svg)\n"
        "![cov](https://codecov.io/gh/me/lab/branch/main/graph/badge.png)\n"
        "![s](https://img.shields.io/badge/x-y-green.png)\n"
        "![shot](https://i.imgur.com/Ab12Cd3.png)\n")})
    cands, _ = ss.find_candidates(t.folder)
    assert [(c.path, c.remote) for c in cands] == [("https://i.imgur.com/Ab12Cd3.png", True)]
