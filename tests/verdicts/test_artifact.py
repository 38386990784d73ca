"""verdicts.artifact (facts: analysis.artifact): artifact.present / valid / version / safe on small repos."""
from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from deploycheck.analysis import artifact as facts
from deploycheck.analysis.artifact import make_tar_gz
from deploycheck.verdicts import artifact as A
from tests.helpers import dump_with_version
from deploycheck.discovery import Target, load_submission, targets_for

AWS_README = ('```python\nmodel = SKLearnModel(model_data="s3://bucket/model.tar.gz", role=role,\n'
              '                     entry_point="inference.py", framework_version="{fv}")\n```\n')
GCP_README = ("gcloud ai models upload --region=us-central1 --display-name=m \\\n"
              "  --container-image-uri=us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.{tag}:latest\n")


@pytest.fixture(scope="module")
def model():
    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=300).fit(X, y)


def _target(repo: Path, platform: str | None = None) -> Target:
    sub = load_submission.__wrapped__("student", str(repo))
    plat = platform or (sub.folders[0].platform if sub.folders else None)
    return Target("student", plat, sub, "student")


def _joblib_bytes(model, version: str, tmp: Path) -> bytes:
    p = tmp / f"m-{version}.joblib"
    dump_with_version(model, p, version)
    try:
        return p.read_bytes()
    finally:
        p.unlink()


def _tar(path: Path, members: dict[str, bytes], mode="w:gz") -> None:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


def _aws_repo(tmp_path, model, version="1.2.1", fv="1.2-1", members=None, readme=True) -> Path:
    repo = tmp_path / "repo"
    d = repo / "aws_deploy"
    d.mkdir(parents=True)
    if readme:
        (d / "README.md").write_text(AWS_README.format(fv=fv))
    if members is None:
        members = {"model.joblib": _joblib_bytes(model, version, tmp_path)}
    if members is not False:
        _tar(d / "model.tar.gz", members)
    return repo


def _gcp_repo(tmp_path, model, version="1.2.1", tag="1-2", names=("model.joblib",), readme=None) -> Path:
    repo = tmp_path / "repo"
    d = repo / "gcp_deploy"
    d.mkdir(parents=True)
    (d / "README.md").write_text(readme if readme is not None else GCP_README.format(tag=tag))
    for n in names:
        (d / n).write_bytes(_joblib_bytes(model, version, tmp_path))
    return repo


def _all(t):
    return {n: f(t) for n, f in [("present", A.artifact_present), ("valid", A.artifact_valid),
                                 ("version", A.artifact_version), ("safe", A.artifact_safe)]}


# ------------------------------------------------------------------ good hand-ins

def test_good_aws(tmp_path, model):
    t = _target(_aws_repo(tmp_path, model))
    out = _all(t)
    assert all(o.status == "passed" for o in out.values()), {k: o.message for k, o in out.items()}
    assert "aws_deploy/model.tar.gz" in out["present"].message
    assert "archive root" in out["valid"].message
    assert "1.2.1" in out["version"].message and "aws_deploy/README.md:3" in out["version"].message
    assert t.folder.facts.artifact.loadable is True
    info = t.folder.facts.artifact
    assert info.kind == "tar" and info.model_member == "model.joblib" and info.sklearn_version == "1.2.1"
    assert t.folder.facts.artifact is info          # cached


def test_good_gcp_via_targets_for(tmp_path, model):
    repo = _gcp_repo(tmp_path, model)
    (t,) = targets_for("gcp-student", str(repo))
    out = _all(t)
    assert all(o.status == "passed" for o in out.values()), {k: o.message for k, o in out.items()}
    assert "sklearn-cpu.1-2" in out["version"].message


def test_no_folder_fails_with_prerequisite(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "x.txt").write_text("hi")
    t = _target(tmp_path / "repo")
    for o in _all(t).values():
        assert o.status == "failed" and "structure.deploy_folder" in o.message


# ------------------------------------------------------------------ present

def test_aws_missing_artifact(tmp_path, model):
    t = _target(_aws_repo(tmp_path, model, members=False))
    o = A.artifact_present(t)
    assert o.status == "failed"
    assert "aws_deploy/ has no model.tar.gz" in o.message and "tar -czf model.tar.gz model.joblib" in o.message
    assert A.artifact_valid(t).status == "failed"


def test_aws_loose_model_file_passes_present_but_not_valid(tmp_path, model):
    repo = _aws_repo(tmp_path, model, members=False)
    (repo / "aws_deploy" / "model.joblib").write_bytes(_joblib_bytes(model, "1.2.1", tmp_path))
    t = _target(repo)
    p = A.artifact_present(t)
    assert p.status == "passed" and "tar -czf model.tar.gz model.joblib" in p.message
    v = A.artifact_valid(t)
    assert v.status == "failed" and "no model.tar.gz" in v.message
    assert A.artifact_version(t).status == "passed"        # the version is still read from the loose file


def test_gcp_missing_model(tmp_path, model):
    t = _target(_gcp_repo(tmp_path, model, names=()))
    o = A.artifact_present(t)
    assert o.status == "failed" and "gcp_deploy/model.joblib" in o.message


# ------------------------------------------------------------------ valid: tar structure

def test_not_gzip(tmp_path, model):
    repo = _aws_repo(tmp_path, model, members=False)
    _tar(repo / "aws_deploy" / "model.tar.gz", {"model.joblib": b"\x80\x04N."}, mode="w")   # plain tar
    o = A.artifact_valid(_target(repo))
    assert o.status == "failed" and "not a gzip file" in o.message and "tar -czf" in o.message


def test_lfs_pointer(tmp_path, model):
    repo = _aws_repo(tmp_path, model, members=False)
    (repo / "aws_deploy" / "model.tar.gz").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\n")
    o = A.artifact_valid(_target(repo))
    assert o.status == "failed" and "Git LFS" in o.message


def test_corrupt_gzip_never_raises(tmp_path, model):
    repo = _aws_repo(tmp_path, model)
    p = repo / "aws_deploy" / "model.tar.gz"
    p.write_bytes(p.read_bytes()[:60])
    t = _target(repo)
    out = _all(t)
    assert out["valid"].status == "failed"
    assert "corrupt" in out["valid"].message or "not a readable" in out["valid"].message
    assert out["safe"].status == "failed"


@pytest.mark.parametrize("name,word", [("../model.joblib", "`..`"), ("/tmp/model.joblib", "absolute path")])
def test_traversal_and_absolute_members(tmp_path, model, name, word):
    data = _joblib_bytes(model, "1.2.1", tmp_path)
    o = A.artifact_valid(_target(_aws_repo(tmp_path, model, members={"model.joblib": data, name: data})))
    assert o.status == "failed" and word in o.message and name in o.message


def test_symlink_member(tmp_path, model):
    repo = _aws_repo(tmp_path, model, members=False)
    with tarfile.open(repo / "aws_deploy" / "model.tar.gz", "w:gz") as tf:
        ti = tarfile.TarInfo("model.joblib")
        ti.type = tarfile.SYMTYPE
        ti.linkname = "/etc/passwd"
        tf.addfile(ti)
    o = A.artifact_valid(_target(repo))
    assert o.status == "failed" and "symbolic link" in o.message and "model.joblib" in o.message


def test_tar_bomb_many_members(tmp_path, model, monkeypatch):
    monkeypatch.setattr(facts, "MAX_TAR_MEMBERS", 50)
    members = {f"f{i}.txt": b"" for i in range(60)}
    t = _target(_aws_repo(tmp_path, model, members=members))
    o = A.artifact_valid(t)
    assert o.status == "failed" and "tar bomb" in o.message and "more than 50 members" in o.message
    assert not t.folder.facts.artifact.loadable
    assert A.artifact_safe(t).status == "failed"


def test_tar_bomb_huge_declared_size(tmp_path, model):
    # a header claiming 5 GB, with no data behind it: rejected from the header alone, nothing inflated
    ti = tarfile.TarInfo("model.joblib")
    ti.size = 5 * 1024 ** 3
    repo = _aws_repo(tmp_path, model, members=False)
    (repo / "aws_deploy" / "model.tar.gz").write_bytes(gzip.compress(ti.tobuf() + b"\0" * 1024))
    o = A.artifact_valid(_target(repo))
    assert o.status == "failed" and "tar bomb" in o.message and "1 GB" in o.message


def test_tar_bomb_compression_ratio(tmp_path, model, monkeypatch):
    monkeypatch.setattr(facts, "RATIO_FLOOR", 1000)
    o = A.artifact_valid(_target(_aws_repo(tmp_path, model, members={"zeros.bin": b"\0" * 2_000_000})))
    assert o.status == "failed" and "tar bomb" in o.message and "200x" in o.message


def test_nested_directory(tmp_path, model):
    data = _joblib_bytes(model, "1.2.1", tmp_path)
    o = A.artifact_valid(_target(_aws_repo(tmp_path, model, members={"model/model.joblib": data})))
    assert o.status == "failed" and "archive root" in o.message and "tar -czf model.tar.gz -C model ." in o.message


MODEL_FN = "import joblib, os\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, '{}'))\n"


def test_filename_mismatch_with_model_fn(tmp_path, model):
    repo = _aws_repo(tmp_path, model)
    (repo / "aws_deploy" / "inference.py").write_text(MODEL_FN.format("model.pkl"))
    t = _target(repo)
    o = A.artifact_valid(t)
    assert o.status == "failed" and "model_fn loads model.pkl" in o.message and "model.joblib" in o.message


def test_filename_matches_model_fn(tmp_path, model):
    repo = _aws_repo(tmp_path, model)
    (repo / "aws_deploy" / "inference.py").write_text(MODEL_FN.format("model.joblib"))
    o = A.artifact_valid(_target(repo))
    assert o.status == "passed" and "model_fn loads model.joblib" in o.message


def test_nested_layout_is_right_when_model_fn_opens_it(tmp_path, model):
    """issue 22: model/model.joblib in the archive with a model_fn that opens exactly that path works
    on SageMaker; the archive is judged by what model_fn opens, and no advice that would break it."""
    data = _joblib_bytes(model, "1.2.1", tmp_path)
    repo = _aws_repo(tmp_path, model, members={"model/model.joblib": data})
    (repo / "aws_deploy" / "inference.py").write_text(
        "import joblib, os\n\ndef model_fn(model_dir):\n"
        "    return joblib.load(os.path.join(model_dir, 'model', 'model.joblib'))\n")
    t = _target(repo)
    o = A.artifact_valid(t)
    assert o.status == "passed", o.message
    assert "model_fn loads model/model.joblib" in o.message and "-C model" not in o.message
    assert t.folder.facts.artifact.model_member == "model/model.joblib"


def test_nested_member_model_fn_opens_elsewhere(tmp_path, model):
    data = _joblib_bytes(model, "1.2.1", tmp_path)
    repo = _aws_repo(tmp_path, model, members={"model.joblib": data})
    (repo / "aws_deploy" / "inference.py").write_text(MODEL_FN.format("model/model.joblib"))
    o = A.artifact_valid(_target(repo))
    assert o.status == "failed" and "model_fn loads model/model.joblib" in o.message
    assert "tar -czf model.tar.gz model/model.joblib" in o.message


# ------------------------------------------------------------------ valid: GCP naming

def test_two_gcp_model_files(tmp_path, model):
    readme = GCP_README.format(tag="1-2") + "gsutil cp model.pkl gs://bucket/model/\n"
    o = A.artifact_valid(_target(_gcp_repo(tmp_path, model, names=("model.joblib", "model.pkl"), readme=readme)))
    assert o.status == "failed"
    assert "model.joblib and model.pkl" in o.message and "keep model.pkl" in o.message


@pytest.mark.parametrize("name", ["model.sav", "my_model.joblib"])
def test_wrong_gcp_name(tmp_path, model, name):
    t = _target(_gcp_repo(tmp_path, model, names=(name,)))
    assert A.artifact_present(t).status == "passed"
    o = A.artifact_valid(t)
    assert o.status == "failed" and "rename it to model.joblib" in o.message and name in o.message


def test_gcp_model_pkl_written_by_joblib(tmp_path, model):
    o = A.artifact_valid(_target(_gcp_repo(tmp_path, model, names=("model.pkl",))))
    assert o.status == "failed" and "pickle.load" in o.message and "model.joblib" in o.message


# ------------------------------------------------------------------ version

def test_version_patch_differs_passes_with_note(tmp_path, model):
    o = A.artifact_version(_target(_aws_repo(tmp_path, model, version="1.2.2", fv="1.2-1")))
    assert o.status == "passed" and "note" in o.message and "1.2.2" in o.message and "1.2.1" in o.message


def test_version_mismatch(tmp_path, model):
    o = A.artifact_version(_target(_aws_repo(tmp_path, model, version="1.0.2", fv="1.2-1")))
    assert o.status == "failed"
    m = o.message
    assert 'framework_version="1.2-1"' in m and "aws_deploy/README.md:3" in m and "1.0.2" in m
    assert 'use framework_version="1.0-1"' in m
    assert o.data["sklearn_version"] == "1.0.2"


def test_version_mismatch_without_matching_image(tmp_path, model):
    o = A.artifact_version(_target(_aws_repo(tmp_path, model, version="1.9.1", fv="1.2-1")))
    assert o.status == "failed" and "retrain" in o.message and "scikit-learn==1.2.1" in o.message


def test_version_unknown_declared_value(tmp_path, model):
    o = A.artifact_version(_target(_aws_repo(tmp_path, model, version="1.2.1", fv="1.3-1")))
    assert o.status == "failed" and '"1.3-1"' in o.message and "1.2-1" in o.message and "valid values" in o.message


def test_version_undeclared(tmp_path, model):
    repo = _aws_repo(tmp_path, model, version="1.2.1")
    (repo / "aws_deploy" / "README.md").write_text("I deployed it with the console.\n")
    o = A.artifact_version(_target(repo))
    assert o.status == "failed"
    assert 'pass framework_version="1.2-1" (scikit-learn 1.2.1) to SKLearnModel in aws_deploy/README.md' in o.message


def test_version_gcp_mismatch_names_container(tmp_path, model):
    o = A.artifact_version(_target(_gcp_repo(tmp_path, model, version="1.0.2", tag="1-2")))
    assert o.status == "failed" and "sklearn-cpu.1-2" in o.message and "sklearn-cpu.1-0" in o.message


def test_version_legacy_ai_platform(tmp_path, model):
    readme = "gcloud ai-platform versions create v1 --model m --runtime-version 2.11 --framework scikit-learn\n"
    o = A.artifact_version(_target(_gcp_repo(tmp_path, model, version="1.0.2", readme=readme)))
    assert o.status == "passed" and "retired" in o.message and "sklearn-cpu.1-0" in o.message
    o = A.artifact_version(_target(_gcp_repo(tmp_path / "b", model, version="1.2.1", readme=readme)))
    assert o.status == "failed" and "retired" in o.message and "sklearn-cpu.1-2" in o.message


def test_version_not_sklearn(tmp_path, model):
    repo = _gcp_repo(tmp_path, model, names=())
    (repo / "gcp_deploy" / "model.joblib").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    o = A.artifact_version(_target(repo))
    assert o.status == "failed" and "no scikit-learn version" in o.message


# ------------------------------------------------------------------ safe

class _Evil:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_malicious_pickle_in_tar(tmp_path, model):
    canary = tmp_path / "canary"
    t = _target(_aws_repo(tmp_path, model, members={"model.joblib": pickle.dumps(_Evil(canary))}))
    o = A.artifact_safe(t)
    assert o.status == "failed" and "system" in o.message and "will not be loaded" in o.message
    assert t.folder.facts.artifact.loadable is False
    assert A.artifact_version(t).status == "failed"
    assert not canary.exists()


def test_malicious_pickle_gcp(tmp_path, model):
    canary = tmp_path / "canary"
    repo = _gcp_repo(tmp_path, model, names=())
    (repo / "gcp_deploy" / "model.joblib").write_bytes(pickle.dumps(_Evil(canary)))
    t = _target(repo)
    o = A.artifact_safe(t)
    assert o.status == "failed" and ("posix.system" in o.message or "nt.system" in o.message)
    assert "(model.joblib)" not in o.message
    assert not t.folder.facts.artifact.loadable
    assert not canary.exists()


def test_second_pickle_in_tar_is_scanned(tmp_path, model):
    canary = tmp_path / "canary"
    members = {"model.joblib": _joblib_bytes(model, "1.2.1", tmp_path), "scaler": pickle.dumps(_Evil(canary))}
    t = _target(_aws_repo(tmp_path, model, members=members))
    assert A.artifact_safe(t).status == "failed"
    assert not t.folder.facts.artifact.loadable


def test_symlinked_artifact_outside_repo(tmp_path, model):
    repo = _aws_repo(tmp_path, model, members=False)
    os.symlink("/etc/passwd", repo / "aws_deploy" / "model.tar.gz")
    t = _target(repo)
    out = _all(t)
    assert out["present"].status == "passed" and "symlink" in out["present"].message
    assert out["valid"].status == "failed" and "outside the repo" in out["valid"].message
    assert out["version"].status == "failed" and out["safe"].status == "failed"
    assert t.folder.facts.artifact.loadable is False


def test_symlinked_gcp_model_inside_repo(tmp_path, model):
    repo = _gcp_repo(tmp_path, model, names=())
    (repo / "models").mkdir()
    (repo / "models" / "m.joblib").write_bytes(_joblib_bytes(model, "1.2.1", tmp_path))
    os.symlink("../models/m.joblib", repo / "gcp_deploy" / "model.joblib")
    o = A.artifact_valid(_target(repo))
    assert o.status == "failed" and "symlink" in o.message and "outside" not in o.message


def test_make_tar_gz_is_deterministic_and_sorted():
    def link(tar):
        ti = tarfile.TarInfo("link")
        ti.type, ti.linkname = tarfile.SYMTYPE, "b.txt"
        tar.addfile(ti)
    data = make_tar_gz({"b.txt": b"2", "a.joblib": b"1"}, extra=link)
    assert data == make_tar_gz({"a.joblib": b"1", "b.txt": b"2"}, extra=link)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        ms = tar.getmembers()
        assert [m.name for m in ms] == ["a.joblib", "b.txt", "link"] and ms[2].issym()
        assert all(m.mtime == 0 for m in ms) and ms[0].mode == 0o644 and tar.extractfile(ms[1]).read() == b"2"


# ------------------------------------------------------------------ issue 22: the student's own shipped code

FEATURES = ("import numpy as np\nfrom os import system  # noqa: F401\n"
            "from sklearn.base import BaseEstimator, TransformerMixin\n\n\n"
            "class ColumnDropper(BaseEstimator, TransformerMixin):\n    def __init__(self, keep=(0, 1, 2, 3)):\n"
            "        self.keep = keep\n\n    def fit(self, X, y=None):\n        return self\n\n"
            "    def transform(self, X):\n        return np.asarray(X)[:, list(self.keep)]\n")


def own_class_model(tmp_path: Path, module: str = "features") -> bytes:
    """A pipeline whose first step is the student's own class, pickled for real (module ``module``)."""
    import importlib
    import io
    import sys

    import joblib
    from sklearn.pipeline import make_pipeline
    d = tmp_path / f"mod_{module}"
    d.mkdir(exist_ok=True)
    (d / f"{module}.py").write_text(FEATURES)
    sys.path.insert(0, str(d))
    try:
        mod = importlib.import_module(module)
        X, y = load_iris(return_X_y=True)
        buf = io.BytesIO()
        joblib.dump(make_pipeline(mod.ColumnDropper(), LogisticRegression(max_iter=300)).fit(X, y), buf)
        return buf.getvalue()
    finally:
        sys.path.remove(str(d))
        sys.modules.pop(module, None)


OWN_README = ('```python\nmodel = SKLearnModel(model_data="s3://bucket/model.tar.gz", role=role, source_dir="code",\n'
              '                     entry_point="inference.py", framework_version="1.2-1")\n```\n')
OWN_INFERENCE = "import joblib, os\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"


def test_a_pickle_of_the_students_own_shipped_class_is_safe(tmp_path, model):
    data = own_class_model(tmp_path)
    repo = _aws_repo(tmp_path, model, members={"model.joblib": data}, readme=False)
    d = repo / "aws_deploy"
    (d / "README.md").write_text(OWN_README)
    (d / "code").mkdir()
    (d / "code" / "features.py").write_text(FEATURES)
    (d / "code" / "inference.py").write_text(OWN_INFERENCE)
    t = _target(repo)
    o = A.artifact_safe(t)
    assert o.status == "passed" and "features.ColumnDropper" in o.message and "aws_deploy/code/features.py" in o.message
    assert t.folder.facts.artifact.loadable


def test_the_same_class_not_shipped_or_a_reexport_is_flagged(tmp_path, model):
    data = own_class_model(tmp_path)
    repo = _aws_repo(tmp_path, model, members={"model.joblib": data}, readme=False)
    d = repo / "aws_deploy"
    (d / "README.md").write_text(OWN_README.replace(' source_dir="code",', ""))
    (d / "inference.py").write_text(OWN_INFERENCE)
    (d / "features.py").write_text(FEATURES)          # beside it, but without source_dir only inference.py ships
    o = A.artifact_safe(_target(repo))
    assert o.status == "failed" and "features.ColumnDropper" in o.message
    # an os function re-exported by the student's module is no class of theirs
    evil = b"\x80\x02cfeatures\nsystem\n(X\x05\x00\x00\x00touchtR."      # features.system("touch")
    repo2 = _aws_repo(tmp_path / "b", model, members={"model.joblib": evil}, readme=False)
    d2 = repo2 / "aws_deploy"
    (d2 / "README.md").write_text(OWN_README)
    (d2 / "code").mkdir()
    (d2 / "code" / "features.py").write_text(FEATURES)
    (d2 / "code" / "inference.py").write_text(OWN_INFERENCE)
    o = A.artifact_safe(_target(repo2))
    assert o.status == "failed" and "features.system" in o.message


# ------------------------------------------------------------------ retired images, advice that works

def test_version_retired_image_is_named_with_the_one_to_declare(tmp_path, model):
    o = A.artifact_version(_target(_aws_repo(tmp_path, model, version="1.4.2", fv="1.4-2")))
    assert o.status == "passed"
    assert "sagemaker-scikit-learn 1.4-2 is unsupported since 2026-07-15" in o.message
    assert "declare 1.4-2-py312 instead" in o.message


def test_version_advice_names_an_install_that_exists_for_its_python(tmp_path, model):
    """Issue 22: 'pip install scikit-learn==0.23.2' alone cannot install on a current Python."""
    o = A.artifact_version(_target(_aws_repo(tmp_path, model, version="1.2.1", fv="0.23-1")))
    assert o.status == "failed"
    assert 'use framework_version="1.2-1"' in o.message                        # the image that loads it as it is
    assert "in sagemaker-scikit-learn 0.23-1's Python 3.7" in o.message
    assert ('`uv venv --python 3.7 model-env && uv pip install --python model-env "scikit-learn==0.23.2" '
            '"numpy==1.19.2" "scipy==1.5.3"`') in o.message
    assert "scikit-learn 0.23.2 installs on Python 3.6 to 3.8 only" in o.message
