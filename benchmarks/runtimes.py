#!/usr/bin/env python3
"""Timings of the serving images' runtime environments (never asserted in tests).

    python benchmarks/runtimes.py                         # warm build check + per-request overhead
    python benchmarks/runtimes.py --cold sagemaker:1.2-1  # also a cold build: empty env cache AND empty uv cache

* build: time of ``envs.ensure(image)`` cold (fresh DEPLOYCHECK_CACHE_DIR and UV_CACHE_DIR: every
  wheel downloaded from PyPI) and warm (the environment exists: manifest read);
* per request: ``serving.local.run`` of a ping + one JSON prediction through the sandbox with a warm
  environment and a warm fork server (the steady state of predict.local in a class run), median
  of N, and the first run (fork server start + preload).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploycheck.runtimes import catalog, envs  # noqa: E402
from deploycheck.serving import local  # noqa: E402

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
ENTRY = "import os, joblib\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"


def cold_build(key: str) -> float:
    with tempfile.TemporaryDirectory(prefix="dc-bench-cold-") as td:
        env = dict(os.environ, DEPLOYCHECK_CACHE_DIR=str(Path(td) / "cache"), UV_CACHE_DIR=str(Path(td) / "uv"))
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "deploycheck.cli", "runtimes", "build", key], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - t


def folder_for(env: envs.RuntimeEnv, root: Path) -> local.Target:
    subprocess.run([env.python, "-I", "-c", "import sys, joblib\nfrom sklearn.datasets import load_iris\n"
                    "from sklearn.linear_model import LogisticRegression\nX, y = load_iris(return_X_y=True)\n"
                    "joblib.dump(LogisticRegression(max_iter=1000).fit(X, y), sys.argv[1])", str(root / "m.joblib")],
                   check=True)
    data = (root / "m.joblib").read_bytes()
    if env.image.kind != "sagemaker":
        (root / "model.joblib").write_bytes(data)
        return local.Target("gcp", root, "gcp_deploy", env.image)
    (root / "inference.py").write_text(ENTRY)
    with tarfile.open(root / "model.tar.gz", "w:gz") as tf:
        ti = tarfile.TarInfo("model.joblib")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    (root / "m.joblib").unlink()
    return local.Target("aws", root, "aws_deploy", env.image, entry="inference.py", extract=root / "model.tar.gz")


def per_request(key: str, n: int) -> dict:
    env = envs.ensure(catalog.image(key))
    with tempfile.TemporaryDirectory(prefix="dc-bench-") as td:
        target = folder_for(env, Path(td))
        body = json.dumps(ROWS if target.platform == "aws" else {"instances": ROWS}).encode()
        reqs = ([local.HttpRequest.ping()] if target.platform == "aws" else []) + \
            [local.HttpRequest("POST", "/invocations" if target.platform == "aws" else "/predict",
                               (("Content-Type", "application/json"),), body)]
        runtime = local.Runtime(env.label, env.image, env)
        times, inside = [], []
        for _ in range(n + 1):
            t = time.perf_counter()
            run = local.run(target, reqs, runtime=runtime)
            times.append((time.perf_counter() - t) * 1000)
            assert not run.machine_error and run.answers[-1].status == 200, run
            inside.append(sum(a.latency_ms or 0 for a in run.answers))
        return {"first_ms": round(times[0], 1), "median_ms": round(statistics.median(times[1:]), 1),
                "p90_ms": round(sorted(times[1:])[int(0.9 * (n - 1))], 1),
                "inside_median_ms": round(statistics.median(inside[1:]), 1), "isolation": run.isolation}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", default=["sagemaker:1.2-1", "sagemaker:1.0-1", "vertex:sklearn-cpu.1-2"])
    ap.add_argument("--cold", nargs="*", default=[], metavar="IMAGE", help="images to build cold (downloads)")
    ap.add_argument("-n", type=int, default=20)
    a = ap.parse_args()
    for key in a.cold:
        print(f"{key}: cold build {cold_build(key):.1f} s", flush=True)
    for key in a.images:
        t = time.perf_counter()
        env = envs.ensure(catalog.image(key))
        warm = time.perf_counter() - t
        m = json.loads((env.root / envs.MANIFEST).read_text())
        print(f"{key}: warm ensure {warm * 1000:.0f} ms (built in {m.get('build_seconds')} s on {m.get('built')})",
              flush=True)
        print(f"{key}: per request {per_request(key, a.n)}", flush=True)
    from deploycheck import sandbox
    sandbox.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
