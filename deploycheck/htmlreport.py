"""``REPORT/index.html``: one self-contained page for reviewing a whole class.

A row per student, a column per check id (coloured by status), the total score; a filter box
(student id, or the id of a failing check), sorting by score or name, and a detail view per
student with every message, the proof screenshots and the README snapshot (relative links into
``proof/``). No CDN, no external file: CSS and JS are inline.

Everything student-controlled (ids, messages, paths) is HTML-escaped on the server; the script
only toggles ``hidden`` and reorders rows, it never builds markup from data. The page works
without JavaScript too (detail views are ``:target`` sections).
"""
from __future__ import annotations

import datetime as _dt
import html
import os
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

STATUS_ICON = {"passed": "✓", "failed": "✗", "skipped": "–"}

_CSS = """
:root{--ok:#1a7f37;--okbg:#dafbe1;--bad:#cf222e;--badbg:#ffebe9;--skip:#6e7781;--skipbg:#eaeef2;--line:#d0d7de}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header{padding:14px 20px;background:#24292f;color:#fff}header h1{margin:0;font-size:20px}header .meta{color:#c9d1d9;font-size:12px;margin-top:4px}
main{padding:14px 20px}.controls{display:flex;gap:10px;align-items:center;margin-bottom:10px;flex-wrap:wrap}
#filter{width:340px;padding:6px 8px;border:1px solid var(--line);border-radius:6px;font-size:14px}
button{padding:6px 10px;border:1px solid var(--line);border-radius:6px;background:#fff;cursor:pointer;font-size:13px}
#count{color:#57606a}.wrap{overflow:auto;background:#fff;border:1px solid var(--line);border-radius:6px}
table.grades{border-collapse:collapse}table.grades th,table.grades td{border-bottom:1px solid #eaeef2;padding:4px 6px;white-space:nowrap}
table.grades thead th{position:sticky;top:0;background:#f6f8fa;font-size:11px;font-weight:600;vertical-align:bottom;text-align:center}
table.grades thead th.check span{writing-mode:vertical-rl;transform:rotate(180deg);display:inline-block;max-height:170px}
tr.student-row{cursor:pointer}tr.student-row:hover{background:#f3f6fb}td.name a{color:#0969da;text-decoration:none;font-weight:600}
td.st{text-align:center;font-weight:700;min-width:26px}td.passed{background:var(--okbg);color:var(--ok)}
td.failed{background:var(--badbg);color:var(--bad)}td.skipped{background:var(--skipbg);color:var(--skip)}td.none{background:#fff}
td.score{font-variant-numeric:tabular-nums;text-align:right;font-weight:600}.bar{display:inline-block;height:6px;background:var(--ok);border-radius:3px;vertical-align:middle;margin-left:6px}
.detail{display:none;margin-top:16px;background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px}
.detail:target,.detail.open{display:block}.detail h2{margin:0 0 6px;font-size:18px}.detail .sub{color:#57606a;font-size:12px;word-break:break-all}
.detail table{border-collapse:collapse;width:100%;margin-top:8px}.detail td,.detail th{border-top:1px solid #eaeef2;padding:5px 6px;vertical-align:top;text-align:left}
.detail td.msg{white-space:pre-wrap;word-break:break-word;font-size:13px}.pill{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:700}
.pill.passed{background:var(--okbg);color:var(--ok)}.pill.failed{background:var(--badbg);color:var(--bad)}.pill.skipped{background:var(--skipbg);color:var(--skip)}
.shots{display:flex;gap:14px;flex-wrap:wrap;margin-top:10px}.shots figure{margin:0;max-width:480px}.shots img{max-width:480px;border:1px solid var(--line);border-radius:4px}
.shots figcaption{font-size:12px;color:#57606a}.close{float:right}.notes{color:#9a6700;font-size:12px}
"""

# Plain DOM manipulation only: no innerHTML, no data parsed into markup.
_JS = r"""
(function(){
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.student-row'));
  var body = document.querySelector('table.grades tbody');
  var box = document.getElementById('filter');
  var count = document.getElementById('count');
  function applyFilter(){
    var q = box.value.trim().toLowerCase(); var shown = 0;
    rows.forEach(function(r){
      var hit = !q || r.getAttribute('data-student').toLowerCase().indexOf(q) !== -1 ||
        r.getAttribute('data-failing').toLowerCase().split(' ').some(function(id){ return id && id.indexOf(q) !== -1; });
      r.hidden = !hit; if (hit) shown++;
    });
    count.textContent = shown + ' of ' + rows.length + ' students';
  }
  var dir = {score: -1, name: -1};  // first click: best score first, names A-Z
  function sortBy(key){
    dir[key] = -dir[key];
    rows.sort(function(a, b){
      var d;
      if (key === 'score') { d = parseFloat(a.getAttribute('data-frac')) - parseFloat(b.getAttribute('data-frac'));
        if (!d) d = parseFloat(a.getAttribute('data-score')) - parseFloat(b.getAttribute('data-score')); }
      else d = a.getAttribute('data-student') < b.getAttribute('data-student') ? -1 : 1;
      if (!d) d = a.getAttribute('data-student') < b.getAttribute('data-student') ? -1 : 1;
      return key === 'score' ? -dir[key] * d : dir[key] * d;
    });
    rows.forEach(function(r){ body.appendChild(r); });
    document.getElementById('sort-' + key).setAttribute('data-dir', dir[key] > 0 ? 'asc' : 'desc');
  }
  function openDetail(id){
    Array.prototype.forEach.call(document.querySelectorAll('.detail.open'), function(d){ d.classList.remove('open'); });
    var d = document.getElementById(id);
    if (d) { d.classList.add('open'); d.scrollIntoView(); }
  }
  rows.forEach(function(r){
    r.addEventListener('click', function(ev){
      var id = r.getAttribute('data-detail');
      if (ev.target.tagName !== 'A') { ev.preventDefault(); history.replaceState(null, '', '#' + id); }
      openDetail(id);
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('.close'), function(b){
    b.addEventListener('click', function(){ b.parentNode.classList.remove('open'); history.replaceState(null, '', '#'); });
  });
  box.addEventListener('input', applyFilter);
  document.getElementById('sort-score').addEventListener('click', function(){ sortBy('score'); });
  document.getElementById('sort-name').addEventListener('click', function(){ sortBy('name'); });
  applyFilter();
})();
"""


def _fmt(x: Any) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return str(int(f)) if f.is_integer() else f"{f:.2f}"


def _check_ids(students: list[dict[str, Any]]) -> list[str]:
    from deploycheck.report import check_ids  # rubric order, shared with grades.csv
    return [str(x) for x in check_ids(students)]


def _safe_rel(p: Any) -> str | None:
    """A relative posix path inside the report dir (no absolute paths, no ``..``), else None."""
    if not isinstance(p, str) or not p or "\\" in p or "\x00" in p:
        return None
    pp = PurePosixPath(p)
    if pp.is_absolute() or ".." in pp.parts or ":" in pp.parts[0]:
        return None
    return pp.as_posix()


def _images(s: dict[str, Any], outdir: Path) -> list[tuple[str, str]]:
    """(caption, relative path) of the proof PNGs and README snapshot of one student."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for c in s.get("checks", []):
        data = c.get("data") or {}
        proof = data.get("proof") if isinstance(data, dict) else None
        if isinstance(proof, dict):
            for kind, rel in proof.items():
                r = _safe_rel(rel)
                if r and r.lower().endswith(".png") and r not in seen:
                    seen.add(r)
                    found.append((str(kind), r))
    folder = outdir / "proof" / str(s.get("student", ""))
    try:
        # only when no check listed its files (those are this run's; others may be stale)
        if not found and folder.is_dir() and not folder.is_symlink() and folder.resolve().parent == (outdir / "proof").resolve():
            for p in sorted(folder.glob("*.png")):
                r = p.relative_to(outdir).as_posix()
                if r not in seen:
                    seen.add(r)
                    found.append((p.stem, r))
    except (OSError, ValueError):
        pass
    order = {"local": 0, "cloud": 1, "readme": 3}
    found.sort(key=lambda kr: (order.get(kr[0], 2 if not kr[0].endswith("readme") else 3), kr[1]))
    return found


def _url(rel: str) -> str:
    return "/".join(quote(part) for part in rel.split("/"))


def render_index(students: list[dict[str, Any]], outdir: Path | str, meta: dict[str, Any] | None = None) -> str:
    e = html.escape
    outdir = Path(outdir)
    meta = meta or {}
    ids = _check_ids(students)
    n = len(students)
    total = sum(float(s.get("score") or 0) for s in students)
    mean = total / n if n else 0.0
    when = meta.get("finished")
    try:
        when_s = _dt.datetime.fromtimestamp(float(when), _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if when else ""
    except (TypeError, ValueError, OSError):
        when_s = str(when)
    bits = [f"{n} student{'s' if n != 1 else ''}", f"mean score {_fmt(mean)}"]
    if when_s:
        bits.append(f"graded {when_s}")
    for k in ("shard", "run_id", "cloud"):
        if meta.get(k):
            bits.append(f"{k}: {meta[k]}")
    if meta.get("merged_from"):
        bits.append(f"merged from {len(meta['merged_from'])} reports")

    head_cells = "".join(f'<th class="check" title="{e(cid)}"><span>{e(cid)}</span></th>' for cid in ids)
    rows: list[str] = []
    details: list[str] = []
    for i, s in enumerate(students):
        did = f"s-{i}"
        byid = {str(c.get("id")): c for c in s.get("checks", [])}
        failing = " ".join(cid for cid, c in byid.items() if c.get("status") == "failed")
        score, mx = float(s.get("score") or 0), float(s.get("max_score") or 0)
        frac = score / mx if mx else 0.0
        cells = []
        for cid in ids:
            c = byid.get(cid)
            if c is None:
                cells.append('<td class="st none" title="not run">·</td>')
                continue
            st = str(c.get("status"))
            cls = st if st in STATUS_ICON else "none"
            tip = f"{cid}: {st} ({_fmt(c.get('score', 0))}/{_fmt(c.get('max_score', 0))}) {c.get('message') or ''}"
            cells.append(f'<td class="st {cls}" title="{e(tip[:600])}">{STATUS_ICON.get(st, "?")}</td>')
        student = str(s.get("student", ""))
        rows.append(
            f'<tr class="student-row" data-student="{e(student)}" data-failing="{e(failing)}" '
            f'data-score="{score}" data-frac="{frac:.6f}" data-detail="{did}">'
            f'<td class="name"><a href="#{did}">{e(student)}</a></td><td>{e(str(s.get("platform") or "—"))}</td>'
            f'<td class="score">{_fmt(score)}/{_fmt(mx)}<span class="bar" style="width:{int(40 * frac)}px"></span></td>'
            + "".join(cells) + "</tr>")
        drows = []
        for c in s.get("checks", []):
            st = str(c.get("status"))
            drows.append(f'<tr><td><code>{e(str(c.get("id")))}</code></td>'
                         f'<td><span class="pill {e(st)}">{e(st)}</span></td>'
                         f'<td>{_fmt(c.get("score", 0))}/{_fmt(c.get("max_score", 0))}</td>'
                         f'<td class="msg">{e(str(c.get("message") or ""))}</td></tr>')
        shots = "".join(
            f'<figure><a href="{e(_url(rel))}"><img src="{e(_url(rel))}" alt="{e(kind)}" loading="lazy"></a>'
            f'<figcaption>{e(kind)}: {e(rel)}</figcaption></figure>' for kind, rel in _images(s, outdir))
        notes = "".join(f'<div class="notes">note: {e(str(x))}</div>' for x in s.get("notes") or [])
        plats = s.get("platforms") or {}
        other = ""
        if isinstance(plats, dict) and len(plats) > 1:
            other = " · " + ", ".join(f"{e(str(p))}: {_fmt(v.get('score'))}/{_fmt(v.get('max_score'))}"
                                      for p, v in plats.items() if isinstance(v, dict))
        details.append(
            f'<section class="detail" id="{did}"><button class="close" type="button">close</button>'
            f'<h2>{e(student)} — {_fmt(score)}/{_fmt(mx)}</h2>'
            f'<div class="sub">platform: {e(str(s.get("platform") or "none"))}{other} · repo: {e(str(s.get("repo") or ""))}</div>'
            f'{notes}<div class="shots">{shots or "<em>no proof screenshots</em>"}</div>'
            f'<table><thead><tr><th>check</th><th>status</th><th>points</th><th>message</th></tr></thead>'
            f'<tbody>{"".join(drows)}</tbody></table></section>')

    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,"><title>deploycheck — class report</title>'
        f"<style>{_CSS}</style></head><body>"
        f'<header><h1>deploycheck — class report</h1><div class="meta">{e(" · ".join(bits))}</div></header><main>'
        '<div class="controls"><input id="filter" type="search" placeholder="filter: student id or failing check id" '
        'aria-label="filter by student or failing check id">'
        '<button id="sort-score" type="button">sort by score</button><button id="sort-name" type="button">sort by name</button>'
        f'<span id="count">{n} students</span></div>'
        '<div class="wrap"><table class="grades"><thead><tr><th>student</th><th>platform</th><th>score</th>'
        f"{head_cells}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f"{''.join(details)}</main><script>{_JS}</script></body></html>")


def write_index(students: list[dict[str, Any]], outdir: Path | str, meta: dict[str, Any] | None = None) -> Path:
    """Write ``outdir/index.html`` (atomically) and return its path."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    text = render_index(students, out, meta or {})
    tmp = out / "index.html.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out / "index.html")
    return out / "index.html"
