"""The sandbox: limits, isolation, environment, copies, results as JSON."""
from __future__ import annotations

import io
import os
import tarfile
import time

import pytest

from deploycheck import sandbox

EXEC = "deploycheck.sandbox:job_exec"


def run(code: str, **kw):
    kw.setdefault("timeout", 5)
    kw.setdefault("memory_mb", 512)
    return sandbox.run(EXEC, {"code": code}, **kw)


def test_result_comes_back_as_json(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    r = sandbox.run("deploycheck.sandbox:job_echo", {"x": [1, 2]}, folder=tmp_path)
    assert r.ok, r
    assert r.data["args"] == {"x": [1, 2]} and r.data["files"] == ["a.txt"]
    assert r.data["cwd"] != str(tmp_path) and r.data["home"].startswith(os.path.dirname(r.data["cwd"]))


def test_symlinks_are_not_copied(tmp_path):
    (tmp_path / "real.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to("/etc/passwd")
    (tmp_path / "dir").symlink_to("/etc")
    r = sandbox.run("deploycheck.sandbox:job_echo", {}, folder=tmp_path)
    assert r.data["files"] == ["real.txt"]


def test_copy_is_private(tmp_path):
    (tmp_path / "f.txt").write_text("orig")
    r = run("open('f.txt','w').write('changed'); result = open('f.txt').read()", folder=tmp_path)
    assert r.data == "changed" and (tmp_path / "f.txt").read_text() == "orig"


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SANDBOXSECRET1")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/x/SANDBOXSECRET2.json")
    monkeypatch.setenv("MY_API_TOKEN", "SANDBOXSECRET3")
    sandbox.shutdown()  # a new server starts from this (secret-laden) environment
    r = run("import os\ntry:\n    pe = open('/proc/self/environ','rb').read().decode('latin1')\n"
            "except OSError as e:\n    pe = str(e)\nresult = [dict(os.environ), pe]")
    assert r.ok, r
    env, proc_env = r.data
    text = repr(r.data)
    for s in ("SANDBOXSECRET1", "SANDBOXSECRET2", "SANDBOXSECRET3"):
        assert s not in text
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["HOME"].endswith("/home")


def test_env_patterns():
    for name in ("AWS_ACCESS_KEY_ID", "GOOGLE_API_KEY", "CLOUDSDK_CONFIG", "AZURE_CLIENT_SECRET",
                 "GITHUB_TOKEN", "DB_PASSWORD", "MY_SECRET", "OPENAI_API_KEY", "SOME_CREDENTIALS"):
        assert sandbox.env_is_secret(name), name
    for name in ("PATH", "LANG", "PYTHONHASHSEED"):
        assert not sandbox.env_is_secret(name)


def test_timeout_kills_the_group():
    t = time.monotonic()
    r = run("import os\nos.fork()\nwhile True: pass", timeout=1.5)
    assert r.status == "timeout" and time.monotonic() - t < 5
    assert "still running after 1.5 s" in r.describe()


def test_memory_limit():
    r = run("x = bytearray(8 * 1024**3)", memory_mb=256)
    assert r.status == "memory"


def test_exit_code_and_signal():
    r = run("import os\nos._exit(7)")
    assert r.status == "killed" and r.exit_code == 7
    r = run("import ctypes\nctypes.string_at(0)")
    assert r.status == "killed" and r.signal_name == "SIGSEGV"


def test_exception_is_error_with_traceback():
    r = run("def f():\n    raise KeyError('nope')\nf()")
    assert r.status == "error" and r.error_type == "KeyError" and "nope" in r.error and "line 2" in r.traceback


def test_output_is_captured_and_truncated():
    r = run("import sys\nprint('hello out')\nsys.stderr.write('e' * 200000)")
    assert r.ok and "hello out" in r.stdout_tail
    assert len(r.stderr_tail) <= sandbox.OUTPUT_TAIL + 100 and "bytes cut" in r.stderr_tail


def test_no_network():
    r = run("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\n    result='connected'\n"
            "except OSError as e:\n    result=str(e)")
    if os.geteuid() == 0:
        assert r.isolation == "no-network" and "unreachable" in r.data.lower()
    else:
        assert r.isolation  # either isolated or says why not


def test_tar_extracted_safely(tmp_path):
    tp = tmp_path / "m.tar.gz"
    with tarfile.open(tp, "w:gz") as tf:
        for name, data in (("model.joblib", b"m"), ("code/inference.py", b"x=1")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        ln = tarfile.TarInfo("evil")
        ln.type, ln.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(ln)
    r = sandbox.run("deploycheck.sandbox:job_echo", {}, extract=tp)
    assert r.ok and r.data["model_files"] == ["code", "model.joblib"]


def test_tar_with_escaping_member_is_refused(tmp_path):
    tp = tmp_path / "m.tar.gz"
    with tarfile.open(tp, "w:gz") as tf:
        ti = tarfile.TarInfo("../../escape.txt")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    r = sandbox.run("deploycheck.sandbox:job_echo", {}, extract=tp)
    assert r.status == "error" and r.error_type == "ExtractError"
    assert not (tmp_path.parent / "escape.txt").exists()


def test_per_job_overhead_is_small(tmp_path):
    sandbox.run("deploycheck.sandbox:job_echo", {}, folder=tmp_path)  # warm
    times = []
    for _ in range(5):
        t = time.perf_counter()
        assert sandbox.run("deploycheck.sandbox:job_echo", {}, folder=tmp_path).ok
        times.append(time.perf_counter() - t)
    assert min(times) < 0.1
