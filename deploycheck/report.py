"""The gradebook: report.json, grades.csv, results/<student>.json (Gradescope), summary.md,
canvas.csv and index.html, all from the per-check results collected on the controller."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

FAILED, PASSED, SKIPPED = "failed", "passed", "skipped"

# The rubric's order (DESIGN.md); reports list checks in this order whatever order they ran in.
CHECK_ORDER = [
    "structure.deploy_folder", "readme.present", "readme.instructions", "readme.cleanup",
    "files.referenced", "entry_point.model_fn", "entry_point.imports", "artifact.present",
    "artifact.valid", "artifact.version", "artifact.safe", "predict.local", "proof.screenshot",
    "proof.generated", "security.secrets", "extras.custom_image", "cloud.deploy", "cloud.predict",
    "cloud.teardown", "cloud.leftovers", "cloud.account_clean",
]


def _order(cid: str) -> tuple[int, str]:
    return (CHECK_ORDER.index(cid) if cid in CHECK_ORDER else len(CHECK_ORDER), cid)


def _platform_total(checks: list[dict[str, Any]]) -> tuple[float, float, int]:
    score = sum(c["score"] for c in checks)
    mx = sum(c["max_score"] for c in checks)
    fails = sum(1 for c in checks if c["status"] == FAILED)
    return score, mx, fails


def build_students(results: Iterable[dict[str, Any]], refs: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """Group per-check results into one record per student (report.json schema).

    A repo with deploy folders for both platforms is graded on each and keeps the better score
    (higher fraction of points, then fewer failures); the other platform's totals are kept too."""
    by_student: dict[str, dict[str | None, dict[str, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    repos: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    for r in results:
        by_student[r["student"]][r.get("platform")][r["check"]] = r
        repos[r["student"]] = r.get("repo", "")
        notes[r["student"]] = r.get("notes", [])
    order = [getattr(ref, "student", None) for ref in refs]
    students = sorted(by_student, key=lambda s: (order.index(s) if s in order else len(order), s))
    out: list[dict[str, Any]] = []
    for s in students:
        plats = by_student[s]
        totals = {}
        for plat, checks in plats.items():
            score, mx, fails = _platform_total(list(checks.values()))
            totals[plat] = (score / mx if mx else 0.0, -fails, score, mx)
        best = max(plats, key=lambda p: (totals[p][0], totals[p][1], p == "aws"))
        checks = [
            {"id": c["check"], "status": c["status"], "score": c["score"], "max_score": c["max_score"],
             "message": c["message"], **({"data": c["data"]} if c.get("data") else {})}
            for c in sorted(plats[best].values(), key=lambda c: _order(c["check"]))
        ]
        rec = {
            "student": s, "repo": repos[s], "platform": best,
            "score": round(sum(c["score"] for c in checks), 3),
            "max_score": round(sum(c["max_score"] for c in checks), 3),
            "checks": checks,
        }
        if len(plats) > 1:
            rec["platforms"] = {p: {"score": totals[p][2], "max_score": totals[p][3]} for p in plats}
        if notes.get(s):
            rec["notes"] = notes[s]
        out.append(rec)
    return out


def check_ids(students: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for s in students:
        for c in s["checks"]:
            if c["id"] not in seen:
                seen.append(c["id"])
    return sorted(seen, key=_order)


def grades_frame(students: list[dict[str, Any]]):
    import pandas as pd
    ids = check_ids(students)
    rows = []
    for s in students:
        row: dict[str, Any] = {"student": s["student"], "platform": s["platform"] or ""}
        byid = {c["id"]: c for c in s["checks"]}
        for cid in ids:
            c = byid.get(cid)
            row[cid] = "" if c is None or c["status"] == SKIPPED else c["score"]
        row["total"] = s["score"]
        row["max"] = s["max_score"]
        rows.append(row)
    return pd.DataFrame(rows, columns=["student", "platform", *ids, "total", "max"])


def gradescope_result(s: dict[str, Any]) -> dict[str, Any]:
    """Gradescope autograder results.json for one student."""
    tests = []
    for c in s["checks"]:
        out = c["message"] or c["status"]
        if c["status"] == SKIPPED:
            out = f"skipped: {out}"
        tests.append({"name": c["id"], "score": c["score"], "max_score": c["max_score"],
                      "status": FAILED if c["status"] == FAILED else PASSED, "output": out})
    return {"score": s["score"], "tests": tests, "visibility": "visible",
            "output": f"platform: {s['platform'] or 'none found'}"}


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(students: list[dict[str, Any]]) -> str:
    lines = ["## deploycheck", ""]
    if len(students) == 1:
        s = students[0]
        lines += [f"**{s['student']}** ({s['platform'] or 'no deploy folder'}): "
                  f"**{_fmt(s['score'])} / {_fmt(s['max_score'])}**", "",
                  "| check | status | points | message |", "|---|---|---|---|"]
        for c in s["checks"]:
            icon = {"passed": "✅", "failed": "❌", "skipped": "⏭️"}[c["status"]]
            lines.append(f"| `{c['id']}` | {icon} {c['status']} | {_fmt(c['score'])}/{_fmt(c['max_score'])} "
                         f"| {_md_escape(c['message'][:300])} |")
    else:
        lines += ["| student | platform | score | failed checks |", "|---|---|---|---|"]
        for s in students:
            fails = ", ".join(f"`{c['id']}`" for c in s["checks"] if c["status"] == FAILED) or "—"
            lines.append(f"| {s['student']} | {s['platform'] or '—'} | {_fmt(s['score'])}/{_fmt(s['max_score'])} | {fails} |")
    return "\n".join(lines) + "\n"


def text_summary(students: list[dict[str, Any]]) -> str:
    out = []
    for s in students:
        fails = [c for c in s["checks"] if c["status"] == FAILED]
        out.append(f"{s['student']:<24} {s['platform'] or '-':<4} {_fmt(s['score']):>6}/{_fmt(s['max_score']):<6}"
                   + (f" failed: {', '.join(c['id'] for c in fails)}" if fails else " all checks passed"))
    return "\n".join(out)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}"


def canvas_frame(students: list[dict[str, Any]], assignment: str = "deploy lab"):
    """A CSV Canvas's gradebook import accepts: Student, ID, SIS User ID, Section, <assignment>."""
    import pandas as pd
    return pd.DataFrame([{"Student": s["student"], "ID": "", "SIS User ID": s["student"], "Section": "",
                          f"{assignment} ({_fmt(s['max_score'])})": s["score"]} for s in students])


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(students: list[dict[str, Any]], outdir: Path | str, meta: dict[str, Any] | None = None,
                 canvas: bool = False) -> Path:
    out = Path(outdir)
    (out / "results").mkdir(parents=True, exist_ok=True)
    doc = {"students": students}
    if meta:
        doc["meta"] = meta
    _write(out / "report.json", json.dumps(doc, indent=2, default=str))
    grades_frame(students).to_csv(out / "grades.csv", index=False)
    for s in students:
        _write(out / "results" / f"{s['student']}.json", json.dumps(gradescope_result(s), indent=2))
    _write(out / "summary.md", summary_markdown(students))
    if canvas:
        canvas_frame(students).to_csv(out / "canvas.csv", index=False)
    try:
        from deploycheck import htmlreport
    except ImportError:
        htmlreport = None  # type: ignore[assignment]
    if htmlreport is not None:
        htmlreport.write_index(students, out, meta or {})
    return out
