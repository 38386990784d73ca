"""Finding a Python interpreter of a given minor version on this machine, for the runtime
environments (:mod:`deploycheck.runtimes.envs`).

For Python X.Y, first hit wins (each candidate is run once to check its version; the answer is
cached per process): ``$DEPLOYCHECK_PYTHON_X_Y`` (a path), ``uv python find --no-python-downloads
X.Y``, pyenv's ``$(pyenv root)/versions/X.Y.*/bin/python`` (newest patch), ``pythonX.Y`` on PATH.
:func:`nearest_minors` orders the fallbacks when X.Y cannot be had.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from deploycheck.runtimes.catalog import MIN_PYTHON

MAX_PYTHON = (3, 13)


@dataclass(frozen=True)
class FoundPython:
    """An interpreter of some Python minor version, and how it was found."""
    path: str
    version: str              # "3.9.18"
    how: str                  # "setting" | "uv" | "pyenv" | "PATH"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


_PY_CACHE: dict[str, FoundPython | None] = {}


def _probe(path: str) -> str | None:
    """The full version of the interpreter at ``path`` (runs it), None when it is unusable."""
    try:
        out = subprocess.run([path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    v = out.stdout.strip()
    return v if out.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", v) else None


def uv_bin() -> str | None:
    """The ``uv`` binary (the one the ``uv`` package ships, else ``uv`` on PATH), or None."""
    try:
        import uv  # the PyPI package ships the binary
        return uv.find_uv_bin()
    except Exception:  # noqa: BLE001 - not installed, or its binary missing
        return shutil.which("uv")


def pyenv_root() -> Path | None:
    """pyenv's root (``$PYENV_ROOT``, ``pyenv root``, ``~/.pyenv``) when it holds versions, else None."""
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = None
    root = root or str(Path.home() / ".pyenv")
    return Path(root) if Path(root, "versions").is_dir() else None


def _candidates(minor: str) -> Iterator[tuple[str, str]]:
    """(how, path) candidates for Python ``minor``, in the documented order."""
    setting = os.environ.get("DEPLOYCHECK_PYTHON_" + minor.replace(".", "_"))
    if setting:
        yield "setting", setting
    uv = uv_bin()
    if uv:
        try:
            out = subprocess.run([uv, "python", "find", "--system", "--no-python-downloads", "--no-project",
                                  "--no-cache", minor],
                                 capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
            if out.returncode == 0 and out.stdout.strip():
                yield "uv", out.stdout.strip().splitlines()[-1]
        except (OSError, subprocess.SubprocessError):
            pass
    root = pyenv_root()
    if root:
        def patch(p: str) -> int:
            m = re.search(r"/%s\.(\d+)/bin/python$" % re.escape(minor), p)
            return int(m.group(1)) if m else -1
        for p in sorted(glob.glob(str(root / "versions" / f"{minor}.*" / "bin" / "python")), key=patch, reverse=True):
            if patch(p) >= 0:
                yield "pyenv", p
    which = shutil.which(f"python{minor}")
    if which:
        yield "PATH", which


def find_python(minor: str) -> FoundPython | None:
    """An interpreter of Python ``minor`` ("3.9"), or None."""
    if minor in _PY_CACHE:
        return _PY_CACHE[minor]
    found = None
    for how, path in _candidates(minor):
        v = _probe(path)
        if v and ".".join(v.split(".")[:2]) == minor:
            found = FoundPython(path, v, how)
            break
    _PY_CACHE[minor] = found
    return found


def nearest_minors(minor: str) -> list[str]:
    """``minor`` first, then the other supported minors by distance (newer first on a tie)."""
    major, mi = (int(x) for x in minor.split("."))
    lo, hi = MIN_PYTHON[1], MAX_PYTHON[1]
    others = sorted((m for m in range(lo, hi + 1) if m != mi), key=lambda m: (abs(m - mi), -m))
    return ([minor] if lo <= mi <= hi else []) + [f"{major}.{m}" for m in others]


def python_report() -> dict[str, FoundPython | None]:
    """Which interpreter serves each supported minor on this machine (for ``runtimes list``)."""
    return {f"3.{m}": find_python(f"3.{m}") for m in range(MIN_PYTHON[1], MAX_PYTHON[1] + 1)}
