"""What the sandbox's isolation costs: server start per interpreter and per-job cost, bubblewrap
against unsandboxed (``--allow-unsandboxed``), on this machine.

    .venv/bin/python benchmarks/sandbox.py [--jobs 40] [--python /path/to/python3.7]

Per job = prepare the input (copy + extract) -> fork the job as its PID namespace's init -> namespaces, tmpfs, copy in ->
run -> answer -> the job's PID namespace dies -> clean-up, as seen by the caller of run().
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploycheck import sandbox  # noqa: E402
from deploycheck.sandbox import client  # noqa: E402
from deploycheck.sandbox.isolation import Isolation  # noqa: E402

JOBS = str(ROOT / "tests" / "sandbox" / "jobs")


def force(mode: str) -> None:
    sandbox.shutdown()
    if mode == "unsandboxed":
        client._ISOLATION = Isolation("unavailable", "benchmark: forced", "")
        sandbox.set_allow_unsandboxed(True)
    else:
        sandbox.reset_isolation()
        sandbox.set_allow_unsandboxed(None)


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs):7.1f} ms, p90 {xs[int(len(xs) * 0.9) - 1]:7.1f} ms"


def deploy_folder(tmp: Path) -> tuple[Path, Path]:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier
    X, y = load_iris(return_X_y=True)
    d = tmp / "aws_deploy"
    d.mkdir()
    (d / "inference.py").write_text("import joblib, os\n\ndef model_fn(model_dir):\n"
                                    "    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n")
    (d / "README.md").write_text("# deploy\n")
    b = io.BytesIO()
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), b)
    with tarfile.open(d / "model.tar.gz", "w:gz") as tf:
        ti = tarfile.TarInfo("model.joblib")
        ti.size = len(b.getvalue())
        tf.addfile(ti, io.BytesIO(b.getvalue()))
    return d, d / "model.tar.gz"


def bench(mode: str, n: int, folder: Path, tar: Path, other_python: str | None) -> None:
    force(mode)
    label = sandbox.isolation().label if mode == "bwrap" else "unsandboxed"
    print(f"\n== {mode}: {label}")
    bare = sandbox.Interpreter(python=sys.executable, label="bare")
    grader = sandbox.Interpreter.grader()
    for name, interp in [("bare python (stdlib only)", bare), ("grader (numpy, scipy, sklearn, pandas preloaded)", grader)] \
            + ([(f"{other_python} (stdlib only)", sandbox.Interpreter(python=other_python))] if other_python else []):
        t = time.perf_counter()
        info = sandbox.server_info(interp, job_paths=(JOBS,))
        print(f"server start, {name}: {time.perf_counter() - t:6.2f} s (VmSize {info['vmsize_kb'] // 1024} MB)")
    for name, kw in [("echo, no input", {}), ("echo + copy of a deploy folder + extraction", {"folder": folder, "extract": tar})]:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            r = sandbox.run("sbjobs:echo", {}, interpreter=bare, job_paths=[JOBS], **kw)
            times.append((time.perf_counter() - t) * 1000)
            assert r.ok, r
        print(f"per job, bare server, {name:45s}: {stats(times)}")
    # the predict.local check itself: the image's runtime environment, the container's request path
    from types import SimpleNamespace
    from deploycheck.discovery import Target, load_submission
    from deploycheck.verdicts import predict
    sub = load_submission("bench", str(folder.parent))
    target = Target(sub.student, "aws", sub, sub.student)
    settings = SimpleNamespace(sandbox_timeout=20, sandbox_memory_mb=2048)
    o = predict.predict_local(target, settings)              # starts that runtime's server
    assert o.status == "passed", o.message
    times = []
    for _ in range(n):
        t = time.perf_counter()
        load_submission.cache_clear()                            # facts are computed once per folder
        sub = load_submission("bench", str(folder.parent))
        o = predict.predict_local(Target(sub.student, "aws", sub, sub.student), settings)
        times.append((time.perf_counter() - t) * 1000)
        assert o.status == "passed", o.message
    print(f"per check, {'predict.local, with its folder facts':51s}: {stats(times)}")
    sandbox.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--python", default=None, help="another interpreter to start a server with (e.g. 3.7)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, tar = deploy_folder(Path(tmp))
        for mode in ("bwrap", "unsandboxed"):
            bench(mode, a.jobs, folder, tar, a.python)


if __name__ == "__main__":
    main()
