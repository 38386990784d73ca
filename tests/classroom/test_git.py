"""Cloning into the cache through file:// URLs, deadline selection, late commits, limits, and the
token rules (never in argv, .git/config, output, or anything else deploycheck starts)."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from gitrepos import git, make_repo  # noqa: E402

from deploycheck.classroom import git as cg  # noqa: E402
from deploycheck.classroom import resolve_sources  # noqa: E402

DEADLINE = "2024-05-01T23:59:00+02:00"
BEFORE = ["2024-04-20T10:00:00+02:00", "2024-05-01T23:00:00+02:00"]
AFTER = ["2024-05-02T09:00:00+02:00", "2024-05-03T18:30:00+02:00"]


@pytest.fixture
def repo(tmp_path):
    p = tmp_path / "src" / "alice"
    shas = make_repo(p, [(BEFORE[0], {"README.md": "v1"}), (BEFORE[1], {"README.md": "v2"}),
                         (AFTER[0], {"README.md": "v3"}), (AFTER[1], {"late.txt": "late"})])
    return p, shas


def test_deadline_picks_last_commit_at_or_before_and_counts_late(repo, tmp_path):
    src, shas = repo
    f = cg.fetch(src.as_uri(), tmp_path / "cache" / "a", cg.parse_deadline(DEADLINE), None, cg.Limits())
    assert f.selected.graded.sha == shas[1]
    assert (f.path / "README.md").read_text() == "v2" and not (f.path / "late.txt").exists()
    late = f.selected.late
    assert late.count == 2 and late.latest.sha == shas[3] and late.last_time.startswith("2024-05-03T18:30:00")
    assert (Path(late.path) / "late.txt").read_text() == "late"        # the shadow work tree
    # re-run after a new push: fetched again, not cloned from scratch
    git(src, "commit", "-q", "--allow-empty", "-m", "later", date="2024-05-04T10:00:00+02:00")
    (tmp_path / "cache" / "a" / "stray.txt").write_text("left by a previous run")
    f2 = cg.fetch(src.as_uri(), tmp_path / "cache" / "a", cg.parse_deadline(DEADLINE), None, cg.Limits())
    assert f2.selected.graded.sha == shas[1] and f2.selected.late.count == 3
    assert not (f2.path / "stray.txt").exists()


def test_without_deadline_the_tip_is_graded_and_recorded(repo, tmp_path):
    src, shas = repo
    f = cg.fetch(src.as_uri(), tmp_path / "c", None, None, cg.Limits())
    assert f.selected.graded.sha == shas[-1] and f.selected.late is None
    assert not (tmp_path / "c" / ".git" / "shallow").exists()          # the history, as security.secrets reads it
    # the same cache later used with a deadline: fetched again, not recloned
    f = cg.fetch(src.as_uri(), tmp_path / "c", cg.parse_deadline(DEADLINE), None, cg.Limits())
    assert f.selected.graded.sha == shas[1]


def test_every_commit_late_grades_nothing(tmp_path):
    src = tmp_path / "bob"
    shas = make_repo(src, [(AFTER[0], {"README.md": "x"})])
    f = cg.fetch(src.as_uri(), tmp_path / "c", cg.parse_deadline(DEADLINE), None, cg.Limits())
    assert f.selected.graded is None and f.selected.late.count == 1 and f.selected.late.latest.sha == shas[0]
    assert [p.name for p in f.path.iterdir()] == [".git"]


def test_rewritten_dates_are_flagged(tmp_path):
    src = tmp_path / "eve"
    make_repo(src, [(BEFORE[1], {"a": "1"}), (BEFORE[0], {"a": "2"})])   # child dated before its parent
    f = cg.fetch(src.as_uri(), tmp_path / "c", cg.parse_deadline(DEADLINE), None, cg.Limits())
    assert "dated before its parent" in f.selected.note


def test_naive_deadline_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        cg.parse_deadline("2024-05-01T23:59:00")
    with pytest.raises(ValueError, match="ISO 8601"):
        cg.parse_deadline("next friday")
    assert cg.parse_deadline("2024-05-01T21:59:00Z") == cg.parse_deadline(DEADLINE)


def test_repo_hooks_and_lfs_filters_never_run(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    home = tmp_path / "home"
    home.mkdir()
    # an instructor machine with git-lfs configured globally, and a hostile post-checkout hook path
    (home / ".gitconfig").write_text(f'[filter "lfs"]\n\tsmudge = touch {marker}-smudge\n\tprocess = touch {marker}-process\n'
                                     f'\trequired = true\n[core]\n\thooksPath = {tmp_path / "hooks"}\n')
    (tmp_path / "hooks").mkdir()
    hook = tmp_path / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}-hook\n")
    hook.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    src = tmp_path / "lfs"
    make_repo(src, [(BEFORE[0], {".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n",
                                 "model.bin": "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n"})])
    f = cg.fetch(src.as_uri(), tmp_path / "c", cg.parse_deadline(DEADLINE), None, cg.Limits())
    assert (f.path / "model.bin").read_text().startswith("version https://git-lfs")   # the pointer, not smudged
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran")) == []


def test_unreachable_repo_is_that_students_error(tmp_path, repo):
    src, _ = repo
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student,repo\nalice,{src.as_uri()}\nghost,{(tmp_path / 'nope').as_uri()}\n")
    refs, warnings, cloned = resolve_sources([], None, [str(roster)], clone_dir=tmp_path / "cache")
    by = {r.student: r for r in refs}
    assert cloned and by["alice"].error is None and by["alice"].commit is not None
    assert by["ghost"].error.startswith("could not fetch the repository: git clone of file://")
    assert by["ghost"].path == ""


def test_size_limit(tmp_path):
    src = tmp_path / "big"
    make_repo(src, [(BEFORE[0], {"data.csv": "x" * 3_000_000})])
    with pytest.raises(cg.GitError, match="larger than 1 MB"):
        cg.fetch(src.as_uri(), tmp_path / "c", None, None, cg.Limits(max_bytes=2**20))


def test_cache_key_is_readable_and_unique():
    a = cg.cache_key("https://github.com/course-org/lab-alice.git")
    b = cg.cache_key("git@github.com:course-org/lab-alice.git")
    assert a.startswith("github.com_course-org_lab-alice-") and b.startswith("github.com_course-org_lab-alice-")
    assert a != b


# ---------------------------------------------------------------- the token

TOKEN = "ghp_TESTtoken0123456789abcdefSECRET"


@pytest.fixture
def git_spy(tmp_path, monkeypatch):
    """A `git` first on PATH that logs its argv and the token-bearing part of its environment."""
    real = next(p for p in (Path(d) / "git" for d in os.environ["PATH"].split(os.pathsep)) if p.is_file())
    bindir = tmp_path / "spybin"
    bindir.mkdir()
    log = tmp_path / "spy.log"
    spy = bindir / "git"
    spy.write_text(f'#!/bin/sh\nprintf "ARGV %s\\n" "$*" >> {log}\nenv | grep -e GIT_CONFIG_VALUE -e TOKEN >> {log}\n'
                   f'exec {real} "$@"\n')
    spy.chmod(spy.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_token_never_in_argv_config_output_or_other_processes(tmp_path, repo, git_spy, monkeypatch, capfd):
    import base64
    src, _ = repo
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student,repo\nalice,{src.as_uri()}\nghost,https://{TOKEN}@127.0.0.1:9/x/y.git\n")
    refs, _w, _c = resolve_sources([], None, [str(roster)], clone_dir=tmp_path / "cache", deadline=DEADLINE,
                                   limits=cg.Limits(timeout=60))
    log = git_spy.read_text()
    argv = "\n".join(line for line in log.splitlines() if line.startswith("ARGV"))
    assert TOKEN not in argv and basic not in argv                       # 1. not in any argv
    assert f"AUTHORIZATION: basic {basic}" in log                        # ... only in git's own environment
    assert "GITHUB_TOKEN" not in log                                     # ... and not as the variable itself
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert TOKEN.encode() not in on_disk and basic.encode() not in on_disk   # 2. not written to disk (.git/config)
    out, err = capfd.readouterr()
    text = out + err + repr(refs)
    assert TOKEN not in text and basic not in text                       # 3. never printed, not in the refs/report
    assert all(TOKEN not in r.source for r in refs)
    assert "https://127.0.0.1:9/x/y.git" in next(r.error for r in refs if r.student == "ghost")
    assert "GITHUB_TOKEN" not in os.environ                              # 4. nothing started later inherits it
    import subprocess
    child = subprocess.run([sys.executable, "-c", "import os; print(sorted(os.environ.items()))"],
                           capture_output=True, text=True).stdout
    assert TOKEN not in child
