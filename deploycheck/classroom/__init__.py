"""Where the student repos come from: ``--repo``, ``--classroom``, ``--roster`` (plain CSV or
GitHub Classroom downloads, with paths or git URLs), the clone cache (``--clone-dir``) and the
``--deadline`` commit selection.

The plugin calls only :func:`add_options` and :func:`resolve` (and :func:`shadow_refs` to grade the
latest commit of late students). ``resolve`` lists the whole class first (every student id is
decided over the whole roster, so the ids, and the slices, are the same on every shard), keeps the
``--shard K/N`` slice (:func:`shard_refs`), and clones or fetches only that slice: a class matrix of
N jobs clones each repo once, not N times. A repo that cannot be fetched is a "not graded" row of its
own (``RepoRef.error``), never a zero. The cloning is done once, on the controller: the resolved
refs go to a manifest whose path is left in ``DEPLOYCHECK_CLASSROOM_MANIFEST`` so that pytest-xdist
workers (which inherit the environment) read the same refs instead of cloning again.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from deploycheck import files
from deploycheck.classroom import git as _git
from deploycheck.classroom import pushes as _pushes
from deploycheck.classroom import roster as _roster
from deploycheck.classroom.refs import SHADOW_SUFFIX, Commit, Late, RepoRef, RosterEntry, safe_id, unique_ids

if TYPE_CHECKING:
    import pytest

__all__ = ["RepoRef", "RosterEntry", "Commit", "Late", "SHADOW_SUFFIX", "Resolved", "add_options", "resolve",
           "resolve_sources", "list_refs", "fetch_refs", "parse_shard", "shard_refs", "shadow_refs",
           "repos_from_options", "safe_id", "default_clone_dir"]

MANIFEST_ENV = "DEPLOYCHECK_CLASSROOM_MANIFEST"   # controller -> xdist workers (read via settings.env)


def default_clone_dir() -> Path:
    from deploycheck.settings import cache_dir
    return cache_dir() / "repos"


def add_options(group: pytest.OptionGroup) -> None:
    """Add the options of where repos come from and of the gradebooks to a pytest option group."""
    group.addoption("--repo", action="append", default=[], metavar="PATH",
                    help="a student repository to grade (repeatable)")
    group.addoption("--classroom", metavar="DIR",
                    help="a folder with one sub-folder per student repo (student id = folder name)")
    group.addoption("--roster", action="append", default=[], metavar="FILE.csv",
                    help="students and their repos (paths or git URLs): a CSV with columns student,repo, or GitHub "
                         "Classroom's roster and/or assignment grades download (repeatable: rosters are joined on "
                         "the GitHub username); extra columns ID, SIS User ID, SIS Login ID, Section, name go to the "
                         "gradebooks")
    group.addoption("--clone-dir", metavar="DIR", default=None,
                    help=f"cache for cloned repos, fetched again on re-runs (default {default_clone_dir()})")
    group.addoption("--clone-timeout", type=float, default=300.0, metavar="SECONDS",
                    help="time limit for cloning/fetching one repo (default 300)")
    group.addoption("--clone-max-mb", type=int, default=500, metavar="MB",
                    help="size limit of one cloned repo (default 500 MB)")
    group.addoption("--deadline", metavar="TIME",
                    help="grade each repo at its last commit at or before TIME (ISO 8601 with zone, e.g. "
                         "2024-05-01T23:59:00+02:00; committer dates on the default branch); later commits are "
                         "reported as late, with the score the latest commit would get")
    group.addoption("--starter", metavar="DIR",
                    help="the course's starter files (the template repository students start from): what they "
                         "hold is never integrity evidence between students")
    group.addoption("--canvas", action="store_true", help="also write canvas.csv (Canvas gradebook import) in --report")
    group.addoption("--canvas-assignment", metavar="'NAME (ID)'",
                    help="the Canvas assignment column of canvas.csv, e.g. 'Deploy lab (12345)' (implies --canvas; "
                         "without an id Canvas creates a new assignment)")


def _opt(options: argparse.Namespace, name: str, default: Any = None) -> Any:
    return getattr(options, name, default)


def _key(options: argparse.Namespace, shard: tuple[int, int] | None) -> str:
    h = hashlib.sha256()
    parts: list[Any] = [os.getcwd(), _opt(options, "repo") or [], _opt(options, "classroom"),
                        _opt(options, "roster") or [], _opt(options, "clone_dir"), _opt(options, "deadline"),
                        list(shard) if shard else None]
    for r in _opt(options, "roster") or []:
        try:
            parts.append(hashlib.sha256(Path(r).read_bytes()).hexdigest())
        except OSError:
            parts.append(None)
    h.update(json.dumps(parts, default=str).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Resolved:
    """The repos of this run: ``refs`` (this shard's, cloned and checked out) and ``class_students``
    (every student id of the class, sorted, whatever the shard)."""
    refs: list[RepoRef]
    class_students: tuple[str, ...]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> (K, N); raises ValueError with a one-line usage message."""
    if not text:
        return None
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text}: use K/N, e.g. --shard 2/3") from None
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"--shard {text}: K must be between 1 and N")
    return k, n


def shard_refs(refs: list[RepoRef], shard: tuple[int, int] | None) -> list[RepoRef]:
    """The deterministic slice ``K/N`` of the class: students sorted by id, every N-th one starting at
    the K-th (the slices of 1/N..N/N partition the class; their sizes differ by at most one)."""
    if not shard:
        return refs
    k, n = shard
    ordered = sorted(refs, key=lambda r: r.student)
    return [r for i, r in enumerate(ordered) if i % n == k - 1]


def resolve(options: argparse.Namespace, shard: tuple[int, int] | None = None) -> Resolved:
    """The repos of this run from the pytest options (``config.option``): the whole class listed,
    ``shard``'s slice cloned and checked out. Raises ValueError with a one-line usage message."""
    key = _key(options, shard)
    cached = _load_manifest(key)
    if cached is not None:
        return cached
    roster = _opt(options, "roster") or []
    if isinstance(roster, str):
        roster = [roster]
    clone_dir = Path(_opt(options, "clone_dir") or default_clone_dir())
    listed, warnings = list_refs(_opt(options, "repo") or [], _opt(options, "classroom"), roster)
    everyone = tuple(sorted(r.student for r in listed))
    refs, cloned = fetch_refs(
        shard_refs(listed, shard), clone_dir=clone_dir, deadline=_opt(options, "deadline"),
        limits=_git.Limits(timeout=float(_opt(options, "clone_timeout", 300.0) or 300.0),
                           max_bytes=int(_opt(options, "clone_max_mb", 500) or 500) * 2**20),
        token_wanted=bool(roster))
    if _opt(options, "deadline") and any(r.dates and not r.dates.get("verified") for r in refs):
        warnings.append(next(str(r.dates.get("note")) for r in refs if r.dates and not r.dates.get("verified"))
                        + " (report.json: each student's dates)")
    for w in warnings:
        print(f"deploycheck: warning: {w}", file=sys.stderr)
    out = Resolved(refs, everyone)
    if cloned:
        _save_manifest(key, out, clone_dir)
    return out


def _load_manifest(key: str) -> Resolved | None:
    from deploycheck.settings import env
    path = env("CLASSROOM_MANIFEST")
    if not path:
        return None
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("key") != key:
        return None
    refs = [RepoRef.from_json(r) for r in doc.get("refs", [])]
    if not all(r.error or os.path.isdir(r.path) for r in refs):
        return None
    return Resolved(refs, tuple(doc.get("class_students") or sorted(r.student for r in refs)))


def _save_manifest(key: str, resolved: Resolved, clone_dir: Path) -> None:
    path = clone_dir / f"manifest-{key[:16]}.json"
    doc = {"key": key, "refs": [r.to_json() for r in resolved.refs], "class_students": list(resolved.class_students)}
    files.atomic_write(path, json.dumps(doc).encode("utf-8"))
    os.environ[MANIFEST_ENV] = str(path)


def _local_ref(student: str, path: Path, name: str = "", source: str = "", entry: RosterEntry | None = None) -> RepoRef:
    return RepoRef(safe_id(student), str(path), name=name, source=source or str(path), roster=entry or RosterEntry())


def resolve_sources(repos: Iterable[str], classroom: str | None, rosters: Iterable[str], *,
                    clone_dir: Path | None = None, deadline: str | None = None,
                    limits: _git.Limits = _git.Limits(), jobs: int = 4,
                    shard: tuple[int, int] | None = None) -> tuple[list[RepoRef], list[str], bool]:
    """(refs of ``shard``'s slice, warnings, cloned_anything): :func:`list_refs`, :func:`shard_refs`,
    then :func:`fetch_refs` on the slice only."""
    rosters = [r for r in (rosters or []) if r]
    listed, warnings = list_refs(repos, classroom, rosters)
    refs, cloned = fetch_refs(shard_refs(listed, shard), clone_dir=clone_dir, deadline=deadline, limits=limits,
                              jobs=jobs, token_wanted=bool(rosters))
    return refs, warnings, cloned


def list_refs(repos: Iterable[str], classroom: str | None, rosters: Iterable[str]) -> tuple[list[RepoRef], list[str]]:
    """(every student of the class with a unique id, warnings): nothing is cloned or read but the
    roster files and the --classroom folder's listing. A roster student without a repository is a
    ref with an ``error`` (a "not graded" row)."""
    refs: list[RepoRef] = []
    for r in repos or []:
        p = Path(r)
        if not os.path.lexists(p) and not _git.is_url(r):
            raise ValueError(f"--repo {r}: no such folder (from {os.getcwd()}); give the path of the student's "
                             "repository, e.g. --repo . from inside it")
        name = p.absolute().resolve().name if p.exists() else p.name
        refs.append(_local_ref(name or "repo", p, name=name or "repo", source=r))
    if classroom:
        c = Path(classroom)
        if not c.is_dir():
            raise ValueError(f"--classroom {classroom}: not a folder; give a folder with one sub-folder per student repo")
        for e in sorted(os.scandir(c), key=lambda e: e.name):
            if e.name.startswith("."):
                continue
            refs.append(_local_ref(e.name, Path(e.path), name=e.name, source=e.path))
    rosters = [r for r in (rosters or []) if r]
    if rosters:
        rows = _roster.combine([_roster.read(r) for r in rosters])
        for row in rows:
            display = row.entry.name or row.entry.identifier or row.key
            sid = safe_id(row.key)
            if not row.repo:
                refs.append(RepoRef(sid, "", name=display, source="", roster=row.entry,
                                    error=f"no repository for {display} in the roster files ({', '.join(rosters)}): "
                                          "the student has not accepted the assignment, or the roster lacks a repo "
                                          "column"))
                continue
            src = row.repo
            if not _git.is_url(src):
                p = Path(src)
                if not p.is_absolute() and row.base is not None:
                    p = row.base / p
                src = str(p)
            refs.append(RepoRef(sid, src, name=display, source=_git.strip_userinfo(row.repo)[0], roster=row.entry))
    return unique_ids(refs)


def fetch_refs(refs: list[RepoRef], *, clone_dir: Path | None = None, deadline: str | None = None,
               limits: _git.Limits = _git.Limits(), jobs: int = 4,
               token_wanted: bool = False) -> tuple[list[RepoRef], bool]:
    """(refs cloned/fetched and checked out at the graded commit, cloned_anything). Paths are graded
    in place unless a deadline is set (then local git repos are cloned too, never checked out in the
    instructor's own folder). A repo that cannot be fetched keeps its row with the reason (``error``).
    The GitHub token is taken out of the environment whenever a roster is graded (``token_wanted``) or
    a URL is cloned, so nothing started later inherits it, whichever slice this run clones."""
    when = _git.parse_deadline(deadline) if deadline else None
    refs = list(refs)
    to_clone = [i for i, r in enumerate(refs) if not r.error and (_git.is_url(r.path) or
                                                                    (when is not None and (Path(r.path) / ".git").exists()))]
    token = _git.take_token() if token_wanted or any(_git.is_url(refs[i].path) for i in to_clone) else None
    base = clone_dir or default_clone_dir()

    def work(i: int) -> RepoRef:
        r = refs[i]
        try:
            f = _git.fetch(r.path, base / _git.cache_key(_git.strip_userinfo(r.path)[0] if _git.is_url(r.path) else
                                                            Path(r.path).resolve().as_uri()),
                           when, token, limits)
        except _git.GitError as e:
            return r.with_(error=f"could not fetch the repository: {e}", path="")
        except OSError as e:
            return r.with_(error=f"could not fetch the repository: {type(e).__name__}: {e.strerror or e}", path="")
        sel = f.selected
        notes = r.notes + ((sel.note,) if sel.note else ())
        problem = None
        if sel.graded is None and when is not None and sel.tip is not None:
            problem = nothing_on_time(str(deadline), sel.late)
        dates = None
        if when is not None and sel.graded is not None:
            check = _dates(r.path, f.path, sel.graded, when, token)
            dates = check.to_json()
            if check.pushed_late:
                notes += (check.note,)
        return r.with_(path=str(f.path), commit=sel.graded, late=sel.late, notes=notes, dates=dates, problem=problem)

    if to_clone:
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(to_clone)))) as ex:
            for i, new in zip(to_clone, ex.map(work, to_clone)):
                refs[i] = new
    for i, ref in enumerate(refs):
        if i not in to_clone and not ref.error and ref.path:
            refs[i] = ref.with_(commit=_git.read_head(Path(ref.path)))
    return refs, bool(to_clone)


def nothing_on_time(deadline: str, late: Late | None) -> str:
    """What every output says of a repo whose every commit is after the deadline: it had nothing to
    grade then (not "create a deploy folder": the student has one, committed too late)."""
    n = late.count if late else 0
    commits = f"all {n} commits of the repository" if n > 1 else "the repository's only commit"
    when = f" (the last at {late.last_time})" if late and late.last_time else ""
    return (f"nothing to grade at the deadline {deadline}: {commits} came after it{when}; your instructor's late "
            "policy decides whether the latest commit counts")


def _dates(source: str, tree: Path, graded: Commit, deadline: Any, token: str | None) -> _pushes.DateCheck:
    """The graded commit's committer date against the push time GitHub recorded (with a token)."""
    if token is None:
        return _pushes.DateCheck(False, note=_pushes.UNVERIFIED_NO_TOKEN)
    gh = _pushes.github_repo(_git.strip_userinfo(source)[0]) if _git.is_url(source) else None
    if gh is None:
        return _pushes.DateCheck(False, note="commit dates not verified: the repository is not on GitHub, whose push "
                                             "times deploycheck reads")
    try:
        acts = _pushes.activities(*gh, token)
    except _pushes.GitHubError as e:
        return _pushes.DateCheck(False, note=f"commit dates not verified: {e}")
    return _pushes.check(graded.sha, graded.time, deadline, acts,
                         lambda after, sha: _git.is_ancestor(Path(tree), sha, after))


def shadow_refs(refs: Iterable[RepoRef]) -> list[RepoRef]:
    """One extra ref per late student: the work tree of the latest commit, graded like any other
    repo under the id ``<student>+latest``; the report shows its score as "latest commit would get"."""
    out = []
    for r in refs:
        if r.late is not None and r.late.path and not r.error:
            out.append(RepoRef(r.student + SHADOW_SUFFIX, r.late.path, name=r.name, source=r.source,
                               roster=r.roster, commit=r.late.latest, shadow_of=r.student))
    return out


def repos_from_options(repos: list[str], classroom: str | None, roster: str | list[str] | None) -> list[RepoRef]:
    """Compatibility wrapper of the old ``submission.repos_from_options`` (paths only, no options)."""
    rosters = [roster] if isinstance(roster, str) else list(roster or [])
    refs, warnings, _ = resolve_sources(repos, classroom, rosters)
    for w in warnings:
        print(f"deploycheck: warning: {w}", file=sys.stderr)
    return refs
