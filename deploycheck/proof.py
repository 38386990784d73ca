"""Proof screenshots: an honest, labelled PNG of every prediction deploycheck made, and a
snapshot of the student's deploy README for graders.

* :func:`render_proof_card` turns one prediction (local emulation or cloud) into a small HTML
  page: who, which commit, which platform/region/endpoint, the request and the response, the
  latency, when, and which deploycheck. A local card is marked "LOCAL EMULATION — not a cloud
  deployment" so it can never pass for a screenshot of a real endpoint.
* :func:`capture` screenshots such a page with headless Chromium (one browser per process,
  see :mod:`deploycheck.browser`); the page cannot load anything (every request is aborted).
* :func:`snapshot_readme` renders the deploy README with markdown-it-py and screenshots it with
  JavaScript disabled, served from a fake origin through Playwright routing that only answers
  regular files inside the student's folder (no network, no ``file://``).
* :func:`render_artefacts` renders them after a passed predict.local (no points).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import html
import json
import mimetypes
import os
import re
import stat
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from deploycheck import __version__

LOCAL_BANNER = "LOCAL EMULATION — not a cloud deployment"
OFFLINE_BANNER = "OFFLINE CLOUD EMULATION (moto / local fakes) — not a real cloud deployment"
PLATFORM_NAMES = {"aws": "AWS SageMaker", "gcp": "Google Cloud (AI Platform / Vertex AI)"}
MAX_LINES = 40
MAX_CHARS = 4000
SERVE_LIMIT = 10_000_000            # bytes per file served to the README snapshot
FAKE_ORIGIN = "http://student-folder.deploycheck.invalid"

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


def pretty(value: Any, content_type: str | None = None) -> str:
    """A readable rendering of a request or response body (JSON pretty-printed, CSV as is,
    binary bodies summarised)."""
    if value is None:
        return "(none)"
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            head = raw[:32].hex(" ")
            kind = f" {content_type}" if content_type else ""
            return f"<{len(raw)} bytes{kind}; first bytes: {head}>"
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in "[{":
            try:
                return _compact_json(json.loads(s))
            except ValueError:
                pass
        return value
    try:
        return _compact_json(value)
    except Exception:
        return repr(value)


def truncate(text: str, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS) -> str:
    lines = text.splitlines() or [""]
    cut_lines = len(lines) > max_lines
    out = "\n".join(lines[:max_lines])
    if len(out) > max_chars:
        out = out[:max_chars]
        cut_lines = True
    if cut_lines:
        out += f"\n… (truncated: {len(text)} characters, {len(lines)} lines in total)"
    return out


# ---------------------------------------------------------------- git commit, without running git


def _read_small(path: Path, limit: int = 4096) -> str | None:
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REF = re.compile(r"^refs/[A-Za-z0-9._/-]{1,200}$")


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
        # refs/heads/<branch> below .git, checking every component for links
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
        packed = _read_small(git / "packed-refs", 2_000_000) or ""
        for line in packed.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref and _SHA.match(parts[0]):
                return parts[0]
    except OSError:
        return None
    return None


# ---------------------------------------------------------------- the proof card

_CARD_CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:#f4f5f7;color:#1d2330}.card{width:860px;margin:16px;background:#fff;border-radius:8px;
border:1px solid #d0d5dd;overflow:hidden}.banner{padding:10px 16px;font-weight:700;font-size:16px;letter-spacing:.02em}
.banner.local{background:repeating-linear-gradient(45deg,#fff3cd,#fff3cd 12px,#ffe69c 12px,#ffe69c 24px);
color:#6b4a00;border-bottom:2px solid #e0a800}.banner.cloud{background:#d1f2e0;color:#0b5d34;border-bottom:2px solid #23a55a}
.body{padding:12px 16px}h1{font-size:18px;margin:4px 0 10px}table.meta{border-collapse:collapse;width:100%}
table.meta th{text-align:left;width:170px;color:#555;font-weight:600;padding:3px 8px 3px 0;vertical-align:top}
table.meta td{padding:3px 0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
h2{font-size:14px;margin:14px 0 4px;color:#333}pre{margin:0;padding:8px 10px;background:#f6f8fa;border:1px solid #e1e4e8;
border-radius:6px;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:700}.ok{background:#d1f2e0;color:#0b5d34}
.bad{background:#fde2e1;color:#8a1c16}.foot{padding:8px 16px;color:#666;font-size:12px;border-top:1px solid #eee}
"""


def _first(info: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        v = info.get(k)
        if v not in (None, "", [], {}):
            return v
    return None


def render_proof_card(info: dict[str, Any]) -> str:
    """HTML of one proof card. Keys used (all optional): student, repo, commit, platform,
    mode ("local"|"cloud"), region, endpoint, model, container/image, request, response,
    content_type, accept, latency_ms, status, isolation, time (UTC; default now), version."""
    e = html.escape
    mode = str(info.get("mode") or "local").lower()
    local = mode != "cloud"
    plat = str(info.get("platform") or "")
    commit = info.get("commit")
    if commit is None and info.get("repo"):
        commit = git_commit(info["repo"])
    when = _first(info, "time", "when") or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    version = info.get("version") or __version__
    latency = info.get("latency_ms")
    status = info.get("http_status") or info.get("status")
    ok = info.get("ok", True) and str(info.get("status", "")).lower() not in ("failed", "error")

    rows: list[tuple[str, Any]] = [
        ("student", info.get("student")),
        ("repository", info.get("repo")),
        ("commit", commit or "(not a git repository)"),
        ("platform", PLATFORM_NAMES.get(plat, plat) or None),
        ("deploy folder", info.get("folder")),
        ("where", "this grading machine (no cloud resources)" if local else _first(info, "region", "location")),
        ("endpoint", _first(info, "endpoint", "endpoint_name", "endpoint_id", "endpoint_arn")),
        ("model", _first(info, "model", "model_name", "model_id", "model_file")),
        ("serving stack", _first(info, "container", "image", "image_uri", "stack")),
        ("instance type", info.get("instance_type")),
        ("provider", None if local else info.get("provider")),
        ("run id", None if local else info.get("run_id")),
        ("sample request", info.get("sample_source")),
        ("isolation", info.get("isolation")),
        ("content type / accept", " / ".join(str(x) for x in (info.get("content_type"), info.get("accept")) if x) or None),
        ("latency", f"{float(latency):.1f} ms" if isinstance(latency, (int, float)) else latency),
        ("time", when),
    ]
    if local and info.get("region"):
        rows.insert(6, ("region (declared)", info.get("region")))
    meta = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows if v not in (None, ""))
    req = truncate(pretty(info.get("request"), info.get("content_type")))
    resp = truncate(pretty(info.get("response"), info.get("accept")))
    badge = (f'<span class="status {"ok" if ok else "bad"}">{e(str(status if status is not None else ("OK" if ok else "ERROR")))}</span>')
    offline = not local and bool(info.get("offline"))
    banner_cls = "local" if (local or offline) else "cloud"
    where = info.get("region") or info.get("location")
    if local:
        banner = e(LOCAL_BANNER)
    elif offline:
        banner = e(OFFLINE_BANNER)
    else:
        banner = e(f"CLOUD PREDICTION — {PLATFORM_NAMES.get(plat, plat or 'cloud')}" + (f", {where}" if where else ""))
    title = f"Prediction proof: {info.get('student') or 'student'}"
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{e(title)}</title><style>{_CARD_CSS}</style></head><body>"
        f'<div class="card" id="card"><div class="banner {banner_cls}">{banner}</div><div class="body">'
        f"<h1>{e(title)} {badge}</h1><table class=meta>{meta}</table>"
        f"<h2>request</h2><pre id=request>{e(req)}</pre>"
        f"<h2>response</h2><pre id=response>{e(resp)}</pre>"
        + (f"<h2>error</h2><pre>{e(truncate(str(info['error']), 15, 1500))}</pre>" if info.get("error") else "")
        + f'</div><div class="foot">rendered by deploycheck {e(str(version))} at {e(str(when))}'
        + (" — this card shows deploycheck's own emulation of the serving container, run on the student's files"
           if local else " — request sent by deploycheck to an offline stand-in of the cloud API" if offline
           else " — request sent to the deployed endpoint by deploycheck") + "</div></div></body></html>")


# ---------------------------------------------------------------- screenshots


def capture(html_text: str, out_png: Path | str, width: int = 900, selector: str | None = "#card") -> Path:
    """Screenshot ``html_text`` to ``out_png`` with the shared headless browser. The page may
    not load anything: every request is aborted. Raises BrowserUnavailable without Chromium."""
    from deploycheck import browser as br
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)

    def shoot(b: Any) -> None:
        ctx = b.new_context(viewport={"width": width, "height": 600}, java_script_enabled=False,
                            device_scale_factor=1)
        try:
            ctx.route("**/*", lambda route: route.abort())
            page = ctx.new_page()
            page.set_content(html_text, wait_until="load", timeout=15_000)
            el = page.query_selector(selector) if selector else None
            if el is not None:
                el.screenshot(path=str(out), timeout=15_000)
            else:
                page.screenshot(path=str(out), full_page=True, timeout=15_000)
        finally:
            ctx.close()
    br.run(shoot)
    return out


def png_problem(path: Path | str) -> str | None:
    """None when ``path`` is a PNG that decodes and is not one flat colour, else what is wrong."""
    from PIL import Image, UnidentifiedImageError
    p = Path(path)
    if not p.is_file():
        return "was not written"
    try:
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            if im.format != "PNG":
                return f"is a {im.format}, not a PNG"
            lo_hi = im.convert("L").getextrema()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return f"does not decode ({e})"
    if lo_hi[0] == lo_hi[1]:
        return "is blank (a single colour)"
    return None


# ---------------------------------------------------------------- README snapshot

_README_CSS = """
#dc-clip{max-height:__MAXH__px;overflow:hidden}body{margin:0;padding:24px 32px;max-width:900px;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff}
.dc-head{margin:-24px -32px 16px;padding:8px 32px;background:#eef1f5;color:#444;font-size:12px;border-bottom:1px solid #d0d7de}
pre{background:#f6f8fa;padding:10px;border-radius:6px;overflow:auto;white-space:pre-wrap;word-break:break-all}
code{font:13px ui-monospace,Menlo,Consolas,monospace;background:#f6f8fa;padding:.1em .3em;border-radius:4px}pre code{padding:0}
img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px 8px}
h1,h2{border-bottom:1px solid #d8dee4;padding-bottom:.2em}blockquote{color:#57606a;border-left:4px solid #d0d7de;margin:0;padding:0 12px}
"""


def find_readme(folder: Any) -> str | None:
    """The README name by THE README rule (``folder.facts.readme_rel`` for a DeployFolder)."""
    facts = getattr(folder, "facts", None)
    if facts is not None:
        return facts.readme_rel
    from deploycheck import files
    from deploycheck.analysis.readme import find_readme as rule
    return rule(files.top_level_files(Path(folder)))


def readme_html(folder_path: Path, name: str, title: str = "", max_height: int = 6000) -> str:
    """The README rendered to a standalone HTML page (Markdown via markdown-it-py; other
    formats shown as preformatted text)."""
    from deploycheck import files
    tf = files.read_text(folder_path, name, limit=500_000)
    e = html.escape
    if not tf.ok:
        body = f"<p><b>{e(name)}</b> could not be read: {e(tf.problem or '')}</p>"
    elif name.lower().endswith((".md", ".markdown")) or "." not in name:
        from markdown_it import MarkdownIt
        # raw HTML is allowed (students embed <img> tags); the page runs with JavaScript
        # disabled, a CSP and no network, so it can only show files from the folder.
        md = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table").enable("strikethrough")
        body = md.render(tf.text)
    else:
        body = f"<pre>{e(tf.text)}</pre>"
    head = e(title or name) + (" (truncated)" if tf.truncated else "")
    return ("<!DOCTYPE html><html><head><meta charset=utf-8><title>README</title>"
            f"<style>{_README_CSS.replace('__MAXH__', str(int(max_height)))}</style></head><body><div class=dc-head>{head}</div><div id=dc-clip>{body}</div></body></html>")


_CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
        "script-src 'none'; object-src 'none'; frame-src 'none'; form-action 'none'; base-uri 'none'")


def _serve_file(folder_path: Path, url_path: str) -> tuple[bytes, str] | None:
    """Bytes and content type of a regular file inside the folder named by a URL path, or None
    (outside the folder, a symlink anywhere on the way, missing, too large, not a file)."""
    from deploycheck import files
    rel = unquote(url_path).lstrip("/")
    if not rel or "\x00" in rel:
        return None
    parts = PurePosixPath(rel).parts
    if any(p in ("..", ".") for p in parts):
        return None
    got = files.read_bytes(folder_path, "/".join(parts), limit=SERVE_LIMIT)
    data = got.data
    if data is None or got.truncated:
        return None
    ctype = mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
    return data, ctype


def snapshot_readme(folder: Any, out_png: Path | str, width: int = 1000, max_height: int = 6000,
                    blocked: list[str] | None = None) -> Path:
    """Render the deploy folder's README to ``out_png``. ``folder`` is a DeployFolder or a path.

    JavaScript is off; the page is served from a fake origin through Playwright routing that
    answers only regular files inside the folder; every other request (network, other
    folders, ``file://``) is aborted. Raises FileNotFoundError when there is no README and
    BrowserUnavailable without Chromium. URLs refused are appended to ``blocked``."""
    from deploycheck import browser as br
    folder_path = Path(getattr(folder, "path", folder)).resolve()
    name = find_readme(folder)
    if name is None:
        raise FileNotFoundError(f"no README in {folder_path.name}/")
    rel = getattr(folder, "rel", folder_path.name)
    page_html = readme_html(folder_path, name, f"{rel}/{name} — rendered by deploycheck {__version__} "
                                                  f"(JavaScript off, no network)", max_height)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    page_url = f"{FAKE_ORIGIN}/__deploycheck_readme__.html"
    if blocked is None:
        blocked = []

    def handler(route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != FAKE_ORIGIN:
            blocked.append(url[:200])
            route.abort("blockedbyclient")
            return
        if parts.path == "/__deploycheck_readme__.html":
            route.fulfill(status=200, body=page_html.encode("utf-8"),
                          headers={"content-type": "text/html; charset=utf-8", "content-security-policy": _CSP})
            return
        served = _serve_file(folder_path, parts.path)
        if served is None:
            blocked.append(url[:200])
            route.fulfill(status=404, body=b"not in the student's folder", headers={"content-type": "text/plain"})
            return
        data, ctype = served
        if ctype.startswith(("text/html", "application/xhtml", "image/svg")):
            ctype = "text/plain"   # never let a student file become a document with its own rules
        route.fulfill(status=200, body=data, headers={"content-type": ctype, "content-security-policy": _CSP,
                                                      "x-content-type-options": "nosniff"})

    def shoot(b: Any) -> None:
        ctx = b.new_context(viewport={"width": width, "height": 800}, java_script_enabled=False,
                            device_scale_factor=1, accept_downloads=False, service_workers="block")
        try:
            ctx.route("**/*", handler)
            page = ctx.new_page()
            page.goto(page_url, wait_until="load", timeout=20_000)
            # the clip keeps a hostile, endless README from becoming a gigapixel screenshot
            page.screenshot(path=str(out), full_page=True, timeout=20_000,
                            clip={"x": 0, "y": 0, "width": width, "height": max_height})
        finally:
            ctx.close()
    br.run(shoot)
    _crop_height(out, max_height)
    return out


def _crop_height(path: Path, max_height: int) -> None:
    from PIL import Image
    try:
        with Image.open(path) as im:
            if im.height <= max_height:
                return
            cropped = im.crop((0, 0, im.width, max_height))
        cropped.save(path)
    except Exception:  # noqa: BLE001 - a too-large image stays as it is
        pass


# ---------------------------------------------------------------- the check


def _as_dict(rec: Any) -> dict[str, Any] | None:
    if rec is None:
        return None
    if isinstance(rec, dict):
        return dict(rec)
    if dataclasses.is_dataclass(rec) and not isinstance(rec, type):
        return {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}
    if hasattr(rec, "__dict__"):
        return {k: v for k, v in vars(rec).items() if not k.startswith("_")}
    return None


def _succeeded(rec: dict[str, Any], raw: Any) -> bool:
    for attr in ("ok", "success", "succeeded"):
        v = rec.get(attr, getattr(raw, attr, None))
        if isinstance(v, bool):
            return v
    if rec.get("error"):
        return False
    st = rec.get("status")
    if st is None:
        return rec.get("response") is not None
    if isinstance(st, int):
        return 200 <= st < 300
    return str(st).lower() in ("ok", "passed", "success", "succeeded", "200")


def _safe_component(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name) or "student"
    return "_" + s if s.strip(".") == "" else s


def proof_dir(dc: Any, student: str) -> tuple[Path, Path]:
    """(base, base/proof/<student>): the report dir when there is one, else a temp folder."""
    base = Path(dc.report) if getattr(dc, "report", None) else Path(tempfile.gettempdir()) / "deploycheck-proof"
    return base, base / "proof" / _safe_component(student)


def _rel(p: Path, base: Path) -> str:
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return str(p)


def _card_info(t: Any, rec: dict[str, Any], mode: str, dc: Any) -> dict[str, Any]:
    info = dict(rec)
    req = info.get("request")
    if isinstance(req, dict) and "body" in req:      # {"body", "content_type", "accept"} form
        info["request"] = req.get("body")
        info.setdefault("content_type", req.get("content_type"))
        info.setdefault("accept", req.get("accept"))
    folder = t.folder
    info.update(student=t.student, repo=str(t.repo), platform=t.platform, mode=mode,
                folder=(folder.rel + "/") if folder is not None else None)
    if mode == "local" and not info.get("region"):
        info.pop("region", None)
    if mode == "cloud" and not _first(info, "region", "location"):
        info["region"] = getattr(dc, "aws_region" if t.platform == "aws" else "gcp_region", None)
    return info


def prediction_info(p: Any) -> dict[str, Any]:
    """A typed :class:`deploycheck.model.Prediction` as the card's fields."""
    def text(b: bytes) -> str:
        return b.decode("utf-8", "replace")
    return {"request": text(p.request.body), "content_type": p.request.content_type, "accept": p.request.accept,
            "response": text(p.response), "response_content_type": p.response_content_type, "status": p.status,
            "ok": p.ok, "latency_ms": p.latency_ms, "endpoint": p.endpoint, "runtime": p.runtime,
            "isolation": p.isolation}


def render_artefacts(t: Any, dc: Any, mode: str = "local") -> dict[str, Any]:
    """Render deploycheck's own proof artefacts for a target whose predict.local (``mode="local"``: the
    local card and a README snapshot) or cloud.predict (``mode="cloud"``: the cloud card) passed. They
    carry no points: a failure here is a note on that check's record, never the student's failure."""
    try:
        return _render(t, dc) if mode == "local" else _render_cloud(t, dc)
    except Exception as e:  # hostile input or a browser hiccup must never raise out of a check
        return {"proof_note": f"deploycheck could not render the proof screenshot ({type(e).__name__}: "
                              f"{str(e)[:200]})"}


def _render_cloud(t: Any, dc: Any) -> dict[str, Any]:
    if not getattr(dc, "proof", True) or t.folder is None:
        return {}
    from deploycheck import browser as br
    from deploycheck.verdicts.cloud import cloud_prediction
    ok, why = br.available()
    if not ok:
        return {"proof_note": why}
    p = cloud_prediction(t)
    if p is None or not p.ok:
        return {}
    base, out_dir = proof_dir(dc, t.student)
    png = out_dir / f"{t.platform or 'unknown'}-cloud.png"
    info = prediction_info(p)
    info["offline"] = getattr(dc, "cloud", None) == "moto"
    capture(render_proof_card(_card_info(t, info, "cloud", dc)), png)
    bad = png_problem(png)
    if bad:
        return {"proof_note": f"the proof screenshot {_rel(png, base)} {bad}"}
    return {"proof": {"cloud": _rel(png, base)}}


def _render(t: Any, dc: Any) -> dict[str, Any]:
    if not getattr(dc, "proof", True) or t.folder is None:
        return {}
    from deploycheck import browser as br
    ok, why = br.available()
    if not ok:
        return {"proof_note": why}
    from deploycheck import localpredict
    raw = localpredict.prediction(t, dc)
    rec = _as_dict(raw)
    if rec is None or not _succeeded(rec, raw):
        return {}
    base, out_dir = proof_dir(dc, t.student)
    plat = t.platform or "unknown"
    files: dict[str, str] = {}
    problems: list[str] = []

    local_png = out_dir / f"{plat}-local.png"
    try:
        capture(render_proof_card(_card_info(t, rec, "local", dc)), local_png)
    except br.BrowserUnavailable as e:
        return {"proof_note": str(e)}
    bad = png_problem(local_png)
    if bad:
        problems.append(f"{_rel(local_png, base)} {bad}")
    else:
        files["local"] = _rel(local_png, base)

    notes: list[str] = []
    try:
        # a repo graded on both platforms gets one snapshot per deploy folder
        name = "readme.png" if len(t.submission.folders) <= 1 else f"{plat}-readme.png"
        readme_png = snapshot_readme(t.folder, out_dir / name)
        if png_problem(readme_png) is None:
            files["readme"] = _rel(readme_png, base)
    except FileNotFoundError:
        notes.append("no README to snapshot")
    except Exception as e:  # never fails the check
        notes.append(f"README snapshot failed: {type(e).__name__}: {str(e)[:150]}")
    if problems:
        notes.append("the proof screenshot " + "; ".join(problems))
    data: dict[str, Any] = {"proof": files}
    if notes:
        data["proof_note"] = "; ".join(notes)
    return data
