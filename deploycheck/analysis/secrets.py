"""Credentials committed to a repo (facts for ``security.secrets``; values are never kept or printed).

Scans the whole repo (not only the deploy folder) without following symlinks, skipping
``.git``/virtualenvs/``node_modules``, binaries and files over 1 MB, within a file-count and
byte budget. Finds AWS access key ids, AWS secret access keys (by the name they sit next to),
GCP service-account key files and PEM private keys. AWS's documented example keys are ignored.
Messages show only a redacted form of a key id and never any part of a secret.

The repo's git history is scanned too (:mod:`deploycheck.analysis.repo_git`): a credential removed
from the files but still in an older version of one is still in every clone and on GitHub. Only the
versions HEAD's history holds and this clone has are read (a shallow or partial clone says so).
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from deploycheck import files
from deploycheck.analysis import repo_git

MAX_FILES = 20_000
MAX_LISTED = 100_000          # files listed at most (a hostile repo of millions of files stays bounded)
MAX_FILE_BYTES = 1_000_000
MAX_TOTAL_BYTES = 64_000_000
SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache",
             ".pytest_cache", "site-packages"}
SKIP_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".pdf", ".zip", ".gz", ".tgz",
                 ".bz2", ".xz", ".7z", ".whl", ".so", ".dll", ".dylib", ".pyc", ".joblib", ".pkl", ".pickle",
                 ".npy", ".npz", ".parquet", ".h5", ".pt", ".pth", ".onnx", ".bst", ".mp4", ".mov", ".mp3",
                 ".woff", ".woff2", ".ttf", ".xlsx", ".docx", ".pptx")

# AWS documents these as examples (IAM user guide, "Managing access keys"); they are not secrets.
EXAMPLE_KEY_IDS = {b"AKIAIOSFODNN7EXAMPLE", b"AKIAI44QH8DHBEXAMPLE"}
EXAMPLE_SECRETS = {b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", b"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"}

_KEY_ID = re.compile(rb"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])")
# quotes may be escaped (`\"`) when the assignment sits inside a notebook's JSON source string
_SECRET = re.compile(
    rb"(?i:aws_?secret_?access_?key|secret_?access_?key|aws_?secret_?key|aws_secret)"
    rb"(?:\\?[\"'])?\s*(?:=|:|=>|,)\s*(?:\\?[\"'])?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_PEM = re.compile(rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----")
_SA_TYPE = re.compile(rb"[\"']type[\"']\s*:\s*[\"']service_account[\"']")
_SA_KEY = re.compile(rb"[\"']private_key[\"']\s*:\s*[\"']-----BEGIN")
_PREFILTER = re.compile(rb"AKIA|ASIA|(?i:secret)|PRIVATE KEY|service_account")
# A bare PEM private key is a credential only in a key file (a vendored library's test fixture or
# a tutorial's README holding one is not a cloud credential); service-account JSON is found anywhere.
KEY_FILE_SUFFIXES = (".pem", ".key", ".ppk", ".p8", ".p12", ".pfx")
KEY_FILE_NAMES = {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "private_key", "privatekey"}


def is_key_file(rel: str) -> bool:
    base = rel.rsplit("/", 1)[-1].lower()
    return base.endswith(KEY_FILE_SUFFIXES) or base in KEY_FILE_NAMES or base.split(".")[0] in KEY_FILE_NAMES


@dataclass
class Finding:
    path: str          # relative to the repo
    line: int
    kind: str          # "AWS access key id" | "AWS secret access key" | "GCP service-account key" | "private key"
    shown: str = ""    # redacted form (never the secret itself)
    commit: str = ""   # found in git history: the commit that added that version of the file
    same: str = field(default="", repr=False, compare=False)   # a digest telling one credential from another (never shown)

    def describe(self) -> str:
        what = f"{self.kind} {self.shown}".strip()
        where = f" (commit {self.commit})" if self.commit else ""
        return f"{self.path} line {self.line}{where}: {what}"


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    capped: bool = False
    skipped: int = 0              # files not scanned because a cap was reached
    skipped_examples: list[str] = field(default_factory=list)
    problem: str | None = None
    history: list[Finding] = field(default_factory=list)   # only in older versions of files (git history)
    history_state: str = "none"   # repo_git.History.state: none | scanned | shallow | partial | unreadable
    history_versions: int = 0     # older file versions read
    history_missing: int = 0      # versions of the history this clone does not have
    ignored: list[Finding] = field(default_factory=list)   # in files git ignores: on this disk only, never committed


def redact_key_id(key: str) -> str:
    """First 4 and last 2 characters: AKIA…LE."""
    return f"{key[:4]}…{key[-2:]}"


def _line(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _pem_has_body(data: bytes, end: int) -> bool:
    body = data[end:end + 400].replace(b"\\n", b"\n")
    return re.search(rb"[A-Za-z0-9+/=]{40}", body) is not None


def _same(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()[:16]


def scan_bytes(data: bytes, rel: str) -> list[Finding]:
    """Credential findings in one file's bytes."""
    if not _PREFILTER.search(data):
        return []
    out: list[Finding] = []
    for m in _KEY_ID.finditer(data):
        key = m.group(1)
        if key in EXAMPLE_KEY_IDS or key.endswith(b"EXAMPLE"):
            continue
        out.append(Finding(rel, _line(data, m.start()), "AWS access key id", redact_key_id(key.decode()),
                           same=_same(key)))
    for m in _SECRET.finditer(data):
        sec = m.group(1)
        if sec in EXAMPLE_SECRETS or sec.endswith(b"EXAMPLEKEY") or len(set(sec)) < 8:
            continue
        out.append(Finding(rel, _line(data, m.start(1)), "AWS secret access key", "(value hidden)", same=_same(sec)))
    sa = _SA_TYPE.search(data)
    sa_key = _SA_KEY.search(data) if sa else None
    if sa and sa_key:
        out.append(Finding(rel, _line(data, sa_key.start()), "GCP service-account key (private_key)", "(value hidden)",
                           same=_same(data[sa_key.end():sa_key.end() + 400].replace(b"\\n", b"\n"))))
    elif is_key_file(rel):
        for m in _PEM.finditer(data):
            if _pem_has_body(data, m.end()):
                out.append(Finding(rel, _line(data, m.start()), "private key", "(value hidden)",
                                   same=_same(data[m.end():m.end() + 400].replace(b"\\n", b"\n"))))
                break
    return out


def scan_file(data: bytes, rel: str) -> list[Finding]:
    """Findings in one file's contents as stored (binary files skipped, UTF-16 text read as such)."""
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if b"\x00" in data[:4096] and not utf16:
        return []
    if utf16:
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return []
    return scan_bytes(data, rel)


def worth_scanning(rel: str, size: int) -> bool:
    """Not in a skipped folder, not a binary kind of file, not empty and not over MAX_FILE_BYTES."""
    parts = rel.split("/")
    return (0 < size <= MAX_FILE_BYTES and not any(p in SKIP_DIRS for p in parts[:-1])
            and not parts[-1].lower().endswith(SKIP_SUFFIXES))


def _candidates(repo: Path) -> list[tuple[str, int]]:
    """(rel, size) of every regular file worth scanning (no symlinks, skipped dirs/suffixes, bounded)."""
    return [(rel, size) for rel, size in files.sized_listing(repo, SKIP_DIRS, SKIP_SUFFIXES, MAX_LISTED)
            if 0 < size <= MAX_FILE_BYTES]


def scan_repo(repo: Path, first: tuple[str, ...] = ()) -> ScanResult:
    """Scan a repo for credentials (use ``submission.facts.secrets``): the deploy folders (``first``)
    and notebooks first, then the rest by depth, within a file and byte budget; what the budget left
    out is counted so the verdict can say so."""
    repo = Path(repo)
    res = ScanResult()
    try:
        st = os.lstat(repo)
    except OSError:
        res.problem = f"the repo path {repo} does not exist"
        return res
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        res.problem = f"{repo} is not a repository folder"
        return res

    def rank(item: tuple[str, int]) -> tuple[int, int, str]:
        rel = item[0]
        in_folder = any(rel == f or rel.startswith(f + "/") for f in first)
        return (0 if in_folder else 1 if rel.endswith(".ipynb") else 2, rel.count("/"), rel)

    for rel, size in sorted(_candidates(repo), key=rank):
        if res.files >= MAX_FILES or res.bytes + size > MAX_TOTAL_BYTES:
            res.capped = True
            res.skipped += 1
            if len(res.skipped_examples) < 5:
                res.skipped_examples.append(rel)
            continue
        data = files.read_bytes(repo, rel, MAX_FILE_BYTES).data
        if data is None:
            continue
        res.files += 1
        res.bytes += len(data)
        res.findings.extend(scan_file(data, rel))
    res.findings.sort(key=lambda f: (f.path, f.line))
    # a file the repo's ignore rules keep out of every commit (a .env beside the code) is not committed:
    # the instructor's clone and CI never see it, so it is no finding here either
    kept_out = {i.path for i in repo_git.ignored(repo, sorted({f.path for f in res.findings}))}
    res.ignored = [f for f in res.findings if f.path in kept_out]
    res.findings = [f for f in res.findings if f.path not in kept_out]
    scan_history(repo, res)
    return res


def scan_history(repo: Path, res: ScanResult) -> None:
    """Credentials only in older versions of files (HEAD's history, as far as this clone has it),
    within the same budgets; one finding per credential, not those the files still hold."""
    h = repo_git.history(repo, worth_scanning)
    res.history_state, res.history_missing = h.state, h.missing
    if not h.versions:
        return
    known = {f.same for f in res.findings}
    chosen: list[tuple[str, str]] = []
    budget = MAX_TOTAL_BYTES
    for blob, path, size in h.versions[:MAX_FILES]:
        if size > budget:
            res.capped = True
            continue
        budget -= size
        chosen.append((blob, path))
    contents = repo_git.blobs(repo, [b for b, _ in chosen])
    found: list[tuple[str, Finding]] = []
    for blob, path in chosen:
        data = contents.get(blob)
        if data is None:
            continue
        res.history_versions += 1
        for f in scan_file(data, path):
            if f.same not in known:
                known.add(f.same)
                found.append((blob, f))
    for blob, f in found[:20]:
        f.commit = repo_git.introduced_in(repo, blob)
    res.history = [f for _, f in found]
