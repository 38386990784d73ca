"""``REPORT/index.html``: one self-contained page (Jinja2 with autoescape; templates/ and the
inlined static/report.css, static/report.js). A row per student, a column per check, filter and
sort, a "needs review" filter, a detail view per student: fix-first, every check awaiting review
(the student's screenshot, its OCR text and the override entry to paste), every message, the
generated proof card next to the student's OWN screenshot (copied into ``proof/<student>/``, regular
files only, never through a symlink), its OCR text on hover and in an expandable block."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import Any, Mapping
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from deploycheck import model
from deploycheck.overrides import snippet as override_snippet
from deploycheck.report._files import write_text
from deploycheck.report.results import (check_ids, commit_of, error_of, fix_file, fmt, late_of, name_of, nothing_on_time,
                                        triage)

HERE = Path(__file__).resolve().parent
ICON = {"passed": "✓", "failed": "✗", "skipped": "–", "review": "?"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MAX_SHOT_BYTES = 10 * 2**20

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                          autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                          undefined=jinja2.StrictUndefined, trim_blocks=False)


def _safe_rel(p: object) -> str | None:
    """A relative posix path inside the report dir (no absolute paths, no ``..``), else None."""
    if not isinstance(p, str) or not p or "\\" in p or "\x00" in p:
        return None
    pp = PurePosixPath(p)
    if pp.is_absolute() or ".." in pp.parts or ":" in pp.parts[0]:
        return None
    return pp.as_posix()


def _url(rel: str) -> str:
    return "/".join(quote(part) for part in rel.split("/"))


def copy_regular(repo: Path, rel: str, dest: Path) -> bool:
    """Copy ``repo/rel`` to ``dest`` when every component is a real directory/regular file inside
    the repo (no symlink anywhere, no ``..``), an image, at most MAX_SHOT_BYTES."""
    r = _safe_rel(rel)
    if r is None or not r.lower().endswith(IMAGE_SUFFIXES):
        return False
    cur = repo
    try:
        if stat.S_ISLNK(os.lstat(repo).st_mode):
            return False
        parts = PurePosixPath(r).parts
        for part in parts[:-1]:
            cur = cur / part
            if not stat.S_ISDIR(os.lstat(cur).st_mode):
                return False
        src = cur / parts[-1]
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SHOT_BYTES:
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        with os.fdopen(os.dup(fd), "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        os.replace(tmp, dest)
        return True
    finally:
        os.close(fd)


def _shots(s: model.StudentResult, outdir: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    own: list[dict[str, Any]] = []
    for c in s.checks:
        for kind, rel in c.proof.items():
            r = _safe_rel(rel)
            if r and r.lower().endswith(".png") and r not in seen:
                seen.add(r)
                found.append({"caption": f"generated proof card ({kind})" if kind != "readme" else "README snapshot",
                              "url": _url(r), "ocr": "", "own": False, "kind": str(kind)})
        shot = c.screenshot
        own_rel = _safe_rel(shot.path) if shot is not None and not shot.remote and s.repo else None
        if shot is not None and own_rel:
            rel = own_rel
            dest_rel = f"proof/{s.student}/own-{PurePosixPath(rel).name}"
            dest = outdir / dest_rel
            if dest.is_file() or copy_regular(Path(s.repo), rel, dest):
                own.append({"caption": f"the student's screenshot: {rel}", "url": _url(dest_rel),
                            "ocr": shot.ocr_text[:4000], "own": True, "kind": "own"})
    if not found and not own:
        folder = outdir / "proof" / s.student
        try:
            if folder.is_dir() and not folder.is_symlink():
                for p in sorted(folder.glob("*.png")):
                    if p.is_symlink() or not p.is_file():
                        continue
                    found.append({"caption": p.stem, "url": _url(p.relative_to(outdir).as_posix()), "ocr": "",
                                  "own": p.name.startswith("own-"), "kind": p.stem})
        except OSError:
            pass
    order = {"local": 0, "cloud": 1, "own": 2, "readme": 3}
    cards = sorted(found, key=lambda f: (order.get(f["kind"], 2 if not f["kind"].endswith("readme") else 3), f["url"]))
    # the student's own screenshot right after the generated card(s), before the README snapshot
    i = next((n for n, f in enumerate(cards) if f["kind"].endswith("readme")), len(cards))
    return cards[:i] + own + cards[i:]


def _row(i: int, s: model.StudentResult, ids: list[str], outdir: Path) -> dict[str, Any]:
    t = triage(s)
    byid = {c.id: c for c in s.checks}
    failing = " ".join(c.id for c in s.checks if c.status == model.FAILED and not c.error)
    decided = sum(1 for c in s.checks if c.override is not None)
    frac = s.score / s.max_score if s.max_score else 0.0
    cells: list[dict[str, str] | None] = []
    for cid in ids:
        c = byid.get(cid)
        if c is None:
            cells.append(None)
            continue
        st = "error" if c.error else c.status
        tip = f"{cid}: {st} ({fmt(c.score)}/{fmt(c.max_score)}) {c.message}"
        cells.append({"cls": "skipped" if c.error else c.status, "icon": "!" if c.error else ICON[c.status],
                      "tip": tip[:600]})
    checks = []
    for g in t.groups:
        checks.append(_crow(g.check))
        checks += [_crow(b, blocked=True) for b in g.blocked]
    checks += [_crow(c) for c in (*t.review, *t.errors, *t.passed, *t.skipped)]
    shots = _shots(s, outdir)
    reviews = [{"id": c.id, "message": c.message, "override": override_snippet(s.student, c.id),
                "shot": _review_shot(c, shots)} for c in t.review]
    late = late_of(s)
    other = [f"{p}: {fmt(v.get('score'))}/{fmt(v.get('max_score'))}" + (
        f" (not counted; failed: {', '.join(c.id for c in s.other_checks.get(p, ()) if c.status == model.FAILED)})"
        if any(c.status == model.FAILED for c in s.other_checks.get(p, ())) else "")
             for p, v in s.platforms.items() if isinstance(v, Mapping)] if len(s.platforms) > 1 else []
    return {"id": s.student, "name": name_of(s), "did": f"s-{i}", "platform": s.platform, "failing": failing,
            "score": s.score, "frac": frac, "score_s": fmt(s.score), "max_s": fmt(s.max_score), "cells": cells,
            "error": error_of(s), "late": late, "late_score": (f"{fmt(late['latest_score'])}/{fmt(s.max_score)}"
                                                              if late and late.get("latest_score") is not None else ""),
            "commit": commit_of(s), "repo": str(s.source or s.repo), "notes": list(s.notes),
            "other": other, "first": t.first, "first_file": fix_file(t.first) if t.first else "",
            "first_label": "Nothing to grade at the deadline" if nothing_on_time(s) else "Fix this first",
            "shots": shots, "checks": checks, "reviews": reviews, "decided": decided, "review": " ".join(c.id for c in t.review)}


def _review_shot(c: model.CheckResult, shots: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The student's screenshot of a review item (copied into the report by :func:`_shots`), with its
    OCR text; for a remote image, its URL as text (the page loads nothing from the network)."""
    if c.screenshot is None:
        return None
    if c.screenshot.remote:
        return {"url": None, "caption": f"remote image (not loaded): {c.screenshot.path}", "ocr": c.screenshot.ocr_text}
    name = PurePosixPath(c.screenshot.path).name
    own = next((sh for sh in shots if sh["own"] and sh["url"].endswith(_url(f"own-{name}"))), None)
    return {"url": own["url"] if own else None, "caption": c.screenshot.path, "ocr": c.screenshot.ocr_text[:4000]}


def _crow(c: model.CheckResult, blocked: bool = False) -> dict[str, Any]:
    label = "error of the run" if c.error else (f"blocked by {c.blocked_by}" if blocked and c.blocked_by else
                                                "needs review" if c.needs_review else c.status)
    if c.override is not None:
        label += " (your decision)"
    return {"id": c.id, "cls": "skipped" if c.error else c.status, "label": label,
            "points": f"{fmt(c.score)}/{fmt(c.max_score)}", "message": c.message, "blocked": blocked,
            "traceback": c.traceback,
            "machine": (f"deploycheck's own verdict: {c.override.machine_status}: {c.override.machine_message}"
                        if c.override is not None else "")}


def _evidence_image(s: model.StudentResult | None, rel: str, outdir: Path) -> str:
    """The URL of a screenshot named as integrity evidence, copied into ``proof/<student>/`` (a regular
    image inside the student's repo only), or "" when it cannot be shown (e.g. a merge, repo elsewhere)."""
    r = _safe_rel(rel)
    if s is None or r is None or not r.lower().endswith(IMAGE_SUFFIXES):
        return ""
    dest_rel = f"proof/{s.student}/evidence-{PurePosixPath(r).name}"
    dest = outdir / dest_rel
    if dest.is_file() or (s.repo and copy_regular(Path(s.repo), r, dest)):
        return _url(dest_rel)
    own = f"proof/{s.student}/own-{PurePosixPath(r).name}"
    return _url(own) if (outdir / own).is_file() else ""


def integrity_pairs(students: list[model.StudentResult], outdir: Path) -> list[dict[str, Any]]:
    """Each flagged pair once (report.json's per-student ``integrity``, a < b), its evidence side by
    side: the first student's file, what they share, the second student's file (screenshots shown)."""
    by = {s.student: s for s in students}
    out: list[dict[str, Any]] = []
    for s in students:
        items = s.extra.get("integrity")
        if not isinstance(items, list):
            continue
        for item in items:
            other = str(item.get("with", "")) if isinstance(item, Mapping) else ""
            if not other or other < s.student:
                continue
            rows = []
            for e in item.get("evidence") or []:
                if not isinstance(e, Mapping):
                    continue
                shot = e.get("kind") == "screenshot"
                rows.append({"kind": str(e.get("kind", "")), "text": str(e.get("text", "")),
                             "mine": str(e.get("mine", "")), "theirs": str(e.get("theirs", "")),
                             "mine_img": _evidence_image(s, str(e.get("mine", "")), outdir) if shot else "",
                             "theirs_img": _evidence_image(by.get(other), str(e.get("theirs", "")), outdir)
                             if shot else ""})
            if rows:
                out.append({"a": s.student, "b": other, "a_name": name_of(s),
                            "b_name": name_of(by[other]) if other in by else other, "evidence": rows})
    return sorted(out, key=lambda p: (p["a"], p["b"]))


def render(students: list[model.StudentResult], outdir: Path, meta: Mapping[str, Any]) -> str:
    ids = check_ids(students)
    n = len(students)
    graded = [s for s in students if not error_of(s)]
    mean = sum(s.score for s in graded) / len(graded) if graded else 0.0
    bits = [f"{n} student{'s' if n != 1 else ''}", f"mean score {fmt(mean)}"
            + (f"/{fmt(graded[0].max_score)}" if graded else "")]
    when = meta.get("finished")
    if isinstance(when, (int, float)):
        bits.append("graded " + dt.datetime.fromtimestamp(float(when), dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    for k in ("deadline", "shard", "run_id", "cloud", "isolation"):
        if meta.get(k):
            bits.append(f"{k}: {meta[k]}")
    if meta.get("merged_from"):
        bits.append(f"merged from {len(meta['merged_from'])} reports")
    if meta.get("missing_students"):
        bits.append(f"{len(meta['missing_students'])} students missing")
    n_review = sum(1 for s in students for c in s.checks if c.needs_review)
    if n_review:
        bits.append(f"{n_review} check{'s' if n_review != 1 else ''} to review")
    css = (HERE / "static" / "report.css").read_text(encoding="utf-8")
    js = (HERE / "static" / "report.js").read_text(encoding="utf-8")
    rows = [_row(i, s, ids, outdir) for i, s in enumerate(students)]
    integrity = meta.get("integrity") if isinstance(meta.get("integrity"), Mapping) else None
    return _env.get_template("index.html.j2").render(
        css=Markup(css.replace("</", "<\\/")), js=Markup(js.replace("</", "<\\/")), bits=bits, ids=ids,
        students=students, rows=rows, integrity=integrity,
        pairs=integrity_pairs(students, outdir) if integrity is not None else [])


def write(students: list[model.StudentResult], outdir: Path, meta: Mapping[str, Any]) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    return write_text(outdir / "index.html", render(students, outdir, meta))
