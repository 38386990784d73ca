"""Reading an untrusted image: its size from the header, then decoding, statistics and OCR in a
limited worker process (:mod:`deploycheck.analysis.ocr_worker`), cached by content.

1. **Header** (:func:`header_size`): the size is taken from the header *before* decoding; bombs over
   :data:`MAX_PIXELS` are refused there, as are images too small to show anything.
2. **Worker**: a child of this process's image worker, ``python -I -S ocr_worker.py --server CONFIG``
   (a fork server: an allowlisted environment, never the grader's credentials; its own session;
   Pillow, the OCR binding and Tesseract's model loaded once). Every image gets a fresh forked child
   with its own session that lowers its rlimits (address space, CPU seconds, file size, open files,
   no core dumps) before decoding, and whose whole group is killed after :data:`WALL_SECONDS`.
   Tesseract (the library in the child, or the program as the child's child, OpenMP threads capped
   at 1) only ever sees an image the child re-encoded (grayscale, upscaled ×2 for 1× screenshots,
   at most :data:`OCR_MAX_PIXELS`).
3. **Cache**: the worker's result (OCR text + image statistics) is stored under
   ``$DEPLOYCHECK_CACHE_DIR/ocr`` (default ``$XDG_CACHE_HOME/deploycheck/ocr``, i.e.
   ``~/.cache/deploycheck/ocr``), keyed by the SHA-256 of the image bytes and the engine id
   (engine + version + language + page-segmentation mode + preprocessing version); written atomically
   (temp file + ``os.replace``), so parallel xdist workers never see half a file. Re-grading an
   unchanged class runs no OCR.

The OCR engine is Tesseract 5. Where the ``tesserocr`` wheel is installed (Linux, Windows), the worker
reads with that library (its own Tesseract 5.5, the English data of the installed ``tesseract``):
no Tesseract process and no temporary image per screenshot, 0.14 instead of 0.26 CPU seconds for a
1280x800 screenshot at x2, with the same classification of every fixture screenshot. Elsewhere, or when
``DEPLOYCHECK_TESSERACT`` names a binary, it runs the ``tesseract`` program (Debian
``tesseract-ocr``) through ``pytesseract``. ``benchmarks/ocr.py`` has the measurements. Settings
(environment, read through :mod:`deploycheck.settings`): ``DEPLOYCHECK_OCR`` = ``tesseract``
(default) | ``tesseract-cli`` (always the program) | ``off``; ``DEPLOYCHECK_TESSERACT`` = path of
the tesseract binary; ``DEPLOYCHECK_CACHE_DIR``.
"""
from __future__ import annotations

import atexit
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploycheck import files
from deploycheck.analysis import ocr_worker

WORKER = Path(__file__).resolve().with_name("ocr_worker.py")

# The only decoders Pillow may use, whatever the bytes claim (no EPS -> Ghostscript, no exotic plugins).
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
MIN_W, MIN_H = 300, 200            # smaller cannot show a readable prediction
MAX_BYTES = 25_000_000             # bytes read per image
MAX_PIXELS = 40_000_000            # refused before decoding (an 8K screenshot is 33 Mpx)
OCR_MAX_PIXELS = 12_000_000        # what Tesseract is given at most (after scaling)
UPSCALE_MAX_SIDE = 2200            # images up to this size are 1x screenshots: OCR at 2x
BLANK_STDDEV = 2.0                 # grayscale standard deviation below this = a single colour
WALL_SECONDS = 60.0                # worker wall clock (a 1920x1080 screenshot takes ~1 s at idle)
CPU_SECONDS = 60                   # RLIMIT_CPU of the worker and of tesseract
MEMORY_BYTES = 2 * 1024 ** 3       # RLIMIT_AS of the worker and of tesseract
FILE_BYTES = 64 * 1024 ** 2        # RLIMIT_FSIZE (pytesseract's temp PNG + text output)
PREP_VERSION = "p2"                # bump when the preprocessing or the result changes (part of the cache key)
TESSERACT_PSM = "6"                # one uniform block: best on the fixtures (benchmarks/ocr.py)

ENV_ENGINE = "DEPLOYCHECK_OCR"            # named in messages; read through deploycheck.settings.env
ENV_TESSERACT = "DEPLOYCHECK_TESSERACT"

# Per-process counters (tests and benchmarks read them; nothing else does).
STATS: dict[str, int] = {"worker_runs": 0, "ocr_runs": 0, "cache_hits": 0, "cache_writes": 0}
_STATS_LOCK = threading.Lock()


def _count(key: str) -> None:
    with _STATS_LOCK:
        STATS[key] = STATS.get(key, 0) + 1


@dataclass(frozen=True)
class OcrEngine:
    """The OCR engine of this process, as configured by the environment."""
    name: str                      # "tesserocr" (the library) | "tesseract" (the program) | "none"
    available: bool
    version: str = ""
    path: str = ""                 # the tesseract program (whose English data both read)
    detail: str = ""               # "tesseract 5.3.0 (/usr/bin/tesseract)" or why it is missing + how to fix
    tessdata: str = ""             # the folder holding eng.traineddata (the library is given it)

    @property
    def cache_id(self) -> str:
        if not self.available:
            return f"none-{PREP_VERSION}"
        return f"{self.name}-{self.version}-eng-psm{TESSERACT_PSM}-{PREP_VERSION}"

    @property
    def label(self) -> str:
        if not self.available:
            return "none"
        return f"tesseract {self.version} (tesserocr)" if self.name == "tesserocr" else f"{self.name} {self.version}"


# ------------------------------------------------------------------------------------ engine

_ENGINE_MEMO: dict[tuple[str, str, str], OcrEngine] = {}
_ENGINE_LOCK = threading.Lock()

INSTALL_HINT = ("install Tesseract (Debian/Ubuntu: `apt-get install tesseract-ocr`; macOS: `brew install "
                "tesseract`) and the Python binding (`pip install pytesseract`, part of deploycheck)")


def engine() -> OcrEngine:
    """The OCR engine for this process (checked once per setting; changing the environment re-checks)."""
    from deploycheck import settings   # the one reader of DEPLOYCHECK_* variables
    choice = (settings.env("OCR") or "tesseract").strip().lower() or "tesseract"
    binary = (settings.env("TESSERACT") or "").strip()
    key = (choice, binary, os.environ.get("PATH", ""))
    with _ENGINE_LOCK:
        if key not in _ENGINE_MEMO:
            _ENGINE_MEMO[key] = _probe_engine(choice, binary)
        return _ENGINE_MEMO[key]


def _probe_engine(choice: str, binary: str) -> OcrEngine:
    if choice in ("off", "none", "0", "false", "no"):
        return OcrEngine("none", False, detail=f"OCR is turned off ({ENV_ENGINE}={choice})")
    if choice not in ("tesseract", "tesseract-cli"):
        return OcrEngine("none", False, detail=f"{ENV_ENGINE}={choice} is not an OCR engine deploycheck knows "
                                               "(use tesseract, tesseract-cli or off)")
    import importlib.util
    if importlib.util.find_spec("pytesseract") is None:
        return OcrEngine("none", False, detail=f"the pytesseract package is missing: {INSTALL_HINT}")
    if binary:
        path = binary if os.path.isfile(binary) and os.access(binary, os.X_OK) else ""
        if not path:
            return OcrEngine("none", False, detail=f"{ENV_TESSERACT}={binary} is not an executable file: "
                                                   f"{INSTALL_HINT}")
    else:
        path = shutil.which("tesseract") or ""
        if not path:
            return OcrEngine("none", False, detail=f"tesseract is not installed: {INSTALL_HINT}")
    env = _child_env()
    try:
        ver = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, env=env)
        langs = subprocess.run([path, "--list-langs"], capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.SubprocessError) as e:
        return OcrEngine("none", False, path=path, detail=f"{path} did not run ({type(e).__name__}): {INSTALL_HINT}")
    m = re.search(r"tesseract\s+v?(\d+\.\d+(?:\.\d+)?)", ver.stdout + ver.stderr)
    if ver.returncode != 0 or not m:
        return OcrEngine("none", False, path=path, detail=f"{path} --version failed: {INSTALL_HINT}")
    version = m.group(1)
    if int(version.split(".")[0]) < 4:
        return OcrEngine("none", False, version=version, path=path,
                         detail=f"tesseract {version} is too old (4 or newer reads screenshots well): {INSTALL_HINT}")
    if "eng" not in (langs.stdout + langs.stderr).split():
        return OcrEngine("none", False, version=version, path=path,
                         detail="tesseract has no English language data: install tesseract-ocr-eng")
    cli = OcrEngine("tesseract", True, version=version, path=path, detail=f"tesseract {version} ({path})")
    if choice == "tesseract-cli" or binary or importlib.util.find_spec("tesserocr") is None:
        return cli                              # a binary named by the user is the one used
    where = re.search(r'languages in "([^"]+)"', langs.stdout + langs.stderr)
    data = where.group(1) if where else ""
    if not data or not os.path.isfile(os.path.join(data, "eng.traineddata")):
        return cli
    try:
        import tesserocr                        # only to ask which Tesseract its wheel carries
        m = re.search(r"tesseract\s+v?(\d+\.\d+(?:\.\d+)?)", tesserocr.tesseract_version())
    except Exception:  # noqa: BLE001 - a broken wheel: the program still works
        return cli
    if not m:
        return cli
    return OcrEngine("tesserocr", True, version=m.group(1), path=path, tessdata=data,
                     detail=f"tesseract {m.group(1)} as a library (tesserocr) with the English data of {path}")


def _child_env() -> dict[str, str]:
    """Allowlisted environment for the worker and tesseract (never the grader's credentials)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "OMP_THREAD_LIMIT": "1"}
    for k in ("TMPDIR", "TESSDATA_PREFIX", "SYSTEMROOT"):
        if os.environ.get(k):
            env[k] = os.environ[k]
    return env


# ------------------------------------------------------------------------------------ cache

def cache_dir() -> Path:
    """``<deploycheck's user cache>/ocr``: ``$DEPLOYCHECK_CACHE_DIR/ocr``, else
    ``$XDG_CACHE_HOME/deploycheck/ocr``, else ``~/.cache/deploycheck/ocr``."""
    from deploycheck import settings
    return settings.cache_dir() / "ocr"


def _cache_path(sha: str, eng: OcrEngine) -> Path:
    return cache_dir() / sha[:2] / f"{sha}.{eng.cache_id}.json"


def _cache_get(sha: str, eng: OcrEngine) -> dict[str, Any] | None:
    p = _cache_path(sha, eng)
    try:
        with open(p, "rb") as fh:
            doc = json.loads(fh.read(1_000_000))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("sha256") != sha or doc.get("engine") != eng.cache_id:
        return None
    return doc


def _cache_put(sha: str, eng: OcrEngine, doc: dict[str, Any]) -> str:
    """Write atomically; returns "" or why it could not be written."""
    p = _cache_path(sha, eng)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write(p, json.dumps(dict(doc, sha256=sha, engine=eng.cache_id)).encode())
    except OSError as e:
        return f"OCR results are not cached ({cache_dir()}: {e.strerror or e})"
    _count("cache_writes")
    return ""


# ------------------------------------------------------------------------------------ header check

def header_size(data: bytes) -> tuple[int, int, str] | str:
    """(width, height, format) read from the header only (nothing is decoded), or the problem."""
    import warnings
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as img:   # lazy: reads the header
                return img.size[0], img.size[1], img.format or ""
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "bomb"
    except Exception as e:  # noqa: BLE001 - any garbage
        return f"unreadable:{type(e).__name__}"



# ------------------------------------------------------------------------------------ the worker

_PATHS: list[str] | None = None


def _worker_paths() -> list[str]:
    """The folders Pillow and pytesseract are imported from (the worker runs without ``site``)."""
    global _PATHS
    if _PATHS is None:
        import importlib.util
        found: list[str] = []
        for mod in ("PIL", "pytesseract", "tesserocr"):
            spec = importlib.util.find_spec(mod)
            if spec is None:
                continue        # the worker reports the missing package itself
            locs = list(spec.submodule_search_locations or [])
            where = Path(locs[0]).parent if locs else Path(spec.origin).parent if spec.origin else None
            if where is not None and str(where) not in found:
                found.append(str(where))
        _PATHS = found
    return _PATHS


class _Server:
    """This process's image worker (:mod:`deploycheck.analysis.ocr_worker` as a fork server), started
    on first use with the engine's configuration; one request at a time (a lock), restarted after
    any failure. Closing its stdin (at exit, or when this process dies) ends it."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        # -I -S: no site, no PYTHON* variables, not even the script's own folder on sys.path (the config
        # names Pillow's and the binding's folders); the environment is allowlisted (_child_env)
        return subprocess.Popen([sys.executable, "-I", "-S", str(WORKER), "--server", json.dumps(self.cfg)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=_child_env(), start_new_session=True, cwd=tempfile.gettempdir())

    def ask(self, data: bytes, wall: float) -> dict[str, Any]:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                try:
                    self.proc = self._start()
                except OSError as e:
                    return {"machine_error": f"could not start the image worker ({e.strerror or e})"}
            p = self.proc
            assert p.stdin is not None and p.stdout is not None
            try:
                ocr_worker.write_frame(p.stdin.fileno(), json.dumps({"wall": wall}).encode())
                ocr_worker.write_frame(p.stdin.fileno(), data)
                reply = ocr_worker.read_frame(p.stdout.fileno(), time.monotonic() + wall + SERVER_GRACE)
            except (OSError, EOFError, TimeoutError, ValueError) as e:
                self.stop()
                return {"ocr_error": f"the image worker stopped ({type(e).__name__})"}
        try:
            doc = json.loads(reply.decode("utf-8", "replace"))
        except ValueError:
            return {"ocr_error": "the image worker returned no result"}
        return doc if isinstance(doc, dict) else {"ocr_error": "the image worker returned no result"}

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is not None:
            _kill_group(p)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


SERVER_GRACE = 10.0                 # beyond a request's wall clock before the server itself is stopped
_SERVERS: dict[str, _Server] = {}
_SERVERS_LOCK = threading.Lock()


def _server(eng: OcrEngine) -> _Server:
    cfg = {"memory": MEMORY_BYTES, "cpu": CPU_SECONDS, "fsize": FILE_BYTES, "max_bytes": MAX_BYTES,
           "max_pixels": MAX_PIXELS, "ocr_max_pixels": OCR_MAX_PIXELS, "formats": FORMATS,
           "blank_stddev": BLANK_STDDEV, "upscale_max_side": UPSCALE_MAX_SIDE, "psm": TESSERACT_PSM,
           "tesseract": eng.path if eng.available else "", "engine": eng.name, "tessdata": eng.tessdata,
           "paths": _worker_paths()}
    key = json.dumps(cfg, sort_keys=True)
    with _SERVERS_LOCK:
        if key not in _SERVERS:
            _SERVERS[key] = _Server(cfg)
        return _SERVERS[key]


def _run_worker(data: bytes, eng: OcrEngine) -> dict[str, Any]:
    """Decode + OCR ``data`` in a child of the limited image worker. Never raises."""
    _count("worker_runs")
    if eng.available:
        _count("ocr_runs")
    return _server(eng).ask(data, WALL_SECONDS)


def stop_workers() -> None:
    """Stop this process's image workers (at exit; the next read starts one again)."""
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
    for srv in servers:
        with srv.lock:
            srv.stop()


atexit.register(stop_workers)


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        try:
            p.kill()
        except OSError:
            pass


def read_image(data: bytes, eng: OcrEngine | None = None) -> tuple[dict[str, Any], bool, str]:
    """(worker result, from cache?, cache note) for image bytes: header check, then cache, then worker."""
    eng = eng or engine()
    head = header_size(data)
    if isinstance(head, str):
        return {"problem": head}, False, ""
    w, h, fmt = head
    if w * h > MAX_PIXELS:
        return {"width": w, "height": h, "format": fmt, "problem": "too_large"}, False, ""
    if max(w, h) < MIN_W or min(w, h) < MIN_H:
        return {"width": w, "height": h, "format": fmt, "problem": "too_small"}, False, ""
    sha = hashlib.sha256(data).hexdigest()
    hit = _cache_get(sha, eng)
    if hit is not None:
        _count("cache_hits")
        return hit, True, ""
    doc = _run_worker(data, eng)
    note = ""
    if "machine_error" not in doc and "ocr_error" not in doc:
        note = _cache_put(sha, eng, doc)
    return doc, False, note



def clear_cache() -> None:
    """Forget this process's engine probe (the on-disk OCR cache stays)."""
    with _ENGINE_LOCK:
        _ENGINE_MEMO.clear()

