#!/usr/bin/env python3
"""Build the reference deploy folders' model artifacts (and proof screenshots when missing).

    python reference_deploys/build.py [--force] [--out DIR]

``--out DIR`` copies the reference folders to DIR and builds there (tests use a temp dir).

Trains each folder's model with its own ``train.py`` (``train()``) and saves it with
``deploycheck.pickles.dump_with_version`` so the pickle records the scikit-learn release of the
runtime the folder declares -- whatever scikit-learn is installed here:

    aws_deploy/model.joblib, aws_deploy/model.tar.gz   scikit-learn 1.2.1  (framework_version "1.2-1")
    gcp_deploy/model.joblib                            scikit-learn 1.2.2  (sklearn-cpu.1-2)

Artifacts are deterministic (tar mtime 0) and gitignored; the screenshots are committed.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

AWS_FRAMEWORK, AWS_SKLEARN = "1.2-1", "1.2.1"
VERTEX_TAG, VERTEX_SKLEARN = "sklearn-cpu.1-2", "1.2.2"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def _train(folder: Path):
    spec = importlib.util.spec_from_file_location(f"_ref_train_{folder.name}", folder / "train.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)       # our own reference code, not a student's
    return mod.train()


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
    from deploycheck.artifacts import make_tar_gz
    from deploycheck.pickles import dump_with_version
    out: list[Path] = []
    root = Path(root)
    if root.resolve() != HERE:
        import shutil
        for name in ("aws_deploy", "gcp_deploy"):
            shutil.copytree(HERE / name, root / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.joblib", "*.tar.gz"))
    aws, gcp = root / "aws_deploy", root / "gcp_deploy"
    model = _train(aws)
    dump_with_version(model, aws / "model.joblib", AWS_SKLEARN, compress=0)
    (aws / "model.tar.gz").write_bytes(make_tar_gz({"model.joblib": (aws / "model.joblib").read_bytes()}))
    out += [aws / "model.joblib", aws / "model.tar.gz"]
    dump_with_version(_train(gcp), gcp / "model.joblib", VERTEX_SKLEARN, compress=0)
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
