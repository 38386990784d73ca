"""What isolation the machine gives, the bubblewrap command line, the refusal and its override."""
from __future__ import annotations

import os
import sys

import pytest

from deploycheck import sandbox
import importlib


# `sandbox.isolation` is the function of the public API; the module is reached by its full name
iso = importlib.import_module("deploycheck.sandbox.isolation")

JOBS = os.path.join(os.path.dirname(__file__), "jobs")


def test_bwrap_command_line_isolates_everything():
    argv = iso.bwrap_argv("/usr/bin/bwrap", root=False, ro_binds=["/opt/py", "/opt/py/lib", "/usr/lib/x"],
                          jobs_dir="/tmp/base/jobs", env={"PATH": "/usr/bin"}, argv=["python", "server.py"])
    s = " ".join(argv)
    assert "--unshare-all" in argv and "--share-net" not in argv
    for flag in ("--die-with-parent", "--new-session", "--clearenv"):
        assert flag in argv
    assert "--proc /proc" in s and "--dev /dev" in s and "--remount-ro /" in s
    assert "--ro-bind /tmp/base/jobs /jobs" in s
    binds = [argv[i + 1] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind", "--dev-bind")]
    assert "--bind" not in argv and "--dev-bind" not in argv          # nothing writable from the host
    assert not any(b in ("/", "/home", "/root", "/tmp", os.path.expanduser("~")) for b in binds)
    assert argv[-2:] == ["python", "server.py"] and argv[argv.index("--") - 2:argv.index("--")] == ["--chdir", "/"]


def test_root_mode_keeps_no_user_namespace_but_every_other():
    argv = iso.bwrap_argv("/usr/bin/bwrap", root=True, ro_binds=[], jobs_dir="/j", env={}, argv=["p"])
    for ns in ("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"):
        assert ns in argv
    caps = [argv[i + 1] for i, a in enumerate(argv) if a == "--cap-add"]
    assert sorted(caps) == ["CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SYS_ADMIN"]


def test_minimal_binds_drop_nested_and_system_paths(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert iso.minimal_binds([str(tmp_path / "a" / "b"), str(tmp_path / "a"), "/usr/lib", "relative", "/nonexistent"]) \
        == [str(tmp_path / "a")]


def test_environment_is_the_allowlist(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "x")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    env = iso.environment()
    assert "DATABASE_URL" not in env and env["OPENBLAS_CORETYPE"] == "Haswell"
    assert set(env) <= set(iso.BASE_ENV) | set(iso.PASS_THROUGH)


def test_how_to_fix_names_package_sysctl_container_and_override():
    text = iso.how_to_fix("no-bwrap") + iso.how_to_fix("userns")
    for needle in ("apt-get install bubblewrap", "dnf install bubblewrap", "kernel.unprivileged_userns_clone=1",
                   "user.max_user_namespaces", "container", "--allow-unsandboxed", "DEPLOYCHECK_ALLOW_UNSANDBOXED=1"):
        assert needle in text


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setattr(iso, "find_bwrap", lambda: None)
    sandbox.reset_isolation()
    sandbox.shutdown()
    yield
    iso.set_allow_unsandboxed(None)
    monkeypatch.undo()
    sandbox.reset_isolation()
    sandbox.shutdown()


def test_without_isolation_student_code_is_refused(no_bwrap, tmp_path, monkeypatch):
    monkeypatch.delenv("DEPLOYCHECK_ALLOW_UNSANDBOXED", raising=False)
    marker = tmp_path / "ran"
    mode = sandbox.isolation()
    assert mode.mode == "unavailable" and "bubblewrap" in mode.detail
    with pytest.raises(sandbox.IsolationUnavailable) as e:
        sandbox.run("sbjobs:code", {"src": f"open({str(marker)!r}, 'w')"}, job_paths=[JOBS],
                    interpreter=sandbox.Interpreter(python=sys.executable))
    assert "apt-get install bubblewrap" in str(e.value) and "--allow-unsandboxed" in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_allowed_unsandboxed_runs_are_labelled(no_bwrap, tmp_path, monkeypatch, how):
    if how == "flag":
        sandbox.set_allow_unsandboxed(True)
    else:
        monkeypatch.setenv("DEPLOYCHECK_ALLOW_UNSANDBOXED", "1")
    (tmp_path / "f.txt").write_text("x")
    r = sandbox.run("sbjobs:echo", {}, folder=tmp_path, job_paths=[JOBS],
                    interpreter=sandbox.Interpreter(python=sys.executable))
    assert r.ok and r.data["files"] == ["f.txt"]
    assert r.isolation.startswith("UNSANDBOXED") and "--allow-unsandboxed" in r.isolation
    r = sandbox.run("sbjobs:code", {"src": "while True: pass"}, job_paths=[JOBS],
                    interpreter=sandbox.Interpreter(python=sys.executable), limits=sandbox.Limits(timeout=1))
    assert r.status == "timeout"


def test_isolation_label_comes_from_the_grader():
    mode = sandbox.isolation()
    if not mode.sandboxed:
        pytest.skip(mode.detail)
    assert mode.label.startswith("bubblewrap") and "net" in mode.label
    assert (os.geteuid() == 0) == mode.root
