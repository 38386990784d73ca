"""``deploycheck serve``: the real CLI on the example repos — every curl of README.md as printed,
the Host-header check (DNS rebinding), nginx's 404, and /ping when model_fn fails."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from netutil import free_port, wait_listening  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CLASSROOM = ROOT / "fixtures" / "built" / "classroom"


class Serve:
    def __init__(self, path: Path, tmp: Path):
        self.port = free_port()
        logpath = tmp / f"serve-{self.port}.log"
        self.log = open(logpath, "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "deploycheck.cli", "serve", str(path), "--port",
                                      str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=ROOT)
        wait_listening(self.port, self.proc, logpath, "deploycheck serve")

    def raw(self, request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
            s.sendall(request)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, body = out.partition(b"\r\n\r\n")
                    m = re.search(rb"Content-Length: (\d+)", head)
                    if m and len(body) >= int(m.group(1)):
                        break
            return out

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    s = Serve(CLASSROOM / "complete_aws", tmp_path_factory.mktemp("serve"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def gcp(tmp_path_factory):
    s = Serve(CLASSROOM / "complete_aiplatform", tmp_path_factory.mktemp("serve"))   # an iris model, like the README
    yield s
    s.close()


def test_host_header_must_be_loopback_with_the_port(aws):
    p = aws.port
    ok = aws.raw(f"GET /ping HTTP/1.1\r\nHost: localhost:{p}\r\nConnection: close\r\n\r\n".encode())
    assert ok.startswith(b"HTTP/1.1 200"), ok[:200]
    for host in (f"evil.example:{p}", "localhost", f"localhost:{p + 1}", f"127.0.0.1.nip.io:{p}"):
        out = aws.raw(f"GET /ping HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        assert out.startswith(b"HTTP/1.1 403"), (host, out[:200])
        assert b"is not allowed" in out
    out = aws.raw(b"GET /ping HTTP/1.0\r\n\r\n")          # no Host at all
    assert out.startswith(b"HTTP/1.0 403") or out.startswith(b"HTTP/1.1 403"), out[:200]
    ok6 = aws.raw(f"GET /ping HTTP/1.1\r\nHost: [::1]:{p}\r\nConnection: close\r\n\r\n".encode())
    assert ok6.startswith(b"HTTP/1.1 200")


def test_paths_nginx_does_not_forward_get_its_404(aws):
    out = aws.raw(f"GET /metrics HTTP/1.1\r\nHost: localhost:{aws.port}\r\nConnection: close\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 404") and out.endswith(b"\r\n\r\n{}")
    assert b"Content-Type: application/octet-stream" in out


def test_ping_is_500_when_model_fn_fails(tmp_path):
    repo = tmp_path / "repo" / "aws_deploy"
    shutil.copytree(CLASSROOM / "complete_aws" / "aws_deploy", repo)
    (repo / "inference.py").write_text("def model_fn(model_dir):\n    raise RuntimeError('broken on purpose')\n")
    s = Serve(tmp_path / "repo", tmp_path)
    try:
        out = s.raw(f"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nConnection: close\r\n\r\n".encode())
        assert out.startswith(b"HTTP/1.1 500") and b"Internal Server Error" in out
    finally:
        s.close()
    s.log = open(s.log.name)
    assert "broken on purpose" in s.log.read()


def test_serve_refuses_non_loopback_hosts(tmp_path):
    from deploycheck.serving import http as serve_http
    with pytest.raises(ValueError, match="loopback only"):
        serve_http.build_server(str(CLASSROOM / "complete_aws"), 0, host="0.0.0.0")


def test_serve_prints_the_documented_request_and_it_works(gcp, aws):
    """issue 22: the request predict.local sends (folder.facts.sample) is the one serve shows, as a
    curl the student can run; run as printed, the server answers it."""
    import shlex
    import time
    for srv, want in ((gcp, b'{"predictions": [0, 2]}'), (aws, b"\x93NUMPY")):
        deadline = time.monotonic() + 60          # printed right after the port starts listening
        while "curl " not in (log := Path(srv.log.name).read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        line = next(ln for ln in log.splitlines() if ln.strip().startswith("curl "))
        assert "as predict.local sends it" in log and "README.md line" in log
        out = subprocess.run(shlex.split(line), capture_output=True, timeout=120)
        assert want in out.stdout, (line, out.stdout[:300], out.stderr[:300])
