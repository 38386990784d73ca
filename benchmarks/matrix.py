#!/usr/bin/env python3
"""The class matrix, simulated on this machine (issue 26): a class of local git repositories reached
through ``file://`` URLs, graded as N shards the way ``examples/classroom-matrix.yml`` does
(``deploycheck grade --roster roster.csv --shard K/N``), then merged.

    python benchmarks/matrix.py [--repos 2000] [--shards 8] [--workers 2] [--distinct-screenshots]
                                [--old-way] [--workdir DIR]

For every shard, one after the other (a runner each in CI; here they share one machine):

* **clone**: ``resolve_sources(..., shard=(K, N))`` into an empty clone folder: the roster read, the
  shard's slice cloned (blobless, shallow) and checked out, timed alone;
* **grade**: the shard's ``deploycheck grade --roster ... --shard K/N -n WORKERS --no-proof`` run on
  that clone folder (its own fetch of the already-cloned slice included), timed as a whole.

Then ``deploycheck merge`` of the N reports. ``--old-way`` also times what every shard job did before
(the workflow cloned *every* repository of the class in each job): one clone of the whole class.

The repositories cycle through the example classroom (fixtures/built/classroom: complete and broken
hand-ins alike), each with a commit of its own. Their screenshots are byte-identical copies unless
``--distinct-screenshots`` (then every student's screenshot is OCR'd: ~0.3-1 CPU-s more per repo,
see benchmarks/ocr.py). Timings live here, never in tests; each line gives the CPU seconds too
(this machine is shared).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSROOM = ROOT / "fixtures" / "built" / "classroom"
GIT_ENV = {"GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "s@example.com", "GIT_COMMITTER_NAME": "Student",
           "GIT_COMMITTER_EMAIL": "s@example.com", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_AUTHOR_DATE": "2024-04-30T12:00:00Z", "GIT_COMMITTER_DATE": "2024-04-30T12:00:00Z"}


def _git(repo: Path, *args: str) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **GIT_ENV}
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


def build(workdir: Path, n: int, distinct: bool) -> Path:
    """``n`` git repositories under workdir/github and workdir/roster.csv (student,url)."""
    src = workdir / "github"
    if src.exists():
        shutil.rmtree(src)
    examples = sorted(p for p in CLASSROOM.iterdir() if p.is_dir())
    if distinct:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from classroom import _distinct_png   # type: ignore[import-not-found]

    def one(i: int) -> tuple[str, str]:
        ex = examples[i % len(examples)]
        name = f"s{i:05d}"
        repo = src / f"deploy-lab-{name}"
        shutil.copytree(ex, repo, symlinks=True)
        (repo / "STUDENT.md").write_text(f"{name} ({ex.name})\n")
        if distinct:
            for png in repo.rglob("*.png"):
                if not png.is_symlink():
                    try:
                        _distinct_png(png, i)
                    except Exception:  # noqa: BLE001 - a deliberately broken image stays as it is
                        pass
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "config", "uploadpack.allowFilter", "true")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "hand-in")
        return name, repo.as_uri()

    with ThreadPoolExecutor(4) as ex:
        rows = list(ex.map(one, range(n)))
    roster = workdir / "roster.csv"
    with open(roster, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "url"])
        w.writerows(rows)
    return roster


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def clone(roster: Path, dest: Path, shard: tuple[int, int] | None) -> tuple[float, float, int, int]:
    """(wall s, CPU s, repos cloned, errors) of resolving the roster and cloning ``shard``'s slice."""
    from deploycheck.classroom import resolve_sources
    c0, s0, t = _cpu_children(), _cpu_self(), time.perf_counter()
    refs, _w, _c = resolve_sources([], None, [str(roster)], clone_dir=dest, shard=shard)
    wall = time.perf_counter() - t
    return wall, _cpu_children() - c0 + _cpu_self() - s0, len(refs), sum(1 for r in refs if r.error)


def grade(args: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    c0, t = _cpu_children(), time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    return time.perf_counter() - t, _cpu_children() - c0, r.returncode, (lines[-1] if lines else r.stderr[-300:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=2000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--distinct-screenshots", action="store_true")
    ap.add_argument("--old-way", action="store_true", help="also clone the whole class once (each job's share before)")
    ap.add_argument("--workdir", type=Path)
    a = ap.parse_args(argv)
    tmp = None
    workdir = a.workdir or Path(tmp := tempfile.mkdtemp(prefix="deploycheck-matrix-"))
    sys.path.insert(0, str(ROOT))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("DEPLOYCHECK_NO_CACHE", "GITHUB_TOKEN", "GH_TOKEN")}
        env["DEPLOYCHECK_RESULTS_DIR"] = str(workdir / "results")
        env["XDG_CACHE_HOME"] = str(workdir / "xdg")          # fresh OCR and results caches (runtimes stay shared)
        print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        t = time.perf_counter()
        roster = build(workdir, a.repos, a.distinct_screenshots)
        print(f"built {a.repos} git repos ({len(list(CLASSROOM.iterdir()))} examples) in {time.perf_counter() - t:.0f} s")
        rows = []
        reports = []
        for k in range(1, a.shards + 1):
            dest = workdir / f"clones{k}"
            cw, cc, n, errs = clone(roster, dest, (k, a.shards))
            out = workdir / f"report-shard-{k}"
            gw, gc, rc, tail = grade(["--roster", str(roster), "--shard", f"{k}/{a.shards}", "--clone-dir", str(dest),
                                      "-n", str(a.workers), "--no-proof", "--report", str(out), "-q"], env)
            reports.append(out)
            students = len(json.loads((out / "report.json").read_text())["students"]) if (out / "report.json").exists() else 0
            rows.append((k, n, errs, cw, cc, gw, gc, rc, students))
            print(f"shard {k}/{a.shards}: {n} repos ({errs} not cloned) | clone {cw:.1f} s ({cc:.1f} CPU-s) | "
                  f"grade {gw:.1f} s ({gc:.0f} CPU-s), exit {rc}, {students} students in report.json  [{tail}]",
                  flush=True)
        t = time.perf_counter()
        m = subprocess.run([sys.executable, "-m", "deploycheck.cli", "merge", str(workdir / "gradebook"),
                            *map(str, reports)], cwd=ROOT, env=env, capture_output=True, text=True)
        mw = time.perf_counter() - t
        merged = json.loads((workdir / "gradebook" / "report.json").read_text())["students"] \
            if (workdir / "gradebook" / "report.json").exists() else []
        cw = [r[3] for r in rows]
        gw = [r[5] for r in rows]
        print(f"merge: {len(merged)} students in {mw:.1f} s (exit {m.returncode})")
        print(f"per shard: clone {min(cw):.1f}-{max(cw):.1f} s (mean {sum(cw) / len(cw):.1f}), grade "
              f"{min(gw):.1f}-{max(gw):.1f} s (mean {sum(gw) / len(gw):.1f}); a matrix of {a.shards} parallel jobs "
              f"takes about the slowest shard: {max(c + g for c, g in zip(cw, gw)):.0f} s + set-up")
        if a.old_way:
            ow, oc, on, _e = clone(roster, workdir / "clones-all", None)
            print(f"before (each job cloned the whole class): {on} repos cloned in {ow:.1f} s ({oc:.0f} CPU-s) "
                  f"per job, {a.shards}x that across the matrix; now {sum(cw):.1f} s across the matrix")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
