#!/usr/bin/env python3
"""Cost and flood of the class's integrity signals (issue 26; deploycheck.classroom.integrity).

    python benchmarks/integrity.py [--repos 200] [--copies 5] [--workdir DIR]

1. **the example classroom x N** (benchmarks/classroom.py's class: every example repo copied, each
   screenshot made byte-distinct): fingerprinting every student (in one process; a grading run does
   it in its workers from facts it computes anyway: README, entry point, artifact scan, OCR) and
   comparing them; the pairs and the "common" items found (these repos *are* copies of ~33 examples);
2. **an independent class of N with the course's starter files** (fixtures/integrity_class.py: own
   models, own screenshots rendered in Chromium, own READMEs around the starter's template) with
   ``--copies`` pairs copied: how many pairs are flagged with ``--starter`` and without;
3. **the comparison alone on 1x..16x that class** (fingerprints replicated under new ids, every
   hash salted so that replicas are independent students): near-linear or not.

The OCR of each screenshot (what grading pays anyway) is done once before the timing (its cache
warm); timings live here, never in tests.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _prints(repos: list[Path]):
    from deploycheck.analysis import fingerprint
    from deploycheck.discovery import load_submission
    return [fingerprint.of_submission(load_submission(p.name, str(p))) for p in repos]


def _timed_prints(repos: list[Path]):
    from deploycheck.discovery import load_submission
    _prints(repos)                                       # OCR cache warm (grading pays the OCR anyway)
    load_submission.cache_clear()                        # fresh facts: what a grading worker computes
    t = time.perf_counter()
    prints = _prints(repos)
    return prints, time.perf_counter() - t


def _salt(fp, k: int):
    """An independent copy of a student's fingerprint: every hash salted with ``k``."""
    from deploycheck.analysis.fingerprint import FilePrint, ModelPrint, NamePrint, ShotPrint, TextPrint

    def h(x: str) -> str:
        return hashlib.sha256(f"{k}:{x}".encode()).hexdigest()

    def i32(x: int) -> int:
        return int.from_bytes(hashlib.blake2b(f"{k}:{x}".encode(), digest_size=4).digest(), "little")
    return replace(fp, student=f"{fp.student}-r{k}",
                   files=tuple(FilePrint(f.rel, h(f.sha256), f.size) for f in fp.files),
                   models=tuple(ModelPrint(m.rel, h(m.params), m.top) for m in fp.models),
                   shots=tuple(ShotPrint(s.rel, h(s.sha256), s.phash, frozenset(i32(w) for w in s.words),
                                         frozenset(i32(t) for t in s.tokens)) for s in fp.shots),
                   texts=tuple(TextPrint(t.kind, t.rel, tuple((i32(g), ln) for g, ln in t.grams)) for t in fp.texts),
                   names=tuple(NamePrint(n.kind, f"{n.value}-{k}", n.where) for n in fp.names))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=200)
    ap.add_argument("--copies", type=int, default=5)
    ap.add_argument("--workdir", type=Path)
    a = ap.parse_args(argv)
    tmp = None
    workdir = a.workdir or Path(tmp := tempfile.mkdtemp(prefix="deploycheck-integrity-"))
    os.environ.setdefault("XDG_CACHE_HOME", str(workdir / "xdg"))
    try:
        from deploycheck.classroom import integrity
        print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        import classroom as bench_classroom                  # benchmarks/classroom.py
        room = bench_classroom.build(workdir, a.repos)
        prints, tf = _timed_prints(sorted(p for p in room.iterdir() if p.is_dir()))
        t = time.perf_counter()
        res = integrity.compare(prints)
        tc = time.perf_counter() - t
        print(f"1. example classroom x{a.repos}: fingerprints {tf:.1f} s ({1000 * tf / a.repos:.0f} ms/student), "
              f"compare {1000 * tc:.0f} ms; {len(res.pairs)} pairs, {len(res.common)} common items "
              f"(limit {res.limit}): " + "; ".join(f"{c.kind} x{len(c.students)}" for c in res.common[:6]))

        import integrity_class
        copies = [(i, a.repos - 1 - i) for i in range(a.copies)]
        t = time.perf_counter()
        ic = integrity_class.build(workdir / "independent", a.repos, copies)
        print(f"   built an independent class of {a.repos} in {time.perf_counter() - t:.0f} s")
        prints, tf = _timed_prints(sorted((ic / "class").iterdir()))
        starter = integrity.starter_print(ic / "starter")
        for label, st in (("with --starter", starter), ("without --starter", None)):
            t = time.perf_counter()
            res = integrity.compare(prints, st)
            tc = time.perf_counter() - t
            expected = {(f"student{x:03d}", f"student{y:03d}") for x, y in copies}
            print(f"2. independent class of {a.repos}, {a.copies} copied pairs, {label}: {len(res.pairs)} pairs "
                  f"flagged ({len(set(res.pairs) & expected)} of the copies), fingerprints {tf:.1f} s, compare "
                  f"{1000 * tc:.0f} ms; common: " + "; ".join(f"{c.kind} x{len(c.students)}" for c in res.common[:4]))
        base = None
        for mult in (1, 2, 4, 8, 16):
            many = [_salt(fp, k) for k in range(mult) for fp in prints]
            t = time.perf_counter()
            res = integrity.compare(many, starter)
            tc = time.perf_counter() - t
            base = base or tc
            print(f"3. compare {len(many)} students: {1000 * tc:.0f} ms ({tc / base:.1f}x the {len(prints)}-student "
                  f"time for {mult}x the students), {len(res.pairs)} pairs")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
