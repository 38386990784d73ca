"""A snapshot of the student's deploy README for graders (an artefact of the run, no points).

The README is rendered with markdown-it-py into the template ``templates/readme.html.j2`` and
screenshotted with JavaScript disabled, on a page of a fake origin whose requests all go through
Playwright routing, which answers only regular files inside the student's folder (read through
:mod:`deploycheck.files`: no symlink, nothing outside the folder); every other request (network,
other folders, ``file://``) is refused. One page per process is reused for every student: it is
opened once at the fake origin, then each README is written into it (``set_content``, a fifth of
the cost of a navigation) under a ``<base>`` that is new for every snapshot, so that an image URL
of one student can never be answered from Chromium's cache of another's (the route serves only
the current snapshot's prefix). The Content-Security-Policy is sent with the page and repeated in
the document.
"""
from __future__ import annotations

import html
import itertools
import mimetypes
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from deploycheck import __version__, files
from deploycheck.discovery import DeployFolder

if TYPE_CHECKING:
    import jinja2
    from playwright.sync_api import Browser, BrowserContext, Page, Route

SERVE_LIMIT = 10_000_000            # bytes per file served to the README snapshot
FAKE_ORIGIN = "http://student-folder.deploycheck.invalid"
PAGE = "/__deploycheck_readme__.html"
HERE = Path(__file__).resolve().parent
_CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
        "script-src 'none'; object-src 'none'; frame-src 'none'; form-action 'none'; base-uri 'self'")
_BLANK = b"<!DOCTYPE html><title>README</title>"
_SNAPSHOTS = itertools.count(1)

# what the reused page currently shows (only ever touched from the browser thread)
_current: dict[str, Any] = {"folder": None, "prefix": None, "blocked": []}


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["j2", "html"]))
    return env.get_template("readme.html.j2")


def readme_html(folder_path: Path, name: str, title: str = "", max_height: int = 6000, base: str = "") -> str:
    """The README rendered to a standalone HTML page (Markdown via markdown-it-py; other formats as
    preformatted text); relative URLs resolve against ``base`` when given."""
    tf = files.read_text(folder_path, name, limit=500_000)
    if not tf.ok:
        body = f"<p><b>{html.escape(name)}</b> could not be read: {html.escape(tf.problem or '')}</p>"
    elif name.lower().endswith((".md", ".markdown")) or "." not in name:
        from markdown_it import MarkdownIt
        # raw HTML is allowed (students embed <img> tags): the page runs with JavaScript disabled, a
        # CSP and no network, so it can only show files from the folder.
        body = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table").enable(
            "strikethrough").render(tf.text)
    else:
        body = f"<pre>{html.escape(tf.text)}</pre>"
    head = (title or name) + (" (truncated)" if tf.truncated else "")
    return str(_template().render(title=head, body=body, max_height=int(max_height), base=base, csp=_CSP,
                                  css=(HERE / "static" / "readme.css").read_text()))


def serve_file(folder_path: Path, url_path: str) -> tuple[bytes, str] | None:
    """Bytes and content type of a regular file inside the folder named by a URL path, or None
    (outside the folder, a symlink anywhere on the way, missing, too large, not a file)."""
    rel = unquote(url_path).lstrip("/")
    if not rel or "\x00" in rel:
        return None
    parts = PurePosixPath(rel).parts
    if any(p in ("..", ".") for p in parts):
        return None
    got = files.read_bytes(folder_path, "/".join(parts), limit=SERVE_LIMIT)
    if got.data is None or got.truncated:
        return None
    return got.data, mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"


def _route(route: Route) -> None:
    url = route.request.url
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != FAKE_ORIGIN:
        _current["blocked"].append(url[:200])
        route.abort("blockedbyclient")
        return
    if parts.path == PAGE:
        route.fulfill(status=200, body=_BLANK,
                      headers={"content-type": "text/html; charset=utf-8", "content-security-policy": _CSP})
        return
    prefix = _current["prefix"]
    served = None
    if _current["folder"] is not None and prefix and parts.path.startswith(prefix):
        served = serve_file(_current["folder"], parts.path[len(prefix):])
    if served is None:
        _current["blocked"].append(url[:200])
        route.fulfill(status=404, body=b"not in the student's folder", headers={"content-type": "text/plain"})
        return
    data, ctype = served
    if ctype.startswith(("text/html", "application/xhtml", "image/svg")):
        ctype = "text/plain"   # never let a student file become a document with its own rules
    route.fulfill(status=200, body=data, headers={"content-type": ctype, "content-security-policy": _CSP,
                                                  "x-content-type-options": "nosniff"})


def _context(browser: Browser) -> BrowserContext:
    ctx = browser.new_context(viewport={"width": 1000, "height": 800}, java_script_enabled=False,
                              device_scale_factor=1, accept_downloads=False, service_workers="block")
    ctx.route("**/*", _route)
    return ctx


def open_page() -> None:
    """Open the reused README page (and the browser) ahead of the first snapshot."""
    from deploycheck.proof import browser
    browser.with_page("readme", _context, lambda page: None)


def snapshot_readme(folder: DeployFolder, out_png: Path, max_height: int = 6000,
                    blocked: list[str] | None = None) -> Path:
    """Render the deploy folder's README (THE README rule: ``folder.facts.readme``) to ``out_png``.
    Raises FileNotFoundError without a README and BrowserUnavailable without Chromium. URLs refused
    are appended to ``blocked``."""
    from deploycheck.proof import browser
    doc = folder.facts.readme
    if doc is None:
        raise FileNotFoundError(f"no README in {folder.rel}/")
    prefix = f"/s{next(_SNAPSHOTS)}/"
    page_html = readme_html(folder.path, doc.rel, f"{doc.path} — rendered by deploycheck {__version__} "
                                                  "(JavaScript off, no network)", max_height, base=FAKE_ORIGIN + prefix)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []

    def shoot(page: Page) -> None:
        _current.update(folder=folder.path, prefix=prefix, blocked=refused)
        try:
            if not page.url.startswith(FAKE_ORIGIN + PAGE):
                page.goto(FAKE_ORIGIN + PAGE, wait_until="load", timeout=20_000)
            page.set_content(page_html, wait_until="load", timeout=20_000)
            width = page.viewport_size["width"] if page.viewport_size else 1000
            # the clip keeps a hostile, endless README from becoming a gigapixel screenshot
            shot = page.screenshot(full_page=True, timeout=20_000,
                                   clip={"x": 0, "y": 0, "width": width, "height": max_height})
            from deploycheck.proof.card import write_marked
            write_marked(shot, out_png, "README snapshot")
        finally:
            _current.update(folder=None, prefix=None, blocked=[])
    browser.with_page("readme", _context, shoot)
    if blocked is not None:
        blocked.extend(refused)
    _crop_height(out_png, max_height)
    return out_png


def _crop_height(path: Path, max_height: int) -> None:
    from PIL import Image
    try:
        with Image.open(path) as im:
            if im.height <= max_height:
                return
            cropped = im.crop((0, 0, im.width, max_height))
        from PIL import PngImagePlugin

        from deploycheck.analysis.ocr import MARK_KEY
        info = PngImagePlugin.PngInfo()
        info.add_text(MARK_KEY, "README snapshot")
        cropped.save(path, pnginfo=info)
    except Exception:  # noqa: BLE001 - a too-large image stays as it is
        pass
