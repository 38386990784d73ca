"""Reading an untrusted image: its size (and deploycheck's own mark) from the header, then decoding,
statistics and OCR in a sandbox job (``deploycheck/inside/ocr_job.py``), cached by content.

1. **Header** (:func:`header_size`): the size is taken from the header *before* decoding; bombs over
   :data:`MAX_PIXELS` are refused there, as are images too small to show anything. deploycheck's own
   proof images carry a PNG text chunk (:data:`MARK_KEY`) that is read here too.
2. **Sandbox job**: one job of the sandbox (:mod:`deploycheck.sandbox`: bubblewrap, no network, its
   own user/PID/mount/IPC/UTS namespaces, a job tmpfs, the sandbox's allowlisted environment, never the
   grader's credentials) per image, on a fork server of its own (the grader's Python with only Pillow
   and Tesseract's model preloaded). The job's address space, CPU seconds (:data:`CPU_SECONDS`) and
   wall clock (:data:`WALL_SECONDS`) are limited. Where no isolation works (and
   ``--allow-unsandboxed`` is not given), no image is decoded: the result says why (``machine_error``).
   Tesseract only ever sees a re-encoded grey image of at most :data:`OCR_MAX_PIXELS`; an image of
   random noise (which no OCR reads, and which keeps Tesseract busy for minutes) is recognised by its
   edges and not read.
3. **Cache**: the job's result (OCR text + image statistics), and a read that ran out of its CPU or
   memory limit (the image's doing, the same on every machine), are stored under
   ``$DEPLOYCHECK_CACHE_DIR/ocr`` (default ``$XDG_CACHE_HOME/deploycheck/ocr``, i.e.
   ``~/.cache/deploycheck/ocr``), keyed by the SHA-256 of the image bytes, the engine id (engine +
   version + language + page-segmentation mode + preprocessing version) and the variant read; written
   atomically (temp file + ``os.replace``), so parallel xdist workers never see half a file.
   Re-grading an unchanged class runs no OCR, and a hostile image costs its CPU limit once. A wall-clock
   timeout (a busy machine) and a failure of the sandbox are never stored.

The OCR engine is Tesseract 5. Where the ``tesserocr`` wheel is installed (Linux, Windows), the job
reads with that library (its own Tesseract 5.5, the English data of the installed ``tesseract``): no
Tesseract process and no temporary image per screenshot. Elsewhere, or when ``DEPLOYCHECK_TESSERACT``
names a binary, it runs the ``tesseract`` program (Debian ``tesseract-ocr``) inside the sandbox.
``benchmarks/ocr.py`` has the measurements. Settings (environment, read through
:mod:`deploycheck.settings`): ``DEPLOYCHECK_OCR`` = ``tesseract`` (default) | ``tesseract-cli`` (always
the program) | ``off``; ``DEPLOYCHECK_TESSERACT`` = path of the tesseract binary; ``DEPLOYCHECK_CACHE_DIR``.

Variants (:mod:`deploycheck.inside.ocr_job` prepares them): ``screen`` (a screenshot: x2, Otsu) and
``photo`` (a photo of a screen: scaled to a long side of 2400, Sauvola). The job picks by the image's
statistics unless asked for one; :mod:`deploycheck.analysis.screenshot` asks for the other one when
the first reading shows no prediction.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploycheck import files

# The only decoders Pillow may use, whatever the bytes claim (no EPS -> Ghostscript, no exotic plugins).
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
MIN_W, MIN_H = 300, 200            # smaller cannot show a readable prediction
MAX_BYTES = 25_000_000             # bytes read per image
MAX_PIXELS = 40_000_000            # refused before decoding (an 8K screenshot is 33 Mpx, a phone photo 12-48)
OCR_MAX_PIXELS = 8_300_000         # what Tesseract is given at most (after scaling): a 4K screen, 1080p at x2
UPSCALE_MAX_SIDE = 2200            # images up to this size are 1x screenshots: OCR at 2x
BLANK_STDDEV = 2.0                 # grayscale standard deviation below this = a single colour
NOISE_EDGES = 0.40                 # share of sharp edges from which an image is noise, not a screen
PHOTO_DOMINANT = 0.40              # a photo: no colour covers this share (a screenshot's background does)
WALL_SECONDS = 90.0                # wall clock of one read (a 1920x1080 screenshot takes ~0.3 s of CPU)
CPU_SECONDS = 20                   # CPU seconds of one read (RLIMIT_CPU: the image's doing, on any machine)
MEMORY_MB = 1536                   # what one read may add to the preloaded reader
FOLDER_CPU_SECONDS = 40.0          # OCR CPU seconds spent on one folder's images at most
PREP_VERSION = "p2"                # bump when the preprocessing or the limits change (part of the cache key)
TESSERACT_PSM = "6"                # one uniform block: best on the fixtures (benchmarks/ocr.py)
MARK_KEY = "deploycheck-proof"     # PNG text chunk of deploycheck's own proof images (card, README snapshot)

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
            return f"none-{PREP_VERSION}-{reader_hash()}"
        return f"{self.name}-{self.version}-eng-psm{TESSERACT_PSM}-{PREP_VERSION}-{reader_hash()}"

    @property
    def label(self) -> str:
        if not self.available:
            return "none"
        return f"tesseract {self.version} (tesserocr)" if self.name == "tesserocr" else f"{self.name} {self.version}"


def reader_hash() -> str:
    """8 hex digits of the reading code (the sandbox job's source and the limits it is given): any change
    to how an image is read makes new cache entries."""
    global _SOURCE_HASH
    if _SOURCE_HASH is None:
        _SOURCE_HASH = hashlib.sha256(JOB_SOURCE.read_bytes()).hexdigest()
    h = hashlib.sha256(_SOURCE_HASH.encode())
    h.update(repr((FORMATS, MAX_PIXELS, OCR_MAX_PIXELS, UPSCALE_MAX_SIDE, BLANK_STDDEV, NOISE_EDGES,
                   PHOTO_DOMINANT, CPU_SECONDS, MEMORY_MB)).encode())
    return h.hexdigest()[:8]


_SOURCE_HASH: str | None = None
JOB_SOURCE = Path(__file__).resolve().parent.parent / "inside" / "ocr_job.py"


# ------------------------------------------------------------------------------------ engine

_ENGINE_MEMO: dict[tuple[str, str, str], OcrEngine] = {}
_ENGINE_LOCK = threading.Lock()

INSTALL_HINT = "install Tesseract (Debian/Ubuntu: `apt-get install tesseract-ocr`; macOS: `brew install tesseract`)"


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
    """Allowlisted environment for the engine probe (never the grader's credentials)."""
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


def _cache_path(sha: str, eng: OcrEngine, variant: str | None = None) -> Path:
    return cache_dir() / sha[:2] / f"{sha}.{eng.cache_id}{'.' + variant if variant else ''}.json"


def _cache_get(sha: str, eng: OcrEngine, variant: str | None = None) -> dict[str, Any] | None:
    p = _cache_path(sha, eng, variant)
    try:
        with open(p, "rb") as fh:
            doc = json.loads(fh.read(1_000_000))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("sha256") != sha or doc.get("engine") != eng.cache_id:
        return None
    return doc


def _cache_put(sha: str, eng: OcrEngine, variant: str | None, doc: dict[str, Any]) -> str:
    """Write atomically; returns "" or why it could not be written."""
    p = _cache_path(sha, eng, variant)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write(p, json.dumps(dict(doc, sha256=sha, engine=eng.cache_id)).encode())
    except OSError as e:
        return f"OCR results are not cached ({cache_dir()}: {e.strerror or e})"
    _count("cache_writes")
    return ""


# ------------------------------------------------------------------------------------ header check

def header_size(data: bytes) -> tuple[int, int, str, str] | str:
    """(width, height, format, deploycheck's mark or "") read from the header only (nothing is decoded;
    a PNG's text chunks before its pixels are read with it), or the problem."""
    import warnings
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as img:   # lazy: reads the header
                mark = img.info.get(MARK_KEY)
                return img.size[0], img.size[1], img.format or "", mark[:200] if isinstance(mark, str) else ""
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "bomb"
    except Exception as e:  # noqa: BLE001 - any garbage
        return f"unreadable:{type(e).__name__}"



# ------------------------------------------------------------------------------------ the sandbox job

def _interpreter() -> Any:
    """The OCR fork server's Python: the grader's own, with its site-packages (Pillow, tesserocr) bound
    read-only, and only ``ocr_job`` preloaded (no scikit-learn, no deploycheck)."""
    from deploycheck.sandbox import Interpreter
    g = Interpreter.grader()
    return Interpreter(python=g.python, sys_path=g.sys_path, preload=("ocr_job",),
                       label="the OCR reader (Pillow, Tesseract)")


def _job_paths(eng: OcrEngine) -> tuple[str, ...]:
    """Folders the job must see besides /usr: Tesseract's data or program when installed elsewhere."""
    out = []
    for p in (eng.tessdata, os.path.dirname(eng.path) if eng.path else ""):
        if p and not os.path.realpath(p).startswith("/usr/") and os.path.isdir(p):
            out.append(os.path.realpath(p))
    return tuple(dict.fromkeys(out))


def job_config(eng: OcrEngine, variant: str | None) -> dict[str, Any]:
    return {"max_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS, "ocr_max_pixels": OCR_MAX_PIXELS,
            "blank_stddev": BLANK_STDDEV, "noise_edges": NOISE_EDGES, "photo_dominant": PHOTO_DOMINANT,
            "upscale_max_side": UPSCALE_MAX_SIDE, "psm": TESSERACT_PSM, "mark_key": MARK_KEY,
            "engine": eng.name if eng.available else "none", "tesseract": eng.path, "tessdata": eng.tessdata,
            "variant": variant or ""}


def _run_job(data: bytes, eng: OcrEngine, variant: str | None) -> dict[str, Any]:
    """Decode + OCR ``data`` in a sandbox job. Never raises. ``transient``: not to be cached."""
    from deploycheck import sandbox
    _count("worker_runs")
    if eng.available:
        _count("ocr_runs")
    tmp = tempfile.mkdtemp(prefix="deploycheck-ocr-")
    try:
        with open(os.path.join(tmp, "image"), "wb") as fh:
            fh.write(data)
        limits = sandbox.Limits(timeout=WALL_SECONDS, memory_mb=MEMORY_MB, disk_mb=8, nproc=16, nofile=64,
                                cpu_s=CPU_SECONDS)
        try:
            res = sandbox.run("ocr_job:read", {"name": "image", "cfg": job_config(eng, variant)},
                              interpreter=_interpreter(), folder=tmp, limits=limits, job_paths=_job_paths(eng))
        except sandbox.IsolationUnavailable as e:
            return {"machine_error": f"images are read only in the sandbox, which is not available here "
                                     f"({e.isolation.detail})", "transient": True}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if res.ok and isinstance(res.data, dict):
        return res.data
    if res.status == "machine":
        return {"machine_error": f"the OCR sandbox failed ({res.error[:300]})", "transient": True}
    if res.cpu_exhausted:
        return {"ocr_error": f"reading it took more than {CPU_SECONDS} s of CPU time", "limit": "cpu"}
    if res.status == "memory":
        return {"ocr_error": f"reading it needed more than {MEMORY_MB} MB of memory", "limit": "memory"}
    if res.status == "timeout":
        return {"ocr_error": f"reading it was still running after {WALL_SECONDS:g} s (the machine may be busy)",
                "transient": True}
    return {"ocr_error": f"the OCR job failed: {res.describe()[:300]}", "transient": True}


def read_image(data: bytes, eng: OcrEngine | None = None, variant: str | None = None
               ) -> tuple[dict[str, Any], bool, str]:
    """(result, from cache?, cache note) for image bytes: header check, then cache, then the sandbox job.
    ``variant``: "screen" | "photo" | None (the job chooses by the image's statistics)."""
    eng = eng or engine()
    head = header_size(data)
    if isinstance(head, str):
        return {"problem": head}, False, ""
    w, h, fmt, mark = head
    base: dict[str, Any] = {"width": w, "height": h, "format": fmt}
    if mark:
        return dict(base, mark=mark), False, ""          # deploycheck's own image: nothing to decode
    if w * h > MAX_PIXELS:
        return dict(base, problem="too_large"), False, ""
    if max(w, h) < MIN_W or min(w, h) < MIN_H:
        return dict(base, problem="too_small"), False, ""
    sha = hashlib.sha256(data).hexdigest()
    hit = _cache_get(sha, eng, variant)
    if hit is not None:
        _count("cache_hits")
        return hit, True, ""
    doc = _run_job(data, eng, variant)
    note = ""
    if not doc.get("transient"):
        note = _cache_put(sha, eng, variant, doc)
    return doc, False, note


def clear_cache() -> None:
    """Forget this process's engine probe (the on-disk OCR cache stays)."""
    with _ENGINE_LOCK:
        _ENGINE_MEMO.clear()

