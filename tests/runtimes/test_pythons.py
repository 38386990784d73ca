"""Runtimes that work for every user and every machine.

* root's shared cache (/var/cache/deploycheck/runtimes) is self-contained: its environments run on
  Python copies beside it that every user can run, never on root's private pyenv;
* a user without the image's Python gets it from uv's managed Python installs, tested offline: uv's
  own ``UV_PYTHON_DOWNLOADS_JSON_URL`` points at a local file:// archive laid out like a
  python-build-standalone ``install_only`` release (made here from a relocatable local Python);
* without downloads, one "install Python 3.X" line, and predict.local is an error of the run, never
  the student's failure;
* a build shows progress.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from deploycheck.runtimes import catalog, envs, pythons

ROOT = Path(__file__).resolve().parents[2]
IMAGE = catalog.image("sagemaker:1.2-1")          # Python 3.9
IS_ROOT = os.geteuid() == 0


def as_nobody(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd],
                          capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture
def clean_caches():
    pythons._PY_CACHE.clear()
    pythons._INSTALL_FAILED.clear()
    yield
    pythons._PY_CACHE.clear()
    pythons._INSTALL_FAILED.clear()


def relocatable_python(minor: str) -> pythons.FoundPython:
    """A local Python ``minor`` whose library path is relative to itself (a shareable copy)."""
    py = pythons.find_python(minor)
    if py is None:
        pytest.skip(f"no Python {minor} on this machine")
    if py.how in ("deploycheck", "copy"):
        return py
    if not IS_ROOT:
        pytest.skip("making a shareable copy needs root")
    return pythons.shareable_copy(py)


def mirror(tmp: Path, py: pythons.FoundPython) -> Path:
    """A python-build-standalone-style download list with one file:// archive of ``py``."""
    prefix = Path(py.path).parent.parent
    major, minor, patch = (int(x) for x in py.version.split("."))
    name = f"cpython-{py.version}+20990101-x86_64-unknown-linux-gnu-install_only.tar.gz"
    with tarfile.open(tmp / name, "w:gz", compresslevel=1) as tf:
        tf.add(prefix, arcname="python")
    doc = {f"cpython-{py.version}-linux-x86_64-gnu": {
        "name": "cpython", "arch": {"family": "x86_64", "variant": None}, "os": "linux", "libc": "gnu",
        "major": major, "minor": minor, "patch": patch, "prerelease": "", "url": (tmp / name).as_uri(),
        "sha256": hashlib.sha256((tmp / name).read_bytes()).hexdigest(), "variant": None, "build": "20990101"}}
    (tmp / "downloads.json").write_text(json.dumps(doc))
    return tmp / "downloads.json"


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the local archive is labelled x86_64")
def test_a_missing_python_is_installed_with_uv_offline(tmp_path, monkeypatch, clean_caches):
    py = relocatable_python("3.9")
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS_JSON_URL", str(mirror(tmp_path, py)))
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))     # a user with no Python 3.9
    monkeypatch.setenv("DEPLOYCHECK_PYTHON_DOWNLOADS", "auto")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "nopyenv"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv-own"))    # uv's own default is not used
    monkeypatch.delenv("DEPLOYCHECK_PYTHON_3_9", raising=False)
    pythons._PY_CACHE.clear()
    assert pythons.find_python("3.9") is None
    said: list[str] = []
    got = pythons.install_python("3.9", said.append)
    assert got is not None and got.how == "uv python install" and got.version == py.version
    assert Path(got.path).is_relative_to(tmp_path / "cache" / "pythons")
    assert "uv python install 3.9" in said[0] and "DEPLOYCHECK_PYTHON_DOWNLOADS=never" in said[0]
    out = subprocess.run([got.path, "-c", "import ssl, sqlite3, sys; print(sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "(3, 9)", out.stderr
    pythons._PY_CACHE.clear()
    assert pythons.find_python("3.9") == pythons.FoundPython(got.path, got.version, "deploycheck")   # kept

    # ensure() downloads the image's own Python before it would substitute another minor
    pythons._PY_CACHE.clear()
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache2"))
    built: list[str] = []

    def fake_build(image, found, log):
        built.append(found.how)
        raise envs.EnvBuildError(image, "stop here")
    monkeypatch.setattr(envs, "_build", fake_build)
    with pytest.raises(envs.EnvBuildError):
        envs.ensure(IMAGE, log=said.append)
    assert built == ["uv python install"]


def test_without_downloads_one_install_line_and_never_the_students_failure(tmp_path, clean_caches):
    """A user with no Python 3.9, downloads off: the run says what to install; predict.local is an
    error of the run (no points lost), the other checks are graded."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "DEPLOYCHECK_CACHE_DIR": str(tmp_path / "cache"), "DEPLOYCHECK_PYTHON_DOWNLOADS": "never",
           "PYENV_ROOT": str(tmp_path / "nopyenv"), "DEPLOYCHECK_NO_CACHE": "1",
           "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv-own")}
    # no Python at all that uv or PATH could offer (the grader itself runs from its venv); the
    # screenshot is still read by the machine's Tesseract, named since PATH no longer finds it
    env["PATH"] = str(tmp_path / "nobin")
    if shutil.which("tesseract"):
        env["DEPLOYCHECK_TESSERACT"] = str(shutil.which("tesseract"))
    p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--repo",
                        str(ROOT / "fixtures/built/classroom/complete_aws"), "--report", str(tmp_path / "out"),
                        "--no-proof"], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert "deploycheck: no runtime environment for sagemaker-scikit-learn 1.2-1" in p.stdout, p.stdout[-3000:]
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    checks = {c["id"]: c for c in doc["students"][0]["checks"]}
    pl = checks["predict.local"]
    assert pl.get("error") and pl["status"] == "skipped", pl
    assert "install Python 3.9 (uv python install 3.9" in pl["message"], pl["message"]
    assert "DEPLOYCHECK_PYTHON_DOWNLOADS=never" in pl["message"]
    assert all(c["status"] == "passed" for cid, c in checks.items() if cid != "predict.local")


def test_a_build_shows_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(envs, "HEARTBEAT", 0.2)

    def slow(tmp, image, py, logf):
        logf.write("$ /usr/bin/uv pip install scikit-learn==1.2.1\n")
        logf.flush()
        time.sleep(1.0)
        raise envs.EnvBuildError(image, "done")
    monkeypatch.setattr(envs, "_build_into", slow)
    said: list[str] = []
    with pytest.raises(envs.EnvBuildError):
        envs._build(IMAGE, pythons.FoundPython(sys.executable, "3.9.18", "setting"), said.append)
    assert said[0].startswith("building the runtime environment sagemaker-scikit-learn 1.2-1") \
        and "a few minutes" in said[0]
    beats = [s for s in said if s.startswith("still building")]
    assert beats and "running uv pip install" in beats[0], said


@pytest.mark.skipif(not IS_ROOT, reason="the machine's shared cache is root's")
def test_the_shared_cache_is_self_contained_and_runs_for_every_user(clean_caches):
    env = envs.ensure(IMAGE)            # as root: made shareable if it was not
    assert env.root.parent == envs.SYSTEM_CACHE
    base = os.path.realpath(Path(env.root) / "bin" / "python")
    assert base.startswith(str(envs.SYSTEM_CACHE.parent / "pythons") + "/") and pythons.readable_by_all(base)
    cfg = (Path(env.root) / "pyvenv.cfg").read_text()
    manifest = json.loads((Path(env.root) / envs.MANIFEST).read_text())
    assert "/root/" not in cfg and not manifest["base_python"].startswith("/root/")
    out = subprocess.run([pythons.patchelf_bin() or "patchelf", "--print-rpath", base], capture_output=True, text=True)
    assert "/root/" not in out.stdout and "$ORIGIN" in out.stdout
    p = as_nobody([env.python, "-I", "-c", "import sklearn, numpy, sagemaker_containers; print(sklearn.__version__)"],
                  cwd="/")
    assert p.returncode == 0 and p.stdout.strip() == IMAGE.sklearn, p.stderr
