"""Hostile student code through predict.local: each attack fails that student's check with a clear
message, within the timeout, leaves the grader's machine alone (no process, no file), and the next
student is graded normally. (The world-level classroom is test_hostile_classroom.py.)"""
from __future__ import annotations

import io
import os
import pickle
import tarfile
import uuid


import pytest

from deploycheck import sandbox
from deploycheck.serving import local
from deploycheck.analysis.artifact import ArtifactInfo
from deploycheck.verdicts import predict
from deploycheck.discovery import Target, load_submission
from deploycheck.settings import Settings
from tests.world import procs_with

DC = Settings(sandbox_timeout=3, sandbox_memory_mb=1024)
MODEL_FN = "import joblib, os\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
README = "# AWS\n```python\npredictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])\n```\n"
_M: dict = {}


def model_bytes() -> bytes:
    if not _M:
        import joblib
        from sklearn.datasets import load_iris
        from sklearn.tree import DecisionTreeClassifier
        X, y = load_iris(return_X_y=True)
        b = io.BytesIO()
        joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), b)
        _M["m"] = b.getvalue()
    return _M["m"]


def repo(root, body: str, model: bytes | None = None):
    d = root / "aws_deploy"
    d.mkdir(parents=True)
    (d / "inference.py").write_text(
        "import os, sys\n\ndef model_fn(model_dir):\n" + "".join(f"    {l}\n" for l in body.splitlines())
        + "    import joblib\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n")
    (d / "README.md").write_text(README)
    data = model if model is not None else model_bytes()
    with tarfile.open(d / "model.tar.gz", "w:gz") as tf:
        ti = tarfile.TarInfo("model.joblib")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    sub = load_submission(f"h-{root.name}", str(root))
    return Target(sub.student, "aws", sub, sub.student)


@pytest.fixture(autouse=True)
def idle_machine(monkeypatch):
    """These tests are about containment: a wall-clock timeout is the model's, as on an idle machine
    (on a busy one it is retried, then an error of the run: tests/serving/test_local.py)."""
    monkeypatch.setattr(local, "machine_busy", lambda: "")


def grade(t):
    return predict.predict_local(t, DC)      # no timed assertion: CI machines are busy


def assert_next_student_passes(tmp_path):
    o = grade(repo(tmp_path / "next", ""))
    assert o.status == "passed", o.message


def test_infinite_loop(tmp_path):
    o = grade(repo(tmp_path / "a", "while True:\n    pass"))
    assert o.status == "failed" and "longer than 3 s" in o.message
    assert_next_student_passes(tmp_path)


def test_huge_allocation(tmp_path):
    o = grade(repo(tmp_path / "a", "x = bytearray(64 * 1024**3)"))
    assert o.status == "failed" and "out of memory" in o.message and "1024 MB" in o.message
    assert_next_student_passes(tmp_path)


def test_fork_bomb(tmp_path):
    mark = f"fb{uuid.uuid4().hex[:8]}"
    o = grade(repo(tmp_path / "a", f"import ctypes\nctypes.CDLL(None).prctl(15, b'{mark}', 0, 0, 0)\n"
                                   "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass"))
    assert o.status == "failed"
    assert procs_with(mark) == []          # the job's PID namespace died with it
    assert_next_student_passes(tmp_path)


def test_os_exit(tmp_path):
    o = grade(repo(tmp_path / "a", "os._exit(3)"))
    assert o.status == "failed" and "crashed" in o.message and "exited with code 3" in o.message
    assert_next_student_passes(tmp_path)


def test_segfault(tmp_path):
    o = grade(repo(tmp_path / "a", "import ctypes\nctypes.string_at(0)"))
    assert o.status == "failed" and "SIGSEGV" in o.message
    assert_next_student_passes(tmp_path)


def test_secrets_are_invisible(tmp_path, monkeypatch):
    home = tmp_path / "realhome"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key = HOSTILESECRETFILE\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "HOSTILESECRETENV")
    sandbox.shutdown()  # the next server starts from this environment
    body = (
        "seen = []\n"
        f"for p in [os.path.expanduser('~/.aws/credentials'), {str(home / '.aws' / 'credentials')!r}, "
        "'/proc/self/environ', '/proc/%d/environ' % os.getppid(), '/root/.aws/credentials']:\n"
        "    try:\n"
        "        seen.append(open(p, 'rb').read().decode('latin1'))\n"
        "    except OSError as e:\n"
        "        seen.append(type(e).__name__)\n"
        "seen.append(repr(dict(os.environ)))\n"
        "raise RuntimeError('LEAK ' + repr(seen))")
    o = grade(repo(tmp_path / "a", body))
    assert o.status == "failed" and "LEAK" in o.message
    assert "HOSTILESECRET" not in o.message and "HOSTILESECRET" not in repr(o.data)
    assert_next_student_passes(tmp_path)


def test_writes_outside_the_sandbox_change_nothing(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    t = repo(tmp_path / "a", "")
    real_inference = t.folder.path / "inference.py"
    before = real_inference.read_text()
    escape = f"/tmp/deploycheck-escape-{os.getpid()}"
    body = (f"open({escape!r}, 'w').write('x')\n"
            "open('../../escaped.txt', 'w').write('x')\n"
            f"open({str(real_inference)!r}, 'w').write('hacked')\n"
            f"open({str(victim)!r}, 'w').write('hacked')")
    (t.folder.path / "inference.py").write_text(before.replace("def model_fn(model_dir):\n",
                                                "def model_fn(model_dir):\n" + "".join(f"    {l}\n" for l in body.splitlines())))
    before = real_inference.read_text()
    victim.chmod(0o666)
    o = grade(t)
    assert o.status == "failed" and "model_fn" in o.message
    assert victim.read_text() == "original" and real_inference.read_text() == before
    assert not os.path.exists(escape)
    assert not (tmp_path / "a" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert_next_student_passes(tmp_path)


def test_network_socket(tmp_path):
    o = grade(repo(tmp_path / "a", "import socket\nsocket.create_connection(('93.184.216.34', 80), timeout=3)"))
    assert o.status == "failed"
    assert "unreachable" in o.message.lower()
    assert_next_student_passes(tmp_path)


def test_printing_100_mb(tmp_path):
    o = grade(repo(tmp_path / "a", "for _ in range(100):\n    sys.stdout.write('x' * 1024 * 1024)"))
    assert o.status == "failed" and "BrokenPipeError" in o.message
    assert len(o.data.get("stdout_tail", "")) <= 1000
    assert_next_student_passes(tmp_path)


class _Evil:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (os.system, (f"touch {self.canary}",))


def test_pickle_running_a_command_is_never_loaded(tmp_path, monkeypatch):
    canary = tmp_path / "canary"
    o = grade(repo(tmp_path / "a", "", model=pickle.dumps(_Evil(canary))))
    assert o.status == "failed" and "artifact.safe" in o.message
    assert not canary.exists()
    assert_next_student_passes(tmp_path)


def test_pickle_command_even_if_loaded_stays_in_the_sandbox(tmp_path, monkeypatch):
    # defence in depth: had the scan missed it, the command runs in the sandbox's private /tmp
    monkeypatch.setattr(ArtifactInfo, "loadable", property(lambda self: True))
    canary = tmp_path / "canary2"
    o = grade(repo(tmp_path / "a", "", model=pickle.dumps(_Evil(canary))))
    assert o.status == "failed"
    assert not canary.exists()
