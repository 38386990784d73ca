"""The proof card: an honest, labelled picture of one prediction deploycheck made.

:func:`card_for` turns a typed :class:`deploycheck.model.Prediction` (local emulation or cloud) and
its target into a frozen :class:`Card` (who, which commit, platform, region/endpoint, request,
response, latency, when, which deploycheck); :func:`card_html` renders it with the Jinja2 template
``templates/card.html.j2`` (autoescaped; no script, no network) and :func:`capture` screenshots it
on the process's reused page. A local card is marked "LOCAL EMULATION — not a cloud deployment" and
an offline cloud card "OFFLINE CLOUD EMULATION", so neither can pass for a real endpoint.

Every card carries deploycheck's mark twice, so that ``proof.screenshot`` refuses it as a student's proof
(issue 21: ``--report`` writes one for every student): a PNG text chunk
(:data:`deploycheck.analysis.ocr.MARK_KEY`, read from the header without decoding) and visible text OCR
reads even when the file is re-saved or the banner cropped off (the banner, "(sent by deploycheck)" and
the response's origin above each box, the footer).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploycheck import __version__
from deploycheck.model import Prediction

if TYPE_CHECKING:
    import jinja2
    from playwright.sync_api import Browser, BrowserContext, Page

LOCAL_BANNER = "LOCAL EMULATION — not a cloud deployment"
OFFLINE_BANNER = "OFFLINE CLOUD EMULATION (moto / local fakes) — not a real cloud deployment"
PLATFORM_NAMES = {"aws": "AWS SageMaker", "gcp": "Google Cloud (AI Platform / Vertex AI)"}
MAX_LINES = 40
MAX_CHARS = 4000
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Card:
    title: str
    banner: str
    banner_class: str                       # local | cloud
    ok: bool
    status: str
    rows: tuple[tuple[str, str], ...]
    request: str
    response: str
    footer: str
    error: str = ""
    mark: str = "deploycheck's local emulation"     # where the response came from, above its box


# ---------------------------------------------------------------- formatting helpers

def _compact_json(obj: Any, indent: int = 0) -> str:
    """JSON with nesting indented but lists of scalars kept on one line ([[5.1, 3.5, 1.4, 0.2]])."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad}  {json.dumps(str(k))}: {_compact_json(v, indent + 1).lstrip()}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            return json.dumps(list(obj), default=str)
        items = [pad + "  " + _compact_json(v, indent + 1).lstrip() for v in obj]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(obj, default=str)


def pretty(value: bytes | str | None, content_type: str | None = None) -> str:
    """A readable rendering of a request or response body (JSON pretty-printed, CSV as is, NumPy
    arrays read without unpickling, other binary bodies summarised)."""
    if value is None:
        return "(none)"
    if isinstance(value, bytes):
        if (content_type or "").split(";")[0].strip().lower() == "application/x-npy":
            try:
                import io

                import numpy as np
                arr = np.load(io.BytesIO(value), allow_pickle=False)       # never unpickles
                return f"NumPy .npy {arr.dtype} {list(arr.shape)}:\n{_compact_json(arr.tolist())}"
            except Exception:  # noqa: BLE001 - shown as bytes below
                pass
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            kind = f" {content_type}" if content_type else ""
            return f"<{len(value)} bytes{kind}; first bytes: {value[:32].hex(' ')}>"
    else:
        text = value
    s = text.strip()
    if s[:1] in "[{":
        try:
            return _compact_json(json.loads(s))
        except ValueError:
            pass
    return text


def truncate(text: str, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS) -> str:
    lines = text.splitlines() or [""]
    cut = len(lines) > max_lines
    out = "\n".join(lines[:max_lines])
    if len(out) > max_chars:
        out, cut = out[:max_chars], True
    if cut:
        out += f"\n… (truncated: {len(text)} characters, {len(lines)} lines in total)"
    return out


# ---------------------------------------------------------------- git commit, without running git

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REF = re.compile(r"^refs/[A-Za-z0-9._/-]{1,200}$")


def _read_small(path: Path, limit: int = 4096) -> str | None:
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def git_commit(repo: Path | str) -> str | None:
    """HEAD's commit id of ``repo`` read from ``.git`` (no git process; symlinks not followed;
    only a real ``.git`` directory inside the repo is read)."""
    try:
        git = Path(repo) / ".git"
        if not stat.S_ISDIR(os.lstat(git).st_mode):
            return None
        head = (_read_small(git / "HEAD") or "").strip()
        if _SHA.match(head):
            return head
        if not head.startswith("ref:"):
            return None
        ref = head[4:].strip()
        if not _REF.match(ref) or ".." in ref:
            return None
        cur = git
        for part in ref.split("/"):
            cur = cur / part
            try:
                if stat.S_ISLNK(os.lstat(cur).st_mode):
                    return None
            except OSError:
                break
        sha = (_read_small(git / ref) or "").strip()
        if _SHA.match(sha):
            return sha
        for line in (_read_small(git / "packed-refs", 2_000_000) or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref and _SHA.match(parts[0]):
                return parts[0]
    except OSError:
        return None
    return None


# ---------------------------------------------------------------- the card

def card_for(p: Prediction, *, student: str, repo: str, folder: str | None, offline: bool = False,
             region: str | None = None, commit: str | None = None, when: str | None = None,
             version: str = __version__) -> Card:
    """The card of prediction ``p`` (``mode`` local or cloud) for one student's deploy folder."""
    local = p.mode == "local"
    plat = p.platform
    when = when or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    commit = commit or git_commit(repo) or "(not a git repository)"
    rows = [("student", student), ("repository", repo), ("commit", commit),
            ("platform", PLATFORM_NAMES.get(plat, plat)), ("deploy folder", folder),
            ("where", "this grading machine (no cloud resources)" if local else region),
            ("endpoint", None if local else p.endpoint), ("serving stack", p.runtime or None),
            ("sample request", p.sample_source or None), ("isolation", p.isolation or None),
            ("content type / accept", " / ".join(x for x in (p.request.content_type, p.request.accept) if x) or None),
            ("latency", f"{p.latency_ms:.1f} ms" if p.latency_ms is not None else None), ("time", when)]
    if local:
        banner, cls, mark = LOCAL_BANNER, "local", "deploycheck's local emulation"
        foot = " — this card shows deploycheck's own emulation of the serving container, run on the student's files"
    elif offline:
        banner, cls, mark = OFFLINE_BANNER, "local", "deploycheck's offline cloud emulation"
        foot = " — request sent by deploycheck to an offline stand-in of the cloud API"
    else:
        banner = f"CLOUD PREDICTION — {PLATFORM_NAMES.get(plat, plat or 'cloud')}" + (f", {region}" if region else "")
        cls, foot, mark = "cloud", " — request sent to the deployed endpoint by deploycheck", "received by deploycheck"
    status = str(p.status) if p.status is not None else ("OK" if p.ok else "ERROR")
    return Card(title=f"Prediction proof: {student or 'student'}", banner=banner, banner_class=cls, ok=p.ok,
                status=status, rows=tuple((k, str(v)) for k, v in rows if v not in (None, "")),
                request=truncate(pretty(p.request.body, p.request.content_type)),
                response=truncate(pretty(p.response, p.response_content_type)),
                footer=f"rendered by deploycheck {version} at {when}{foot}",
                error="" if p.ok else truncate(p.message, 15, 1500), mark=mark)


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["j2", "html"]))
    return env.get_template("card.html.j2")


def card_html(card: Card) -> str:
    return str(_template().render(card=card, css=(HERE / "static" / "card.css").read_text()))


def _card_context(browser: Browser) -> BrowserContext:
    ctx = browser.new_context(viewport={"width": 900, "height": 600}, java_script_enabled=False, device_scale_factor=1)
    ctx.route("**/*", lambda route: route.abort())        # a card loads nothing
    return ctx


def open_page() -> None:
    """Open the reused card page (and the browser) ahead of the first card."""
    from deploycheck.proof import browser
    browser.with_page("card", _card_context, lambda page: None)


def mark_png(data: bytes, what: str) -> bytes:
    """``data`` (a PNG) with deploycheck's mark: a ``tEXt`` chunk right after the header, so that it is
    read without decoding the pixels. Pillow writes text chunks only when it re-encodes the whole image;
    inserting one chunk leaves the pixels' bytes as they are."""
    import struct
    import zlib

    from deploycheck.analysis.ocr import MARK_KEY
    sig, ihdr_end = b"\x89PNG\r\n\x1a\n", 8 + 4 + 4 + 13 + 4
    if not data.startswith(sig) or data[12:16] != b"IHDR":
        return data
    body = b"tEXt" + MARK_KEY.encode("latin-1") + b"\0" + what.encode("latin-1", "replace")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def write_marked(data: bytes, out_png: Path, what: str) -> None:
    """Write deploycheck's own picture ``data`` (a PNG) to ``out_png`` with its mark."""
    out_png.write_bytes(mark_png(data, what))


def capture(html_text: str, out_png: Path, selector: str = "#card", what: str = "proof card") -> Path:
    """Screenshot ``html_text`` (a card) to ``out_png`` on the reused card page, with deploycheck's mark
    (``what`` it is). Raises BrowserUnavailable without Chromium."""
    from deploycheck.proof import browser
    out_png.parent.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page) -> None:
        page.set_content(html_text, wait_until="load", timeout=15_000)
        el = page.query_selector(selector)
        # a clip of the page, not an element screenshot: that one waits for the element to be
        # stable over animation frames, which a static card always is (half the time per card)
        clip = el.bounding_box() if el is not None else None
        view = page.viewport_size
        inside = clip is not None and view is not None and clip["y"] + clip["height"] <= view["height"]
        write_marked(page.screenshot(full_page=not inside, clip=clip, timeout=15_000), out_png, what)
    browser.with_page("card", _card_context, shoot)
    return out_png


def png_problem(path: Path) -> str | None:
    """None when ``path`` is a PNG that decodes and is not one flat colour, else what is wrong."""
    from PIL import Image, UnidentifiedImageError
    if not path.is_file():
        return "was not written"
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                return f"is a {im.format}, not a PNG"
            im.load()                                   # one decode: zlib's checksum covers the pixels
            bands = im.getextrema()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return f"does not decode ({e})"
    flat = all(lo == hi for lo, hi in (bands if isinstance(bands[0], tuple) else (bands,)))
    return "is blank (a single colour)" if flat else None
