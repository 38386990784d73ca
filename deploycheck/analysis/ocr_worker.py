"""The image worker of :mod:`deploycheck.analysis.ocr`: decodes one untrusted image, measures it and reads
it with Tesseract, in its own short-lived process.

    python -I -S ocr_worker.py --worker CONFIG_JSON < image bytes   ->   one JSON object on stdout

It first lowers its own rlimits (address space, CPU seconds, file size, open files, no core dumps); the
grader runs it in its own session, with an allowlisted environment, and kills its whole group after
the wall-clock limit. Tesseract is its child and inherits the limits.

Start-up is most of a small image's cost, so this file imports only the standard library at start
(``-I -S``: no site, no user site, no PYTHON* variables) and puts on ``sys.path`` only the folders
the config names (where Pillow and pytesseract are installed).
"""
from __future__ import annotations

import io
import json
import sys
from typing import Any, Mapping


def work(cfg: Mapping[str, Any]) -> dict[str, Any]:
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
            img = Image.open(io.BytesIO(data), formats=tuple(cfg["formats"]))
            w, h = img.size
            out.update(width=w, height=h, format=img.format or "")
            if w * h > cfg["max_pixels"]:
                return dict(out, problem="too_large")
            img.seek(0)                       # first frame of a GIF / WebP animation
            img.load()
            opaque = img.mode in ("1", "L", "RGB", "CMYK", "YCbCr", "I", "F") and "transparency" not in img.info
            rgba = img.convert("RGB" if opaque else "RGBA")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return dict(out, problem="bomb")
    except MemoryError:
        return dict(out, ocr_error="decoding needed more memory than the worker's limit")
    except Exception as e:  # noqa: BLE001 - truncated or corrupt
        return dict(out, problem=f"unreadable:{type(e).__name__}")
    # transparent pixels count as white (an opaque image is its own composite: skipped, same result)
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
    out.update(stddev=round(ImageStat.Stat(small).stddev[0], 3), colours=len(colours),
               dominant=round(max((c for c, _ in colours), default=n) / n, 4), transparent=round(transparent, 4))
    if out["stddev"] < cfg["blank_stddev"]:
        return dict(out, problem="blank")
    if not cfg.get("tesseract"):
        return out
    scale = 1.0
    if max(w, h) <= cfg["upscale_max_side"] and w * h * 4 <= cfg["ocr_max_pixels"]:
        scale = 2.0
    elif w * h > cfg["ocr_max_pixels"]:
        scale = (cfg["ocr_max_pixels"] / (w * h)) ** 0.5
    if scale != 1.0:
        gray = gray.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.Resampling.LANCZOS)
    out["ocr_size"] = [gray.width, gray.height]
    if cfg.get("engine") == "tesserocr":
        # Tesseract as a library, in this process: no program to start, no temporary image
        try:
            import tesserocr
            with tesserocr.PyTessBaseAPI(path=cfg["tessdata"], lang="eng", psm=int(cfg["psm"])) as api:
                api.SetImage(gray)
                out["text"] = api.GetUTF8Text()
                out["read_by"] = "tesserocr"
        except MemoryError:
            return dict(out, ocr_error="reading needed more memory than the worker's limit")
        except Exception as e:  # noqa: BLE001 - a broken installation or data file
            return dict(out, ocr_error=f"{type(e).__name__}: {str(e)[:200]}")
        return out
    # pytesseract imports numpy and pandas when present (0.25 s per worker) only for other output types
    for heavy in ("numpy", "pandas"):
        sys.modules.setdefault(heavy, None)  # type: ignore[arg-type]
    import pytesseract
    pytesseract.pytesseract.tesseract_cmd = cfg["tesseract"]
    # pytesseract hands Tesseract a temp file in the image's format (PNG when it has none): the same
    # pixels as an uncompressed BMP are written in a tenth of the time and read as fast
    gray.format = "BMP"
    try:
        text = pytesseract.image_to_string(gray, lang="eng", config="--psm " + str(cfg["psm"]),
                                           timeout=cfg["ocr_timeout"])
    except RuntimeError as e:                 # pytesseract's timeout
        return dict(out, ocr_error=f"timeout ({e})")
    except Exception as e:  # noqa: BLE001 - tesseract crashed / was killed by a limit
        return dict(out, ocr_error=f"{type(e).__name__}: {str(e)[:200]}")
    out["text"] = text
    out["read_by"] = "tesseract"
    return out


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--worker":
        cfg = json.loads(argv[2])
        sys.path[:0] = [p for p in cfg.get("paths", []) if p not in sys.path]
        sys.stdout.write(json.dumps(work(cfg)))
        sys.stdout.flush()
        return 0
    sys.stderr.write("usage: python ocr_worker.py --worker CONFIG_JSON < image (internal)\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
