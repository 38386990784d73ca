"""``deploycheck merge OUT REPORT_DIR...``: merge shard reports into one gradebook.

Each REPORT_DIR is the ``--report`` folder of one ``pytest checks/ --shard K/N`` run (for
instance one job of a CI matrix). The students of every ``report.json`` are combined (sorted by
student id, like an unsharded run over a classroom folder), the gradebook is written again with
:func:`deploycheck.report.write_report` (report.json, grades.csv, results/, summary.md,
index.html, and canvas.csv with ``--canvas``), and each shard's ``proof/<student>/`` folder is
copied to ``OUT/proof/``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any


class MergeError(Exception):
    pass


def load_report(d: Path) -> dict[str, Any]:
    rj = d / "report.json" if d.is_dir() else d
    if not rj.is_file():
        raise MergeError(f"{d}: no report.json (give the --report folder of each shard run)")
    try:
        doc = json.loads(rj.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise MergeError(f"{rj}: not a readable report.json ({e})")
    if not isinstance(doc, dict) or not isinstance(doc.get("students"), list):
        raise MergeError(f"{rj}: not a deploycheck report (no \"students\" list)")
    return doc


def merge_docs(docs: list[tuple[str, dict[str, Any]]]) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """(students, meta, warnings) from ``[(source name, report.json doc), ...]``."""
    by_student: dict[str, dict[str, Any]] = {}
    source: dict[str, str] = {}
    warnings: list[str] = []
    metas: list[dict[str, Any]] = []
    for name, doc in docs:
        metas.append(doc.get("meta") or {})
        for s in doc["students"]:
            sid = str(s.get("student"))
            if sid in by_student:
                warnings.append(f"{sid} is in both {source[sid]} and {name}; kept the one from {name}")
            by_student[sid] = s
            source[sid] = name
    students = [by_student[k] for k in sorted(by_student)]
    starts = [m["started"] for m in metas if isinstance(m.get("started"), (int, float))]
    ends = [m["finished"] for m in metas if isinstance(m.get("finished"), (int, float))]
    meta: dict[str, Any] = {"merged_from": [n for n, _ in docs],
                            "shards": [m.get("shard") for m in metas]}
    if starts:
        meta["started"] = min(starts)
    if ends:
        meta["finished"] = max(ends)
    for key in ("run_id", "cloud"):
        vals = {m.get(key) for m in metas if m.get(key)}
        if len(vals) == 1:
            meta[key] = vals.pop()
    shards = [m.get("shard") for m in metas if m.get("shard")]
    totals = {str(s).split("/")[-1] for s in shards}
    if len(totals) == 1:
        n = int(totals.pop())
        have = {int(str(s).split("/")[0]) for s in shards}
        missing = sorted(set(range(1, n + 1)) - have)
        if missing:
            warnings.append(f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{k}/{n}' for k in missing)} "
                            "missing: those students are not in the merged gradebook")
    return students, meta, warnings


def _copy_regular_tree(src: Path, dst: Path) -> int:
    """Copy regular files below ``src`` to ``dst`` (symlinks and special files skipped)."""
    n = 0
    for root, dirs, files in os.walk(src, followlinks=False):
        rel = Path(root).relative_to(src)
        for name in files:
            sp = Path(root) / name
            try:
                if not stat.S_ISREG(os.lstat(sp).st_mode):
                    continue
            except OSError:
                continue
            dp = dst / rel / name
            dp.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sp, dp)
            n += 1
        dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink()]
    return n


def merge(out: Path | str, report_dirs: list[Path | str], canvas: bool = False) -> tuple[Path, list[str]]:
    """Merge ``report_dirs`` into ``out``; returns (out, warnings). Raises MergeError."""
    from deploycheck import report as rp
    out = Path(out)
    dirs = [Path(d) for d in report_dirs]
    if not dirs:
        raise MergeError("give at least one REPORT_DIR to merge")
    docs = [(str(d), load_report(d)) for d in dirs]
    students, meta, warnings = merge_docs(docs)
    out.mkdir(parents=True, exist_ok=True)
    for d in dirs:
        src = d / "proof"
        if src.is_dir() and not src.is_symlink() and src.resolve() != (out / "proof").resolve():
            _copy_regular_tree(src, out / "proof")
    rp.write_report(students, out, meta=meta, canvas=canvas)
    return out, warnings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deploycheck merge",
                                 description="merge shard reports (pytest checks/ --shard K/N --report DIR) into one gradebook")
    ap.add_argument("out", metavar="OUT", help="folder for the merged gradebook")
    ap.add_argument("reports", metavar="REPORT_DIR", nargs="+", help="--report folders of the shard runs")
    ap.add_argument("--canvas", action="store_true", help="also write canvas.csv (Canvas gradebook import)")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        out, warnings = merge(a.out, a.reports, canvas=a.canvas)
    except MergeError as e:
        print(f"deploycheck merge: {e}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"deploycheck merge: warning: {w}", file=sys.stderr)
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    print(f"merged {len(a.reports)} report(s), {len(doc['students'])} students -> {out.resolve()}/report.json "
          "(grades.csv, results/, summary.md, index.html" + (", canvas.csv" if a.canvas else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
