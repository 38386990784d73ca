"""Cloning and fetching student repos into a cache, and picking the commit to grade.

Every git command runs with a configuration given on its environment (``GIT_CONFIG_COUNT``), never
written to a ``.git/config``: no repo hooks (``core.hooksPath=/dev/null``), no LFS smudge
(``GIT_LFS_SKIP_SMUDGE=1`` and the ``filter.lfs.*`` commands emptied), no background gc, no
submodules, no prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode), ``protocol.file.allow``
only for a ``file://`` or local source the instructor gave. A GitHub token (``GITHUB_TOKEN`` or
``GH_TOKEN``) travels only as ``http.<https://github.com/>.extraHeader`` in that environment:
not in argv (which other users can read in ``ps``), not on disk, never printed (every message is
scrubbed), never in the environment of anything else deploycheck starts (it is removed from
deploycheck's own environment once read). Without one, git's own credential helper is used.

Clones are partial clones of the whole history that leave out only large file contents
(``--filter=blob:limit=1m``: every commit and tree, and every file version that
``security.secrets`` reads in the history, which reads versions of at most 1 MB; larger contents only
for the commit checked out). The instructor's clone thus holds what the student's own full checkout
does for every check, and both get the same verdict (a shallow or blobless clone would not see a
credential still in an older version of a file). See benchmarks/clone.py for the measured sizes.
Each repo is bounded in time and disk size.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from deploycheck import files
from deploycheck.classroom.refs import Commit, Late

# the file versions a clone holds: every one security.secrets reads in the history (secrets.MAX_FILE_BYTES;
# git's blob:limit leaves out contents of at least this size)
HISTORY_FILTER = "blob:limit=1m"
TOKEN_VARS = ("GITHUB_TOKEN", "GH_TOKEN")
# variables of the caller's environment that would point git elsewhere
_STRIP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
          "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
          "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_EXEC_PATH", "GIT_TEMPLATE_DIR", *TOKEN_VARS)


class GitError(Exception):
    """A git step failed; the message is one line, names the repo and never holds a secret."""


@dataclass(frozen=True)
class Limits:
    timeout: float = 300.0          # seconds for all git commands of one repo
    max_bytes: int = 500 * 2**20    # disk size of one clone (objects + work trees)


def take_token() -> str | None:
    """The GitHub token from the environment, removed from it so that nothing started later
    (xdist workers, the sandbox, student code) can inherit it."""
    tok = None
    for v in TOKEN_VARS:
        val = os.environ.pop(v, None)
        if val and not tok:
            tok = val.strip()
    return tok or None


def is_url(s: str) -> bool:
    return bool(re.match(r"^(https?|ssh|git|file)://", s)) or bool(re.match(r"^[\w.-]+@[\w.-]+:", s))


def is_file_url(s: str) -> bool:
    return s.startswith("file://")


def strip_userinfo(url: str) -> tuple[str, str | None]:
    """(URL without ``user:password@``, the userinfo or None). Credentials written into a roster URL
    are sent as a header for that host instead, so they never reach argv or ``.git/config``."""
    m = re.match(r"^(https?://)([^/@]+)@(.*)$", url.strip())
    if not m:
        return url, None
    return m.group(1) + m.group(3), m.group(2)


def cache_key(url: str) -> str:
    """A readable, unique folder name for a URL: host_owner_repo-<hash>."""
    u = url.strip()
    m = re.match(r"^[\w.-]+@([\w.-]+):(.*)$", u)
    tail = f"{m.group(1)}/{m.group(2)}" if m else (urlsplit(u).netloc.rsplit("@", 1)[-1] + urlsplit(u).path)
    tail = re.sub(r"\.git$", "", tail.strip("/"))
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", tail)[-80:].strip("._") or "repo"
    return f"{readable}-{hashlib.sha256(u.encode()).hexdigest()[:10]}"


class Git:
    """Runs git for one repo with the safe configuration, bounded in time and size."""

    def __init__(self, source: str, token: str | None, limits: Limits, allow_file: bool):
        self.source, userinfo = strip_userinfo(source)
        self.limits = limits
        self.deadline = time.monotonic() + limits.timeout
        self._secrets = [t for t in (token,) if t]
        cfg: list[tuple[str, str]] = [
            ("core.hooksPath", "/dev/null"), ("core.fsmonitor", "false"),
            ("filter.lfs.smudge", ""), ("filter.lfs.process", ""), ("filter.lfs.clean", ""),
            ("filter.lfs.required", "false"),
            ("gc.auto", "0"), ("maintenance.auto", "false"),
            ("submodule.recurse", "false"), ("fetch.recurseSubmodules", "false"),
            ("protocol.file.allow", "always" if allow_file else "never"), ("protocol.ext.allow", "never"),
            ("credential.interactive", "never"), ("advice.detachedHead", "false"),
            ("init.defaultBranch", "main"),
        ]
        if token:
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            self._secrets.append(basic)
            for host in _token_hosts():
                cfg.append((f"http.{host}/.extraheader", f"AUTHORIZATION: basic {basic}"))
        if userinfo:
            from urllib.parse import unquote
            cred = unquote(userinfo) if ":" in userinfo else f"x-access-token:{unquote(userinfo)}"
            basic = base64.b64encode(cred.encode()).decode()
            self._secrets += [userinfo, unquote(userinfo), basic]
            u = urlsplit(self.source)
            cfg.append((f"http.{u.scheme}://{u.netloc}/.extraheader", f"AUTHORIZATION: basic {basic}"))
        env = {k: v for k, v in os.environ.items() if k not in _STRIP and not k.startswith("GIT_CONFIG_")}
        env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1", "GCM_INTERACTIVE": "never",
                    "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", "GIT_CONFIG_COUNT": str(len(cfg))})
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        for i, (k, v) in enumerate(cfg):
            env[f"GIT_CONFIG_KEY_{i}"] = k
            env[f"GIT_CONFIG_VALUE_{i}"] = v
        self.env = env

    def scrub(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        # credentials written into a URL by the instructor (https://user:pass@host/...)
        return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)

    def run(self, *args: str, cwd: Path | None = None, watch: Path | None = None) -> str:
        """Run ``git args`` and return stdout; raise GitError (one scrubbed line) on failure, on the
        repo's time budget or when ``watch`` grows beyond the size limit."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GitError(f"gave up on {self.scrub(self.source)} after {self.limits.timeout:g} s "
                           "(--clone-timeout)")
        p = subprocess.Popen(["git", *args], cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        out, err = b"", b""
        try:
            while True:
                try:
                    out, err = p.communicate(timeout=min(0.5, max(0.05, left)))
                    break
                except subprocess.TimeoutExpired:
                    left = self.deadline - time.monotonic()
                    if left <= 0:
                        _kill(p)
                        raise GitError(f"gave up on {self.scrub(self.source)} after {self.limits.timeout:g} s "
                                       "(--clone-timeout)") from None
                    if watch is not None and files.tree_size(watch) > self.limits.max_bytes:
                        _kill(p)
                        raise GitError(f"{self.scrub(self.source)} is larger than "
                                       f"{self.limits.max_bytes // 2**20} MB (--clone-max-mb); not graded") from None
        finally:
            if p.poll() is None:
                _kill(p)
        if watch is not None and files.tree_size(watch) > self.limits.max_bytes:
            raise GitError(f"{self.scrub(self.source)} is larger than {self.limits.max_bytes // 2**20} MB "
                           "(--clone-max-mb); not graded")
        if p.returncode != 0:
            msg = self.scrub(err.decode("utf-8", "replace")).strip().splitlines()
            last = next((m for m in msg if m.startswith(("fatal:", "error:"))), msg[-1] if msg else "")
            raise GitError(f"git {args[0]} of {self.scrub(self.source)} failed: {last or f'exit {p.returncode}'}")
        return out.decode("utf-8", "replace")


def _kill(p: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    p.wait()


def _token_hosts() -> list[str]:
    hosts = ["https://github.com"]
    server = os.environ.get("GITHUB_SERVER_URL", "").rstrip("/")
    if server.startswith("https://") and server not in hosts:
        hosts.append(server)
    return hosts


# ---------------------------------------------------------------- deadline

def parse_deadline(text: str) -> dt.datetime:
    """An ISO 8601 time with a zone (``2024-05-01T23:59:00+02:00``, ``...Z``); a naive time is refused."""
    s = text.strip()
    try:
        t = dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
    except ValueError:
        raise ValueError(f"--deadline {text}: not an ISO 8601 time; use e.g. 2024-05-01T23:59:00+02:00") from None
    if "T" not in s.upper() and " " not in s:       # a date alone: which time, in which zone?
        raise ValueError(f"--deadline {text}: a date alone does not say when on that day, nor in which zone; give "
                         f"the time and zone, e.g. {t.date().isoformat()}T23:59:59+00:00 (the end of that day in UTC) "
                         f"or {t.date().isoformat()}T23:59:59-05:00")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"--deadline {text}: give the time zone too, e.g. {s}+00:00 or {s}Z")
    return t


@dataclass(frozen=True)
class Selected:
    graded: Commit | None           # last first-parent commit at or before the deadline
    tip: Commit | None
    late: Late | None
    note: str | None = None         # e.g. committer dates out of order


def select(history: list[tuple[str, int, str]], deadline: dt.datetime | None) -> Selected:
    """``history``: (sha, committer unix time, committer ISO time) along the first-parent chain of
    the default branch, newest first. The graded commit is the newest one committed at or before
    the deadline (the tip when there is no deadline). ``late`` is a placeholder (count 0) that the
    caller completes from the full commit graph."""
    if not history:
        return Selected(None, None, None)
    tip = Commit(history[0][0], history[0][2])
    note = None
    for (sha, t, iso), (_psha, pt, _piso) in zip(history, history[1:]):
        if t < pt:
            note = (f"commit {sha[:10]} is dated before its parent ({iso}): dates were rewritten (rebase, amend "
                    "or a forged date); check the push times on GitHub before applying a late policy")
            break
    if deadline is None:
        return Selected(tip, tip, None, note)
    limit = deadline.timestamp()
    graded = next((Commit(sha, iso) for sha, t, iso in history if t <= limit), None)
    if graded is not None and graded.sha == tip.sha:
        return Selected(graded, tip, None, note)
    return Selected(graded, tip, Late(0, tip.time, tip), note)


# ---------------------------------------------------------------- one repo

def read_head(path: Path) -> Commit | None:
    """The checked-out commit of a local repo given by the instructor (read only; the repo's own
    config cannot start anything: hooks and fsmonitor are off). None when it is not a git repo."""
    if not (path / ".git").exists():
        return None
    g = Git(str(path), None, Limits(timeout=30), allow_file=False)
    try:
        out = g.run("-c", f"safe.directory={path}", "-C", str(path), "log", "-1", "--format=%H %cI", "HEAD")
    except GitError:
        return None
    parts = out.split()
    return Commit(parts[0], parts[1]) if len(parts) == 2 else None


def is_ancestor(tree: Path, ancestor: str, commit: str) -> bool:
    """Whether ``commit`` has ``ancestor`` in its history, in the clone ``tree`` (False when either is
    not there: a commit that was force-pushed away)."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", ancestor) or not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        return False
    g = Git(tree.resolve().as_uri(), None, Limits(timeout=30), allow_file=False)
    try:
        g.run("-C", str(tree), "merge-base", "--is-ancestor", ancestor, commit)
    except GitError:
        return False
    return True


@dataclass(frozen=True)
class Fetched:
    path: Path                      # work tree at the graded commit
    selected: Selected


def fetch(source: str, dest: Path, deadline: dt.datetime | None, token: str | None, limits: Limits,
          want_latest: bool = True) -> Fetched:
    """Clone ``source`` into ``dest`` (or fetch it again), check out the commit to grade, and, when
    there are commits after the deadline, the tip in ``dest.latest`` for the shadow grading."""
    local = not is_url(source)
    g = Git(Path(source).resolve().as_uri() if local else source, token, limits,
            allow_file=local or is_file_url(source))
    url = g.source                  # without credentials
    dest.parent.mkdir(parents=True, exist_ok=True)
    if (dest / ".git").is_dir():
        args = ["fetch", "--quiet", "--force", "--prune", "--no-tags", f"--filter={HISTORY_FILTER}"]
        if (dest / ".git" / "shallow").exists():      # a cache an older deploycheck cloned shallow
            args += ["--unshallow"]
        try:
            g.run("-C", str(dest), *args, "origin", "+HEAD:refs/deploycheck/tip", watch=dest)
        except GitError as e:
            if "couldn't find remote ref HEAD" not in str(e):
                raise
            return Fetched(dest, Selected(None, None, None, "the repository has no commits"))
    else:
        tmp = dest.with_name(dest.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        args = ["clone", "--quiet", "--no-checkout", f"--filter={HISTORY_FILTER}", "--no-tags", "--single-branch"]
        try:
            g.run(*args, "--", url, str(tmp), watch=tmp)
        except GitError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        os.replace(tmp, dest)
        try:
            g.run("-C", str(dest), "update-ref", "refs/deploycheck/tip", "HEAD")
        except GitError:
            return Fetched(dest, Selected(None, None, None, "the repository has no commits"))
    log = g.run("-C", str(dest), "log", "--first-parent", "--format=%H %ct %cI", "refs/deploycheck/tip")
    history = [(a, int(b), c) for a, b, c in (line.split() for line in log.splitlines() if line.strip())]
    sel = select(history, deadline)
    if sel.late is not None:
        base = sel.graded.sha if sel.graded else None
        rng = [f"{base}..refs/deploycheck/tip"] if base else ["refs/deploycheck/tip"]
        count = int(g.run("-C", str(dest), "rev-list", "--count", *rng).strip() or 0)
        times = g.run("-C", str(dest), "log", "--format=%ct %cI", *rng).split("\n")
        last = max((ln.split() for ln in times if ln.strip()), key=lambda x: int(x[0]))[1]
        sel = Selected(sel.graded, sel.tip, Late(count, last, sel.late.latest), sel.note)
    if sel.graded is not None:
        _checkout(g, dest, sel.graded.sha)
    else:
        _empty_worktree(g, dest)
    if sel.late is not None and want_latest:
        latest = dest.with_name(dest.name + ".latest")
        if (latest / ".git").exists():
            _checkout(g, latest, sel.late.latest.sha)
        else:
            shutil.rmtree(latest, ignore_errors=True)
            g.run("-C", str(dest), "worktree", "prune")
            g.run("-C", str(dest), "worktree", "add", "--quiet", "--force", "--detach", str(latest),
                  sel.late.latest.sha, watch=latest)
        sel = Selected(sel.graded, sel.tip, Late(sel.late.count, sel.late.last_time, sel.late.latest, str(latest)),
                       sel.note)
    return Fetched(dest, sel)


def _checkout(g: Git, tree: Path, sha: str) -> None:
    g.run("-C", str(tree), "checkout", "--quiet", "--force", "--detach", sha, watch=tree)
    g.run("-C", str(tree), "clean", "-ffdxq")


def _empty_worktree(g: Git, tree: Path) -> None:
    """Nothing to grade at the deadline: leave only .git in the work tree."""
    for e in os.scandir(tree):
        if e.name == ".git":
            continue
        if e.is_dir(follow_symlinks=False):
            shutil.rmtree(e.path, ignore_errors=True)
        else:
            try:
                os.unlink(e.path)
            except OSError:
                pass
