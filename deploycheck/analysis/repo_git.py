"""Read-only facts from a student repo's own git data (its ``.git/``): the file versions of its history
(``security.secrets``), which files git ignores (the note on model files the grader's clone will not
have) and the commit the work tree is at (part of the results-cache key).

git reads the repo's ``.git`` given explicitly (never found by searching upwards: a folder without one,
even inside another checkout, has no git facts). A ``.git`` that is a symlink or a file (a worktree's
pointer, which can lead anywhere) is not read. The configuration is given on the environment and turns
off what a hostile ``.git/config`` could start: hooks, fsmonitor, every transport (a partial clone's
missing objects are never fetched: no network), replace refs. Every call is bounded in time; any
failure of git is "no fact", never an exception.
"""
from __future__ import annotations

import os
import re
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

TIMEOUT = 30.0                 # seconds for one git command
MAX_OBJECTS = 200_000          # history objects looked at, at most (a hostile history stays bounded)

_CONFIG = (("core.hooksPath", "/dev/null"), ("core.fsmonitor", "false"), ("core.untrackedCache", "false"),
           ("protocol.allow", "never"), ("safe.directory", "*"), ("gc.auto", "0"), ("maintenance.auto", "false"),
           ("core.quotePath", "false"))
_SHA = re.compile(rb"^([0-9a-f]{40}(?:[0-9a-f]{24})?)(?: (.*))?$")


def git_dir(repo: Path) -> Path | None:
    """``repo/.git`` when it is a real directory (not a symlink, not a worktree pointer file)."""
    g = Path(repo) / ".git"
    try:
        return g if stat.S_ISDIR(os.lstat(g).st_mode) else None
    except OSError:
        return None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_NO_REPLACE_OBJECTS": "1",
                "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C",
                "GIT_CONFIG_COUNT": str(len(_CONFIG))})
    for i, (k, v) in enumerate(_CONFIG):
        env[f"GIT_CONFIG_KEY_{i}"] = k
        env[f"GIT_CONFIG_VALUE_{i}"] = v
    return env


def run(repo: Path, *args: str, data: bytes | None = None, timeout: float = TIMEOUT) -> bytes | None:
    """stdout of ``git args`` on ``repo``'s own ``.git``; None without one, on failure or timeout."""
    gd = git_dir(repo)
    if gd is None:
        return None
    try:
        p = subprocess.run(["git", f"--git-dir={gd}", f"--work-tree={repo}", *args], input=data, cwd=repo,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env(), timeout=timeout,
                           stdin=None if data is not None else subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def head(repo: Path) -> str:
    """The commit the work tree is at and whether the clone is shallow ("" without git facts)."""
    out = run(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", timeout=10)
    if not out:
        return ""
    gd = git_dir(repo)
    return out.decode().strip() + (" shallow" if gd is not None and (gd / "shallow").exists() else "")


@dataclass
class History:
    """The file versions of HEAD's history that HEAD's own tree no longer holds."""
    state: str = "none"        # none (no git) | scanned | shallow (history cut off) | partial (versions not in the clone)
    versions: list[tuple[str, str, int]] = field(default_factory=list)   # (blob id, path, size)
    missing: int = 0           # versions that are not in this clone (a partial clone)
    capped: bool = False       # more objects than MAX_OBJECTS


def history(repo: Path, keep: Callable[[str, int], bool]) -> History:
    """Every blob reachable from HEAD that is not in HEAD's tree, with its first path; ``keep(path,
    size)`` says which are worth reading."""
    gd = git_dir(repo)
    if gd is None or not head(repo):
        return History()
    h = History(state="shallow" if (gd / "shallow").exists() else "scanned")
    current = run(repo, "ls-tree", "-r", "-z", "--full-tree", "HEAD")
    listed = run(repo, "rev-list", "--objects", "--missing=print", "HEAD")
    if current is None or listed is None:
        return History(state="unreadable")
    now = {e.split(b"\t", 1)[0].split()[2] for e in current.split(b"\0") if e.count(b" ") >= 2}
    named: list[tuple[bytes, str]] = []
    for n, line in enumerate(listed.splitlines()):
        if n >= MAX_OBJECTS:
            h.capped = True
            break
        if line.startswith(b"?"):
            h.missing += 1
            continue
        m = _SHA.match(line)
        if m and m.group(2) and m.group(1) not in now:
            named.append((m.group(1), os.fsdecode(m.group(2))))
    if h.missing and h.state == "scanned":
        h.state = "partial"
    if not named:
        return h
    sizes = run(repo, "cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)",
                data=b"\n".join(s for s, _ in named) + b"\n")
    if sizes is None:
        return History(state="unreadable")
    for (sha, path), line in zip(named, sizes.splitlines()):
        parts = line.split()
        if len(parts) == 3 and parts[1] == b"blob" and keep(path, int(parts[2])):
            h.versions.append((sha.decode(), path, int(parts[2])))
    return h


def blobs(repo: Path, ids: list[str]) -> dict[str, bytes]:
    """The contents of the blobs ``ids`` (one ``cat-file --batch``); missing ones are left out."""
    if not ids:
        return {}
    out = run(repo, "cat-file", "--batch", data="\n".join(ids).encode() + b"\n")
    got: dict[str, bytes] = {}
    pos = 0
    while out is not None and pos < len(out):
        nl = out.find(b"\n", pos)
        if nl < 0:
            break
        parts = out[pos:nl].split()
        if len(parts) != 3:          # "<id> missing"
            pos = nl + 1
            continue
        size = int(parts[2])
        got[parts[0].decode()] = out[nl + 1:nl + 1 + size]
        pos = nl + 1 + size + 1
    return got


def introduced_in(repo: Path, blob: str) -> str:
    """The short id of the oldest commit of HEAD's history that added ``blob`` ("" if unknown)."""
    out = run(repo, "log", "--format=%h", f"--find-object={blob}", "HEAD", timeout=15)
    lines = out.decode(errors="replace").split() if out else []
    return lines[-1] if lines else ""


@dataclass(frozen=True)
class Ignored:
    path: str          # relative to the repo
    source: str        # the ignore file (".gitignore", "aws_deploy/.gitignore", ".git/info/exclude")
    line: int
    pattern: str


def ignored(repo: Path, rels: list[str]) -> list[Ignored]:
    """Which of ``rels`` (paths relative to the repo) git would not commit, with the rule that says so:
    ignored by a ``.gitignore`` (or ``.git/info/exclude``) and not already tracked."""
    if not rels or git_dir(repo) is None:
        return []
    out = run(repo, "check-ignore", "-v", "-z", "--stdin", data=b"\0".join(os.fsencode(r) for r in rels) + b"\0")
    if not out:
        return []
    cells = out.split(b"\0")
    found = []
    for i in range(0, len(cells) - 3, 4):
        source, line, pattern, path = (os.fsdecode(c) for c in cells[i:i + 4])
        if pattern.startswith("!"):        # a negated rule matched: the file is not ignored
            continue
        rel_source = source
        if os.path.isabs(source):
            try:
                rel_source = Path(source).relative_to(Path(repo).absolute()).as_posix()
            except ValueError:
                pass
        found.append(Ignored(path, rel_source, int(line) if line.isdigit() else 0, pattern))
    return found
