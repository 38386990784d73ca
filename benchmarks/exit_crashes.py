#!/usr/bin/env python3
"""How often `deploycheck grade` dies at exit (a signal after its report is written), under load.

    python benchmarks/exit_crashes.py [--concurrent 8] [--rounds 5] [--repo no_artifact] [--against REV]
                                      [--keep DIR] [-- extra grade arguments, e.g. -v]

Each round starts ``--concurrent`` grader processes at once on the example repo
fixtures/built/classroom/<repo> (``make fixtures``), with the test suite's settings (no results cache,
no Python downloads), and waits for all of them; the run counts how each ended. A crash is an exit by a
signal (SIGSEGV: -11, or 139 from a shell) or a "Fatal Python error" on stderr. With ``--against REV``
every round also starts as many processes of revision REV's ``deploycheck/`` and ``checks/`` (extracted
with `git archive`, run from this checkout's Python), so both are measured under the same load.

It is the statistical reproduction of the exit-time SIGSEGV that Playwright's greenlet thread state caused
(deploycheck/proof/browser.py: the browser thread never ends). On 2 shared cores, 8 concurrent runs of
``no_artifact -v`` crashed 10 of 20 times before that fix and 0 of 20 after it, side by side. The rate
depends on the machine's load: compare revisions in the same run (``--against``), never across runs.
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSROOM = ROOT / "fixtures" / "built" / "classroom"


def extract(rev: str, dest: Path) -> Path:
    """REV's deploycheck package with its rubric where an installed wheel has it (deploycheck/checks)."""
    archive = dest / "rev.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev, "deploycheck", "checks"], check=True)
    with tarfile.open(archive) as tf:
        tf.extractall(dest / "x", filter="data")
    (dest / "x" / "checks").rename(dest / "x" / "deploycheck" / "checks")
    return dest / "x"


def ended(code: int, stderr: str) -> str:
    if code < 0:
        return f"crash ({signal.Signals(-code).name})"
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        return f"crash ({signal.Signals(code - 128).name})"
    if "Fatal Python error" in stderr:
        return f"crash (exit {code}, Fatal Python error)"
    return f"exit {code}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrent", type=int, default=8, help="grader processes started at once (per revision)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repo", default="no_artifact", help="an example repo of fixtures/built/classroom")
    ap.add_argument("--against", metavar="REV", help="also run this git revision, side by side")
    ap.add_argument("--keep", type=Path, help="keep every run's report and output under this folder")
    ap.add_argument("grade_args", nargs="*", help="after --: more `deploycheck grade` arguments")
    a = ap.parse_args(argv)
    repo = CLASSROOM / a.repo
    if not repo.is_dir():
        ap.error(f"{repo} does not exist: run `make fixtures` (or name another example with --repo)")
    work = Path(a.keep or tempfile.mkdtemp(prefix="deploycheck-exit-crashes-"))
    work.mkdir(parents=True, exist_ok=True)
    variants: dict[str, str | None] = {"checkout": None}
    if a.against:
        variants = {a.against: str(extract(a.against, work)), **variants}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONPATH"}
    env.update(DEPLOYCHECK_NO_CACHE="1", DEPLOYCHECK_PYTHON_DOWNLOADS="never", PYTHONFAULTHANDLER="1")
    results: dict[str, collections.Counter[str]] = {v: collections.Counter() for v in variants}
    examples: dict[str, str] = {}
    t0 = time.monotonic()
    for r in range(a.rounds):
        procs = []
        for k in range(a.concurrent):
            for name, path in variants.items():
                d = work / f"{name.replace('/', '_')}-{r}-{k}"
                d.mkdir(parents=True, exist_ok=True)
                e = dict(env, PYTHONPATH=path) if path else env
                with open(d / "stdout", "wb") as out, open(d / "stderr", "wb") as err_file:
                    p = subprocess.Popen([sys.executable, "-m", "deploycheck.cli", "grade", "--repo", str(repo),
                                          "--report", str(d / "report"), *a.grade_args], cwd=d, env=e,
                                         stdout=out, stderr=err_file)
                procs.append((name, d, p))
        for name, d, p in procs:
            code = p.wait()
            err = (d / "stderr").read_text(errors="replace")
            how = ended(code, err)
            results[name][how] += 1
            if how.startswith("crash") and name not in examples:
                examples[name] = f"{d}: " + " | ".join(err.strip().splitlines()[-4:])
        print(f"round {r + 1}/{a.rounds}: " + "; ".join(f"{n}: {dict(c)}" for n, c in results.items()), flush=True)
    print(f"\n{a.rounds} rounds of {a.concurrent} concurrent `deploycheck grade --repo {a.repo} "
          f"{' '.join(a.grade_args)}` per revision ({time.monotonic() - t0:.0f} s):")
    for name, c in results.items():
        crashed = sum(n for how, n in c.items() if how.startswith("crash"))
        print(f"  {name:>12}: {crashed}/{sum(c.values())} crashed   {dict(c)}")
        if name in examples:
            print(f"  {'':>12}  e.g. {examples[name][:300]}")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
