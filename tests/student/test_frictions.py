"""Small frictions of the command line (issue 24): each is what a newcomer meets first."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from deploycheck.classroom import git as _git

ROOT = Path(__file__).resolve().parents[2]


def dc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploycheck.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_version():
    assert dc("--version").stdout.startswith("deploycheck ")
    p = dc("grade", "--version")
    assert p.returncode == 0 and p.stdout.startswith("deploycheck ") and "(pytest " in p.stdout


def test_grade_help_is_deploycheck_s_own():
    p = dc("grade", "--help")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].startswith("usage: deploycheck grade --repo PATH") and len(lines) < 150, len(lines)
    for opt in ("--repo", "--classroom", "--roster", "--report", "--deadline", "--sandbox-timeout", "--cloud", "-n N"):
        assert opt in p.stdout, opt
    assert "--help-pytest" in p.stdout and "--basetemp" not in p.stdout
    full = dc("grade", "--help-pytest")
    assert "--basetemp" in full.stdout


def test_sandbox_timeout_says_cpu_and_wall_clock():
    p = dc("grade", "--help")
    text = " ".join(p.stdout.split())
    assert "SECONDS of CPU time, and SECONDS of wall clock" in text
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "limits both the CPU time and the wall clock" in readme


@pytest.mark.parametrize("given", ["2024-05-01", "2024-05-01T23:59"])
def test_a_deadline_without_time_or_zone_is_refused_with_advice_that_works(given):
    with pytest.raises(ValueError) as e:
        _git.parse_deadline(given)
    advice = [w.rstrip(",;):") for w in str(e.value).split() if w.startswith("2024-05-01") and w.rstrip(",;):") != given]
    assert advice
    for a in advice:                      # every suggestion is accepted
        assert isinstance(_git.parse_deadline(a), dt.datetime)


def test_a_mistyped_repo_is_a_usage_error(tmp_path):
    p = dc("grade", "--repo", "no/such/repo", "--report", "out", cwd=tmp_path)
    assert p.returncode == 4, p.stdout[-1500:] + p.stderr[-1500:]
    assert "--repo no/such/repo: no such folder" in p.stderr
    assert not (tmp_path / "out").exists()


def test_a_reused_report_folder_keeps_nothing_of_the_previous_run(tmp_path):
    import shutil
    room = tmp_path / "room"
    for name in ("complete_aws", "no_readme"):
        shutil.copytree(ROOT / "fixtures/built/classroom" / name, room / name)
    out = tmp_path / "out"
    p = dc("grade", "--classroom", str(room), "--report", str(out), "--canvas", "--no-cache", cwd=tmp_path)
    assert (out / "canvas.csv").is_file() and (out / "results" / "no_readme.json").is_file(), p.stdout[-2000:]
    assert (out / "proof" / "complete_aws").is_dir()
    # no roster gave Canvas ids: the run says which rows Canvas can match only by name
    assert ("deploycheck: warning: canvas.csv: 2 of 2 students have no Canvas ID, SIS User ID or SIS Login ID "
            "(complete_aws, no_readme)") in p.stdout + p.stderr, p.stdout[-2000:]
    (out / "mine.txt").write_text("the instructor's own notes")
    p = dc("grade", "--repo", str(room / "no_readme"), "--report", str(out), "--no-cache", cwd=tmp_path)
    assert (out / "report.json").is_file(), p.stdout[-2000:]
    assert not (out / "canvas.csv").exists() and not (out / "results" / "complete_aws.json").exists()
    assert not (out / "proof" / "complete_aws").exists()
    assert (out / "results" / "no_readme.json").is_file() and (out / "mine.txt").is_file()


def _git_repo(src: Path, date: str) -> Path:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="Student", GIT_AUTHOR_EMAIL="s@example.com", GIT_COMMITTER_NAME="Student",
               GIT_COMMITTER_EMAIL="s@example.com", GIT_CONFIG_NOSYSTEM="1", HOME=str(src.parent),
               GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "deploy lab"]):
        subprocess.run(["git", "-C", str(src), *args], env=env, check=True, capture_output=True)
    return src


def test_a_student_whose_every_commit_is_late_is_told_so_everywhere(tmp_path):
    """Nothing was committed by the deadline: every output says that (not "create aws_deploy/", which
    the student has), and the latest commit's score is there for the instructor's late policy."""
    import json
    import shutil
    repo = _git_repo(Path(shutil.copytree(ROOT / "fixtures/built/classroom/complete_aws", tmp_path / "zoe")),
                     "2024-05-03T10:00:00+00:00")
    out = tmp_path / "out"
    p = dc("grade", "--repo", str(repo), "--deadline", "2024-05-01T23:59:00+00:00", "--report", str(out),
           "--clone-dir", str(tmp_path / "clones"), "--no-proof", cwd=tmp_path)
    text = p.stdout + p.stderr
    truth = "nothing to grade at the deadline 2024-05-01T23:59:00+00:00: the repository's only commit came after it"
    wrong = ("folder named aws_deploy", "put your deployment in", "no aws_deploy/ or gcp_deploy/ folder",
             "FIX THIS FIRST", "Fix this first", "fixing it also unblocks")
    section = text.split("deploycheck grades", 1)[1]
    assert "zoe (nothing by the deadline): 0/23 points" in section and "NOTHING TO GRADE AT THE DEADLINE" in section
    assert " ".join(section.split()).count(truth) == 1, section
    summary = (out / "summary.md").read_text()
    gradescope = json.loads((out / "results" / "zoe.json").read_text())
    page = __import__("html").unescape((out / "index.html").read_text())
    for name, doc in (("terminal", section), ("summary.md", summary), ("results/zoe.json", gradescope["output"]),
                      ("index.html", page)):
        assert truth in " ".join(doc.split()).replace("\\", ""), name
        for w in wrong:
            assert w not in doc, (name, w)
    (zoe,) = json.loads((out / "report.json").read_text())["students"]
    assert zoe["score"] == 0 and zoe["commit"] is None and zoe["late"]["count"] == 1
    assert zoe["late"]["latest_score"] == 23, zoe["late"]        # the instructor's late policy has its number
    for c in zoe["checks"]:                                          # every check says the same truth
        assert "nothing to grade at the deadline" in c["message"] and "aws_deploy" not in c["message"], c


def test_model_files_that_gitignore_keeps_out_of_the_repo_are_named_with_how_to_commit_them(tmp_path):
    """Graded here (the files are on disk), but the instructor's clone will have no model: every output
    says which file, which rule, and the command that commits it."""
    import shutil
    src = Path(shutil.copytree(ROOT / "fixtures/built/classroom/complete_aws", tmp_path / "zoe"))
    (src / ".gitignore").write_text("__pycache__/\n*.tar.gz\n")
    (src / "aws_deploy" / ".gitignore").write_text("*.joblib\n")
    repo = _git_repo(src, "2024-05-01T10:00:00+00:00")
    committed = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True, text=True).stdout
    assert "aws_deploy/model.tar.gz" not in committed and "aws_deploy/inference.py" in committed
    out = tmp_path / "out"
    p = dc("grade", "--repo", str(repo), "--report", str(out), "--no-proof", cwd=tmp_path)
    text = " ".join((p.stdout + p.stderr).split())
    summary = " ".join((out / "summary.md").read_text().replace("\\", "").split())
    gradescope = " ".join(__import__("json").loads((out / "results" / "zoe.json").read_text())["output"].split())
    assert "23 / 23" in summary
    for doc in (text, summary, gradescope):
        assert ("aws_deploy/model.tar.gz is not committed: .gitignore line 2 (*.tar.gz) makes git ignore it, so it is "
                "graded here but your instructor's clone and CI will have no model; commit it (`git add -f "
                "aws_deploy/model.tar.gz`, or delete that rule)") in doc, doc[-3000:]
        assert "aws_deploy/model.joblib is not committed: aws_deploy/.gitignore line 1 (*.joblib)" in doc


def test_only_ignored_and_untracked_model_files_get_the_note(tmp_path):
    from deploycheck.discovery import load_submission
    src = tmp_path / "repo"
    (src / "aws_deploy").mkdir(parents=True)
    for name in ("model.joblib", "forced.pkl", "kept.pkl", "inference.py", "big model.tar.gz"):
        (src / "aws_deploy" / name).write_bytes(b"x")
    (src / ".gitignore").write_text("*.pkl\n!kept.pkl\n*.tar.gz\n*.py\n")
    _git_repo(src, "2024-05-01T10:00:00+00:00")
    subprocess.run(["git", "-C", str(src), "add", "-f", "aws_deploy/forced.pkl"], check=True, capture_output=True)
    with open(src / "aws_deploy" / "big model.tar.gz", "r+b") as fh:
        fh.truncate(101 * 2**20)                                 # sparse: over GitHub's limit
    notes = load_submission.__wrapped__("stu", str(src)).notes
    assert len(notes) == 1, notes                                 # forced.pkl is tracked, kept.pkl not ignored,
    assert notes[0].startswith("aws_deploy/big model.tar.gz is not committed")   # inference.py is no model
    assert "over GitHub's 100 MB limit" in notes[0] and "git add -f 'aws_deploy/big model.tar.gz'" in notes[0]
    (src / ".git").rename(src / "not-git")                      # no git: nothing to say
    assert load_submission.__wrapped__("stu", str(src)).notes == ()
