"""The image worker of :mod:`deploycheck.analysis.ocr`: a small fork server that decodes each untrusted
image, measures it and reads it with Tesseract in a fresh child process of its own.

    python -I -S ocr_worker.py --server CONFIG_JSON      (frames on stdin -> frames on stdout)

The grader starts one server per process, with an allowlisted environment (never its credentials),
in its own session, with ``-I -S`` (no site, no user site, no PYTHON* variables) and only the folders
the config names on ``sys.path`` (where Pillow, pytesseract and tesserocr are installed). The server
imports Pillow and the OCR binding and loads Tesseract's English model once, and never touches an
image itself: for every request (a JSON header frame, then a frame of the image's bytes) it forks a child,
which starts its own session, lowers its rlimits (address space, CPU seconds, file size, open files,
no core dumps), decodes, measures and reads the image, and writes one JSON frame back. The server
kills the child's whole group (with the Tesseract program it may have started) when the request's
wall clock runs out, and answers for a child that died. A frame is a 4-byte big-endian length and
its bytes.

Forking a server that has everything loaded saves a Python start-up, the imports and the model's
loading (~75 ms) per screenshot; the isolation is the same as a fresh process per image.
"""
from __future__ import annotations

import io
import json
import os
import select
import signal
import struct
import sys
import time
from typing import Any, Mapping


def _limit(cfg: Mapping[str, Any]) -> None:
    """In the child, before it reads the image: its own rlimits."""
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


def work(cfg: Mapping[str, Any], data: bytes, api: Any = None) -> dict[str, Any]:
    """Runs in the child: decode, measure, OCR (with ``api``, the server's loaded tesserocr model, when
    the engine is the library). Returns the result dict."""
    data = data[:cfg["max_bytes"] + 1]
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
    # a 64x64 grayscale thumbnail of the decoded image (4 KB): the grader computes perceptual hashes
    # from it (class integrity signals) without ever decoding the student's bytes itself
    import base64
    out["thumb"] = base64.b64encode(gray.resize((64, 64), Image.Resampling.BOX).tobytes()).decode("ascii")
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
            if api is None:
                raise RuntimeError("the Tesseract model did not load in the image worker")
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
    try:       # no timeout of pytesseract's own: the server kills this child's group on its wall clock
        text = pytesseract.image_to_string(gray, lang="eng", config="--psm " + str(cfg["psm"]))
    except Exception as e:  # noqa: BLE001 - tesseract crashed / was killed by a limit
        return dict(out, ocr_error=f"{type(e).__name__}: {str(e)[:200]}")
    out["text"] = text
    out["read_by"] = "tesseract"
    return out


# ------------------------------------------------------------------ the server

FRAME_LIMIT = 64 * 1024 * 1024      # bytes of one frame (an image is at most ocr.MAX_BYTES + 1)
ANSWER_LIMIT = 16_000_000           # bytes of a child's answer


def _read(fd: int, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def read_frame(fd: int, deadline: float | None = None, limit: int = FRAME_LIMIT) -> bytes:
    """One frame from ``fd`` (the grader's requests and the server's answers, a child's answer).
    Raises EOFError when ``fd`` closes first, TimeoutError at ``deadline`` (``time.monotonic()``),
    ValueError for a frame over ``limit`` bytes."""
    (n,) = struct.unpack(">I", _read(fd, 4, deadline))
    if n > limit:
        raise ValueError("a frame of %d bytes" % n)
    return _read(fd, n, deadline)


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(struct.pack(">I", len(payload)) + payload)
    while view:
        view = view[os.write(fd, view):]


def _load(cfg: Mapping[str, Any]) -> Any:
    """Once per server: Pillow's decoders and the OCR binding; the library's model (or None)."""
    from PIL import Image, ImageStat  # noqa: F401 - imported for the children
    Image.preinit()
    if cfg.get("engine") != "tesserocr":
        if cfg.get("tesseract"):            # the program, through pytesseract (else: statistics only)
            for heavy in ("numpy", "pandas"):   # pytesseract imports them when present, only for other outputs
                sys.modules.setdefault(heavy, None)  # type: ignore[arg-type]
            try:
                import pytesseract  # noqa: F401
            except ImportError:
                pass                        # each child reports it
        return None
    try:
        import tesserocr
        return tesserocr.PyTessBaseAPI(path=cfg["tessdata"], lang="eng", psm=int(cfg["psm"]))
    except Exception:  # noqa: BLE001 - every child reports it (work: api is None)
        return None


def _child(cfg: Mapping[str, Any], data: bytes, api: Any, w: int) -> None:
    """The forked child: its own session and limits, the work, one frame on ``w``. Never returns."""
    code = 0
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)                  # the server's request and answer streams are not the child's
        os.dup2(null, 1)
        os.close(null)
        _limit(cfg)
        try:
            out = work(cfg, data, api)
        except MemoryError:
            out = {"ocr_error": "decoding needed more memory than the worker's limit"}
        write_frame(w, json.dumps(out).encode())
    except BaseException:  # noqa: BLE001 - the server answers for a child that wrote nothing
        code = 70
    os._exit(code)


def _serve_one(cfg: Mapping[str, Any], head: Mapping[str, Any], data: bytes, api: Any) -> dict[str, Any]:
    wall = float(head.get("wall", 60.0))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(cfg, data, api, w)
    os.close(w)
    reply, timed_out = None, False
    try:
        reply = read_frame(r, time.monotonic() + wall, ANSWER_LIMIT)
    except TimeoutError:
        timed_out = True
    except (EOFError, ValueError):
        pass                                # no whole answer: the child's end says why
    finally:
        os.close(r)
    if timed_out:
        for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                kill()
            except OSError:
                pass
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"ocr_error": "timed out after %.0f s" % wall if wall >= 1 else "timed out after %.2f s" % wall}
    if reply is not None:
        try:
            doc = json.loads(reply.decode("utf-8", "replace"))
            if isinstance(doc, dict):
                return doc
        except ValueError:
            pass
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGKILL, signal.SIGXCPU):
        return {"ocr_error": "the image worker failed: it exceeded its CPU or memory limit"}
    why = ("killed by signal %d" % os.WTERMSIG(status)) if os.WIFSIGNALED(status) else \
        ("exit status %d" % os.WEXITSTATUS(status))
    return {"ocr_error": "the image worker failed: %s" % why}


def serve(cfg: Mapping[str, Any]) -> int:
    """Answer requests on stdin until it closes."""
    api = _load(cfg)
    fin, fout = sys.stdin.fileno(), sys.stdout.fileno()
    while True:
        try:
            head = json.loads(read_frame(fin).decode("utf-8"))
            data = read_frame(fin)
        except EOFError:
            return 0
        write_frame(fout, json.dumps(_serve_one(cfg, head, data, api)).encode())


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--server":
        cfg = json.loads(argv[2])
        sys.path[:0] = [p for p in cfg.get("paths", []) if p not in sys.path]
        return serve(cfg)
    sys.stderr.write("usage: python ocr_worker.py --server CONFIG_JSON (internal: frames on stdin)\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
