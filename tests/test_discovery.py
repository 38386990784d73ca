"""Discovery: deploy folders, tolerant names, hostile repos, repo sources."""
import os
from pathlib import Path

import pytest

from deploycheck.discovery import load_submission, platform_of, targets_for
from deploycheck.classroom import repos_from_options
from deploycheck.verdicts import no_folder, structure

load = load_submission.__wrapped__


@pytest.mark.parametrize("name,plat", [
    ("aws_deploy", "aws"), ("AWS-Deploy", "aws"), ("sagemaker_deploy", "aws"), ("SageMaker-deployment", "aws"),
    ("gcp_deploy", "gcp"), ("GCP-deploy", "gcp"), ("google_deploy", "gcp"), ("vertex_deploy", "gcp"),
    ("ai_platform_deploy", "gcp"), ("AI-Platform-Deploy", "gcp"), ("deploy_aws", "aws"),
    ("aws", None), ("deploy", None), ("my_aws_deploy_old", None), ("azure_deploy", None),
])
def test_platform_of(name, plat):
    assert platform_of(name) == plat


def _mk(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_finds_folders_at_depth_and_reports_where(tmp_path):
    repo = _mk(tmp_path / "r", {"lab/week9/AWS-Deploy/README.md": "x", "lab/week9/AWS-Deploy/code/inference.py": ""})
    sub = load("alice", str(repo))
    assert [f.rel for f in sub.folders] == ["lab/week9/AWS-Deploy"]
    assert sub.folders[0].files == ("README.md", "code/inference.py")
    [t] = targets_for("alice", str(repo))
    out = structure.deploy_folder(t)
    assert out.ok and "lab/week9/AWS-Deploy/" in out.message and "2 levels down" in out.message
    assert "aws_deploy" in out.message  # tells the expected name


def test_three_levels_down_is_not_found(tmp_path):
    repo = _mk(tmp_path / "r", {"a/b/c/aws_deploy/README.md": "x"})
    [t] = targets_for("bob", str(repo))
    out = structure.deploy_folder(t)
    assert out.status == "failed" and "aws_deploy" in out.message and "gcp_deploy" in out.message


def test_both_platforms_give_two_targets(tmp_path):
    repo = _mk(tmp_path / "r", {"aws_deploy/README.md": "x", "gcp_deploy/README.md": "y"})
    ts = targets_for("carol", str(repo))
    assert [(t.platform, t.test_id) for t in ts] == [("aws", "carol-aws"), ("gcp", "carol-gcp")]
    only = targets_for("carol", str(repo), "gcp")
    assert [t.test_id for t in only] == ["carol"]


def test_symlinked_dirs_and_files_are_not_followed(tmp_path):
    outside = _mk(tmp_path / "outside", {"aws_deploy/README.md": "secret"})
    repo = _mk(tmp_path / "r", {"gcp_deploy/README.md": "x"})
    os.symlink(outside / "aws_deploy", repo / "aws_deploy")
    os.symlink("/etc/passwd", repo / "gcp_deploy" / "model.joblib")
    sub = load("dan", str(repo))
    assert [f.platform for f in sub.folders] == ["gcp"]
    f = sub.folders[0]
    assert "model.joblib" not in f.files and f.symlinks == {"model.joblib": "/etc/passwd"}
    assert f.link_escapes("model.joblib")
    assert f.read_bytes("model.joblib") is None


@pytest.mark.parametrize("kind", ["file", "empty", "missing"])
def test_unusable_repos_fail_structure_with_a_message(tmp_path, kind):
    p = tmp_path / "repo"
    if kind == "file":
        p.write_text("not a repo")
    elif kind == "empty":
        p.mkdir()
    [t] = targets_for("eve", str(p))
    out = structure.deploy_folder(t)
    assert out.status == "failed"
    assert {"file": "is a file", "empty": "empty", "missing": "does not exist"}[kind] in out.message


def test_many_files_are_capped(tmp_path):
    repo = tmp_path / "r"
    d = repo / "aws_deploy" / "data"
    d.mkdir(parents=True)
    for i in range(5100):
        (d / f"f{i}.csv").write_text("")
    sub = load("fay", str(repo))
    assert len(sub.folders[0].files) == 5000 and sub.folders[0].truncated
    [t] = targets_for("fay", str(repo))
    assert "5000" in structure.deploy_folder(t).message


def test_sources_classroom_roster_and_unique_ids(tmp_path):
    room = tmp_path / "room"
    for n in ["b", "a", ".hidden"]:
        (room / n).mkdir(parents=True)
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,Repo\nzed,room/a\n")
    refs = repos_from_options([str(room / "a")], str(room), str(roster))
    assert [r.student for r in refs] == ["a", "a_2", "b", "zed"]
    assert refs[-1].path == str(tmp_path / "room" / "a")
    with pytest.raises(ValueError, match="student,repo"):
        bad = tmp_path / "bad.csv"
        bad.write_text("name,url\nx,y\n")
        repos_from_options([], None, str(bad))
    with pytest.raises(ValueError, match="not a folder"):
        repos_from_options([], str(tmp_path / "nope"), None)


def test_no_folder_is_the_one_prerequisite_message(tmp_path):
    repo = _mk(tmp_path / "r", {"notes.md": "x"})
    [t] = targets_for("gus", str(repo))
    o = no_folder(t)
    assert o.status == "failed" and o.blocked_by == "structure.deploy_folder"
    assert o.message.startswith("blocked by structure.deploy_folder:")
    assert "aws_deploy/" in o.message and "gcp_deploy/" in o.message
    [bad] = targets_for("hal", str(tmp_path / "missing"))
    assert "does not exist" in no_folder(bad).message
    ok = _mk(tmp_path / "ok", {"aws_deploy/README.md": "x"})
    [good] = targets_for("ivy", str(ok))
    assert no_folder(good) is None
