"""Build small student git repos with fixed committer dates (GIT_COMMITTER_DATE) for the tests."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

BASE_ENV = {"GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "s@example.com", "GIT_COMMITTER_NAME": "Student",
            "GIT_COMMITTER_EMAIL": "s@example.com", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent-home"}


def git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **BASE_ENV}
    if date:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = date
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_repo(path: Path, commits: list[tuple[str, dict[str, str | None]]], allow_filter: bool = True) -> list[str]:
    """``commits``: (committer date ISO, {relative path: content or None to delete}); returns the shas."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    if allow_filter:
        git(path, "config", "uploadpack.allowFilter", "true")
    shas = []
    for date, files in commits:
        for rel, content in files.items():
            f = path / rel
            if content is None:
                f.unlink()
                continue
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(content)
        git(path, "add", "-A")
        git(path, "commit", "-q", "--allow-empty", "-m", f"work {len(shas) + 1}", date=date)
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas
