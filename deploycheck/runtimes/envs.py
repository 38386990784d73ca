"""One cached virtual environment per serving image build: the build's Python minor version and its
pins (builds with the same Python and pins share one).

    env = envs.ensure(catalog.image("sagemaker:1.2-1"))      # builds on first use, then reuses
    env.interpreter()   # -> sandbox.Interpreter(python=..., sys_path=..., preload=..., label=...)

Where the environments live (:func:`cache_root`): ``$DEPLOYCHECK_CACHE_DIR/runtimes`` if set; for
root, /var/cache/deploycheck/runtimes (readable by every user, who also look there); else
``$XDG_CACHE_HOME/deploycheck/runtimes`` (``~/.cache/deploycheck/runtimes``). One directory per
image and recipe: ``<image slug>-<hash of Python minor, requirements, patches, recipe version>``,
holding the virtual environment and ``deploycheck-env.json`` (its manifest, written last).

An interpreter for the image's Python X.Y is found by :mod:`deploycheck.runtimes.pythons`. When X.Y
cannot be found, or the image's pins have no wheels for it, the nearest minor that works is used
and the environment's label says so ("Python 3.10 instead of 3.9").

Building: with ``uv`` (the ``uv`` package from PyPI, a dependency of deploycheck) when it is there,
else ``python -m venv`` + pip; into a temporary directory next to the final one, renamed into place
when the manifest is written (a half-built environment is never used); an exclusive lock per
environment so that parallel pytest-xdist workers build it once. A failed build raises
:class:`EnvBuildError` carrying the cause: an error of deploycheck's machinery, never the
student's failure.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from deploycheck import files
from deploycheck.runtimes import pythons
from deploycheck.runtimes.places import SYSTEM_CACHE, cache_root, search_roots  # noqa: F401 - where envs live
from deploycheck.runtimes.catalog import MIN_PYTHON, Image, all_builds
from deploycheck.settings import ENV_PREFIX, env

RECIPE = 1                     # bump when the way environments are built changes (new hash -> rebuild)
MANIFEST = "deploycheck-env.json"
BUILD_TIMEOUT = 1200.0         # seconds for one environment (cold: downloads + one sdist build)
INSIDE = Path(__file__).resolve().parent.parent / "inside"     # deploycheck/inside (the jobs)

# Modules the sandbox's fork server imports once per environment (only those the smoke test could
# import are kept). SageMaker environments preload `sagemaker_job`, which points sagemaker-containers
# at a scratch base dir before importing it (it creates <base>/code at import time).
_PRELOAD = ("numpy", "scipy", "scipy.sparse", "scipy.special", "joblib", "pandas", "sklearn", "sklearn.base",
            "sklearn.utils", "sklearn.linear_model", "sklearn.ensemble", "sklearn.tree", "sklearn.svm",
            "sklearn.pipeline", "sklearn.preprocessing", "sklearn.neighbors", "sklearn.compose",
            "sklearn.impute", "sklearn.naive_bayes")
_PRELOAD_KIND = {"sagemaker": ("flask", "sagemaker_job"), "vertex": ("vertex_job",), "ai_platform": ("vertex_job",)}
_BINARY_ONLY = ("numpy", "scipy", "scikit-learn", "pandas")
# ...of which the fork server imports these only once a student's entry point imports them: pandas
# alone adds ~0.15 s to every server's start and a fifth of its memory (so to every job's fork), and
# few serving scripts use it (deploycheck.sandbox: Interpreter.on_demand)
ON_DEMAND = ("pandas",)


class EnvUnavailable(Exception):
    """No runtime environment can be had for this image on this machine (unsupported image, or no
    usable interpreter): callers fall back to an approximate run and say so."""


class EnvBuildError(Exception):
    """Building the environment failed: an error of deploycheck's machinery, with its cause."""

    def __init__(self, image: Image, message: str, log_tail: str = ""):
        self.image, self.log_tail = image, log_tail
        super().__init__(f"could not build the runtime environment for {image.label()}: {message}"
                         + (f"\n{log_tail}" if log_tail else ""))


@dataclass(frozen=True)
class RuntimeEnv:
    """A built environment: what the sandbox needs to run a job in it."""
    image: Image
    root: Path
    python: str               # <root>/bin/python
    python_version: str       # "3.9.18"
    site_dirs: tuple[str, ...]
    preload: tuple[str, ...]
    versions: dict            # {"sklearn": "1.2.1", "numpy": ..., ...} as imported by the smoke test

    @property
    def python_minor(self) -> str:
        return ".".join(self.python_version.split(".")[:2])

    @property
    def substituted(self) -> bool:
        return self.python_minor != self.image.python

    @property
    def label(self) -> str:
        return self.image.label(self.python_minor)

    def interpreter(self):  # -> deploycheck.sandbox.Interpreter
        from deploycheck import sandbox  # the sandbox package (wp-sandbox); imported late on purpose
        return sandbox.Interpreter(python=self.python, sys_path=self.site_dirs,
                                   preload=tuple(m for m in self.preload if m not in ON_DEMAND), label=self.label,
                                   on_demand=tuple(m for m in self.preload if m in ON_DEMAND))


# --------------------------------------------------------------------------- settings and paths

def _setting(name: str) -> str | None:
    """A ``DEPLOYCHECK_*`` setting (:func:`deploycheck.settings.env`), None when unset or empty."""
    return env(name.removeprefix(ENV_PREFIX)) or None


def env_name(image: Image, python_minor: str) -> str:
    parts = {"recipe": RECIPE, "python": python_minor, "requirements": list(image.requirements()),
             "patches": list(image.patches)}
    if image.overrides:                  # only where set: the other environments keep their names
        parts["overrides"] = list(image.overrides)
    spec = json.dumps(parts, sort_keys=True)
    return f"{image.slug}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


# --------------------------------------------------------------------------- finding and building envs

# environments found but unusable by this user, with the reason (root's shared cache on a Python
# only root can reach, before `deploycheck runtimes build` made it shareable)
_UNUSABLE: dict[str, str] = {}


def _load(root: Path, image: Image) -> RuntimeEnv | None:
    try:
        m = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if m.get("recipe") != RECIPE or m.get("image") != image.key:
        return None
    try:
        usable = Path(m.get("python", "")).exists() and os.access(m["python"], os.X_OK)
    except OSError:
        usable = False
    if not usable:
        if root.exists():
            _UNUSABLE[image.key] = (f"{root} was built by another user on a Python this account cannot run "
                                    f"({m.get('base_python')}); an administrator can make it usable by everyone with "
                                    f"`sudo deploycheck runtimes build {image.key}`")
        return None
    return RuntimeEnv(image=image, root=root, python=m["python"], python_version=m["python_version"],
                      site_dirs=tuple(m["site_dirs"]), preload=tuple(m["preload"]), versions=dict(m["versions"]))


def existing(image: Image) -> RuntimeEnv | None:
    """A built environment for ``image`` (its own Python minor preferred), without building. As
    root, an environment of the shared cache that only root could run is first made shareable."""
    for minor in _minors_for(image):
        for root in search_roots():
            env = _load(root / env_name(image, minor), image)
            if env is not None:
                if root == SYSTEM_CACHE and os.geteuid() == 0:
                    env = _make_shareable(env)
                return env
    return None


_SHAREABLE: set[str] = set()


def _make_shareable(env: RuntimeEnv, log: Callable[[str], None] | None = None) -> RuntimeEnv:
    """``env`` (in the shared cache) re-pointed at a copy of its base Python that every user can run,
    when its own base is private (pyenv under /root): the venv's ``bin/python`` link and
    ``pyvenv.cfg``'s ``home`` change, nothing is reinstalled."""
    if env.python in _SHAREABLE:
        return env
    link = Path(env.root) / "bin" / "python"
    if pythons.readable_by_all(os.path.realpath(link)):
        _SHAREABLE.add(env.python)
        return env
    base = os.path.realpath(link)
    with _lock(env.root.parent / ".locks" / f"{env.root.name}.lock"):
        if not pythons.readable_by_all(os.path.realpath(link)):
            copy = pythons.shareable_copy(pythons.FoundPython(base, env.python_version, "venv"), log or _progress)
            rel = os.path.relpath(copy.path, link.parent)
            tmp = link.with_name(".python.tmp")
            tmp.unlink(missing_ok=True)
            os.symlink(rel, tmp)
            os.replace(tmp, link)
            cfg = Path(env.root) / "pyvenv.cfg"
            lines = [f"home = {Path(copy.path).parent}" if ln.startswith("home =") else ln
                     for ln in cfg.read_text().splitlines()]
            files.atomic_write(cfg, ("\n".join(lines) + "\n").encode(), 0o644)
            mpath = Path(env.root) / MANIFEST
            m = json.loads(mpath.read_text())
            m.update(base_python=copy.path, found_by=f"copy of {m.get('base_python')}")
            files.atomic_write(mpath, json.dumps(m, indent=1).encode(), 0o644)
    _SHAREABLE.add(env.python)
    return env


def _minors_for(image: Image) -> list[str]:
    first = image.python if image.python_tuple >= MIN_PYTHON else image.fallback_python
    return pythons.nearest_minors(first) if first else []


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _NoWheels(Exception):
    """The pins cannot be installed from wheels on this Python: try the next nearest minor."""


def _progress(message: str) -> None:
    """Where build progress goes unless a caller passes its own ``log`` (see :func:`set_progress`)."""
    if _PROGRESS is not None:
        _PROGRESS(message)


_PROGRESS: Callable[[str], None] | None = None


def set_progress(fn: Callable[[str], None] | None) -> None:
    """Send the progress of every build of this process (which can take minutes) to ``fn``: the
    commands print it on stderr, a grading run in its terminal."""
    global _PROGRESS
    _PROGRESS = fn


def ensure(image: Image, *, build: bool = True, log: Callable[[str], None] | None = None) -> RuntimeEnv:
    """The environment for ``image``; built on first use unless ``build`` is False.

    Raises :class:`EnvUnavailable` (no interpreter / no wheels / unsupported image / not built and
    ``build=False``) or :class:`EnvBuildError` (the build itself failed)."""
    if not image.supported:
        raise EnvUnavailable(f"{image.label()} needs Python {image.python}, and scikit-learn {image.sklearn} "
                             f"has no wheels for Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]}")
    env = existing(image)
    if env is not None:
        return env
    unusable = _UNUSABLE.get(image.key)
    if not build:
        raise EnvUnavailable(f"the runtime environment for {image.label()} is not built "
                             f"(deploycheck runtimes build {image.key})" + (f"; {unusable}" if unusable else ""))
    log = log or _progress
    if image.overrides and not pythons.uv_bin():
        raise EnvUnavailable(f"{image.label()} overrides its serving libraries' pins ({', '.join(image.overrides)}), "
                             "which only uv can install: pip install uv")
    tried: list[str] = []
    minors = _minors_for(image)
    for minor in minors:
        py = pythons.find_python(minor)
        if py is None and minor == minors[0]:
            py = pythons.install_python(minor, log)          # the image's own Python, with uv, if allowed
        if py is None:
            tried.append(pythons.install_failure(minor) or f"no Python {minor} found")
            continue
        try:
            return _build(image, py, log)
        except _NoWheels as e:
            tried.append(f"Python {minor}: {e}")
        except OSError as e:            # the cache directory cannot be created or written
            raise EnvBuildError(image, f"{type(e).__name__}: {e} (set DEPLOYCHECK_CACHE_DIR to a writable "
                                f"folder; environments go to {cache_root()})") from e
    first = minors[0] if minors else image.python
    raise EnvUnavailable(f"no usable Python for {image.label()} on this machine: "
                         + (f"{unusable}; " if unusable else "") + "; ".join(tried[:6])
                         + f". To grade it, {pythons.install_hint(first)}.")


def _run(cmd: list[str], logf, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    logf.write(f"$ {' '.join(cmd)}\n")
    logf.flush()
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL, env=env)
    logf.write(res.stdout)
    logf.flush()
    return res


def _tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


_SMOKE = r"""
import importlib, json, os, site, sys, tempfile
os.environ.setdefault("SAGEMAKER_BASE_DIR", tempfile.mkdtemp(prefix="dc-smoke-"))  # the caller's, removed after
sys.path.append(sys.argv[1])
want = json.loads(sys.argv[2])
ok, versions = [], {}
for name in want:
    try:
        importlib.import_module(name)
        ok.append(name)
    except Exception as e:
        sys.stderr.write("preload %s: %s: %s\n" % (name, type(e).__name__, e))
for dist in ("sklearn", "numpy", "scipy", "pandas", "joblib", "flask", "werkzeug"):
    try:
        versions[dist] = importlib.import_module(dist).__version__
    except Exception:
        pass
try:
    import sagemaker_containers.beta.framework  # noqa: F401 (the import the image's serving.py does)
    versions["sagemaker_containers"] = "imported"
except Exception as e:
    versions["sagemaker_containers"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps({"ok": ok, "versions": versions, "site": site.getsitepackages(),
                  "python": "%d.%d.%d" % sys.version_info[:3]}))
"""


def apply_patches(image: Image, site_dirs: list[str]) -> None:
    """The fixes the image's own Dockerfile applies after installing its requirements."""
    for patch in image.patches:
        if patch == "collections-abc-mapping":
            # docker/1.4-2*/final/Dockerfile.cpu: "Fix Python 3.10+ compatibility for sagemaker-containers"
            for d in site_dirs:
                p = Path(d) / "sagemaker_containers" / "_mapping.py"
                if p.is_file():
                    p.write_text(p.read_text().replace("collections.Mapping", "collections.abc.Mapping"))
        else:
            raise ValueError(f"unknown patch {patch!r} in the catalog row {image.key}")


def _build(image: Image, py: pythons.FoundPython, log: Callable[[str], None] | None) -> RuntimeEnv:
    root = cache_root()
    name = env_name(image, py.minor)
    final = root / name
    with _lock(root / ".locks" / f"{name}.lock"):
        env = _load(final, image)
        if env is not None:
            return env
        if root == SYSTEM_CACHE and not pythons.shareable(py.path):
            # every user reads this cache: its environments must not lead into a private folder
            py = pythons.shareable_copy(py, log)
        if final.exists():                      # stale/incomplete directory without a manifest
            shutil.rmtree(final, ignore_errors=True)
        (root / ".logs").mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=root))
        os.chmod(tmp, 0o755)            # sandboxed jobs run under another uid and must read it
        logpath = root / ".logs" / f"{name}.log"
        t0 = time.monotonic()
        if log:
            log(f"building the runtime environment {image.label(py.minor)} with {py.path} ({py.how}) in {final}: "
                "first use on this machine, this takes a few minutes")
        try:
            with open(logpath, "w") as logf, _heartbeat(log, f"still building {image.label(py.minor)}", logpath):
                manifest = _build_into(tmp, image, py, logf)
            manifest["build_seconds"] = round(time.monotonic() - t0, 1)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
            os.rename(tmp, final)
        except _NoWheels:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except subprocess.TimeoutExpired as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise EnvBuildError(image, f"timed out after {e.timeout:g} s (log: {logpath})") from e
        except EnvBuildError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise EnvBuildError(image, f"{type(e).__name__}: {e} (log: {logpath})") from e
        env = _load(final, image)
        if env is None:
            raise EnvBuildError(image, f"the manifest of {final} could not be read back")
        if log:
            log(f"built {env.label} in {manifest['build_seconds']} s")
        return env


HEARTBEAT = 20.0               # seconds between "still building" lines


@contextlib.contextmanager
def _heartbeat(log: Callable[[str], None] | None, what: str, logpath: Path) -> Iterator[None]:
    """A line every HEARTBEAT seconds while a build runs (the last line of its log, so the user sees it move)."""
    if log is None:
        yield
        return
    import threading
    done = threading.Event()
    t0 = time.monotonic()

    def beat() -> None:
        while not done.wait(HEARTBEAT):
            last = ""
            try:
                lines = [ln for ln in logpath.read_text(errors="replace").splitlines() if ln.strip()]
                last = lines[-1].strip() if lines else ""
                if last.startswith("$ "):          # a command still running: say which
                    last = "running " + " ".join(Path(w).name for w in last[2:].split()[:3])
                last = last[:100]
            except OSError:
                pass
            log(f"{what}: {time.monotonic() - t0:.0f} s" + (f" ({last})" if last else ""))
    th = threading.Thread(target=beat, name="deploycheck-build-progress", daemon=True)
    th.start()
    try:
        yield
    finally:
        done.set()
        th.join(timeout=1)


_NO_WHEEL = re.compile(r"No solution found|no wheels? (with a matching|are available)|has no wheels|"
                       r"Could not find a version that satisfies|requires-python|Requires-Python", re.I)


def _build_into(tmp: Path, image: Image, py: pythons.FoundPython, logf) -> dict:
    uv = pythons.uv_bin()
    penv = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    # uv's download cache lives next to the environments (not in $HOME, which graders redirect),
    # unless the user chose one
    penv.setdefault("UV_CACHE_DIR", str(cache_root().parent / "uv"))
    pyexe = str(tmp / "bin" / "python")
    reqs = list(image.requirements())
    if uv:
        res = _run([uv, "venv", "--quiet", "--relocatable", "--no-project", "--python", py.path, str(tmp)],
                   logf, 120, penv)
        if res.returncode != 0:
            raise EnvBuildError(image, "uv venv failed", _tail(res.stdout))
        cmd = [uv, "pip", "install", "--python", pyexe, "--no-progress"]
        for b in _BINARY_ONLY:
            cmd += ["--only-binary", b]
        if image.overrides:          # the image's own lock overrules a dependency's pin (uv override-dependencies)
            (tmp / "overrides.txt").write_text("\n".join(image.overrides) + "\n")
            cmd += ["--override", str(tmp / "overrides.txt")]
        res = _run(cmd + reqs, logf, BUILD_TIMEOUT, penv)
    else:
        res = _run([py.path, "-m", "venv", str(tmp)], logf, 120, penv)
        if res.returncode != 0:
            raise EnvBuildError(image, "python -m venv failed", _tail(res.stdout))
        cmd = [pyexe, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
               "--only-binary", ",".join(_BINARY_ONLY)]
        res = _run(cmd + reqs, logf, BUILD_TIMEOUT, penv)
    if res.returncode != 0:
        if _NO_WHEEL.search(res.stdout):
            raise _NoWheels(_tail(res.stdout, 3))
        raise EnvBuildError(image, "installing the pins failed", _tail(res.stdout))
    site_out = subprocess.run([pyexe, "-c", "import json, site; print(json.dumps(site.getsitepackages()))"],
                              capture_output=True, text=True, timeout=60)
    site_dirs = json.loads(site_out.stdout) if site_out.returncode == 0 else []
    apply_patches(image, site_dirs)
    want = list(_PRELOAD) + list(_PRELOAD_KIND.get(image.kind, ()))
    scratch = tempfile.mkdtemp(prefix="dc-smoke-")      # sagemaker-containers writes <base>/code at import
    try:
        res = _run([pyexe, "-I", "-c", _SMOKE, str(INSIDE), json.dumps(want)], logf, 180,
                   {**penv, "SAGEMAKER_BASE_DIR": scratch})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        smoke = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise EnvBuildError(image, "the environment's Python does not start", _tail(res.stdout)) from None
    missing = [m for m in ("numpy", "sklearn") if m not in smoke["ok"]]
    if image.kind == "sagemaker" and smoke["versions"].get("sagemaker_containers") != "imported":
        missing.append(f"sagemaker_containers ({smoke['versions'].get('sagemaker_containers')})")
    if missing:
        raise EnvBuildError(image, "these do not import: " + ", ".join(missing), _tail(res.stdout))
    if smoke["versions"].get("sklearn") != image.sklearn:
        raise EnvBuildError(image, f"scikit-learn {smoke['versions'].get('sklearn')} was installed, not {image.sklearn}")
    # the paths as they will be once the directory is renamed into place
    final = cache_root() / env_name(image, py.minor)
    relocate = (lambda p: str(final / Path(p).relative_to(tmp)) if p.startswith(str(tmp)) else p)
    return {"recipe": RECIPE, "image": image.key, "label": image.label(py.minor),
            "python": str(final / "bin" / "python"), "python_version": smoke["python"], "base_python": py.path,
            "found_by": py.how, "site_dirs": [relocate(p) for p in smoke["site"]], "preload": smoke["ok"],
            "versions": smoke["versions"], "requirements": reqs, "tool": "uv" if uv else "pip",
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# --------------------------------------------------------------------------- listing and pruning

@dataclass(frozen=True)
class CacheEntry:
    path: Path
    image: str | None          # catalog key, None for leftovers
    current: bool              # matches a catalog row's current recipe
    size: int


def cached(every_root: bool = False) -> list[CacheEntry]:
    """The environments of this user's cache (and, ``every_root``, of the machine's shared one)."""
    out: list[CacheEntry] = []
    for root in (search_roots() if every_root else [cache_root()]):
        out += _cached_in(root)
    return out


def _cached_in(root: Path) -> list[CacheEntry]:
    if not root.is_dir():
        return []
    # every build of every image is current: a class graded as of an earlier date uses its era's build
    current = {env_name(im, m): im.key for im in all_builds() if im.supported for m in _minors_for(im)}
    out = []
    for p in sorted(root.iterdir()):
        if p.name in (".locks", ".logs"):
            continue
        key = None
        try:
            key = json.loads((p / MANIFEST).read_text()).get("image")
        except (OSError, ValueError):
            pass
        out.append(CacheEntry(p, key, p.name in current and key == current[p.name], files.tree_size(p)))
    return out


def prune(everything: bool = False, dry_run: bool = False) -> list[CacheEntry]:
    """Remove environments of old recipes/pins and half-built leftovers (all with ``everything``)."""
    removed = []
    for e in cached():
        if everything or not e.current:
            removed.append(e)
            if not dry_run:
                shutil.rmtree(e.path, ignore_errors=True)
    return removed


__all__ = ["EnvBuildError", "EnvUnavailable", "RuntimeEnv", "cache_root", "cached", "ensure", "env_name", "existing",
           "prune"]

if __name__ == "__main__":  # pragma: no cover - convenience: python -m deploycheck.runtimes.envs KEY
    from deploycheck.runtimes.catalog import image as _image
    for k in sys.argv[1:]:
        print(ensure(_image(k), log=print).label)