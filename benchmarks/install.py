#!/usr/bin/env python3
"""Install time and size of deploycheck for a student (`pip install .`) and an instructor
(`pip install '.[cloud,proof]'`), each into a fresh venv: cold (empty pip cache, everything comes
from the package index) and warm (every wheel already on disk: `pip install --no-index
--find-links WHEELHOUSE`, filled once with `pip wheel`; its size is what a cold install downloads).
Then the time of the first `deploycheck grade` of an example repo with that install. (pip's HTTP
cache is not used for "warm": an index that answers `no-store` leaves it empty.)

    python benchmarks/install.py [--python /usr/bin/python3] [--variants student,instructor]
                                 [--source DIR] [--label NAME] [--example fixtures/built/classroom/no_artifact]

``--source`` installs another checkout (e.g. ``git worktree add /tmp/before main`` to measure the
state before a change); ``--variants`` takes ``student`` (``.``), ``instructor`` (``.[cloud,proof]``),
``everything`` (``.[cloud,proof,test]``, what `make grade` installs) or any ``NAME=EXTRAS``;
``--skip-cold`` measures only the warm install.
Timings go to stdout as one JSON object per install; nothing here is a test.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"student": "", "instructor": "cloud,proof", "everything": "cloud,proof,test"}


def du(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t, p


def one(python: str, spec: list[str], cache: Path, work: Path, example: Path | None) -> dict:
    venv = work / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    env = {**os.environ, "PIP_CACHE_DIR": str(cache), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    empty = du(venv)
    secs, p = run([str(venv / "bin" / "pip"), "install", "-q", *spec], env)
    out = {"install_s": round(secs, 1), "ok": p.returncode == 0, "venv_added_mb": round((du(venv) - empty) / 1e6)}
    if p.returncode:
        out["error"] = (p.stderr or p.stdout)[-800:]
        return out
    if example is not None:
        report = work / "report"
        secs, g = run([str(venv / "bin" / "deploycheck"), "grade", "--repo", str(example), "--report", str(report)],
                      {k: v for k, v in env.items() if k != "PYTEST_ADDOPTS"}, cwd=work)
        out.update(first_grade_s=round(secs, 1), grade_exit=g.returncode,
                   graded=(report / "report.json").is_file())
        if not out["graded"]:
            out["grade_tail"] = (g.stdout + g.stderr)[-800:]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable)
    ap.add_argument("--variants", default="student,instructor")
    ap.add_argument("--source", type=Path, default=ROOT)
    ap.add_argument("--label", default="")
    ap.add_argument("--example", type=Path, default=ROOT / "fixtures" / "built" / "classroom" / "no_artifact")
    ap.add_argument("--skip-cold", action="store_true")
    a = ap.parse_args(argv)
    version = subprocess.run([a.python, "--version"], capture_output=True, text=True).stdout.strip()
    example = a.example.resolve() if a.example.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="dc-install-") as tmp:
        base = Path(tmp)
        for v in a.variants.split(","):
            name, _, extras = v.partition("=")
            extras = extras if "=" in v else VARIANTS[name]
            src = a.source.resolve()
            spec = f"{src}[{extras}]" if extras else str(src)
            head = {"label": a.label, "variant": name, "extras": extras or "-", "python": version}
            if not a.skip_cold:
                work = base / f"{name}-cold"
                work.mkdir()
                r = one(a.python, [spec], base / f"cache-{name}", work, example)
                print(json.dumps({**head, "cache": "cold", **r}), flush=True)
            house = base / f"wheels-{name}"
            subprocess.run([a.python, "-m", "pip", "wheel", "-q", "-w", str(house), spec], check=True,
                           capture_output=True, env={**os.environ, "PIP_CACHE_DIR": str(base / f"cache-w-{name}")})
            own = next(house.glob("deploycheck-*.whl"))
            pkg = f"{own}[{extras}]" if extras else str(own)
            work = base / f"{name}-warm"
            work.mkdir()
            r = one(a.python, ["--no-index", "--find-links", str(house), pkg], base / f"cache-{name}", work, example)
            print(json.dumps({**head, "cache": "warm", "wheels_mb": round(du(house) / 1e6), **r}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
