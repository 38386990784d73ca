"""The results cache: re-grading an unchanged repo reuses each check's outcome (and predict.local's
proof images) instead of computing it again.

An entry is keyed by everything an outcome depends on:

* **the grader**: a hash of deploycheck's own files (code, templates, data, the image catalog) and of
  the rubric's check modules (``checks/``);
* **the rubric**: what of it can change a verdict (which checks exist and are enabled, their
  prerequisites, platforms and options; not their points: scoring happens after the cache, in
  :mod:`deploycheck.report.results`, with the run's rubric);
* **the student's inputs**: the repo's content (a content hash of every file, symlinks by their link
  text; per-file hashes are remembered by size, mtime and inode so an unchanged file is not read
  again), the student, the platform and the repo's path (entries are never shared between
  students), the check id and the run options the checks read;
* **this machine**: every fact of :data:`MACHINE_FACTS` (how student code is isolated, the browser,
  the OCR engine and its version, the runtime environment of each serving image, the grader's Python
  and libraries). A fact that changes verdicts is added there, one line.

Never stored: cloud checks (they act on an account), errors of the run (they should be tried again)
and provisional outcomes (an approximate runtime, an inconclusive run, a timeout: this machine may
decide better later). ``--no-cache`` (or ``DEPLOYCHECK_NO_CACHE=1``) grades everything afresh.

Entries live under ``DEPLOYCHECK_RESULTS_DIR``, else ``settings.cache_dir()/results``; writes are
atomic, so parallel xdist workers and concurrent runs never read half an entry.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

from deploycheck import files
from deploycheck.discovery import Target
from deploycheck.model import Outcome
from deploycheck.rubric import Rubric
from deploycheck.settings import Settings, cache_dir

NEVER = ("cloud.",)                     # check-id prefixes never cached
TREE_LIMIT = 20_000                     # files hashed per repo; a bigger repo is not cached
_OPTIONS = ("platform", "sandbox_timeout", "sandbox_memory_mb", "allow_unsandboxed", "proof", "as_of")


@lru_cache(maxsize=1)
def grader_hash() -> str:
    """A hash of deploycheck's own files (code, templates, static files, generated tables) and of the
    rubric's check modules (``checks/`` of a checkout; an installed wheel holds them in the package)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for root in (here, here.parent / "checks"):
        for p in sorted(root.rglob("*")) if root.is_dir() else ():
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",):
                h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def rubric_identity(r: Rubric) -> list[list[Any]]:
    """What of the rubric can change a verdict (not points or the scale: scoring comes after the cache)."""
    return [[s.id, s.enabled, list(s.requires), sorted(s.platforms), s.option] for s in r.specs.values()]


def _root() -> Path:
    from deploycheck.settings import env
    d = env("RESULTS_DIR")
    return Path(d) if d else cache_dir() / "results"


# ---------------------------------------------------------------- what of this machine can change a verdict

def _isolation() -> str:
    from deploycheck import sandbox
    iso = sandbox.isolation()
    return f"{iso.mode}:{iso.label}"


def _browser() -> str:
    from deploycheck.proof import browser
    path, how, _reason = browser.find_chromium()
    return f"{how}:{path or ''}"


def _ocr() -> str:
    from deploycheck.analysis import ocr
    return ocr.engine().cache_id


def _runtimes() -> list[list[Any]]:
    from deploycheck.runtimes import catalog, envs
    out: list[list[Any]] = []
    for im in catalog.images():
        env = envs.existing(im) if im.supported else None
        out.append([im.key, env.root.name if env else None, env.python_version if env else None,
                    sorted(env.versions.items()) if env else None])
    return out


def _python() -> str:
    return sys.version


def _libraries() -> list[list[str]]:
    from importlib import metadata
    out = []
    for req in metadata.requires("deploycheck") or ():
        name = re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0]
        try:
            out.append([name, metadata.version(name)])
        except metadata.PackageNotFoundError:
            out.append([name, ""])
    return sorted(out)


# Every fact of this machine that can change a verdict: a cached outcome is reused only where each is
# unchanged. A new fact is one line here (tests/test_cache.py changes each one and sees a miss).
MACHINE_FACTS: dict[str, Callable[[], Any]] = {
    "isolation": _isolation,     # how student code runs, or is refused (bubblewrap, unprivileged, none)
    "browser": _browser,         # the Chromium that renders deploycheck's proof images (or none)
    "ocr": _ocr,                 # the engine that reads screenshots, its version and preprocessing
    "runtimes": _runtimes,       # each serving image's runtime environment here: the one a folder actually runs in
    "python": _python,           # the grader's Python (it parses the student's code)
    "libraries": _libraries,     # the grader's libraries (Markdown, images, pickles, ...)
}


@lru_cache(maxsize=1)
def machine() -> dict[str, Any]:
    """Each of :data:`MACHINE_FACTS` on this machine (probed once per process). A probe that fails
    gives a fact of its own ("unknown: ..."), never a crash of the cache."""
    def fact(probe: Callable[[], Any]) -> Any:
        try:
            return probe()
        except Exception as e:  # noqa: BLE001 - an unknown fact is a fact too: it keys its own entries
            return f"unknown: {type(e).__name__}"
    # the probes mostly wait for programs they start (the sandbox, tesseract): side by side
    with ThreadPoolExecutor(max_workers=len(MACHINE_FACTS), thread_name_prefix="deploycheck-machine") as pool:
        futures = {name: pool.submit(fact, probe) for name, probe in MACHINE_FACTS.items()}
        return {name: f.result() for name, f in futures.items()}


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
    listed, links, truncated = files.list_tree(repo, TREE_LIMIT)
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
        self._heads: dict[str, str] = {}

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
        if repo not in self._heads:      # the git history is an input too (security.secrets reads it)
            from deploycheck.analysis import repo_git
            self._heads[repo] = repo_git.head(t.repo)
        opts = {k: getattr(self.settings, k) for k in _OPTIONS}
        blob = json.dumps([grader_hash(), rubric_identity(self.settings.rubric), machine(), cid, t.student, t.platform,
                           repo, tree, self._heads[repo], opts], default=str)
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
        if key is None or o.error or o.provisional:
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
