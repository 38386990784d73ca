"""The results cache: re-grading an unchanged repo reuses each check's outcome (and predict.local's
proof images) instead of computing it again.

An entry is keyed by everything the outcome depends on: the repo's content (a content hash of every
file, symlinks by their link text; per-file hashes are remembered by size, mtime and inode so an
unchanged file is not read again), the student and the repo's path (entries are never shared between
students), the grader itself (a hash of deploycheck's own source and data files, so any change of
the grader, its rubric texts or its image catalog invalidates everything), the check id, and the
run options the check reads, and what of the machine shapes an outcome (the sandbox's isolation or
refusal, whether Chromium is there). Cloud checks (they act on an account) and errors of the run
(they should be tried again) are never stored. ``--no-cache`` (or ``DEPLOYCHECK_NO_CACHE=1``)
grades everything afresh.

Entries live under ``DEPLOYCHECK_RESULTS_DIR``, else ``settings.cache_dir()/results``; writes are
atomic, so parallel xdist workers and concurrent runs never read half an entry.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from deploycheck import files
from deploycheck.discovery import Target, list_tree
from deploycheck.model import Outcome
from deploycheck.settings import Settings, cache_dir

NEVER = ("cloud.",)                     # check-id prefixes never cached
TREE_LIMIT = 20_000                     # files hashed per repo; a bigger repo is not cached
_OPTIONS = ("platform", "sandbox_timeout", "sandbox_memory_mb", "allow_unsandboxed", "proof")


@lru_cache(maxsize=1)
def grader_hash() -> str:
    """A hash of deploycheck's own files (code, templates, static files, generated tables)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",):
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def _root() -> Path:
    from deploycheck.settings import env
    d = env("RESULTS_DIR")
    return Path(d) if d else cache_dir() / "results"


@lru_cache(maxsize=1)
def machine() -> tuple[str, bool]:
    """What of this machine shapes an outcome: how student code is isolated (or refused), and
    whether proof images can be rendered."""
    from deploycheck import sandbox
    from deploycheck.proof import browser
    try:
        iso = sandbox.isolation()
        label = f"{iso.mode}:{iso.label}"
    except Exception as e:  # noqa: BLE001
        label = f"unknown:{type(e).__name__}"
    return label, browser.available()[0]


# ---------------------------------------------------------------- the repo's content

def _memo_path(repo: Path) -> Path:
    return _root() / "trees" / (hashlib.sha256(os.fsencode(repo)).hexdigest()[:24] + ".json")


def tree_hash(repo: Path) -> str | None:
    """Content hash of the repo (None when it is too big to cache). File hashes are reused from the
    previous run while a file's size, mtime and inode are unchanged."""
    memo_file = _memo_path(repo)
    try:
        memo: dict[str, list[Any]] = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    listed, links, truncated = list_tree(repo, TREE_LIMIT)
    if truncated:
        return None
    fresh: dict[str, list[Any]] = {}
    h = hashlib.sha256()
    for rel, target in sorted(links.items()):
        h.update(b"L" + os.fsencode(rel) + b"\0" + os.fsencode(target) + b"\0")
    for rel in listed:
        try:
            st = os.lstat(repo / rel)
        except OSError:
            continue
        sig = [st.st_size, st.st_mtime_ns, st.st_ino]
        old = memo.get(rel)
        digest = old[3] if old and old[:3] == sig else _file_digest(repo / rel)
        if digest is None:
            continue
        fresh[rel] = [*sig, digest]
        h.update(b"F" + os.fsencode(rel) + b"\0" + digest.encode() + b"\0")
    try:
        files.atomic_write(memo_file, json.dumps(fresh).encode())
    except OSError:
        pass
    return h.hexdigest()


def _file_digest(p: Path) -> str | None:
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- entries

@dataclass(frozen=True)
class Entry:
    outcome: Outcome
    files: Mapping[str, str]            # proof kind -> path inside the entry dir


class ResultsCache:
    """One run's view of the cache (``enabled`` False with ``--no-cache`` or where it cannot work)."""

    def __init__(self, settings: Settings, enabled: bool = True) -> None:
        self.settings = settings
        self.enabled = enabled
        self._trees: dict[str, str | None] = {}

    def _key(self, t: Target, cid: str) -> str | None:
        if not self.enabled or cid.startswith(NEVER) or t.submission.problem:
            return None
        repo = str(t.repo)
        if repo not in self._trees:
            try:
                self._trees[repo] = tree_hash(t.repo)
            except OSError:
                self._trees[repo] = None
        tree = self._trees[repo]
        if tree is None:
            return None
        opts = {k: getattr(self.settings, k) for k in _OPTIONS}
        blob = json.dumps([grader_hash(), machine(), cid, t.student, t.platform, repo, tree, opts], default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _dir(self, t: Target, key: str) -> Path:
        student = hashlib.sha256(f"{t.student}\0{t.repo}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return _root() / student / key

    def has(self, t: Target, cid: str) -> bool:
        """Whether ``get`` would find a stored outcome (nothing is copied)."""
        key = self._key(t, cid)
        return key is not None and (self._dir(t, key) / "outcome.json").is_file()

    def get(self, t: Target, cid: str) -> Outcome | None:
        key = self._key(t, cid)
        if key is None:
            return None
        d = self._dir(t, key)
        try:
            doc = json.loads((d / "outcome.json").read_text())
        except (OSError, ValueError):
            return None
        try:
            o = Outcome.from_json(doc)
        except (KeyError, TypeError, ValueError):
            return None
        proof = o.proof
        if proof:
            # put the reused proof images back where this run's report expects them
            from deploycheck.proof import proof_dir
            base = proof_dir(self.settings, t.student)[0]
            for kind, rel in dict(proof).items():
                src = d / "files" / kind
                if not src.is_file():
                    return None                 # an image went missing: grade afresh
                dest = base / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
        return o

    def put(self, t: Target, cid: str, o: Outcome) -> None:
        key = self._key(t, cid)
        if key is None or o.error:
            return
        d = self._dir(t, key)
        try:
            proof = o.proof
            if proof:
                from deploycheck.proof import proof_dir
                base = proof_dir(self.settings, t.student)[0]
                for kind, rel in dict(proof).items():
                    src = base / rel
                    if src.is_file():
                        (d / "files").mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(src, d / "files" / kind)
            files.atomic_write(d / "outcome.json", json.dumps(o.to_json(), default=str).encode())
        except OSError:
            pass                        # a read-only or full cache never fails a check
