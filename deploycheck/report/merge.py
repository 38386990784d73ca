"""``deploycheck merge OUT REPORT_DIR...``: shard reports -> one gradebook.

Each REPORT_DIR is the ``--report`` folder of one ``--shard K/N`` run. The merge fails (exit 2,
naming them) when shards are missing or overlap (a student in two shards), unless
``--allow-partial``: then the gradebook is written with a "not graded" row for every missing
student that the shards' metadata names, and ``meta.missing_students`` lists them.
"""
from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
from pathlib import Path

from deploycheck import model
from deploycheck.report import ReportError, ReportOptions, RunMeta, write_all
from deploycheck.report import warnings as report_warnings
from deploycheck.report import json as rjson


class MergeError(Exception):
    pass


def load(d: Path) -> tuple[list[model.StudentResult], RunMeta]:
    rj = d / "report.json" if d.is_dir() else d
    if not rj.is_file():
        raise MergeError(f"{d}: no report.json (give the --report folder of each shard run)")
    try:
        students, meta = rjson.read(rj)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise MergeError(f"{rj}: not a readable report.json ({type(e).__name__}: {e})") from None
    return students, RunMeta.from_json(meta)


def _shard(s: str | None) -> tuple[int, int] | None:
    try:
        k, n = (int(x) for x in str(s).split("/"))
        return (k, n) if 1 <= k <= n else None
    except ValueError:
        return None


def combine(docs: list[tuple[str, list[model.StudentResult], RunMeta]], allow_partial: bool = False
            ) -> tuple[list[model.StudentResult], RunMeta, list[str]]:
    """(students, meta, warnings); raises MergeError on missing/overlapping shards unless allowed."""
    problems: list[str] = []
    warnings: list[str] = []
    by: dict[str, model.StudentResult] = {}
    where: dict[str, str] = {}
    for name, students, _meta in docs:
        for s in students:
            if s.student in by:
                problems.append(f"{s.student} is in both {where[s.student]} and {name}")
                continue
            by[s.student] = s
            where[s.student] = name
    shards = [m.shard for _n, _s, m in docs]
    parsed = [_shard(x) for x in shards]
    totals = {p[1] for p in parsed if p}
    missing_shards: list[str] = []
    if len(totals) > 1:
        problems.append(f"the reports come from different shardings ({', '.join(sorted(set(map(str, shards))))})")
    elif totals:
        n = totals.pop()
        have = [p[0] for p in parsed if p]
        dup = sorted({k for k in have if have.count(k) > 1})
        if dup:
            problems.append(f"shard {', '.join(f'{k}/{n}' for k in dup)} given twice")
        missing_shards = [f"{k}/{n}" for k in range(1, n + 1) if k not in have]
        if missing_shards:
            problems.append(f"shard{'s' if len(missing_shards) > 1 else ''} {', '.join(missing_shards)} missing")
        if any(p is None for p in parsed):
            problems.append("some reports are not shards (no meta.shard) and others are")
    roster: list[str] = []
    for _n, _s, m in docs:
        for sid in m.class_students:
            if sid not in roster:
                roster.append(sid)
    missing_students = [sid for sid in roster if sid not in by]
    if missing_students:
        shown = ", ".join(missing_students[:20]) + (f" and {len(missing_students) - 20} more"
                                                    if len(missing_students) > 20 else "")
        problems.append(f"{len(missing_students)} student(s) of the class are in no report: {shown}")
    if problems and not allow_partial:
        raise MergeError("; ".join(dict.fromkeys(problems)) + " (merge every shard, or pass --allow-partial)")
    warnings += list(dict.fromkeys(problems))
    common = next((s.max_score for s in by.values() if s.max_score), 0.0)
    for sid in missing_students:
        by[sid] = model.StudentResult(
            student=sid, repo="", platform=None, score=0.0, max_score=common,
            error="this student's shard report is missing from the merge"
                  + (f" ({', '.join(missing_shards)})" if missing_shards else ""))
    order = roster + sorted(s for s in by if s not in roster)
    students = [by[s] for s in order if s in by]
    metas = [m for _n, _s, m in docs]
    starts = [m.started for m in metas if isinstance(m.started, (int, float))]
    ends = [m.finished for m in metas if isinstance(m.finished, (int, float))]
    same = lambda attr: (lambda vals: vals.pop() if len(vals) == 1 else None)({getattr(m, attr) for m in metas})
    meta = RunMeta(started=min(starts) if starts else None, finished=max(ends) if ends else None, shard=None,
                   class_students=tuple(roster), run_id=same("run_id") or "", cloud=same("cloud"),
                   deadline=same("deadline"),
                   extra={"merged_from": [n for n, _s, _m in docs], "shards": shards,
                          **({"missing_students": missing_students} if missing_students else {}),
                          **({"missing_shards": missing_shards} if missing_shards else {})})
    return students, meta, warnings


def copy_regular_tree(src: Path, dst: Path) -> int:
    """Copy regular files below ``src`` to ``dst`` (symlinks and special files skipped)."""
    n = 0
    for root, dirs, files in os.walk(src, followlinks=False):
        rel = Path(root).relative_to(src)
        dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink()]
        for name in files:
            sp = Path(root) / name
            try:
                if not stat.S_ISREG(os.lstat(sp).st_mode):
                    continue
            except OSError:
                continue
            dp = dst / rel / name
            dp.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sp, dp, follow_symlinks=False)
            n += 1
    return n


def merge(out: Path | str, report_dirs: list[Path | str], options: ReportOptions = ReportOptions(),
          allow_partial: bool = False) -> tuple[Path, list[str], int]:
    """Merge ``report_dirs`` into ``out``; returns (out, warnings, number of students)."""
    out = Path(out)
    dirs = [Path(d) for d in report_dirs]
    if not dirs:
        raise MergeError("give at least one REPORT_DIR to merge")
    docs = [(str(d), *load(d)) for d in dirs]
    students, meta, warnings = combine(docs, allow_partial)
    # the integrity signals of the whole class, from every shard's fingerprints (a shard only saw its own)
    from dataclasses import replace

    from deploycheck.classroom import integrity
    prints: list[integrity.Fingerprint] = []
    starter = None
    for d in dirs:
        got, st = integrity.read_prints(d)
        prints += got
        starter = starter or st
    if prints:
        students, summary = integrity.apply(students, prints, starter)
        meta = replace(meta, extra={**meta.extra, "integrity": summary})
    out.mkdir(parents=True, exist_ok=True)
    for d in dirs:
        src = d / "proof"
        if src.is_dir() and not src.is_symlink() and src.resolve() != (out / "proof").resolve():
            copy_regular_tree(src, out / "proof")
    write_all(students, out, meta, options)
    warnings += report_warnings(students, options)
    if prints:
        integrity.write_prints(out, prints, starter)
    return out, warnings, len(students)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deploycheck merge",
                                 description="merge shard reports (deploycheck grade --shard K/N --report DIR) into one "
                                             "gradebook")
    ap.add_argument("out", metavar="OUT", help="folder for the merged gradebook")
    ap.add_argument("reports", metavar="REPORT_DIR", nargs="+", help="--report folders of the shard runs")
    ap.add_argument("--allow-partial", action="store_true",
                    help="write the gradebook even when shards are missing or overlap (missing students are listed)")
    ap.add_argument("--canvas", action="store_true", help="also write canvas.csv (Canvas gradebook import)")
    ap.add_argument("--canvas-assignment", metavar="'NAME (ID)'", help="canvas.csv's assignment column (implies --canvas)")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    opts = ReportOptions(canvas=a.canvas or bool(a.canvas_assignment), canvas_assignment=a.canvas_assignment)
    try:
        out, warnings, n = merge(a.out, a.reports, opts, allow_partial=a.allow_partial)
    except MergeError as e:
        print(f"deploycheck merge: {e}", file=sys.stderr)
        return 2
    except ReportError as e:
        print(f"deploycheck merge: {e}", file=sys.stderr)
        return 3
    for w in warnings:
        print(f"deploycheck merge: warning: {w}", file=sys.stderr)
    print(f"merged {len(a.reports)} report(s), {n} students -> {out.resolve()}/report.json "
          "(grades.csv, results/, summary.md, index.html" + (", canvas.csv" if opts.canvas else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
