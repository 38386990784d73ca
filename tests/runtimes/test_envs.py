"""Runtime environments: interpreter discovery order, nearest minor, cache reuse, atomic build,
one build under parallel callers, prune. Builds are faked (the real ones are exercised by
tests/serving and fixtures)."""
from __future__ import annotations

import multiprocessing
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from deploycheck.runtimes import catalog, envs, pythons

IMAGE = catalog.image("sagemaker:1.2-1")


def fake_python(path: Path, version: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "nopyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))
    for k in list(os.environ):
        if k.startswith("DEPLOYCHECK_PYTHON_"):
            monkeypatch.delenv(k)
    monkeypatch.setattr(pythons, "uv_bin", lambda: None)
    pythons._PY_CACHE.clear()
    yield
    pythons._PY_CACHE.clear()


def test_cache_root_setting(tmp_path, monkeypatch):
    assert envs.cache_root() == tmp_path / "cache" / "runtimes"
    monkeypatch.delenv("DEPLOYCHECK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert envs.cache_root() == tmp_path / "xdg" / "deploycheck" / "runtimes"


def test_discovery_order_setting_uv_pyenv_path(tmp_path, monkeypatch):
    on_path = fake_python(tmp_path / "nobin" / "python3.9", "3.9.2")
    assert pythons.find_python("3.9") == pythons.FoundPython(on_path, "3.9.2", "PATH")
    pythons._PY_CACHE.clear()
    fake_python(tmp_path / "nopyenv" / "versions" / "3.9.5" / "bin" / "python", "3.9.5")
    newest = fake_python(tmp_path / "nopyenv" / "versions" / "3.9.12" / "bin" / "python", "3.9.12")
    fake_python(tmp_path / "nopyenv" / "versions" / "3.10.1" / "bin" / "python", "3.10.1")
    assert pythons.find_python("3.9") == pythons.FoundPython(newest, "3.9.12", "pyenv")
    pythons._PY_CACHE.clear()
    by_uv = fake_python(tmp_path / "uvpy" / "python", "3.9.7")
    uv = tmp_path / "uv"
    uv.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'python find' ] && echo {by_uv}\n")
    uv.chmod(0o755)
    monkeypatch.setattr(pythons, "uv_bin", lambda: str(uv))
    assert pythons.find_python("3.9").how == "uv"
    pythons._PY_CACHE.clear()
    setting = fake_python(tmp_path / "mine" / "python", "3.9.18")
    monkeypatch.setenv("DEPLOYCHECK_PYTHON_3_9", setting)
    assert pythons.find_python("3.9") == pythons.FoundPython(setting, "3.9.18", "setting")
    pythons._PY_CACHE.clear()
    monkeypatch.setenv("DEPLOYCHECK_PYTHON_3_9", fake_python(tmp_path / "wrong" / "python", "3.11.0"))
    assert pythons.find_python("3.9").how == "uv"          # a setting of the wrong minor is not used


def test_nearest_minors():
    assert pythons.nearest_minors("3.9") == ["3.9", "3.10", "3.8", "3.11", "3.7", "3.12", "3.13"]
    assert pythons.nearest_minors("3.5")[0] == "3.7"


def _fake_build_into(counter: Path | None = None, delay: float = 0.0, fail: bool = False):
    def build_into(tmp, image, py, logf):
        if counter is not None:
            with open(counter, "a") as fh:
                fh.write("x")
        time.sleep(delay)
        (tmp / "bin").mkdir(parents=True, exist_ok=True)
        (tmp / "bin" / "python").symlink_to(sys.executable)
        (tmp / "half-written").write_text("...")
        if fail:
            raise envs.EnvBuildError(image, "installing the pins failed", "ERROR: No space left on device")
        final = envs.cache_root() / envs.env_name(image, py.minor)
        return {"recipe": envs.RECIPE, "image": image.key, "python": str(final / "bin" / "python"),
                "python_version": py.version, "site_dirs": [str(final / "lib")], "preload": ["numpy"],
                "versions": {"sklearn": image.sklearn}}
    return build_into


def test_build_once_then_reuse_and_label_substitution(tmp_path, monkeypatch):
    counter = tmp_path / "count"
    monkeypatch.setattr(envs, "_build_into", _fake_build_into(counter))
    found = {"3.10": pythons.FoundPython(sys.executable, "3.10.13", "pyenv")}
    monkeypatch.setattr(pythons, "find_python", lambda m: found.get(m))      # no 3.9 on this machine
    env = envs.ensure(IMAGE)
    assert env.substituted and env.label == "sagemaker-scikit-learn 1.2-1 (Python 3.10 instead of 3.9, scikit-learn 1.2.1)"
    assert env.root.name == envs.env_name(IMAGE, "3.10") and (env.root / envs.MANIFEST).is_file()
    again = envs.ensure(IMAGE)
    assert again == env and counter.read_text() == "x"                    # reused, not rebuilt
    assert envs.existing(IMAGE) == env
    assert not [p for p in envs.cache_root().iterdir() if p.name.startswith(".build-")]


def test_failed_build_leaves_nothing_and_is_a_machine_error(tmp_path, monkeypatch):
    monkeypatch.setattr(envs, "_build_into", _fake_build_into(fail=True))
    monkeypatch.setattr(pythons, "find_python", lambda m: pythons.FoundPython(sys.executable, "3.9.18", "setting"))
    with pytest.raises(envs.EnvBuildError, match="No space left on device"):
        envs.ensure(IMAGE)
    left = [p.name for p in envs.cache_root().iterdir() if p.name not in (".locks", ".logs")]
    assert left == []
    assert envs.existing(IMAGE) is None


def test_no_interpreter_at_all_is_unavailable_with_how_to_fix(monkeypatch):
    monkeypatch.setattr(pythons, "find_python", lambda m: None)
    with pytest.raises(envs.EnvUnavailable, match="pyenv install 3.9.*DEPLOYCHECK_PYTHON_3_9"):
        envs.ensure(IMAGE)
    with pytest.raises(envs.EnvUnavailable, match="no wheels"):
        envs.ensure(catalog.image("ai-platform:1.10"))
    with pytest.raises(envs.EnvUnavailable, match="not built"):
        envs.ensure(IMAGE, build=False)


def _worker(cache: str, counter: str, q) -> None:
    os.environ["DEPLOYCHECK_CACHE_DIR"] = cache
    envs._build_into = _fake_build_into(Path(counter), delay=1.0)
    pythons.find_python = lambda m: pythons.FoundPython(sys.executable, "3.9.18", "setting")
    q.put(str(envs.ensure(IMAGE).root))


def test_parallel_callers_build_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    counter = tmp_path / "count"
    procs = [ctx.Process(target=_worker, args=(os.environ["DEPLOYCHECK_CACHE_DIR"], str(counter), q)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    roots = {q.get(timeout=5) for _ in procs}
    assert len(roots) == 1 and counter.read_text() == "x"


def test_prune_removes_stale_and_leftovers(tmp_path, monkeypatch):
    monkeypatch.setattr(envs, "_build_into", _fake_build_into())
    monkeypatch.setattr(pythons, "find_python", lambda m: pythons.FoundPython(sys.executable, "3.9.18", "setting"))
    env = envs.ensure(IMAGE)
    root = envs.cache_root()
    (root / "sagemaker-1.2-1-000000000000").mkdir()                          # an old recipe/pins
    (root / ".build-sagemaker-1.2-1-abc-xyz").mkdir()                        # a crashed build
    removed = {e.path.name for e in envs.prune()}
    assert removed == {"sagemaker-1.2-1-000000000000", ".build-sagemaker-1.2-1-abc-xyz"}
    assert env.root.exists()
    assert {e.path.name for e in envs.prune(everything=True)} == {env.root.name}


def test_interpreter_for_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.setattr(envs, "_build_into", _fake_build_into())
    monkeypatch.setattr(pythons, "find_python", lambda m: pythons.FoundPython(sys.executable, "3.9.18", "setting"))
    i = envs.ensure(IMAGE).interpreter()
    assert i.python.endswith("/bin/python") and i.preload == ("numpy",)
    assert i.label == "sagemaker-scikit-learn 1.2-1 (Python 3.9, scikit-learn 1.2.1)"
    assert all(p.startswith(str(envs.cache_root())) for p in i.sys_path)


def test_root_builds_in_the_system_cache_every_user_reads(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPLOYCHECK_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(os, "getuid", lambda: 0)
    assert envs.cache_root() == envs.SYSTEM_CACHE and envs.search_roots() == [envs.SYSTEM_CACHE]
    monkeypatch.setattr(os, "getuid", lambda: 65534)
    import pwd
    alice = tmp_path / "home" / "alice"
    alice.mkdir(parents=True)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: type("P", (), {"pw_dir": str(alice)})())
    assert envs.search_roots() == [alice / ".cache/deploycheck/runtimes", envs.SYSTEM_CACHE]
    # nobody's home is /nonexistent: its own HOME then
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: type("P", (), {"pw_dir": "/nonexistent"})())
    monkeypatch.setenv("HOME", str(tmp_path / "scratch"))
    assert envs.cache_root() == tmp_path / "scratch" / ".cache/deploycheck/runtimes"
