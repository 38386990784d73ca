"""Dates you can trust: when GitHub received the graded commit, compared with the deadline.

A commit's dates come from the student's machine (``git commit --date``, ``GIT_COMMITTER_DATE``, a
rebase): late work can carry any date. The hosting service records when each push arrived: GitHub's
repository activity API (``GET /repos/{owner}/{repo}/activity``, REST API version 2022-11-28: each
push, force push, branch creation and merge with its ``before`` and ``after`` commits and its
``timestamp``; cursor pagination through the ``Link`` header) needs a token that can read the
repository. The graded commit was received with the first push whose ``after`` commit is it or has
it as an ancestor (checked in the local clone with ``git merge-base --is-ancestor``); if that push
came after the deadline, the work is late whatever its dates say.

Without a token (or for a repository not on GitHub) the dates stay unverified, and every output
says so. The token only ever travels in the ``Authorization`` header of these requests.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlencode, urlsplit

API_VERSION = "2022-11-28"
MAX_PAGES = 30                    # 100 activities a page: 3,000 pushes of one repository at most
TIMEOUT = 20.0                    # seconds per request
RECEIVED = ("push", "force_push", "branch_creation", "pr_merge", "merge_queue_merge")
UNVERIFIED_NO_TOKEN = ("commit dates not verified: they come from the student's machine and can be forged; give a "
                       "GitHub token that can read the repositories (GITHUB_TOKEN) to compare them with the push "
                       "times GitHub recorded")


@dataclass(frozen=True)
class Activity:
    before: str
    after: str
    ref: str
    timestamp: dt.datetime
    activity_type: str


@dataclass(frozen=True)
class DateCheck:
    """What the hosting service says about the graded commit's date."""
    verified: bool
    pushed_at: str | None = None        # ISO 8601 UTC, when GitHub received the graded commit
    pushed_late: bool = False           # received after the deadline, whatever its commit date
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"verified": self.verified, "note": self.note}
        if self.pushed_at:
            d["pushed_at"] = self.pushed_at
        if self.pushed_late:
            d["pushed_late"] = True
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> DateCheck | None:
        if not d:
            return None
        return cls(bool(d.get("verified")), d.get("pushed_at"), bool(d.get("pushed_late")), str(d.get("note") or ""))


class GitHubError(Exception):
    """The API could not answer; the message is one line and holds no secret."""


def github_repo(url: str) -> tuple[str, str, str] | None:
    """(API base URL, owner, repo) of a repository hosted on github.com or on the GitHub server this
    runs in (``GITHUB_SERVER_URL`` / ``GITHUB_API_URL``, set in GitHub Actions); None otherwise."""
    u = url.strip()
    m = re.match(r"^git@([\w.-]+):([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", u)
    if m:
        host, owner, repo = m.groups()
    else:
        parts = urlsplit(u)
        if parts.scheme not in ("https", "http", "ssh", "git"):
            return None
        host = parts.hostname or ""
        bits = [b for b in parts.path.split("/") if b]
        if len(bits) < 2:
            return None
        owner, repo = bits[0], re.sub(r"\.git$", "", bits[1])
    if host == "github.com":
        return "https://api.github.com", owner, repo
    server = os.environ.get("GITHUB_SERVER_URL", "").rstrip("/")
    if server and urlsplit(server).hostname == host:
        return os.environ.get("GITHUB_API_URL", "").rstrip("/") or f"{server}/api/v3", owner, repo
    return None


def _time(s: Any) -> dt.datetime | None:
    if not isinstance(s, str):
        return None
    try:
        t = dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith("Z") else s)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _next(link: str | None) -> str | None:
    for part in (link or "").split(","):
        m = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', part)
        if m:
            return m.group(1)
    return None


def activities(api: str, owner: str, repo: str, token: str, *, timeout: float = TIMEOUT) -> list[Activity]:
    """Every push-like activity of the repository, oldest first (paginated)."""
    url: str | None = f"{api}/repos/{owner}/{repo}/activity?" + urlencode({"direction": "asc", "per_page": 100})
    out: list[Activity] = []
    pages = 0
    while url and pages < MAX_PAGES:
        pages += 1
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}",
                                                   "Accept": "application/vnd.github+json",
                                                   "X-GitHub-Api-Version": API_VERSION,
                                                   "User-Agent": "deploycheck"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:         # noqa: S310 - https/GHES API only
                body = r.read(20_000_000)
                link = r.headers.get("Link")
        except urllib.error.HTTPError as e:
            why = {401: "the token was refused", 403: "the token may not read it (or the rate limit was hit)",
                   404: "not found, or the token cannot see it"}.get(e.code, f"HTTP {e.code}")
            raise GitHubError(f"GitHub's activity of {owner}/{repo}: {why}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise GitHubError(f"GitHub's activity of {owner}/{repo} could not be read "
                              f"({type(e).__name__}: {getattr(e, 'reason', e)})") from None
        try:
            items = json.loads(body)
        except ValueError:
            raise GitHubError(f"GitHub's activity of {owner}/{repo}: not JSON") from None
        if not isinstance(items, list):
            raise GitHubError(f"GitHub's activity of {owner}/{repo}: unexpected answer")
        for a in items:
            t = _time(a.get("timestamp")) if isinstance(a, dict) else None
            if t is not None and a.get("activity_type") in RECEIVED and a.get("after"):
                out.append(Activity(str(a.get("before") or ""), str(a["after"]), str(a.get("ref") or ""), t,
                                    str(a["activity_type"])))
        url = _next(link)
    return sorted(out, key=lambda a: a.timestamp)


def check(sha: str, commit_time: str, deadline: dt.datetime, acts: Iterable[Activity],
          contains: Callable[[str, str], bool]) -> DateCheck:
    """When GitHub received ``sha`` (the first push whose ``after`` is it or descends from it), against
    the deadline. ``contains(after, sha)``: whether ``after`` has ``sha`` in its history."""
    for a in sorted(acts, key=lambda a: a.timestamp):
        if a.after == sha or contains(a.after, sha):
            when = a.timestamp.astimezone(dt.timezone.utc)
            stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            if when > deadline:
                return DateCheck(True, stamp, True,
                                 f"pushed after the deadline: commit {sha[:10]} (committer date {commit_time}) reached "
                                 f"GitHub at {stamp} ({a.activity_type} to {a.ref or 'a branch'}), after the deadline "
                                 f"{deadline.isoformat()}: late whatever its commit date says")
            return DateCheck(True, stamp, False, f"commit {sha[:10]} reached GitHub at {stamp}, before the deadline")
    return DateCheck(False, None, False, f"commit dates not verified: GitHub's activity of the repository shows no push "
                                         f"of commit {sha[:10]} (older than the activity GitHub keeps?)")
