"""Facts about the proof screenshot of a deploy folder, computed once: which images are candidates,
what each one shows (read with OCR), and whether that is a prediction from the deployed model.

Pipeline (:func:`screenshot_facts`):

1. **Candidates** (:func:`find_candidates`): images the README embeds (local paths, also outside the
   folder; GitHub-hosted uploads ``user-images.githubusercontent.com`` / ``github.com/user-attachments/
   assets`` count as present but are *remote, not checked*), then the folder's own images. Ignored:
   static web assets (``static/``, ``public/``, ``assets/`` when the README does not embed them),
   ``logo*`` / ``favicon*`` / ``apple-touch-icon*`` files, images a script or README code block of the
   folder writes (``savefig`` / ``imwrite`` / ``imsave`` / ``write_image`` / ``write_png``), symlinks.
   Preferred: README-embedded images, then names such as screenshot / prediction / endpoint / invoke.
2. **Reading** (untrusted bytes): at most :data:`MAX_BYTES` are read without following symlinks; the
   size is taken from the header *before* decoding (bombs over :data:`MAX_PIXELS` are refused there).
   Decoding, the blank/colour statistics and OCR then run in a worker subprocess
   (``python -P screenshot.py --worker``, allowlisted environment) that first lowers its own rlimits
   (address space, CPU seconds, file size, open files, no core dumps), runs in its own session and is
   killed with its whole group
   after :data:`WALL_SECONDS`; Tesseract is its child and inherits the limits (OpenMP threads capped at 1).
   Tesseract only ever sees a PNG the worker re-encoded (grayscale, upscaled ×2 for 1× screenshots,
   at most :data:`OCR_MAX_PIXELS`).
3. **Cache**: the worker's result (OCR text + image statistics) is stored under
   ``$DEPLOYCHECK_CACHE_DIR/ocr`` (default ``$XDG_CACHE_HOME/deploycheck/ocr``, i.e.
   ``~/.cache/deploycheck/ocr``), keyed by the SHA-256 of the image bytes and the engine id
   (engine + version + language + page-segmentation mode + preprocessing version); written atomically
   (temp file + ``os.replace``), so parallel xdist workers never see half a file. Re-grading an
   unchanged class runs no OCR.
4. **Classification** (:func:`classify_text`, a pure function of the OCR text): *prediction* (predicted
   values: ``[0, 2]``, ``array([...])``, ``{"predictions": ...}``, ``Out[n]: ...``, or the
   ``InvokedProductionVariant`` answer of ``invoke-endpoint``), *cloud* (console pages, endpoint lists,
   a predict call without its output) or *unrelated* (then :func:`seems_like` says what it looks like:
   chart, logo, photo, empty page, text without a prediction). Evidence is kept as short, sanitised
   snippets (credentials redacted).

The OCR engine is Tesseract 5 (Debian ``tesseract-ocr``) through ``pytesseract``; see
``benchmarks/ocr.py`` for the measurements that chose it. Settings (environment, read through
:mod:`deploycheck.settings`): ``DEPLOYCHECK_OCR`` = ``tesseract`` (default) | ``off``;
``DEPLOYCHECK_TESSERACT`` = path of the tesseract binary; ``DEPLOYCHECK_CACHE_DIR``.

This module imports only the standard library at import time: the worker runs this file as a script.
"""
from __future__ import annotations

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
import unicodedata
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence

if TYPE_CHECKING:        # (not at run time: the OCR worker runs this file with the standard library only)
    from deploycheck.discovery import DeployFolder

# ------------------------------------------------------------------------------------ limits

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
# The only decoders Pillow may use, whatever the bytes claim (no EPS -> Ghostscript, no exotic plugins).
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
MIN_W, MIN_H = 300, 200            # smaller cannot show a readable prediction
MAX_BYTES = 25_000_000             # bytes read per image
MAX_PIXELS = 40_000_000            # refused before decoding (an 8K screenshot is 33 Mpx)
OCR_MAX_PIXELS = 12_000_000        # what Tesseract is given at most (after scaling)
UPSCALE_MAX_SIDE = 2200            # images up to this size are 1x screenshots: OCR at 2x
BLANK_STDDEV = 2.0                 # grayscale standard deviation below this = a single colour
MAX_CANDIDATES = 20                # candidates listed per folder
MAX_OCR = 4                        # images read with OCR per folder (the best candidates)
WALL_SECONDS = 60.0                # worker wall clock (a 1920x1080 screenshot takes ~1 s at idle)
CPU_SECONDS = 60                   # RLIMIT_CPU of the worker and of tesseract
MEMORY_BYTES = 2 * 1024 ** 3       # RLIMIT_AS of the worker and of tesseract
FILE_BYTES = 64 * 1024 ** 2        # RLIMIT_FSIZE (pytesseract's temp PNG + text output)
TEXT_LIMIT = 1500                  # characters of OCR text kept in the facts / the report
SNIPPET = 90                       # characters of one evidence snippet
PREP_VERSION = "p1"                # bump when the preprocessing changes (part of the cache key)
TESSERACT_PSM = "6"                # one uniform block: best on the fixtures (benchmarks/ocr.py)

ENV_ENGINE = "DEPLOYCHECK_OCR"            # named in messages; read through deploycheck.settings.env
ENV_TESSERACT = "DEPLOYCHECK_TESSERACT"

Classification = Literal["prediction", "cloud", "unrelated", "not_read", "unusable", "remote", "excluded",
                         "not_examined"]

# Per-process counters (tests and benchmarks read them; nothing else does).
STATS: dict[str, int] = {"worker_runs": 0, "ocr_runs": 0, "cache_hits": 0, "cache_writes": 0}
_STATS_LOCK = threading.Lock()


def _count(key: str) -> None:
    with _STATS_LOCK:
        STATS[key] = STATS.get(key, 0) + 1


# ------------------------------------------------------------------------------------ records

@dataclass(frozen=True)
class OcrEngine:
    """The OCR engine of this process, as configured by the environment."""
    name: str                      # "tesseract" | "none"
    available: bool
    version: str = ""
    path: str = ""
    detail: str = ""               # "tesseract 5.3.0 (/usr/bin/tesseract)" or why it is missing + how to fix

    @property
    def cache_id(self) -> str:
        if not self.available:
            return f"none-{PREP_VERSION}"
        return f"{self.name}-{self.version}-eng-psm{TESSERACT_PSM}-{PREP_VERSION}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}".strip() if self.available else "none"


@dataclass(frozen=True)
class Candidate:
    path: str                      # repo-relative posix path, or the URL of a remote image
    origin: Literal["readme", "folder"]
    readme_line: int | None = None
    remote: bool = False
    excluded: str | None = None    # why it does not count ("a static web asset (public/)", ...)


@dataclass(frozen=True)
class ImageStats:
    width: int
    height: int
    format: str = ""
    stddev: float = 0.0            # grayscale standard deviation (blank below BLANK_STDDEV)
    colours: int = 0               # distinct colours of a 128 px thumbnail, 4 bits per channel
    dominant: float = 0.0          # share of the most common of those colours
    transparent: float = 0.0       # share of (nearly) transparent pixels


@dataclass(frozen=True)
class Evidence:
    kind: Literal["call", "output", "cloud"]
    label: str                     # what was recognised ("predict( call", "array([...])", "InService")
    snippet: str                   # the OCR line it was found on, sanitised and shortened
    shown: str = ""                # the matched text itself, for short lists ("ml.t2.medium", "us-east-1")


Value = int | float | str


@dataclass(frozen=True)
class TextFacts:
    classification: Literal["prediction", "cloud", "unrelated"]
    calls: tuple[Evidence, ...] = ()
    outputs: tuple[Evidence, ...] = ()
    cloud: tuple[Evidence, ...] = ()
    values: tuple[Value, ...] = ()          # predicted values read from the output
    platform: str | None = None             # "aws" | "gcp" when the text says so
    words: int = 0                          # real words read (letters, 3+ long)
    note: str = ""                          # caveat on a prediction ("no call or endpoint is visible")


@dataclass(frozen=True)
class ImageFacts:
    candidate: Candidate
    classification: Classification
    problem: str = ""                        # for unusable / not_read / excluded: the reason (a clause)
    stats: ImageStats | None = None
    text: str = ""                           # OCR text, sanitised, credentials redacted, truncated
    facts: TextFacts | None = None
    seems: str = ""                          # for unrelated images: what it looks like
    cached: bool = False
    sha256: str = ""


@dataclass(frozen=True)
class KnownOutputs:
    """What this model can predict, when known: its classes (``classes_``) and/or the values the local
    emulation predicted for the sample request."""
    classes: tuple[Value, ...] | None = None
    local_values: tuple[Value, ...] | None = None
    source: str = ""                         # "the pickle's classes_", "predict.local"


@dataclass(frozen=True)
class Plausibility:
    plausible: bool | None                   # None: nothing known to compare with
    sentence: str = ""


@dataclass(frozen=True)
class ScreenshotFacts:
    folder: str                              # repo-relative deploy folder
    platform: str
    engine: OcrEngine
    candidates: tuple[Candidate, ...] = ()
    images: tuple[ImageFacts, ...] = ()      # every candidate with what was found (preference order)
    best: ImageFacts | None = None
    symlinks: tuple[str, ...] = ()           # image symlinks in the folder (never followed)
    cache_note: str = ""                     # why results could not be cached, when so


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
    if choice != "tesseract":
        return OcrEngine("none", False, detail=f"{ENV_ENGINE}={choice} is not an OCR engine deploycheck knows "
                                               "(use tesseract or off)")
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
    return OcrEngine("tesseract", True, version=version, path=path, detail=f"tesseract {version} ({path})")


def _child_env() -> dict[str, str]:
    """Allowlisted environment for the worker and tesseract (never the grader's credentials)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "OMP_THREAD_LIMIT": "1"}
    for k in ("TMPDIR", "TESSDATA_PREFIX", "SYSTEMROOT", "PYTHONPATH"):
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


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``path`` so that a reader (another xdist worker) sees the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _cache_put(sha: str, eng: OcrEngine, doc: dict[str, Any]) -> str:
    """Write atomically; returns "" or why it could not be written."""
    p = _cache_path(sha, eng)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(p, json.dumps(dict(doc, sha256=sha, engine=eng.cache_id)).encode())
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

def _worker_main(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Runs in the worker subprocess: lower the limits, decode, measure, OCR. Returns the result dict."""
    try:
        import resource
        for lim, val in ((resource.RLIMIT_AS, cfg["memory"]), (resource.RLIMIT_CPU, cfg["cpu"]),
                         (resource.RLIMIT_FSIZE, cfg["fsize"]), (resource.RLIMIT_NOFILE, 64),
                         (resource.RLIMIT_CORE, 0)):
            soft, hard = resource.getrlimit(lim)
            new = val if hard == resource.RLIM_INFINITY else min(val, hard)
            resource.setrlimit(lim, (new, new if hard == resource.RLIM_INFINITY else hard))
    except (ImportError, ValueError, OSError):
        pass   # no resource module (Windows): the wall-clock timeout still applies
    data = sys.stdin.buffer.read(cfg["max_bytes"] + 1)
    import warnings
    from PIL import Image, ImageStat
    Image.MAX_IMAGE_PIXELS = cfg["max_pixels"]
    out: dict[str, Any] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            w, h = img.size
            out.update(width=w, height=h, format=img.format or "")
            if w * h > cfg["max_pixels"]:
                return dict(out, problem="too_large")
            img.seek(0)                       # first frame of a GIF / WebP animation
            img.load()
            rgba = img.convert("RGBA")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return dict(out, problem="bomb")
    except MemoryError:
        return dict(out, ocr_error="decoding needed more memory than the worker's limit")
    except Exception as e:  # noqa: BLE001 - truncated or corrupt
        return dict(out, problem=f"unreadable:{type(e).__name__}")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    white.alpha_composite(rgba)               # transparent pixels count as white
    thumb = rgba.copy()
    thumb.thumbnail((128, 128))
    alpha = thumb.getchannel("A").point(lambda a: 255 if a < 16 else 0)
    n = thumb.width * thumb.height or 1
    transparent = ImageStat.Stat(alpha).sum[0] / 255 / n
    flat = Image.new("RGBA", thumb.size, (255, 255, 255, 255))
    flat.alpha_composite(thumb)
    q = flat.convert("RGB").point(lambda v: v & 0xF0)
    colours = q.getcolors(4096) or []
    gray = white.convert("L")
    small = gray.copy()
    small.thumbnail((256, 256))
    out.update(stddev=round(ImageStat.Stat(small).stddev[0], 3), colours=len(colours),
               dominant=round(max((c for c, _ in colours), default=n) / n, 4), transparent=round(transparent, 4))
    if out["stddev"] < BLANK_STDDEV:
        return dict(out, problem="blank")
    if not cfg.get("tesseract"):
        return out
    scale = 1.0
    if max(w, h) <= UPSCALE_MAX_SIDE and w * h * 4 <= cfg["ocr_max_pixels"]:
        scale = 2.0
    elif w * h > cfg["ocr_max_pixels"]:
        scale = (cfg["ocr_max_pixels"] / (w * h)) ** 0.5
    if scale != 1.0:
        gray = gray.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.Resampling.LANCZOS)
    out["ocr_size"] = [gray.width, gray.height]
    # pytesseract imports numpy and pandas when present (0.25 s per worker) only for other output types
    for heavy in ("numpy", "pandas"):
        sys.modules.setdefault(heavy, None)  # type: ignore[arg-type]
    import pytesseract
    pytesseract.pytesseract.tesseract_cmd = cfg["tesseract"]
    try:
        text = pytesseract.image_to_string(gray, lang="eng", config=f"--psm {TESSERACT_PSM}",
                                           timeout=cfg["ocr_timeout"])
    except RuntimeError as e:                 # pytesseract's timeout
        return dict(out, ocr_error=f"timeout ({e})")
    except Exception as e:  # noqa: BLE001 - tesseract crashed / was killed by a limit
        return dict(out, ocr_error=f"{type(e).__name__}: {str(e)[:200]}")
    out["text"] = text
    return out


def _run_worker(data: bytes, eng: OcrEngine) -> dict[str, Any]:
    """Decode + OCR ``data`` in the limited worker subprocess. Never raises."""
    cfg = {"memory": MEMORY_BYTES, "cpu": CPU_SECONDS, "fsize": FILE_BYTES, "max_bytes": MAX_BYTES,
           "max_pixels": MAX_PIXELS, "ocr_max_pixels": OCR_MAX_PIXELS,
           "ocr_timeout": max(1.0, WALL_SECONDS - 5), "tesseract": eng.path if eng.available else ""}
    _count("worker_runs")
    if eng.available:
        _count("ocr_runs")
    try:
        # -P: the script's folder is not put on sys.path; the environment is allowlisted (_child_env)
        p = subprocess.Popen([sys.executable, "-P", os.path.abspath(__file__), "--worker", json.dumps(cfg)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=_child_env(), start_new_session=True, cwd=tempfile.gettempdir())
    except OSError as e:
        return {"machine_error": f"could not start the image worker ({e.strerror or e})"}
    try:
        out, err = p.communicate(data, timeout=WALL_SECONDS)
    except subprocess.TimeoutExpired:
        _kill_group(p)
        p.communicate()
        return {"ocr_error": f"timed out after {WALL_SECONDS:.0f} s"}
    if p.returncode != 0:
        killed = p.returncode < 0 and -p.returncode in (signal.SIGKILL, signal.SIGXCPU)
        why = "it exceeded its CPU or memory limit" if killed or b"MemoryError" in err else \
            (err.decode("utf-8", "replace").strip().splitlines() or [f"exit status {p.returncode}"])[-1][:200]
        return {"ocr_error": f"the image worker failed: {why}"}
    try:
        doc = json.loads(out.decode("utf-8", "replace"))
    except ValueError:
        return {"ocr_error": "the image worker returned no result"}
    return doc if isinstance(doc, dict) else {"ocr_error": "the image worker returned no result"}


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


# ------------------------------------------------------------------------------------ text

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "‘": "'", "’": "'",
                         "‚": "'", "′": "'", "`": "'", "—": "-", "–": "-", "−": "-", "\t": " "})
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def normalise(text: str) -> list[str]:
    """OCR text -> non-empty lines: NFKC (full-width commas...), straight quotes, no control characters,
    single spaces."""
    t = unicodedata.normalize("NFKC", text or "").translate(_QUOTES)
    t = _CTRL.sub("", t.replace("\r", "\n"))
    return [s for s in (re.sub(r" {2,}", " ", ln).strip() for ln in t.split("\n")) if s]


# Credentials that may be visible in a screenshot: never quoted back.
_REDACT = [
    (re.compile(r"\b((?:AKIA|ASIA))[A-Z0-9]{14}([A-Z0-9]{2})\b"), r"\1…\2"),     # as security.secrets shows it
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1(redacted)"),
    (re.compile(r"\bya29\.[A-Za-z0-9._-]{10,}"), "ya29.(redacted)"),
    (re.compile(r"(?i)(secret[\w\s\"':=]{0,24}?)[A-Za-z0-9/+]{40}\b"), r"\1(redacted)"),
    (re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"), "(redacted)"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*", re.S), "(private key redacted)"),
]


def redact(text: str) -> str:
    for rx, rep in _REDACT:
        text = rx.sub(rep, text)
    return text


_PROMPT = re.compile(r"^(?:\(\S+\)\s*)?[\w.-]+@[\w.-]+:\S*?\s?[$#%>]\s*|^PS [^>]{1,80}>\s*|^[$#>]\s+")


def sanitise(line: str, limit: int = SNIPPET, around: int | None = None) -> str:
    """One short, printable snippet of an OCR line (credentials redacted, shell prompt dropped), cut so
    that position ``around`` (of the original line) stays in view."""
    raw = " ".join(_CTRL.sub("", line).split())
    m = _PROMPT.match(raw)
    if m and len(raw) > m.end():
        raw = raw[m.end():]
        around = None if around is None else max(0, around - m.end())
    s = redact(raw)
    if len(s) <= limit:
        return s
    if around is None or around <= 20:
        return s[:limit - 1].rstrip() + "…"
    start = max(0, min(around - 20, len(s) - (limit - 1)))
    end = min(len(s), start + limit - 1)
    if end < len(s):
        end -= 1
    return ("…" if start else "") + s[start:end].strip() + ("…" if end < len(s) else "")


_NUM = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$", re.I)
_DIGITISH = {"o": "0", "O": "0", "®": "0", "©": "0", "@": "0", "Q": "0", "D": "0",
             "l": "1", "I": "1", "|": "1", "i": "1"}


def parse_values(content: str) -> tuple[Value, ...]:
    """Values of a printed list ``0, 2`` / ``[0.1 0.9]`` / ``'setosa', 'virginica'`` (brackets may be inside)."""
    parts = [p for p in re.split(r"[\s,;\[\]()]+", content) if p and p not in ("dtype=object",)]
    parts = [p for p in parts if not p.startswith("dtype=")]
    if not parts or len(parts) > 1000:
        return ()
    out: list[Value] = []
    numeric = sum(bool(_NUM.match(p)) for p in parts)
    for p in parts:
        q = p.strip("'\"")
        if _NUM.match(q):
            f = float(q)
            out.append(int(f) if re.fullmatch(r"[-+]?\d+", q) else f)
        elif numeric and q in _DIGITISH:
            out.append(int(_DIGITISH[q]))          # an OCR slip inside a list of numbers: [o, 2]
        elif re.fullmatch(r"[A-Za-z][\w .-]{0,40}", q) and (p[0] in "'\"" or not numeric):
            out.append(q)
        else:
            return ()                               # not a list of values (code, prose)
    return tuple(out)


_CALLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("invoke_endpoint call", re.compile(r"invoke[\s_-]*endpoint", re.I)),
    ("gcloud predict", re.compile(r"gcloud\s+ai(?:[\s-]*platform)?\s+(?:endpoints\s+)?predict\b", re.I)),
    (":predict request", re.compile(r"(?:[:/]\s?predict\b(?!\s*\()|/\s?invocations\b)", re.I)),
    ("predict( call", re.compile(r"\bpredict(?:_proba)?\s*\(", re.I)),
    ("sagemaker-runtime", re.compile(r"sagemaker[\s-]*runtime", re.I)),
    ("console test request", re.compile(r"\btest\s*inference\b|\btest\s+your\s+model\b|\bsend\s+request\b", re.I)),
    ("HTTP request", re.compile(r"\brequests\s*\.\s*post\s*\(|\bcurl\b", re.I)),
)

CALL_ORDER = tuple(label for label, _ in _CALLS)     # most telling first (for quoting)

# (label, pattern, platform, how to show the match: None = the matched text, "name" = group 1 as
# "endpoint <name>", a string = that string)
_CLOUD: tuple[tuple[str, re.Pattern[str], str | None, str | None], ...] = (
    ("InService", re.compile(r"\bIn\s?Service\b", re.I), "aws", "InService"),
    ("SageMaker", re.compile(r"\bsage\s?maker\b", re.I), "aws", "SageMaker"),
    ("SageMaker ARN", re.compile(r"arn:aws:sagemaker:[\w-]*:?\s?\d{0,12}:?endpoint/([\w-]{2,63})", re.I), "aws", "name"),
    ("invocation answer", re.compile(r"InvokedProductionVariant", re.I), "aws", "InvokedProductionVariant"),
    ("instance type", re.compile(r"\bml\.[a-z0-9]{1,4}\.[a-z0-9]{4,10}\b", re.I), "aws", None),
    ("AWS region", re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il)-(?:east|west|north|south|central|northeast|"
                              r"southeast|northwest|southwest)-[1-9l]\b", re.I), "aws", None),
    ("Vertex AI", re.compile(r"\bvertex\s?a[il1]\b", re.I), "gcp", "Vertex AI"),
    ("AI Platform", re.compile(r"\bai[\s-]?platform\b", re.I), "gcp", "AI Platform"),
    ("Google API endpoint", re.compile(r"(?:aiplatform|ml)\.googleapis\.com", re.I), "gcp", None),
    ("deployedModelId", re.compile(r"deployed\s?Model\s?Id", re.I), "gcp", "deployedModelId"),
    ("GCP region", re.compile(r"\b(?:us|europe|asia|australia|northamerica|southamerica|me|africa)-(?:central|east|"
                              r"west|north|south|northeast|southeast|southwest|northwest)(?:[1-9]{1,2}|l)(?![\w])", re.I),
     "gcp", None),
    ("Google Cloud console", re.compile(r"\bgoogle\s+cloud\b", re.I), "gcp", "Google Cloud console"),
    ("gcloud", re.compile(r"\bgcloud\b", re.I), "gcp", "gcloud"),
    ("endpoint", re.compile(r"\b(?:endpoint[\s_-]?name|EndpointName)\s*[=:]?\s*[\"']?([A-Za-z0-9][\w-]{2,62})", re.I),
     None, "name"),
    ("endpoint", re.compile(r"(?:\bendpoint\s+ID\s*:?\s*|endpoints/\s?)(\d{5,})", re.I), None, "name"),
    ("endpoint", re.compile(r"\b([A-Za-z0-9][\w-]{1,60}-endpoint)\b", re.I), None, "name"),
    ("console page", re.compile(r"\b(?:endpoint configurations?|endpoint summary|endpoints\s*\(\d+\)|online prediction|"
                                r"model registry|models\s*\(\d+\))", re.I), None, None),
    ("notebook cell", re.compile(r"\bIn\s?\[\s?\d+\s?\]\s?:", re.I), None, "notebook cell"),
)
# Context that alone does not make an image about the cloud deployment.
WEAK_CLOUD = {"notebook cell", "gcloud"}

_ARRAY = re.compile(r"\barray\s*\(\s*(\[.*?\])(?:\s*,\s*dtype=[^)]*)?\s*\)?", re.I)
_PRED_KEY = re.compile(r"[\"']?\bpredictions?[\"']?\s*[:=]\s*(.*)$", re.I)
_PRED_LABEL = re.compile(r"\b(predicted(?:\s+(?:class|label|value)s?)?|prediction(?:\s+result)?s?|result)\s*[:=]\s*"
                         r"(.+)$", re.I)
_OUT_CELL = re.compile(r"\b[O0o]ut\s?\[\s?\d+\s?\]\s?:?\s*(.*)$")
_BARE_LIST = re.compile(r"^(?:b?[\"'])?(\[.*\])(?:[\"'])?[.,;]?$")
_PAREN_LIST = re.compile(r"^[\[(]\s*([^()\[\]]{1,200})[\])]$")
_COMMAND_CALLS = {"invoke_endpoint call", "gcloud predict", ":predict request", "predict( call"}
_INPUT_HINT = re.compile(r"\b(?:request|instances|input|body|payload|data\s*=|json\s*=|-d\b|features?|x_test|"
                         r"sample)", re.I)
_OUTPUT_HINT = re.compile(r"\b(?:response|result|output|answer|predictions?|[O0o]ut\s?\[|cat\s+\S+)", re.I)
_CHART_WORDS = re.compile(r"\b(?:accuracy|loss|epochs?|importance|confusion|matrix|histogram|frequency|count|"
                          r"distribution|correlation|heatmap|roc|auc|precision|recall|residuals?|score|axis|"
                          r"feature|figure|plot)\b", re.I)
_REAL_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def _bracketed(lines: list[str], i: int, start: str, used: list[int] | None = None) -> str:
    """The text of a bracketed list starting in ``start`` (rest of line i), continued over up to 8 lines;
    ``used[0]`` is set to the last line it took."""
    buf = start
    j = i
    while buf.count("[") > buf.count("]") and j + 1 < len(lines) and j - i < 8:
        j += 1
        buf += " " + lines[j]
    if used is not None:
        used[0] = j
    return buf


def _first_list(s: str) -> str:
    """The first bracketed list of ``s`` (``[ 0 ], "model": ...`` -> ``[ 0 ]``), or its first scalar."""
    s = s.strip()
    if not s.startswith("["):
        return re.split(r"[,}\s]", s, maxsplit=1)[0]
    depth = 0
    for k, ch in enumerate(s):
        depth += (ch == "[") - (ch == "]")
        if depth == 0:
            return s[:k + 1]
    return s


def _is_input(lines: list[str], i: int, values: tuple[Value, ...], nested_rows: int) -> bool:
    """Is the list on line i what was sent (features) rather than what came back?"""
    line = lines[i]
    if re.search(r"predict\w*\s*\(|\b(?:instances|body|data|json|payload)\s*[=:]|\s(?:-d|--data\S*)\s", line, re.I):
        return True
    before = " ".join(lines[max(0, i - 2):i])
    if _OUTPUT_HINT.search(before) or _OUTPUT_HINT.search(line):
        return False
    command = " ".join(lines[max(0, i - 4):i])
    if re.search(r"using endpoint", command, re.I) or any(rx.search(command) for label, rx in _CALLS
                                                          if label not in ("predict( call", "console test request")):
        return False          # right below a gcloud / curl / invoke-endpoint command: its output
    if _INPUT_HINT.search(before):
        return True
    # a table of features (rows of 3+ numbers) is what is sent, not what comes back
    return nested_rows > 0 and len(values) >= 3 * nested_rows and all(isinstance(v, float) for v in values[:3])


def classify_text(text: str) -> TextFacts:
    """What OCR text shows: a prediction, cloud context only, or nothing related."""
    lines = normalise(text)
    calls: list[Evidence] = []
    outputs: list[Evidence] = []
    cloud: list[Evidence] = []
    values: tuple[Value, ...] = ()
    platforms: list[str] = []
    seen_labels: set[str] = set()
    strong_output = False
    consumed = [-1]                        # last line taken by a multi-line list

    def add(kind: str, label: str, line: str, pos: int | None = None, shown: str = "") -> None:
        key = f"{kind}:{label}:{shown.lower()}" if kind == "cloud" else f"{kind}:{label}"
        if key in seen_labels or (kind == "cloud" and len(cloud) >= 12):
            return
        seen_labels.add(key)
        ev = Evidence(kind, label, sanitise(line, around=pos), sanitise(shown, 60))  # type: ignore[arg-type]
        (calls if kind == "call" else outputs if kind == "output" else cloud).append(ev)

    for i, line in enumerate(lines):
        for label, rx in _CALLS:
            m = rx.search(line)
            if m:
                if label == "HTTP request" and not any(r.search(" ".join(lines[i:i + 4])) for _, r in _CALLS[2:3]):
                    continue   # curl / requests.post only count with a predict / invocations URL nearby
                add("call", label, line, m.start())
        for label, rx, plat, how in _CLOUD:
            m = rx.search(line)
            if m:
                shown = f"endpoint {m.group(1)}" if how == "name" else how or m.group(0)
                if label.endswith("region") and shown.endswith("l"):
                    shown = shown[:-1] + "1"            # an OCR slip: us-centrall -> us-central1
                add("cloud", label, line, m.start(), shown)
                if plat:
                    platforms.append(plat)
        # ---- outputs, most specific first; the last one found wins for the values
        if i <= consumed[0]:
            continue                      # continuation lines of a list already read
        m = _ARRAY.search(line)
        if m:
            vals = parse_values(_bracketed(lines, i, m.group(1), consumed))
            if vals and not re.search(r"predict\w*\s*\(", line[:m.start()], re.I):
                add("output", "array([...]) output", line, m.start())
                values, strong_output = vals, True
                continue
        m = _PRED_KEY.search(line)
        if m and not re.search(r"predict\w*\s*\(", line, re.I):
            rest = m.group(1).strip()
            buf = _bracketed(lines, i, rest, consumed) if rest else " ".join(lines[i + 1:i + 8])
            first = _first_list(buf)
            vals = parse_values(first)
            shown = line if (not rest or "]" in rest or not rest.startswith("[")) and rest else \
                f"{line[:m.end(1) - len(m.group(1))].rstrip()} {first}"
            add("output", '"predictions" in a response', shown, m.start())
            strong_output = True
            if vals:
                values = vals
            continue
        m = _OUT_CELL.search(line)
        if m:
            rest = m.group(1).strip() or (lines[i + 1] if i + 1 < len(lines) else "")
            am = _ARRAY.search(rest)
            vals = parse_values(_bracketed(lines, i, am.group(1), consumed)) if am else \
                parse_values(rest) if rest.startswith("[") or _NUM.match(rest.strip("'\"")) else ()
            add("output", "notebook Out[n] output", line + ("" if m.group(1).strip() else " " + rest), m.start())
            strong_output = True
            if vals:
                values = vals
            continue
        m = _BARE_LIST.match(line)
        if m:
            buf = _bracketed(lines, i, m.group(1), consumed)
            vals = parse_values(buf)
            rows = buf.count("[") - 1 if buf.startswith("[[") else 0
            if vals and not _is_input(lines, i, vals, rows):
                add("output", "printed list of predictions", line)
                values = vals
            continue
        m = _PAREN_LIST.match(line)
        if m and any(rx.search(" ".join(lines[max(0, i - 3):i])) for label, rx in _CALLS if label in _COMMAND_CALLS):
            # "(0, 2)" or "[0, 2)" right below a predict call: Tesseract often misreads small square brackets
            vals = parse_values(m.group(1))
            if vals and len(vals) <= 50:
                add("output", "printed list of predictions", line)
                values = vals
                continue
        m = _PRED_LABEL.search(line)
        if m and not re.search(r"predict\w*\s*\(", line, re.I):
            vals = parse_values(m.group(2).split("#")[0]) if len(m.group(2)) < 80 else ()
            if vals:
                add("output", "printed prediction", line, m.start())
                values = vals
                # "Prediction: [0 2]" says what it is; a bare "result: 2" does not
                strong_output = strong_output or m.group(1).lower().startswith("predict")
    if any(e.label == "invocation answer" for e in cloud):
        add("output", "invoke-endpoint answer (InvokedProductionVariant)",
            next(e.snippet for e in cloud if e.label == "invocation answer"))
        strong_output = True
    words = len(_REAL_WORD.findall(" ".join(lines)))
    specific_cloud = [e for e in cloud if e.label not in WEAK_CLOUD]
    platform = None
    if platforms:
        platform = max(set(platforms), key=platforms.count)
    if outputs:
        note = ""
        if not calls and not specific_cloud:
            note = ("only the output is visible, not the call or the endpoint: next time include the request "
                    "and the endpoint name in the screenshot")
        elif not specific_cloud and all(e.label in ("predict( call",) for e in calls):
            note = ("no endpoint or cloud console is visible: make sure the prediction comes from the deployed "
                    "endpoint, not from the model in your notebook")
        if strong_output or calls or specific_cloud:
            return TextFacts("prediction", tuple(calls), tuple(outputs), tuple(cloud), values, platform, words, note)
        # a printed list alone (no call, no endpoint, no response key): not evidence of a deployment
        return TextFacts("unrelated", (), tuple(outputs), tuple(cloud), values, platform, words, note)
    if calls or specific_cloud:
        return TextFacts("cloud", tuple(calls), (), tuple(cloud), (), platform, words)
    return TextFacts("unrelated", tuple(calls), (), tuple(cloud), (), platform, words)


def seems_like(stats: ImageStats | None, facts: TextFacts | None, text: str) -> str:
    """What an unrelated image looks like, for the student's message."""
    lines = normalise(text)
    if facts is not None and facts.outputs:
        shown = ", ".join(str(v) for v in facts.values[:6]) or facts.outputs[0].snippet
        return f"printed values ({shown}) without the call or the endpoint that produced them"
    words = facts.words if facts else len(_REAL_WORD.findall(" ".join(lines)))
    ticks = sum(1 for ln in lines for tok in ln.split() if _NUM.match(tok))
    chart_words = len(_CHART_WORDS.findall(" ".join(lines)))
    if (chart_words >= 1 and ticks >= 3) or (ticks >= 6 and words <= 30) or chart_words >= 3:
        return "a chart or plot"
    if words < 3:
        if stats is None:
            return "a picture without readable text"
        squarish = abs(stats.width - stats.height) < 0.3 * max(stats.width, stats.height)
        if stats.transparent >= 0.2 or (stats.colours <= 40 and stats.dominant >= 0.5 and squarish
                                        and max(stats.width, stats.height) <= 1024):
            return "a logo or icon"
        if stats.dominant >= 0.85:
            return "an almost empty page"
        if stats.dominant < 0.4:
            return "a photo or picture"
        return "a picture without readable text"
    return "text that shows no prediction call or output"


# ------------------------------------------------------------------------------------ plausibility

def _same(a: Value, b: Value) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a).strip().lower() == str(b).strip().lower()
    return abs(float(a) - float(b)) < 1e-9


def plausibility(values: Sequence[Value], known: KnownOutputs | None) -> Plausibility:
    """Are the values in the screenshot something this model can predict?"""
    if not values or known is None or (not known.classes and not known.local_values):
        return Plausibility(None, "")
    shown = ", ".join(str(v) for v in values[:6]) + (", …" if len(values) > 6 else "")
    if known.classes:
        classes = ", ".join(str(c) for c in known.classes[:10]) + (", …" if len(known.classes) > 10 else "")
        bad = [v for v in values if not any(_same(v, c) for c in known.classes)]
        if not bad:
            return Plausibility(True, f"the values shown ({shown}) are among this model's classes ({classes})")
        return Plausibility(False, f"{bad[0]} is not one of this model's classes ({classes}, from "
                                   f"{known.source or 'the model'}): is this screenshot from this model?")
    local = known.local_values or ()
    kinds_shown = {isinstance(v, str) for v in values}
    kinds_local = {isinstance(v, str) for v in local}
    if kinds_shown != kinds_local:
        what = "labels" if True in kinds_local else "numbers"
        return Plausibility(False, f"the screenshot shows {shown} but this model predicts {what} "
                                   f"({', '.join(map(str, local[:6]))} for the sample request): is it from this model?")
    if True not in kinds_local and all(float(v).is_integer() for v in local) \
            and not all(float(v).is_integer() for v in values):
        return Plausibility(False, f"the screenshot shows {shown} but this model predicts whole numbers "
                                   f"({', '.join(map(str, local[:6]))} for the sample request)")
    return Plausibility(True, f"the values shown ({shown}) are of the kind this model predicts "
                              f"({', '.join(map(str, local[:6]))} for the sample request)")


# ------------------------------------------------------------------------------------ adapter
# The ONLY place that calls other deploycheck modules (README parsing, deploy scripts, safe reads,
# the pickle scan). Re-point these when the analysis modules move.

@dataclass(frozen=True)
class FolderInputs:
    readme: str | None                              # repo-relative README path
    readme_images: tuple[tuple[str, int], ...]      # (src as written, line)
    code: tuple[tuple[str, str, int], ...]          # (repo-relative file, python/shell code, first line)


def _folder_inputs(folder: DeployFolder) -> FolderInputs:
    facts = folder.facts
    doc = facts.readme
    images: tuple[tuple[str, int], ...] = ()
    code: list[tuple[str, str, int]] = []
    if doc is not None and not doc.problem:
        images = tuple((str(src), int(line)) for src, line in doc.images)
        code.extend((doc.path, b.content, b.line) for b in doc.code_blocks)
    for src in facts.scripts:
        code.append((folder.repo_rel(src.rel), src.text, src.first_line))
    return FolderInputs(doc.path if doc is not None else None, images, tuple(code))


def _read(repo: Path, rel: str) -> tuple[bytes | None, str | None, bool]:
    """(data, problem, truncated): at most MAX_BYTES+1 bytes of a regular file, no symlink followed."""
    from deploycheck import files
    b = files.read_bytes(repo, rel, limit=MAX_BYTES + 1)
    return b.data, b.problem, b.truncated


def _link_helpers() -> tuple[Callable[[str], str], Callable[[str], bool], Callable[[Path, Path], str]]:
    """(clean_link, is_local_name, path_status) of the README reference rules."""
    from deploycheck.analysis.refs import clean_link, is_local_name
    from deploycheck.files import path_status
    return clean_link, is_local_name, path_status


def model_outputs(folder: DeployFolder) -> KnownOutputs | None:
    """The model's classes when the pickle scan exposes them (``ArtifactInfo.classes``; not yet: the
    scan skips array data, see the report of issue 12), else None."""
    try:
        info = folder.facts.artifact
    except Exception:  # noqa: BLE001 - any failure here just means "unknown"
        return None
    classes = getattr(info, "classes", None) if info is not None else None
    if classes:
        return KnownOutputs(classes=tuple(classes), source="the pickle's classes_")
    return None


# ------------------------------------------------------------------------------------ candidates

_GITHUB_UPLOAD = re.compile(r"^https?://(?:(?:private-)?user-images\.githubusercontent\.com/|"
                            r"github\.com/user-attachments/(?:assets|files)/|github\.com/[^/\s]+/[^/\s]+/assets/)", re.I)
_GITHUB_FILE = re.compile(r"^https?://(?:raw\.githubusercontent\.com/[^/]+/[^/]+/[^/]+/|github\.com/[^/]+/[^/]+/"
                          r"(?:raw|blob)/[^/]+/)(?P<path>[^?#]+)", re.I)
_ASSET_DIRS = {"static", "public", "assets", "node_modules", "dist", "build", "_site", "site-packages"}
_ASSET_NAME = re.compile(r"^(?:logo|favicon|apple-touch-icon|android-chrome|mstile|safari-pinned-tab)", re.I)
_PROOF_WORDS = ("screenshot", "screen", "shot", "proof", "predict", "result", "output", "endpoint", "invoke",
                "inference", "response", "capture", "curl", "test")
# Calls that write a generated image (plots, arrays). A plain ``.save(...)`` is left out: a student may
# save a real screenshot with it (``pyautogui.screenshot().save("proof.png")``).
_WRITES = re.compile(r"\b(savefig|imsave|imwrite|write_image|write_png)\s*\(\s*(?:[rfbu]{1,2})?"
                     r"([\"'])([^\"'\n]{1,200}?\.(?:png|jpe?g|gif|webp|bmp))\2", re.I)


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _written_images(inputs: FolderInputs, folder_rel: str) -> list[tuple[str, str]]:
    """(glob of repo-relative path or base name, "train.py line 12 (savefig)") for images code writes."""
    out: list[tuple[str, str]] = []
    for rel, text, first in inputs.code:
        for m in _WRITES.finditer(text[:2_000_000]):
            target = m.group(3).replace("\\", "/")
            pattern = re.sub(r"\{[^}]*\}", "*", target)
            line = first + text.count("\n", 0, m.start())
            where = f"{rel} line {line} ({m.group(1)})"
            base = PurePosixPath(rel).parent.as_posix()
            full = os.path.normpath(f"{base}/{pattern}" if base not in ("", ".") else pattern).replace("\\", "/")
            out.append((full, where))
            out.append((PurePosixPath(pattern).name, where))
            if folder_rel:
                out.append((os.path.normpath(f"{folder_rel}/{pattern}").replace("\\", "/"), where))
    return out


def _exclusion(path: str, folder_rel: str, embedded: bool, written: list[tuple[str, str]]) -> str | None:
    name = PurePosixPath(path).name
    for pat, where in written:
        if ("/" in pat and fnmatchcase(path, pat)) or ("/" not in pat and fnmatchcase(name, pat)):
            return f"a generated image ({where} writes it)"
    if _ASSET_NAME.match(name):
        return "a logo or icon (by its name)"
    if not embedded:
        inner = path[len(folder_rel) + 1:] if folder_rel and path.startswith(folder_rel + "/") else path
        parts = [p.lower() for p in PurePosixPath(inner).parts[:-1]]
        hit = next((p for p in parts if p in _ASSET_DIRS), None)
        if hit:
            return f"a static web asset (in {hit}/)"
    return None


def _rank(c: Candidate) -> tuple:
    """README-embedded images first, in README order; then the folder's, proof-like names first."""
    if c.origin == "readme":
        return (c.excluded is not None, 0, c.readme_line or 0, c.path)
    name = PurePosixPath(c.path).name.lower()
    return (c.excluded is not None, 1, not any(w in name for w in _PROOF_WORDS), c.path.count("/"), c.path)


def find_candidates(folder: DeployFolder, inputs: FolderInputs | None = None) -> tuple[tuple[Candidate, ...], tuple[str, ...]]:
    """(candidates in preference order, image symlinks in the folder). Nothing is decoded here."""
    clean_link, is_local_name, path_status = _link_helpers()
    inputs = inputs or _folder_inputs(folder)
    repo = Path(folder.repo)
    frel = folder.rel if folder.rel not in ("", ".") else ""
    written = _written_images(inputs, frel)
    out: list[Candidate] = []
    seen: set[str] = set()
    for src, line in inputs.readme_images:
        if len(out) >= MAX_CANDIDATES:
            break
        raw = src.strip().strip("<>")
        gh = _GITHUB_FILE.match(raw)
        bases: tuple[Path, ...] = (Path(folder.path), repo)
        if gh:                              # a link to a file of (presumably) this repo: read it here
            name, bases = clean_link(gh.group("path")), (repo,)
        elif _GITHUB_UPLOAD.match(raw):
            if raw not in seen:
                seen.add(raw)
                out.append(Candidate(raw, "readme", line, remote=True))
            continue
        else:
            name = clean_link(src)
            if name.startswith("/") and not name.startswith("//"):      # GitHub: relative to the repo root
                name, bases = name.lstrip("/"), (repo,)
        if not is_local_name(name) or not _is_image_name(name):
            continue
        for base in bases:
            p = Path(os.path.normpath(base / name))
            try:
                rel = p.relative_to(repo).as_posix()
            except ValueError:
                continue
            st = path_status(repo, p)
            if st in ("ok", "escapes"):
                if rel not in seen:
                    seen.add(rel)
                    out.append(Candidate(rel, "readme", line, excluded=_exclusion(rel, frel, True, written)))
                break
    for f in folder.files:
        if not _is_image_name(f):
            continue
        rel = f"{frel}/{f}" if frel else f
        if rel in seen:
            continue
        seen.add(rel)
        out.append(Candidate(rel, "folder", excluded=_exclusion(rel, frel, False, written)))
    out.sort(key=_rank)
    links = tuple(f"{frel}/{r}" if frel else r for r in sorted(folder.symlinks) if _is_image_name(r))
    return tuple(out[:MAX_CANDIDATES]), links


# ------------------------------------------------------------------------------------ facts

_ORDER = {"prediction": 0, "remote": 1, "not_read": 2, "cloud": 3, "unrelated": 4, "unusable": 5,
          "excluded": 6, "not_examined": 7}


def _stats(doc: Mapping[str, Any]) -> ImageStats | None:
    if "width" not in doc:
        return None
    return ImageStats(int(doc.get("width") or 0), int(doc.get("height") or 0), str(doc.get("format") or ""),
                      float(doc.get("stddev") or 0.0), int(doc.get("colours") or 0),
                      float(doc.get("dominant") or 0.0), float(doc.get("transparent") or 0.0))


PROBLEMS = {
    "too_small": "is {w}×{h} pixels, too small to show anything",
    "too_large": "is {w}×{h} pixels, too large to check",
    "bomb": "declares an enormous size (a decompression bomb) and was not decoded",
    "blank": "is blank (a single colour)",
}


def _problem_text(doc: Mapping[str, Any]) -> str:
    p = str(doc.get("problem") or "")
    w, h = doc.get("width", 0), doc.get("height", 0)
    if p in PROBLEMS:
        return PROBLEMS[p].format(w=w, h=h)
    if p.startswith("unreadable"):
        kind = p.partition(":")[2]
        return f"is not a readable image{f' ({kind})' if kind else ''}"
    return p


def examine(repo: Path, c: Candidate, eng: OcrEngine) -> tuple[ImageFacts, str]:
    """Facts about one candidate image (reads, decodes and OCRs it, through the cache). Never raises."""
    data, problem, truncated = _read(repo, c.path)
    if data is None:
        return ImageFacts(c, "unusable", problem=problem or "cannot be read"), ""
    if truncated or len(data) > MAX_BYTES:
        return ImageFacts(c, "unusable", problem=f"is larger than {MAX_BYTES // 1_000_000} MB"), ""
    doc, cached, note = read_image(data, eng)
    sha = hashlib.sha256(data).hexdigest()
    stats = _stats(doc)
    if doc.get("problem"):
        return ImageFacts(c, "unusable", problem=_problem_text(doc), stats=stats, cached=cached, sha256=sha), note
    if doc.get("machine_error") or doc.get("ocr_error"):
        why = str(doc.get("machine_error") or doc.get("ocr_error"))
        return ImageFacts(c, "not_read", problem=f"OCR failed: {why}", stats=stats, cached=cached, sha256=sha), note
    if not eng.available or "text" not in doc:
        return ImageFacts(c, "not_read", problem=eng.detail, stats=stats, cached=cached, sha256=sha), note
    raw = str(doc.get("text") or "")
    facts = classify_text(raw)
    text = redact("\n".join(normalise(raw)))[:TEXT_LIMIT]
    seems = seems_like(stats, facts, raw) if facts.classification == "unrelated" else ""
    return ImageFacts(c, facts.classification, stats=stats, text=text, facts=facts, seems=seems,
                      cached=cached, sha256=sha), note


def screenshot_facts(folder: DeployFolder, max_ocr: int = MAX_OCR) -> ScreenshotFacts:
    """Everything about the folder's proof screenshot (use ``folder.facts.screenshot``: computed once)."""
    eng = engine()
    inputs = _folder_inputs(folder)
    cands, links = find_candidates(folder, inputs)
    repo = Path(folder.repo)
    images: list[ImageFacts] = []
    notes: list[str] = []
    read = 0
    found = False
    for c in cands:
        if c.excluded:
            images.append(ImageFacts(c, "excluded", problem=c.excluded))
            continue
        if c.remote:
            images.append(ImageFacts(c, "remote", problem="a remote image, not checked (deploycheck reads no "
                                                            "images from the network)"))
            continue
        if found or read >= max_ocr:
            images.append(ImageFacts(c, "not_examined"))
            continue
        fi, note = examine(repo, c, eng)
        if note:
            notes.append(note)
        if fi.classification != "unusable":
            read += 1
        images.append(fi)
        found = fi.classification == "prediction"
    best = min((i for i in images if i.classification not in ("excluded", "not_examined")),
               key=lambda i: _ORDER[i.classification], default=None)
    return ScreenshotFacts(folder.rel, folder.platform, eng, cands, tuple(images), best, links,
                           notes[0] if notes else "")


def clear_cache() -> None:
    """Forget this process's engine probe (the on-disk OCR cache stays)."""
    with _ENGINE_LOCK:
        _ENGINE_MEMO.clear()


__all__ = ["OcrEngine", "Candidate", "ImageStats", "Evidence", "TextFacts", "ImageFacts", "KnownOutputs",
           "Plausibility", "ScreenshotFacts", "engine", "cache_dir", "read_image", "classify_text", "seems_like",
           "plausibility", "find_candidates", "CALL_ORDER", "WEAK_CLOUD", "examine", "screenshot_facts",
           "model_outputs", "normalise", "redact", "sanitise", "parse_values", "header_size", "clear_cache",
           "atomic_write", "STATS"]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.stdout.write(json.dumps(_worker_main(json.loads(sys.argv[2]))))
        sys.stdout.flush()
        sys.exit(0)
    sys.stderr.write("usage: python screenshot.py --worker CONFIG_JSON < image (internal)\n")
    sys.exit(2)
