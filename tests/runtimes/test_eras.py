"""The runtime as the student had it: with --deadline (or a rubric's as_of) a folder runs on its
image's build in force that day, in that build's own runtime environment, and the report says which
build; today's build otherwise. The model is pickled for real inside the 2023 build's environment."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from deploycheck import rubric
from deploycheck.discovery import Target, load_submission
from deploycheck.plugin import _as_of
from deploycheck.verdicts import artifact, predict
from tests.classroom.gitrepos import git

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fixtures"))
import build as fixtures_build  # noqa: E402

ERA = "2023-05-15"                      # a spring 2023 deadline: 1.2-1 was built on Python 3.8 then
BUILD = "the build of 2023-04-12..2023-11-13"
DC = SimpleNamespace(sandbox_timeout=30, sandbox_memory_mb=1024)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """complete_aws, its model trained and pickled in the 2023 build of 1.2-1 (Python 3.8, scipy 1.5.3)."""
    files = fixtures_build.aws_files()
    model = fixtures_build.model_bytes("iris", f"sagemaker:1.2-1@{ERA}")
    files["aws_deploy/model.joblib"] = model
    files["aws_deploy/model.tar.gz"] = fixtures_build.make_tar({"model.joblib": model})
    root = tmp_path_factory.mktemp("era") / "repo"
    fixtures_build.write(root, files)
    return root


def target(repo: Path, as_of: str = "") -> Target:
    sub = load_submission.__wrapped__("s", str(repo), as_of)
    return Target("s", "aws", sub, "s")


def test_graded_as_of_2023_the_folder_runs_on_python_3_8(repo):
    t = target(repo, ERA)
    choice = t.folder.facts.image
    assert choice.image.key == "sagemaker:1.2-1" and choice.build.python == "3.8" and choice.build.scipy == "1.5.3"
    assert choice.era == f"as of {ERA}, {BUILD} (Python 3.8)"
    v = artifact.artifact_version(t)
    assert v.status == "passed" and f"as of {ERA}, {BUILD} (Python 3.8)" in v.message and v.data["build"] == BUILD
    p = predict.predict_local(t, DC)
    assert p.status == "passed", p.message
    assert "Python 3.8" in p.data["runtime"] and BUILD in p.data["runtime"] and BUILD in p.message


def test_graded_today_the_same_folder_runs_on_python_3_9(repo):
    t = target(repo)
    assert t.folder.facts.image.build.python == "3.9" and not t.folder.facts.image.era
    p = predict.predict_local(t, DC)
    assert p.status == "passed", p.message
    assert "Python 3.9" in p.data["runtime"] and "the build of" not in p.data["runtime"]


def test_the_date_comes_from_the_rubric_else_the_deadline():
    plain = rubric.parse({})
    assert _as_of(plain, None) == "" and _as_of(plain, "2023-05-15T23:59:00+02:00") == "2023-05-15"
    dated = rubric.parse({"as_of": __import__("datetime").date(2023, 1, 10)})
    assert dated.as_of == "2023-01-10" and _as_of(dated, "2024-06-01T00:00:00Z") == "2023-01-10"
    assert rubric.parse({"as_of": "2023-02-01"}).as_of == "2023-02-01"
    with pytest.raises(rubric.RubricError, match="as_of must be a date"):
        rubric.parse({"as_of": "spring"})


def test_a_class_graded_with_a_2023_deadline_reports_the_build(repo, tmp_path):
    g = tmp_path / "student"
    subprocess.run(["cp", "-r", str(repo), str(g)], check=True)
    git(g, "init", "-q", "-b", "main")
    git(g, "add", "-A")
    git(g, "commit", "-q", "-m", "hand-in", date="2023-05-10T12:00:00+00:00")
    out = tmp_path / "report"
    p = subprocess.run([sys.executable, "-m", "pytest", "checks/", "--repo", str(g), "--deadline",
                        f"{ERA}T23:59:00+00:00", "--report", str(out), "--no-proof", "-p", "no:cacheprovider", "-q",
                        "-k", "predict_local or artifact_version", "--clone-dir", str(tmp_path / "clones")],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    doc = json.loads((out / "report.json").read_text())
    checks = {c["id"]: c for c in doc["students"][0]["checks"]}
    assert checks["predict.local"]["status"] == "passed", (checks["predict.local"], p.stdout[-2000:])
    assert "Python 3.8" in checks["predict.local"]["message"] and BUILD in checks["predict.local"]["message"]
    assert f"as of {ERA}" in checks["artifact.version"]["message"]
