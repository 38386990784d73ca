"""Clone strategies for the classroom cache, measured on a synthetic student repo whose history
holds large files that the current tree no longer has (a dataset committed, then replaced).

    .venv/bin/python benchmarks/clone.py [--commits 40] [--blob-mb 2]

Prints the size on disk and the time of: a full clone, a shallow clone (--depth 1), a blobless
partial clone (--filter=blob:none) checked out at the tip, and the blobless clone also checked out
at an older (deadline) commit. deploycheck uses blobless clones (+ --depth 1 without --deadline):
every commit is there for the deadline and late-commit count, file contents only for what is graded.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "classroom"))
from gitrepos import git, make_repo  # noqa: E402


def size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink())


def run(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run(["git", *args], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=40)
    ap.add_argument("--blob-mb", type=float, default=2.0)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dc-clone-bench-"))
    try:
        src = work / "src"
        commits = []
        for i in range(a.commits):
            data = os.urandom(int(a.blob_mb * 2**20)).hex()[: int(a.blob_mb * 2**20)]
            commits.append((f"2024-04-{1 + i % 28:02d}T10:{i % 60:02d}:00+00:00",
                            {"data/train.csv": data, "aws_deploy/README.md": f"v{i}"}))
        shas = make_repo(src, commits)
        url = src.as_uri()
        rows = []
        for name, args in [("full", []), ("depth 1", ["--depth", "1"]), ("blobless", ["--filter=blob:none"]),
                           ("blob:limit=1m (deploycheck)", ["--filter=blob:limit=1m"])]:
            dest = work / re.sub(r"\W+", "_", name)
            t = run("clone", "-q", *args, url, str(dest))
            rows.append((name, size(dest / ".git"), t))
        dest = work / "blobless"
        t = run("-C", str(dest), "checkout", "-q", "--detach", shas[len(shas) // 2])
        rows.append(("blobless + older checkout", size(dest / ".git"), t))
        print(f"repo: {a.commits} commits, each rewriting a {a.blob_mb:g} MB file")
        for name, b, t in rows:
            print(f"{name:<28} .git {b / 2**20:8.1f} MB  {t:6.2f} s")
        git(src, "count-objects", "-v")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
