"""Reading one untrusted image, INSIDE the sandbox (job ``ocr_job:read``, run with the grader's own
Python: Pillow and, where installed, the ``tesserocr`` binding come from its site-packages).

The grader (:mod:`deploycheck.analysis.ocr`) checks the image's header, then runs this job in a fresh
child of the OCR fork server (:mod:`deploycheck.sandbox`: bubblewrap, no network, its own user, PID,
mount, IPC and UTS namespaces, a job tmpfs, rlimits of address space and CPU, a wall clock). The
server imports this module once (its ``preload``): Pillow's decoders and Tesseract's English model are
loaded before any job, so a job is a fork, not a start-up.

One job reads one image (``folder/<name>``):

1. **Decode** with the screenshot formats only (PNG, JPEG, GIF, WebP, BMP), the first frame, at most
   ``max_pixels`` (a JPEG is decoded at a reduced size when it is much larger than what is read).
2. **Measure**: size, grey-level spread (blank), colours, the share of the most common one (a photo has
   no large flat area), transparency, the median grey level (a dark theme), the share of sharp edges
   in full-resolution tiles (random noise, which no OCR can read and which makes it run for minutes)
   and deploycheck's own mark (a PNG text chunk of its proof images).
3. **Prepare** one variant: ``screen`` (grey, inverted when dark, contrast stretched, x2 for 1x
   screenshots, Tesseract's Otsu threshold) or ``photo`` (the same, scaled so the long side is
   :data:`PHOTO_SIDE`, Tesseract's Sauvola threshold, which copes with glare and vignetting), never
   more than ``ocr_max_pixels``.
4. **Read** with Tesseract (the library, or the ``tesseract`` program's TSV output): words with their
   confidence and box, grouped in lines. Words that look like numbers or brackets (``8,``, ``®``,
   ``oe``) and were read with little confidence are read again on their own, larger, with only digits
   and brackets allowed; the more confident reading wins. A monospace ``0`` with a dot or slash is
   what OCR misreads most (``@``, ``®``, ``8``), and the digits are what the grader compares.

Returns a JSON dict (the keys :mod:`deploycheck.analysis.ocr` documents). Never raises for a bad image.
"""
import glob
import io
import os
import re
import signal
import subprocess
import time

try:
    from PIL import Image, ImageChops, ImageOps, ImageStat
    Image.preinit()
except ImportError:          # the job reports it
    Image = None  # type: ignore[assignment]

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
PHOTO_SIDE = 2400            # long side of a photo as it is read
EDGE_STEP = 48               # grey-level step that counts as a sharp edge
WORD_REREADS = 10            # words read again per image at most
REREAD_BELOW = 80.0          # word confidence under which a number-like word is read again
REREAD_SCALES = (1.5, 2.0, 3.0)
DIGITS = "0123456789.,-[](){}"
_NUMISH = re.compile(r"^[\[\](){}.,;:\-+0-9@®©OoQDeJjl|I]+$")
_HAS_DIGITISH = re.compile(r"[0-9@®©OoQD]")
_ZERO_LIKE = "689@®©OoQD"


def _find_tessdata():
    """The folder holding eng.traineddata where distributions put it (the job sees /usr only)."""
    pats = [os.environ.get("TESSDATA_PREFIX", ""), "/usr/share/tesseract-ocr/*/tessdata", "/usr/share/tessdata",
            "/usr/local/share/tessdata", "/usr/share/tesseract/tessdata"]
    for pat in pats:
        for d in sorted(glob.glob(pat)) if pat else ():
            if os.path.isfile(os.path.join(d, "eng.traineddata")):
                return os.path.realpath(d)
    return ""


_APIS = {}


def _api(tessdata, psm):
    tessdata = os.path.realpath(tessdata)    # "/usr/share/tesseract-ocr/5/tessdata/" is the preloaded model's folder
    key = (tessdata, str(psm))
    if key not in _APIS:
        import tesserocr
        api = tesserocr.PyTessBaseAPI(path=tessdata, lang="eng", psm=int(psm))
        word = tesserocr.PyTessBaseAPI(path=tessdata, lang="eng", psm=7)      # one line: a re-read word
        word.SetVariable("tessedit_char_whitelist", DIGITS)
        _APIS[key] = (api, word)
    return _APIS[key]


try:                          # loaded once in the fork server (this module is its preload)
    import tesserocr  # noqa: F401
    _DEFAULT_DATA = _find_tessdata()
    if _DEFAULT_DATA:
        _api(_DEFAULT_DATA, "6")
except Exception:  # noqa: BLE001 - no binding, or no model: a job says so when it needs them
    _DEFAULT_DATA = ""


# ------------------------------------------------------------------------------------ decoding

def _decode(data, cfg, out):
    """(RGB or RGBA image, opaque?) or None with ``out["problem"]`` set."""
    Image.MAX_IMAGE_PIXELS = cfg["max_pixels"]
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            w, h = img.size
            out.update(width=w, height=h, format=img.format or "")
            mark = img.info.get(cfg.get("mark_key", "")) if cfg.get("mark_key") else None
            if isinstance(mark, str) and mark:
                out["mark"] = mark[:200]
            if w * h > cfg["max_pixels"]:
                out["problem"] = "too_large"
                return None
            if img.format == "JPEG" and w * h > 4 * cfg["ocr_max_pixels"]:
                img.draft("RGB", (w // 2, h // 2))          # decoded at half size or less: cheaper
            img.seek(0)
            img.load()
            opaque = img.mode in ("1", "L", "RGB", "CMYK", "YCbCr", "I", "F") and "transparency" not in img.info
            return img.convert("RGB" if opaque else "RGBA"), opaque
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        out["problem"] = "bomb"
    except MemoryError:
        out["ocr_error"] = "decoding needed more memory than the job's limit"
        out["limit"] = "memory"
    except Exception as e:  # noqa: BLE001 - truncated or corrupt
        out["problem"] = "unreadable:" + type(e).__name__
    return None


def _edge_share(gray):
    """Share of pixels with a sharp step to their right or lower neighbour, in up to three 384 px tiles at
    full resolution (the median tile): text on a screen ~0.02-0.2, random noise ~0.5 and more."""
    w, h = gray.size
    t = 384
    spots = [(0.5, 0.5), (0.25, 0.3), (0.75, 0.7)] if w > t and h > t else [(0.5, 0.5)]
    shares = []
    for fx, fy in spots:
        x0, y0 = max(0, min(w - t, int(fx * w - t / 2))), max(0, min(h - t, int(fy * h - t / 2)))
        tile = gray.crop((x0, y0, min(w, x0 + t), min(h, y0 + t)))
        if tile.width < 2 or tile.height < 2:
            continue
        right = ImageChops.difference(tile.crop((0, 0, tile.width - 1, tile.height)),
                                      tile.crop((1, 0, tile.width, tile.height)))
        down = ImageChops.difference(tile.crop((0, 0, tile.width, tile.height - 1)),
                                     tile.crop((0, 1, tile.width, tile.height)))
        n = 0
        total = 0
        for d in (right, down):
            hist = d.histogram()
            n += sum(hist[EDGE_STEP:])
            total += d.width * d.height
        shares.append(n / max(1, total))
    shares.sort()
    return shares[len(shares) // 2] if shares else 0.0


def measure(rgba, opaque, out):
    """Statistics of the image (the grader's facts); returns the grey image, white under transparency."""
    white = rgba
    if not opaque:
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
    thumb = rgba.copy()
    thumb.thumbnail((128, 128))
    n = thumb.width * thumb.height or 1
    transparent = 0.0
    flat = thumb
    if not opaque:
        alpha = thumb.getchannel("A").point(lambda a: 255 if a < 16 else 0)
        transparent = ImageStat.Stat(alpha).sum[0] / 255 / n
        flat = Image.new("RGBA", thumb.size, (255, 255, 255, 255))
        flat.alpha_composite(thumb)
    q = flat.convert("RGB").point(lambda v: v & 0xF0)
    colours = q.getcolors(4096) or []
    gray = white.convert("L")
    small = gray.copy()
    small.thumbnail((256, 256))
    hist = small.histogram()
    half, acc, median = sum(hist) / 2, 0, 0
    for median, c in enumerate(hist):
        acc += c
        if acc >= half:
            break
    out.update(stddev=round(ImageStat.Stat(small).stddev[0], 3), colours=len(colours),
               dominant=round(max((c for c, _ in colours), default=n) / n, 4), transparent=round(transparent, 4),
               median=median)
    return gray


# ------------------------------------------------------------------------------------ preparing

def prepare(gray, variant, cfg, out):
    """The grey image Tesseract reads for ``variant``, and the Tesseract settings it needs."""
    w, h = gray.size
    if out.get("median", 255) < 110:           # a dark theme (or a dark terminal): dark text on light
        gray = ImageOps.invert(gray)
        out["inverted"] = True
    if variant == "photo" or out.get("inverted"):
        gray = ImageOps.autocontrast(gray, cutoff=0.5)
    if variant == "photo":
        scale = PHOTO_SIDE / max(w, h)
    elif max(w, h) <= cfg["upscale_max_side"]:
        scale = 2.0                             # 1x screenshots: Tesseract reads small text better at x2
    else:
        scale = 1.0
    if w * h * scale * scale > cfg["ocr_max_pixels"]:
        scale = (cfg["ocr_max_pixels"] / (w * h)) ** 0.5
    if abs(scale - 1.0) > 0.01:
        gray = gray.resize((max(1, int(w * scale)), max(1, int(h * scale))),
                           Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX)
    out["ocr_size"] = [gray.width, gray.height]
    out["variant"] = variant
    return gray, {"thresholding_method": "2" if variant == "photo" else "0"}


# ------------------------------------------------------------------------------------ reading

class LimitReached(Exception):
    """The tesseract program was stopped by the job's CPU limit (the image's doing)."""


class _Word(object):
    __slots__ = ("text", "conf", "box", "line")

    def __init__(self, text, conf, box, line):
        self.text, self.conf, self.box, self.line = text, conf, box, line


def _words_tesserocr(gray, cfg, settings):
    import tesserocr
    api, _ = _api(cfg["tessdata"], cfg["psm"])
    for k, v in settings.items():
        api.SetVariable(k, v)
    api.SetImage(gray)
    api.Recognize()
    words = []
    line = -1
    it = api.GetIterator()
    level = tesserocr.RIL.WORD
    for r in tesserocr.iterate_level(it, level):
        text = r.GetUTF8Text(level)
        if r.IsAtBeginningOf(tesserocr.RIL.TEXTLINE):
            line += 1
        if text and text.strip():
            words.append(_Word(text.strip(), float(r.Confidence(level)), r.BoundingBox(level), max(line, 0)))
    return words


def _tesseract_cli(img, cfg, args):
    """Run the tesseract program on ``img``; its TSV output (raises on failure)."""
    buf = io.BytesIO()
    img.save(buf, "BMP")
    cmd = [cfg["tesseract"], "stdin", "stdout", "-l", "eng"] + args + ["tsv"]
    p = subprocess.run(cmd, input=buf.getvalue(), capture_output=True, timeout=cfg.get("cli_timeout", 120),
                       env={"PATH": "/usr/bin:/bin", "OMP_THREAD_LIMIT": "1", "LC_ALL": "C.UTF-8"})
    if p.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise LimitReached("cpu")            # RLIMIT_CPU, inherited from the job
    if p.returncode != 0:
        raise RuntimeError("tesseract exited with %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[:200]))
    return p.stdout.decode("utf-8", "replace")


def _words_cli(gray, cfg, settings):
    args = ["--psm", str(cfg["psm"])]
    for k, v in settings.items():
        args += ["-c", "%s=%s" % (k, v)]
    words = []
    lines = {}
    for row in _tesseract_cli(gray, cfg, args).splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or f[0] != "5" or not f[11].strip():
            continue
        key = (f[2], f[3], f[4])                     # block, paragraph, line
        lines.setdefault(key, len(lines))
        x, y, w, h = (int(v) for v in f[6:10])
        words.append(_Word(f[11].strip(), float(f[10]), (x, y, x + w, y + h), lines[key]))
    return words


def _reread(gray, word, cfg):
    """(text, confidence) of ``word`` read again on its own, digits and brackets only, at a few sizes
    (the library; the program once, at x2: each run loads the model again). The readings vote, each
    with its confidence, the first reading too: a dotted or slashed zero read as ``8`` once is read as
    ``0`` at most other sizes."""
    x0, y0, x1, y1 = word.box
    pad = max(4, (y1 - y0) // 5)
    crop = gray.crop((max(0, x0 - pad), max(0, y0 - pad), min(gray.width, x1 + pad), min(gray.height, y1 + pad)))
    votes = {word.text: word.conf}
    for scale in (REREAD_SCALES if cfg["engine"] == "tesserocr" else (2.0,)):
        c = crop.resize((max(1, int(crop.width * scale)), max(1, int(crop.height * scale))), Image.Resampling.LANCZOS)
        if cfg["engine"] == "tesserocr":
            _, api = _api(cfg["tessdata"], cfg["psm"])
            api.SetImage(c)
            text, conf = api.GetUTF8Text().strip(), float(api.MeanTextConf())
        else:
            tsv = _tesseract_cli(c, cfg, ["--psm", "7", "-c", "tessedit_char_whitelist=" + DIGITS])
            got = [(f[11].strip(), float(f[10])) for f in (r.split("\t") for r in tsv.splitlines()[1:])
                   if len(f) >= 12 and f[0] == "5" and f[11].strip()]
            text = " ".join(t for t, _ in got)
            conf = sum(x for _, x in got) / len(got) if got else 0.0
        if text and " " not in text:
            votes[text] = votes.get(text, 0.0) + conf
    best = max(votes, key=lambda t: votes[t])
    # a zero with a dot or a slash (DejaVu Sans Mono, Menlo, Consolas) is read as 8, 9, 6 or @ at some
    # sizes, while nothing else is read as 0 there: a reading with 0 where another has one of those wins
    for t in votes:
        if len(t) == len(best) and t != best and all(a == b or (a == "0" and b in _ZERO_LIKE) for a, b in zip(t, best)):
            best = t
    return best, (word.conf if best == word.text else min(99.0, votes[best] / max(1, len(votes))))


def read_text(gray, cfg, settings, out):
    words = (_words_tesserocr if cfg["engine"] == "tesserocr" else _words_cli)(gray, cfg, settings)
    rereads = 0
    for w in sorted((w for w in words if w.conf < REREAD_BELOW and _NUMISH.match(w.text)
                     and _HAS_DIGITISH.search(w.text)), key=lambda w: w.conf)[:WORD_REREADS]:
        w.text, w.conf = _reread(gray, w, cfg)
        rereads += 1
    lines = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    out["lines"] = [[" ".join(x.text for x in ws), round(sum(x.conf for x in ws) / len(ws), 1)]
                    for _, ws in sorted(lines.items())]
    out["text"] = "\n".join(t for t, _ in out["lines"])
    out["conf"] = round(sum(w.conf for w in words) / len(words), 1) if words else 0.0
    out["rereads"] = rereads
    out["read_by"] = cfg["engine"]


def read(ctx, name, cfg):
    """The job: decode, measure and (unless the engine is off) read ``folder/<name>``."""
    t0 = time.process_time()
    out = {}
    if Image is None:
        return {"ocr_error": "Pillow is not importable in the OCR sandbox"}
    with open(os.path.join(ctx.folder, name), "rb") as fh:
        data = fh.read(cfg["max_bytes"] + 1)
    got = _decode(data, cfg, out)
    if got is None:
        return out
    rgba, opaque = got
    del data
    gray = measure(rgba, opaque, out)
    del rgba
    if out["stddev"] < cfg["blank_stddev"]:
        out["problem"] = "blank"
        return out
    # a 64x64 grayscale thumbnail of the decoded image (4 KB): the grader computes perceptual hashes from it
    # (class integrity signals, deploycheck.analysis.fingerprint) without ever decoding the student's bytes
    import base64
    out["thumb"] = base64.b64encode(gray.resize((64, 64), Image.Resampling.BOX).tobytes()).decode("ascii")
    out["edges"] = round(_edge_share(gray), 4)
    if out["edges"] >= cfg["noise_edges"]:
        out["problem"] = "noise"
        return out
    if not cfg.get("engine") or cfg["engine"] == "none":
        return out
    variant = cfg.get("variant") or ("photo" if out["dominant"] < cfg["photo_dominant"] else "screen")
    gray, settings = prepare(gray, variant, cfg, out)
    if cfg["engine"] == "tesserocr" and not cfg.get("tessdata"):
        cfg = dict(cfg, tessdata=_DEFAULT_DATA)
    try:
        read_text(gray, cfg, settings, out)
    except MemoryError:
        return dict(out, ocr_error="reading needed more memory than the job's limit", limit="memory")
    except LimitReached:
        return dict(out, ocr_error="reading it ran out of its CPU time", limit="cpu")
    except Exception as e:  # noqa: BLE001 - a broken installation or data file
        return dict(out, ocr_error="%s: %s" % (type(e).__name__, str(e)[:200]))
    out["cpu_s"] = round(time.process_time() - t0, 3)
    return out
