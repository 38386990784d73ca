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
    (out / "mine.txt").write_text("the instructor's own notes")
    p = dc("grade", "--repo", str(room / "no_readme"), "--report", str(out), "--no-cache", cwd=tmp_path)
    assert (out / "report.json").is_file(), p.stdout[-2000:]
    assert not (out / "canvas.csv").exists() and not (out / "results" / "complete_aws.json").exists()
    assert not (out / "proof" / "complete_aws").exists()
    assert (out / "results" / "no_readme.json").is_file() and (out / "mine.txt").is_file()
