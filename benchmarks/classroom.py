#!/usr/bin/env python3
"""Class-scale benchmark: grade N synthetic student repos with the full rubric, side by side with
a naive baseline.

    python benchmarks/classroom.py --repos 200 [--workdir DIR] [--workers 2] [--naive-sample 40]

(a) ``python -m pytest checks/ --classroom DIR -n 2 -q -p no:cacheprovider`` (every check in
    checks/, predict.local through the pre-warmed sandbox fork servers);
(b) the naive way: one fresh ``python -c`` per repo that imports scikit-learn, loads the model
    (extracting model.tar.gz and calling model_fn for AWS) and predicts — run on ``--naive-sample``
    repos with the same number of parallel workers, and reported as repos/second.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
INFERENCE = "import joblib, os\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
AWS_README = """# Deploying my model to SageMaker

```python
from sagemaker.sklearn.model import SKLearnModel
model = SKLearnModel(model_data="s3://my-bucket/model.tar.gz", role=role,
                     entry_point="inference.py", framework_version="1.2-1")
predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
print(predictor.predict({rows}))
```

Clean up:

```python
predictor.delete_endpoint()
```
"""
GCP_README = """# Deploying my model to Vertex AI

```bash
gsutil cp model.joblib gs://my-bucket/model/
gcloud ai models upload --region=us-central1 --display-name=iris \\
  --container-image-uri=us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest \\
  --artifact-uri=gs://my-bucket/model/
gcloud ai endpoints predict ENDPOINT_ID --region=us-central1 --json-request=input.json
```

Clean up: `gcloud ai endpoints undeploy-model ...`, `gcloud ai endpoints delete ...`, `gcloud ai models delete ...`.
"""


def _model_bytes() -> bytes:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    X, y = load_iris(return_X_y=True)
    buf = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=500).fit(X, y), buf)
    return buf.getvalue()


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            tf.addfile(ti, io.BytesIO(data))


def build(workdir: Path, n: int) -> Path:
    """N repos: ~55% complete AWS, ~30% complete GCP, ~15% broken in different ways."""
    room = workdir / "classroom"
    if room.exists():
        shutil.rmtree(room)
    room.mkdir(parents=True)
    model = _model_bytes()
    png = _png()
    kinds = ["aws", "gcp", "aws", "aws", "gcp", "aws", "gcp", "aws", "aws", "gcp", "aws",
             "broken_model_fn", "broken_import", "broken_filename", "broken_noartifact",
             "aws", "gcp", "aws", "gcp", "aws"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        repo = room / f"student{i:04d}"
        if kind == "gcp":
            d = repo / "gcp_deploy"
            d.mkdir(parents=True)
            (d / "model.joblib").write_bytes(model)
            (d / "README.md").write_text(GCP_README)
            (d / "input.json").write_text(json.dumps({"instances": ROWS}))
            (d / "screenshot.png").write_bytes(png)
            continue
        d = repo / "aws_deploy"
        d.mkdir(parents=True)
        src = INFERENCE
        members = {"model.joblib": model}
        if kind == "broken_model_fn":
            src = "import joblib\n\ndef load(model_dir):\n    return joblib.load(model_dir + '/model.joblib')\n"
        elif kind == "broken_import":
            src = "from sklearn.externals import joblib\nimport os\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
        elif kind == "broken_filename":
            src = INFERENCE.replace("model.joblib", "model.pkl")
        (d / "inference.py").write_text(src)
        (d / "README.md").write_text(AWS_README.format(rows=ROWS))
        (d / "screenshot.png").write_bytes(png)
        if kind != "broken_noartifact":
            _tar(d / "model.tar.gz", members)
    return room


def _png() -> bytes:
    try:
        from PIL import Image, ImageDraw
        im = Image.new("RGB", (320, 200), "white")
        dr = ImageDraw.Draw(im)
        for y in range(10, 190, 14):
            dr.text((10, y), "predictions: [0, 2]  endpoint InService", fill="black")
        b = io.BytesIO()
        im.save(b, "PNG")
        return b.getvalue()
    except Exception:  # noqa: BLE001
        return b""


NAIVE = r"""
import sys, os, tarfile, tempfile, importlib, json
import numpy as np, sklearn, joblib
folder = sys.argv[1]
rows = np.array(json.loads(sys.argv[2]))
if os.path.basename(folder) == "gcp_deploy":
    model = joblib.load(os.path.join(folder, "model.joblib"))
else:
    d = tempfile.mkdtemp()
    with tarfile.open(os.path.join(folder, "model.tar.gz")) as tf:
        tf.extractall(d, filter="data")
    sys.path.insert(0, folder)
    model = importlib.import_module("inference").model_fn(d)
print(model.predict(rows).tolist())
"""


def naive(room: Path, sample: int, workers: int) -> tuple[float, int]:
    repos = sorted(room.iterdir())[:sample]

    def one(repo: Path) -> bool:
        sub = next(p for p in repo.iterdir() if p.name.endswith("_deploy"))
        r = subprocess.run([sys.executable, "-c", NAIVE, str(sub), json.dumps(ROWS)],
                           capture_output=True, timeout=120)
        return r.returncode == 0

    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, repos))
    return time.perf_counter() - t, len(repos)


def graded(room: Path, workers: int, report: Path | None) -> tuple[float, str, dict]:
    cmd = [sys.executable, "-m", "pytest", "checks/", "--classroom", str(room), "-n", str(workers), "-q",
           "-p", "no:cacheprovider", "--no-proof"]
    if report:
        cmd += ["--report", str(report)]
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    tail = [l for l in r.stdout.strip().splitlines() if l.strip()][-1:] or [r.stderr.strip()[-300:]]
    stats: dict = {}
    if report and (report / "report.json").exists():
        rep = json.loads((report / "report.json").read_text())
        pl = [c for s in rep["students"] for c in s["checks"] if c["id"] == "predict.local"]
        stats = {"students": len(rep["students"]), "predict.local passed": sum(c["status"] == "passed" for c in pl),
                 "predict.local failed": sum(c["status"] == "failed" for c in pl)}
    return wall, tail[0], stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=200)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--naive-sample", type=int, default=40,
                    help="repos timed for the naive baseline (it is slow; rate is extrapolated)")
    a = ap.parse_args(argv)
    tmp = None
    workdir = a.workdir
    if workdir is None:
        workdir = Path(tmp := tempfile.mkdtemp(prefix="deploycheck-bench-"))
    try:
        t = time.perf_counter()
        room = build(workdir, a.repos)
        print(f"built {a.repos} synthetic repos in {room} ({time.perf_counter() - t:.1f} s)")
        n_checks = len(list((ROOT / "checks").glob("test_*.py")))
        wall, tail, stats = graded(room, a.workers, workdir / "report")
        rate = a.repos / wall
        print(f"(a) pytest checks/ ({n_checks} check files) -n {a.workers}: {a.repos} repos in {wall:.1f} s "
              f"= {rate:.1f} repos/s   [{tail}]")
        if stats:
            print(f"    {stats}")
        nw, nn = naive(room, min(a.naive_sample, a.repos), a.workers)
        nrate = nn / nw
        print(f"(b) naive, one fresh python per repo ({a.workers} in parallel): {nn} repos in {nw:.1f} s "
              f"= {nrate:.2f} repos/s (≈ {a.repos / nrate:.0f} s for {a.repos})")
        print(f"ratio: {rate / nrate:.1f}x  (target: {a.repos} repos < 20 s and >= 10x)")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
