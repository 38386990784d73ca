"""The same verdict everywhere: deploycheck installed the way CI and a student install it (pip into a
venv of the OS Python, as an ordinary user with their own HOME) grades example repos exactly like
the checkout's own venv (`make grade`), using the runtime environments root built.

Done-when of issue 24: as ``nobody``, the reference student repo grades 23/23.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OS_PYTHON = "/usr/bin/python3"
EXAMPLES = ("complete_aws", "complete_vertex", "complete_aiplatform", "no_artifact", "screenshot_no_prediction",
            "version_mismatch")
# pip's downloads between runs (a fresh machine fills it once)
PIP_CACHE = Path("/var/tmp/deploycheck-test-pip-nobody")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="switches to the user nobody"),
              pytest.mark.skipif(not os.path.exists(OS_PYTHON), reason="no OS Python")]


def nobody(cmd: list[str], home: Path, timeout: float = 1500, **env: str) -> subprocess.CompletedProcess:
    e = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PIP_CACHE_DIR": str(PIP_CACHE),
         "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env}
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-i",
                           *(f"{k}={v}" for k, v in e.items()), *cmd],
                          capture_output=True, text=True, timeout=timeout, cwd=str(home))


def statuses(report: Path) -> dict[tuple[str, str], str]:
    doc = json.loads((report / "report.json").read_text())
    return {(s["student"], c["id"]): c["status"] + (" (error)" if c.get("error") else "")
            for s in doc["students"] for c in s["checks"]}


@pytest.fixture(scope="module")
def world():
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="dc-ci-like-", dir="/tmp"))   # pytest's own temp root is 0700
    os.chmod(base, 0o755)
    try:
        yield _world(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _world(base: Path) -> tuple[Path, Path, Path]:
    src = base / "src"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for rel in files:
        if rel and not rel.startswith("fixtures/built") and (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    room = base / "room"
    for name in EXAMPLES:
        shutil.copytree(ROOT / "fixtures" / "built" / "classroom" / name, room / name)
    home = base / "home"
    home.mkdir()
    PIP_CACHE.mkdir(exist_ok=True)
    subprocess.run(["chown", "-R", "nobody:nogroup", str(base), str(PIP_CACHE)], check=True)
    p = nobody([OS_PYTHON, "-m", "venv", str(home / "venv")], home)
    assert p.returncode == 0, p.stderr
    p = nobody([str(home / "venv/bin/pip"), "install", "-q", f"{src}[proof]"], home)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return base, room, home


def test_pip_install_from_the_os_python_grades_like_make_grade(world):
    base, room, home = world
    dc = str(home / "venv/bin/deploycheck")
    p = nobody([dc, "grade", "--classroom", str(room), "-n", "2", "--no-cache", "--report", str(home / "out")],
               home, DEPLOYCHECK_NO_CACHE="1")
    assert (home / "out" / "report.json").is_file(), p.stdout[-3000:] + p.stderr[-3000:]
    theirs = statuses(home / "out")
    mine_out = base / "mine"
    subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--classroom", str(room), "-n", "2",
                    "--no-cache", "--report", str(mine_out)], capture_output=True, text=True, timeout=1500)
    mine = statuses(mine_out)
    assert theirs == mine, {k: (mine.get(k), theirs.get(k)) for k in set(mine) | set(theirs)
                            if mine.get(k) != theirs.get(k)}
    doc = json.loads((home / "out" / "report.json").read_text())
    ref = next(s for s in doc["students"] if s["student"] == "complete_aws")
    assert ref["score"] == ref["max_score"] == 23, ref
    m = doc["meta"]["machine"]
    assert m["user"] == "uid 65534" and m["python"] == subprocess.run(
        [OS_PYTHON, "-c", "import platform; print(platform.python_version())"], capture_output=True,
        text=True).stdout.strip()
    assert any(r.startswith("sagemaker-scikit-learn 1.2-1") for r in m["runtimes"])


def test_runtimes_list_and_serve_work_for_another_user(world):
    _base, room, home = world
    dc = str(home / "venv/bin/deploycheck")
    p = nobody([dc, "runtimes", "list"], home)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    # root's environment of today's 1.2-1 build is listed as usable by this user
    assert re.search(r"^sagemaker:1\.2-1 .*built: Python 3\.9", p.stdout, re.M), p.stdout[:3000]
    script = (f"{dc} serve {room / 'complete_aws'} --port 18231 >/dev/null 2>&1 & pid=$!; "
              "curl -s --retry 60 --retry-connrefused --retry-delay 1 localhost:18231/ping >/dev/null; "
              "curl -s -X POST localhost:18231/invocations -H 'Content-Type: application/json' "
              "--data '[[5.1,3.5,1.4,0.2]]'; kill $pid; wait $pid")
    p = nobody(["sh", "-c", script], home, timeout=300)
    assert p.stdout.strip().startswith("[0") or p.stdout.strip() in ("[0]", "[0.0]"), p.stdout + p.stderr[-2000:]
