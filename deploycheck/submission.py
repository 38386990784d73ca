"""Student repo -> :class:`Submission`: where the ``<platform>_deploy`` folders are and what they hold.

Discovery only lists directories and files; it never follows symlinks, never reads more than
it needs and never runs student code. Everything content-related (README, entry point,
artifacts...) is derived lazily by the analysis modules and cached per process, so a class of
hundreds of repos is discovered in milliseconds at collection time.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

AWS, GCP = "aws", "gcp"
PLATFORMS = (AWS, GCP)

# `aws|sagemaker` -> aws, `gcp|google|vertex|ai_platform` -> gcp; `_` or `-` (or a space);
# any letter case; "deploy" or "deployment"; also the reversed "deploy_aws" form.
_PLATFORM_WORDS = {
    "aws": AWS, "sagemaker": AWS, "amazon": AWS,
    "gcp": GCP, "google": GCP, "vertex": GCP, "vertexai": GCP, "aiplatform": GCP,
    "gcloud": GCP, "googlecloud": GCP,
}
_SEP = r"[_\- ]"
_WORDS = r"(?P<w>aws|sagemaker|amazon|gcp|google|google[_\- ]?cloud|gcloud|vertex(?:[_\- ]?ai)?|ai[_\- ]?platform)"
_FOLDER_RE = re.compile(rf"^(?:{_WORDS}{_SEP}?deploy(?:ment)?s?|deploy(?:ment)?{_SEP}?(?P<w2>aws|sagemaker|gcp|google|vertex|ai[_\- ]?platform))$", re.I)

MAX_DEPTH = 2            # deploy folder at the root or up to two levels down
MAX_FILES = 5000         # files listed per deploy folder (a 20 000-file repo stays fast)
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".tox"}


def platform_of(name: str) -> str | None:
    """The platform a folder name stands for, or None. ``AWS_Deploy`` -> aws, ``vertex-deploy`` -> gcp."""
    m = _FOLDER_RE.match(name.strip())
    if not m:
        return None
    word = (m.group("w") or m.group("w2") or "").lower()
    word = re.sub(r"[_\- ]", "", word)
    return _PLATFORM_WORDS.get(word)


@dataclass
class DeployFolder:
    platform: str
    path: Path                      # absolute path of the folder
    rel: str                        # path relative to the repo root, posix ("aws_deploy", "lab/aws-deploy")
    repo: Path                      # absolute repo root
    files: list[str] = field(default_factory=list)        # regular files, relative to the folder, posix
    symlinks: dict[str, str] = field(default_factory=dict)  # rel path -> link text (never followed)
    truncated: bool = False         # more than MAX_FILES files: listing was cut

    @property
    def depth(self) -> int:
        return self.rel.count("/")

    def file(self, rel: str) -> Path:
        return self.path / rel

    def is_link(self, rel: str) -> bool:
        return rel in self.symlinks

    def link_escapes(self, rel: str) -> bool:
        """True when the symlink ``rel`` points outside the repo (or dangles)."""
        target = self.symlinks.get(rel)
        if target is None:
            return False
        link = self.path / rel
        dest = Path(os.path.normpath(os.path.join(link.parent, target)))
        try:
            dest.relative_to(self.repo)
        except ValueError:
            return True
        return not os.path.lexists(dest)

    def find(self, *names: str) -> list[str]:
        """Files (relative paths) whose base name matches one of ``names`` case-insensitively."""
        wanted = {n.lower() for n in names}
        return [f for f in self.files if f.rsplit("/", 1)[-1].lower() in wanted]

    def with_suffix(self, *suffixes: str) -> list[str]:
        suf = tuple(s.lower() for s in suffixes)
        return [f for f in self.files if f.lower().endswith(suf)]

    def read_bytes(self, rel: str, limit: int = 2_000_000) -> bytes | None:
        """Up to ``limit`` bytes of a regular file in the folder; None for symlinks/missing files."""
        if rel in self.symlinks or rel not in self._fileset:
            return None
        p = self.path / rel
        try:
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        with os.fdopen(fd, "rb") as fh:
            return fh.read(limit)

    @property
    def _fileset(self) -> set[str]:
        s = self.__dict__.get("_fs")
        if s is None:
            s = self.__dict__["_fs"] = set(self.files)
        return s


@dataclass
class Submission:
    student: str
    repo: Path
    folders: list[DeployFolder] = field(default_factory=list)
    problem: str | None = None      # repo unusable as a whole (missing, a file, empty...)
    notes: list[str] = field(default_factory=list)

    def folder(self, platform: str) -> DeployFolder | None:
        for f in self.folders:
            if f.platform == platform:
                return f
        return None


@dataclass(frozen=True)
class Target:
    """One (student, platform) pair that every check in ``checks/`` is run on."""
    student: str
    platform: str | None
    submission: Submission = field(compare=False, hash=False)
    test_id: str = ""

    @property
    def folder(self) -> DeployFolder | None:
        return self.submission.folder(self.platform) if self.platform else None

    @property
    def repo(self) -> Path:
        return self.submission.repo


def _list_folder(folder: DeployFolder) -> None:
    files: list[str] = []
    links: dict[str, str] = {}
    stack = [folder.path]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            rel = Path(e.path).relative_to(folder.path).as_posix()
            try:
                if e.is_symlink():
                    links[rel] = os.readlink(e.path)
                    continue
                if e.is_dir(follow_symlinks=False):
                    if e.name not in SKIP_DIRS:
                        stack.append(Path(e.path))
                    continue
                mode = e.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode):
                if len(files) >= MAX_FILES:
                    folder.truncated = True
                    continue
                files.append(rel)
    folder.files = sorted(files)
    folder.symlinks = links


def _find_folders(repo: Path) -> list[DeployFolder]:
    found: list[DeployFolder] = []
    level = [repo]
    for depth in range(MAX_DEPTH + 1):
        nxt: list[Path] = []
        for d in level:
            try:
                entries = sorted(os.scandir(d), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if e.name in SKIP_DIRS or e.name.startswith("."):
                    continue
                try:
                    if e.is_symlink() or not e.is_dir(follow_symlinks=False):
                        continue
                except OSError:
                    continue
                plat = platform_of(e.name)
                p = Path(e.path)
                if plat:
                    found.append(DeployFolder(plat, p, p.relative_to(repo).as_posix(), repo))
                elif depth < MAX_DEPTH:
                    nxt.append(p)
        level = nxt
    return found


@lru_cache(maxsize=None)
def load_submission(student: str, repo: str) -> Submission:
    """Build the Submission for one repo (cached for the whole session)."""
    path = Path(repo)
    sub = Submission(student, path.absolute())
    if not os.path.lexists(path):
        sub.problem = f"the repo path {repo} does not exist; check the --repo/--classroom/--roster path"
        return sub
    if path.is_symlink():
        sub.problem = f"{repo} is a symlink; give the real repository folder"
        return sub
    if not path.is_dir():
        sub.problem = f"{repo} is a file, not a repository folder; hand in the whole repository"
        return sub
    sub.repo = path.resolve()
    folders = _find_folders(sub.repo)
    # keep the shallowest folder per platform; note the others
    chosen: dict[str, DeployFolder] = {}
    for f in sorted(folders, key=lambda f: (f.depth, f.rel.lower())):
        if f.platform in chosen:
            sub.notes.append(f"also found {f.rel}/ for {f.platform}; graded {chosen[f.platform].rel}/")
            continue
        chosen[f.platform] = f
    for plat in PLATFORMS:
        if plat in chosen:
            _list_folder(chosen[plat])
            sub.folders.append(chosen[plat])
    if not sub.folders:
        try:
            empty = not any(True for _ in os.scandir(sub.repo))
        except OSError:
            empty = False
        if empty:
            sub.problem = "the repository is empty; add an aws_deploy/ or gcp_deploy/ folder with your deployment"
    return sub


# where the repos come from: moved to deploycheck.classroom (kept importable here until the lead merges)
from deploycheck.classroom import RepoRef, repos_from_options, safe_id as _safe_id  # noqa: E402,F401


def targets_for(ref: RepoRef, platform: str = "auto") -> list[Target]:
    sub = load_submission(ref.student, ref.path)
    plats = [f.platform for f in sub.folders]
    if platform in PLATFORMS:
        plats = [platform]
    if not plats:
        return [Target(ref.student, None, sub, ref.student)]
    if len(plats) == 1:
        return [Target(ref.student, plats[0], sub, ref.student)]
    return [Target(ref.student, p, sub, f"{ref.student}-{p}") for p in plats]
