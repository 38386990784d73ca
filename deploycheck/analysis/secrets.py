"""Credentials committed to a repo (facts for ``security.secrets``; values are never kept or printed).

Scans the whole repo (not only the deploy folder) without following symlinks, skipping
``.git``/virtualenvs/``node_modules``, binaries and files over 1 MB, within a file-count and
byte budget. Finds AWS access key ids, AWS secret access keys (by the name they sit next to),
GCP service-account key files and PEM private keys. AWS's documented example keys are ignored.
Messages show only a redacted form of a key id and never any part of a secret.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from deploycheck import files

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

    def describe(self) -> str:
        what = f"{self.kind} {self.shown}".strip()
        return f"{self.path} line {self.line}: {what}"


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    capped: bool = False
    skipped: int = 0              # files not scanned because a cap was reached
    skipped_examples: list[str] = field(default_factory=list)
    problem: str | None = None


def redact_key_id(key: str) -> str:
    """First 4 and last 2 characters: AKIA…LE."""
    return f"{key[:4]}…{key[-2:]}"


def _line(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _pem_has_body(data: bytes, end: int) -> bool:
    body = data[end:end + 400].replace(b"\\n", b"\n")
    return re.search(rb"[A-Za-z0-9+/=]{40}", body) is not None


def scan_bytes(data: bytes, rel: str) -> list[Finding]:
    """Credential findings in one file's bytes."""
    if not _PREFILTER.search(data):
        return []
    out: list[Finding] = []
    for m in _KEY_ID.finditer(data):
        key = m.group(1)
        if key in EXAMPLE_KEY_IDS or key.endswith(b"EXAMPLE"):
            continue
        out.append(Finding(rel, _line(data, m.start()), "AWS access key id", redact_key_id(key.decode())))
    for m in _SECRET.finditer(data):
        sec = m.group(1)
        if sec in EXAMPLE_SECRETS or sec.endswith(b"EXAMPLEKEY") or len(set(sec)) < 8:
            continue
        out.append(Finding(rel, _line(data, m.start(1)), "AWS secret access key", "(value hidden)"))
    sa = _SA_TYPE.search(data)
    sa_key = _SA_KEY.search(data) if sa else None
    if sa and sa_key:
        out.append(Finding(rel, _line(data, sa_key.start()), "GCP service-account key (private_key)", "(value hidden)"))
    elif is_key_file(rel):
        for m in _PEM.finditer(data):
            if _pem_has_body(data, m.end()):
                out.append(Finding(rel, _line(data, m.start()), "private key", "(value hidden)"))
                break
    return out


def _candidates(repo: Path) -> list[tuple[str, int]]:
    """(rel, size) of every regular file worth scanning (no symlinks, skipped dirs/suffixes, bounded)."""
    out: list[tuple[str, int]] = []
    stack = [repo]
    while stack and len(out) < MAX_LISTED:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_symlink():
                    continue
                if e.is_dir(follow_symlinks=False):
                    if e.name not in SKIP_DIRS:
                        stack.append(Path(e.path))
                    continue
                if not e.is_file(follow_symlinks=False) or e.name.lower().endswith(SKIP_SUFFIXES):
                    continue
                size = e.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            if 0 < size <= MAX_FILE_BYTES:
                out.append((Path(e.path).relative_to(repo).as_posix(), size))
    return out


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
        if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue  # binary
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                data = data.decode("utf-16").encode("utf-8")
            except UnicodeDecodeError:
                continue
        res.findings.extend(scan_bytes(data, rel))
    res.findings.sort(key=lambda f: (f.path, f.line))
    return res
