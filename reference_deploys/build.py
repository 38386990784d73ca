#!/usr/bin/env python3
"""Build the reference deploy folders' model artifacts (and proof screenshots when missing).

    python reference_deploys/build.py [--force] [--out DIR]

``--out DIR`` copies the reference folders to DIR and builds there (tests use a temp dir).

Trains each folder's model with its own ``train.py`` (``train()``) and saves it INSIDE the runtime
environment of the image the folder declares (``deploycheck.runtimes.envs``), so the pickle is what
that image's scikit-learn/numpy make and load:

    aws_deploy/model.joblib, aws_deploy/model.tar.gz   scikit-learn 1.2.1  (framework_version "1.2-1")
    gcp_deploy/model.joblib                            scikit-learn 1.2.2  (sklearn-cpu.1-2)

Artifacts are deterministic (tar mtime 0) and gitignored; the screenshots are committed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

AWS_FRAMEWORK, AWS_SKLEARN = "1.2-1", "1.2.1"
VERTEX_TAG, VERTEX_SKLEARN = "sklearn-cpu.1-2", "1.2.2"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


_TRAIN_IN_ENV = r"""
import importlib.util, sys, joblib
spec = importlib.util.spec_from_file_location("_ref_train", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
joblib.dump(mod.train(), sys.argv[2], compress=0)
"""


def _train_and_dump(folder: Path, image_key: str, out: Path) -> None:
    """Run the folder's own train() (our reference code, not a student's) in the image's environment."""
    import subprocess
    from deploycheck.runtimes import catalog, envs
    env = envs.ensure(catalog.image(image_key), log=lambda m: print(m, flush=True))
    subprocess.run([env.python, "-I", "-c", _TRAIN_IN_ENV, str(folder / "train.py"), str(out)], check=True,
                   timeout=300, cwd=folder, env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "OMP_NUM_THREADS": "1"})


def _screenshot(path: Path, title: str, lines: list[str]) -> None:
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (900, 420), "white")
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, 900, 48], fill=(35, 47, 62))
    d.text((16, 16), title, fill="white")
    for i, line in enumerate(lines):
        d.text((16, 72 + 22 * i), line, fill=(20, 20, 20))
    d.rectangle([16, 350, 300, 390], outline=(0, 120, 0), width=3)
    d.text((28, 364), "prediction OK - endpoint deleted afterwards", fill=(0, 120, 0))
    img.save(path, "PNG")


def build(force: bool = False, root: Path = HERE) -> list[Path]:
    from deploycheck.analysis.artifact import make_tar_gz
    out: list[Path] = []
    root = Path(root)
    if root.resolve() != HERE:
        import shutil
        for name in ("aws_deploy", "gcp_deploy"):
            shutil.copytree(HERE / name, root / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.joblib", "*.tar.gz"))
    aws, gcp = root / "aws_deploy", root / "gcp_deploy"
    _train_and_dump(aws, f"sagemaker:{AWS_FRAMEWORK}", aws / "model.joblib")
    (aws / "model.tar.gz").write_bytes(make_tar_gz({"model.joblib": (aws / "model.joblib").read_bytes()}))
    out += [aws / "model.joblib", aws / "model.tar.gz"]
    _train_and_dump(gcp, f"vertex:{VERTEX_TAG}", gcp / "model.joblib")
    out.append(gcp / "model.joblib")
    shots = {
        aws / "screenshot.png": ("SageMaker endpoint iris (ml.t2.medium, us-east-1) - predictor.predict",
                                 [f">>> predictor.predict({ROWS})", "[0, 2]"]),
        gcp / "screenshot.png": ("Vertex AI endpoint iris-endpoint (e2-standard-2, us-central1) - online prediction",
                                 ["$ gcloud ai endpoints predict ENDPOINT_ID --json-request=input.json",
                                  "[0, 2]"]),
    }
    for p, (title, lines) in shots.items():
        if force or not p.exists():
            _screenshot(p, title, lines)
            out.append(p)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="also redraw the screenshots")
    ap.add_argument("--out", type=Path, default=HERE, help="build a copy here instead of in place")
    a = ap.parse_args(argv)
    for p in build(a.force, a.out):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
