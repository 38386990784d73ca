"""Repos -> :class:`Submission`s -> :class:`DeployFolder`s -> :class:`Target`s.

Discovery only lists directories and files; it never follows symlinks, never reads more than it
needs and never runs student code. Everything content-related is computed lazily, once, on
``DeployFolder.facts`` (see :mod:`deploycheck.analysis`), so a class of hundreds of repos is
discovered in milliseconds at collection time.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping

from deploycheck import files as fs
from deploycheck.model import AWS, GCP, PLATFORMS, Platform

if TYPE_CHECKING:
    from deploycheck.analysis import Facts, RepoFacts

# `aws|sagemaker` -> aws, `gcp|google|vertex|ai_platform` -> gcp; `_` or `-` (or a space);
# any letter case; "deploy" or "deployment"; also the reversed "deploy_aws" form.
_PLATFORM_WORDS: dict[str, Platform] = {
    "aws": AWS, "sagemaker": AWS, "amazon": AWS,
    "gcp": GCP, "google": GCP, "vertex": GCP, "vertexai": GCP, "aiplatform": GCP,
    "gcloud": GCP, "googlecloud": GCP,
}
_SEP = r"[_\- ]"
_WORDS = r"(?P<w>aws|sagemaker|amazon|gcp|google|google[_\- ]?cloud|gcloud|vertex(?:[_\- ]?ai)?|ai[_\- ]?platform)"
_FOLDER_RE = re.compile(rf"^(?:{_WORDS}{_SEP}?deploy(?:ment)?s?|deploy(?:ment)?{_SEP}?(?P<w2>aws|sagemaker|gcp|google|vertex|ai[_\- ]?platform))$", re.I)
LAB_NAMES: dict[Platform, str] = {AWS: "aws_deploy", GCP: "gcp_deploy"}

MAX_DEPTH = 2            # deploy folder at the root or up to two levels down


def platform_of(name: str) -> Platform | None:
    """The platform a folder name stands for, or None. ``AWS_Deploy`` -> aws, ``vertex-deploy`` -> gcp."""
    m = _FOLDER_RE.match(name.strip())
    if not m:
        return None
    word = (m.group("w") or m.group("w2") or "").lower()
    return _PLATFORM_WORDS.get(re.sub(r"[_\- ]", "", word))


@dataclass(frozen=True)
class DeployFolder:
    """One deploy folder of a repo, as listed at discovery; its facts are computed lazily."""
    platform: Platform
    path: Path                                  # absolute path of the folder
    rel: str                                    # relative to the repo root, posix ("aws_deploy", "lab/aws-deploy")
    repo: Path                                  # absolute repo root
    files: tuple[str, ...] = ()                 # regular files, relative to the folder, posix, sorted
    symlinks: Mapping[str, str] = field(default_factory=dict)   # rel -> link text (never followed)
    truncated: bool = False                     # more than files.MAX_LISTED files: listing was cut
    named: bool = True                          # its name follows the lab's <platform>_deploy pattern
    evidence: str = ""                          # for a folder found by its contents: what showed it
    as_of: str = ""                             # grade against the images as they were on this ISO date ("": today)

    @property
    def depth(self) -> int:
        return self.rel.count("/")

    @cached_property
    def fileset(self) -> frozenset[str]:
        return frozenset(self.files)

    @cached_property
    def facts(self) -> Facts:
        """Everything deploycheck knows about this folder, each member computed once."""
        from deploycheck.analysis import Facts
        return Facts(self)

    def repo_rel(self, rel: str) -> str:
        """``rel`` (relative to the folder) relative to the repo root."""
        return f"{self.rel}/{rel}" if self.rel not in ("", ".") else rel

    def link_escapes(self, rel: str) -> bool:
        """True when the symlink ``rel`` points outside the repo (or dangles)."""
        target = self.symlinks.get(rel)
        if target is None:
            return False
        dest = Path(os.path.normpath(os.path.join((self.path / rel).parent, target)))
        return not fs.inside(dest, self.repo) or not os.path.lexists(dest)

    def find(self, *names: str) -> list[str]:
        """Files (relative paths) whose base name matches one of ``names`` case-insensitively."""
        wanted = {n.lower() for n in names}
        return [f for f in self.files if f.rsplit("/", 1)[-1].lower() in wanted]

    def with_suffix(self, *suffixes: str) -> list[str]:
        suf = tuple(s.lower() for s in suffixes)
        return [f for f in self.files if f.lower().endswith(suf)]

    def read_bytes(self, rel: str, limit: int = fs.DEFAULT_LIMIT) -> bytes | None:
        """Up to ``limit`` bytes of a listed regular file; None for symlinks/unlisted files."""
        if rel not in self.fileset:
            return None
        return fs.read_bytes(self.path, rel, limit).data

    def read_text(self, rel: str, limit: int = fs.DEFAULT_LIMIT) -> fs.TextFile:
        return fs.read_text(self.path, rel, limit)


@dataclass(frozen=True)
class Submission:
    student: str
    repo: Path
    folders: tuple[DeployFolder, ...] = ()
    problem: str | None = None      # repo unusable as a whole (missing, a file, empty...)
    notes: tuple[str, ...] = ()
    platform_hint: Platform | None = None  # no deploy folder: the platform the repo's files point to

    def folder(self, platform: str) -> DeployFolder | None:
        for f in self.folders:
            if f.platform == platform:
                return f
        return None

    @cached_property
    def facts(self) -> RepoFacts:
        """Repo-wide facts (secret scan, top-level README), computed once."""
        from deploycheck.analysis import RepoFacts
        return RepoFacts(self)


@dataclass(frozen=True)
class Target:
    """One (student, platform) pair that every check in ``checks/`` is run on."""
    student: str
    platform: Platform | None
    submission: Submission = field(compare=False, hash=False)
    test_id: str = ""

    @property
    def folder(self) -> DeployFolder | None:
        return self.submission.folder(self.platform) if self.platform else None

    @property
    def repo(self) -> Path:
        return self.submission.repo


def subdirs(root: Path, max_depth: int = MAX_DEPTH) -> Iterator[tuple[int, os.DirEntry[str]]]:
    """(depth, entry) of the real directories below ``root``, level by level up to ``max_depth``, in
    name order: no symlink followed, no hidden directory or files.SKIP_DIRS entered."""
    level = [root]
    for depth in range(max_depth + 1):
        nxt: list[Path] = []
        for d in level:
            try:
                entries = sorted(os.scandir(d), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if e.name in fs.SKIP_DIRS or e.name.startswith("."):
                    continue
                try:
                    if e.is_symlink() or not e.is_dir(follow_symlinks=False):
                        continue
                except OSError:
                    continue
                yield depth, e
                nxt.append(Path(e.path))
        level = nxt


def _find_folders(repo: Path) -> list[tuple[Platform, Path]]:
    """Folders named after the lab's pattern (a deploy folder's own subfolders are not searched)."""
    found: list[tuple[Platform, Path]] = []
    for _depth, e in subdirs(repo):
        plat = platform_of(e.name)
        p = Path(e.path)
        if plat and not any(f in p.parents for _pl, f in found):
            found.append((plat, p))
    return found


def make_folder(platform: Platform, path: Path, repo: Path, named: bool = True, evidence: str = "",
                as_of: str = "") -> DeployFolder:
    listed, links, truncated = fs.list_tree(path)
    return DeployFolder(platform, path, path.relative_to(repo).as_posix(), repo, listed, links, truncated,
                        named, evidence, as_of)


# ---------------------------------------------------------------- folders found by their contents
# Most real hand-ins name the folder AWS/, sagemaker/, gcp/, ai-platform-prediction/...: such a
# folder is graded as the deploy when its contents show a deployment; only structure.deploy_folder
# then fails ("rename it"). A folder with no platform word in its name must show stronger evidence.

_NEAR_WORDS = re.compile(r"(?<![a-z])(?:aws|sagemaker|amazon|gcp|google|gcloud|vertex|ai[_\- ]?platform|cloud[_\- ]?ml)"
                         r"(?![a-z])", re.I)
_MODEL_FN = re.compile(rb"^\s*def\s+model_fn\s*\(", re.M)
_AWS_CALLS = re.compile(rb"\bSKLearnModel\s*\(|\bcreate_endpoint\s*\(|\baws\s+sagemaker\s+create-|"
                        rb"sagemaker\.(?:sklearn|model)\b|\binvoke_endpoint\s*\(")
_GCP_CALLS = re.compile(rb"\bgcloud\s+(?:beta\s+)?ai(?:-platform)?\s+(?:models|versions|endpoints)\b|"
                        rb"\baiplatform\.(?:Model|Endpoint|init)\b|\bModel\.upload\s*\(")
EVIDENCE_FILES = 60            # text files read per candidate folder
EVIDENCE_BYTES = 300_000       # bytes read per file


@dataclass(frozen=True)
class Evidence:
    platform: Platform | None   # what the contents point to
    what: str                   # "inference.py defines model_fn"
    strong: bool                # enough to call a folder without a platform word a deployment


def evidence_of(path: Path) -> Evidence | None:
    """What a folder's contents show about a deployment (bounded reads, no symlinks), or None."""
    listed, _links, _t = fs.list_tree(path)
    aws: list[str] = []
    gcp: list[str] = []
    model_fn = archive = None
    for rel in listed:
        base = rel.rsplit("/", 1)[-1].lower()
        if base == "model.tar.gz" and archive is None:
            archive = rel
    texts = [r for r in listed if r.lower().endswith((".py", ".ipynb", ".md", ".sh", ".txt", ".rst"))]
    for rel in sorted(texts, key=lambda r: (r.count("/"), r))[:EVIDENCE_FILES]:
        data = fs.read_bytes(path, rel, EVIDENCE_BYTES).data or b""
        if model_fn is None and rel.endswith(".py") and _MODEL_FN.search(data):
            model_fn = rel
        if _AWS_CALLS.search(data):
            aws.append(rel)
        if _GCP_CALLS.search(data):
            gcp.append(rel)
    if model_fn:
        return Evidence(AWS, f"{model_fn} defines model_fn", bool(archive or aws))
    if archive and aws:
        return Evidence(AWS, f"{archive} and SageMaker calls in {aws[0]}", True)
    if aws and not gcp:
        return Evidence(AWS, f"{aws[0]} deploys with SageMaker", False)
    if gcp:
        return Evidence(GCP, f"{gcp[0]} deploys with gcloud / Vertex AI", len(gcp) > 0 and any(
            r.lower().endswith((".joblib", ".pkl")) for r in listed))
    if archive:
        return Evidence(AWS, f"{archive} is there", False)
    return None


def _near_misses(repo: Path, skip: set[Path]) -> list[tuple[Platform, Path, str]]:
    """(platform, path, evidence) of folders that are clearly a deployment although their name does
    not follow the lab's pattern; folders with a platform word first, then by depth and name."""
    out: list[tuple[int, int, str, Platform, Path, str]] = []
    for depth, e in subdirs(repo):
        p = Path(e.path)
        if p in skip:
            continue
        worded = _NEAR_WORDS.search(e.name)
        ev = evidence_of(p)
        if ev is None or not (worded or ev.strong):
            continue
        plat = platform_of_words(e.name) or ev.platform
        if plat is not None:
            out.append((0 if worded else 1, depth, e.name.lower(), plat, p, ev.what))
    out.sort(key=lambda x: x[:3])
    return [(plat, p, what) for _w, _d, _n, plat, p, what in out]


def platform_of_words(name: str) -> Platform | None:
    """The platform a platform word in ``name`` stands for (``AWS`` -> aws, ``ai-platform-x`` -> gcp)."""
    m = _NEAR_WORDS.search(name)
    if not m:
        return None
    return _PLATFORM_WORDS.get(re.sub(r"[_\- ]", "", m.group(0).lower()), GCP if "cloud" in m.group(0).lower() else None)


@lru_cache(maxsize=None)
def load_submission(student: str, repo: str, as_of: str = "", problem: str | None = None) -> Submission:
    """Build the Submission for one repo (cached for the whole session); ``as_of`` (an ISO date, from
    ``--deadline`` or the rubric's ``as_of``): its folders run on the images as they were then.
    ``problem``: what the classroom already knows makes the repo ungradable as a whole
    (``RepoRef.problem``: every commit after the deadline); the checks then say that, and nothing of
    the empty work tree is looked at."""
    path = Path(repo)
    if problem:
        return Submission(student, path.absolute(), problem=problem)
    if not os.path.lexists(path):
        return Submission(student, path.absolute(),
                          problem=f"the repo path {repo} does not exist; check the --repo/--classroom/--roster path")
    if path.is_symlink():
        return Submission(student, path.absolute(), problem=f"{repo} is a symlink; give the real repository folder")
    if not path.is_dir():
        return Submission(student, path.absolute(),
                          problem=f"{repo} is a file, not a repository folder; hand in the whole repository")
    root = path.resolve()
    notes: list[str] = []
    # keep the shallowest folder per platform; note the others
    chosen: dict[str, Path] = {}
    for plat, p in sorted(_find_folders(root), key=lambda x: (x[1].relative_to(root).as_posix().count("/"),
                                                               x[1].relative_to(root).as_posix().lower())):
        rel = p.relative_to(root).as_posix()
        if plat in chosen:
            notes.append(f"also found {rel}/ for {plat}; graded {chosen[plat].relative_to(root).as_posix()}/")
            continue
        chosen[plat] = p
    folders = [make_folder(plat, chosen[plat], root, as_of=as_of) for plat in PLATFORMS if plat in chosen]
    if not folders:
        # no folder named after the lab: a folder whose contents are clearly the deployment
        for plat, p, what in _near_misses(root, set(chosen.values())):
            if plat not in {f.platform for f in folders}:
                folders.append(make_folder(plat, p, root, named=False, evidence=what, as_of=as_of))
        folders.sort(key=lambda f: PLATFORMS.index(f.platform))
    notes.extend(odd_names_note(f) for f in folders if any(map(fs.undecodable, (*f.files, *f.symlinks))))
    notes.extend(ignored_models_notes(root, folders))
    # one budget for the analysis of the whole repository (files.budget_repo), decided here, once
    budget = fs.budget_repo(root, fs.sized_listing(root, fs.SKIP_DIRS, fs.BINARY_SUFFIXES, fs.MAX_LISTED * 4),
                            [f.rel for f in folders])
    if budget is not None:
        notes.append(budget.note())
    problem = hint = None
    if not folders:
        try:
            empty = not any(True for _ in os.scandir(root))
        except OSError:
            empty = False
        if empty:
            problem = "the repository is empty; add an aws_deploy/ or gcp_deploy/ folder with your deployment"
        else:
            ev = evidence_of(root)
            hint = ev.platform if ev else None
    return Submission(student, root, tuple(folders), problem, tuple(notes), hint)


def odd_names_note(folder: DeployFolder) -> str:
    """The one note about file names that are not UTF-8 (a Windows or zip encoding): they are graded
    like any file, under their display name, but other machines may show or match them differently."""
    odd = sorted(fs.printable(folder.repo_rel(n)) for n in (*folder.files, *folder.symlinks) if fs.undecodable(n))
    shown = ", ".join(odd[:3]) + (f" and {len(odd) - 3} more" if len(odd) > 3 else "")
    one = len(odd) == 1
    return (f"{shown}: {'this file name is' if one else 'these file names are'} not UTF-8 (saved by an old Windows "
            f"tool or a zip archive); deploycheck reads {'it' if one else 'them'} as shown, but GitHub and other "
            f"machines may show {'it' if one else 'them'} garbled and links to {'it' if one else 'them'} break: "
            f"rename {'it' if one else 'them'} (git mv) to a plain UTF-8 name")


GITHUB_MAX_FILE = 100 * 2**20      # GitHub refuses a push holding a larger file


def ignored_models_notes(root: Path, folders: list[DeployFolder]) -> list[str]:
    """Model files of the deploy folders that the repo's git ignore rules keep out of every commit:
    they are graded here, but the instructor's clone and CI will not have them."""
    from deploycheck.analysis import repo_git
    from deploycheck.analysis.artifact import is_model_file
    rels = [f.repo_rel(n) for f in folders for n in f.files if is_model_file(n)]
    out = []
    for ig in repo_git.ignored(root, rels):
        try:
            big = os.lstat(root / ig.path).st_size > GITHUB_MAX_FILE
        except OSError:
            big = False
        fix = ("it is over GitHub's 100 MB limit, so make it smaller (joblib.dump(model, path, compress=3)) and "
               f"commit it with `git add -f {shlex.quote(ig.path)}`" if big else
               f"commit it (`git add -f {shlex.quote(ig.path)}`, or delete that rule) and push")
        out.append(f"{ig.path} is not committed: {ig.source} line {ig.line} ({ig.pattern}) makes git ignore it, so it "
                   f"is graded here but your instructor's clone and CI will have no model; {fix}")
    return out


def targets_for(student: str, repo: str, platform: str = "auto", as_of: str = "",
                problem: str | None = None) -> list[Target]:
    sub = load_submission(student, repo, as_of, problem)
    plats = [f.platform for f in sub.folders]
    if platform in PLATFORMS:
        plats = [platform]
    if not plats:
        # no deploy folder: the platform the repo's files point to, so that a GCP repo is not
        # charged AWS-only checks
        return [Target(student, sub.platform_hint, sub, student)]
    if len(plats) == 1:
        return [Target(student, plats[0], sub, student)]
    return [Target(student, p, sub, f"{student}-{p}") for p in plats]
