"""Installed copies of deploycheck for the student-facing tests: a wheel built from this checkout
(offline: ``pip wheel --no-build-isolation``) and throw-away venvs that install it the way
``pip install deploycheck`` / the GitHub Action do.

A test venv gets the wheel (with pip's own console script ``bin/deploycheck``) and sees its
dependencies through a ``.pth`` line naming the site-packages of the venv running the tests, so no
test downloads anything: a Python of the same minor version (``/usr/bin/python3``, Debian 12's
3.11.2) can use the same compiled wheels. Extra files (an import blocker, a hostile plugin) go into
the venv's site-packages.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPS_SITE = Path(sysconfig.get_paths()["purelib"])


def fixtures_build():
    """fixtures/build.py as a module (the example student repos)."""
    if str(ROOT / "fixtures") not in sys.path:
        sys.path.insert(0, str(ROOT / "fixtures"))
    import build
    return build


def example_spec(name: str):
    return {e.name: e for e in fixtures_build().EXAMPLES}[name]


def example(name: str, dest: Path) -> Path:
    """A fresh copy of the example student repo ``name`` (fixtures/build.py) at ``dest``."""
    fixtures_build().write(dest, example_spec(name).build())
    return dest


def source_files() -> list[str]:
    """What a clean checkout holds (tracked and new, not ignored files)."""
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def build_wheel(dest: Path) -> Path:
    """A wheel of this checkout, built from a copy of it (the checkout gets no build/ or egg-info)."""
    src = dest / "src"
    for rel in source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                        str(src), "-w", str(dest)], capture_output=True, text=True, timeout=600)
    wheels = sorted(dest.glob("deploycheck-*.whl"))
    assert p.returncode == 0 and wheels, p.stdout[-2000:] + p.stderr[-2000:]
    return wheels[0]


def shared_wheel(tmp_path_factory) -> Path:
    """One wheel per test session, also under xdist (the workers share the session's base temp)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    d = base / "deploycheck-wheel"
    d.mkdir(exist_ok=True)
    with open(base / "deploycheck-wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = sorted(d.glob("deploycheck-*.whl"))
        return found[0] if found else build_wheel(d)


def site_packages(python: Path) -> Path:
    return Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())


def make_venv(dest: Path, wheel: Path, python: str = sys.executable, files: dict[str, str] | None = None) -> Path:
    """A venv at ``dest`` with deploycheck from ``wheel``; returns its ``bin`` directory."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True, timeout=120)
    py = dest / "bin" / "python"
    # the wheel first: pip must not see (and try to replace) the checkout's editable install
    p = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                        str(wheel)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    site = site_packages(py)
    (site / "00-deploycheck-test-deps.pth").write_text(f"{DEPS_SITE}\n")
    for name, text in (files or {}).items():
        (site / name).write_text(text)
    return dest / "bin"


# A sys.meta_path finder that refuses the extras' modules, installed by a .pth at interpreter start
# (so in every process of that venv: the grader, its xdist workers, the sandbox's fork server).
BLOCKER = '''
import sys
BLOCKED = {blocked!r}
class _Refuse:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            open({log!r}, "a").write(name + "\\n")
            raise ModuleNotFoundError("No module named %r (blocked by the test)" % name, name=name)
        return None
sys.meta_path.insert(0, _Refuse())
'''


def blocker_files(blocked: tuple[str, ...], log: Path) -> dict[str, str]:
    return {"deploycheck_test_blocker.py": BLOCKER.format(blocked=tuple(blocked), log=str(log)),
            "deploycheck_test_blocker.pth": "import deploycheck_test_blocker\n"}


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without what would leak the test run's own pytest set-up."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_")) and k not in ("PYTHONPATH",)}
    env.update(extra)
    return env
