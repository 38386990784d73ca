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
_SECRET = re.compile(
    rb"(?i:aws_?secret_?access_?key|secret_?access_?key|aws_?secret_?key|aws_secret)"
    rb"[\"']?\s*(?:=|:|=>|,)\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_PEM = re.compile(rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----")
_SA_TYPE = re.compile(rb"[\"']type[\"']\s*:\s*[\"']service_account[\"']")
_SA_KEY = re.compile(rb"[\"']private_key[\"']\s*:\s*[\"']-----BEGIN")
_PREFILTER = re.compile(rb"AKIA|ASIA|(?i:secret)|PRIVATE KEY|service_account")


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
    else:
        for m in _PEM.finditer(data):
            if _pem_has_body(data, m.end()):
                out.append(Finding(rel, _line(data, m.start()), "private key", "(value hidden)"))
                break
    return out


def scan_repo(repo: Path) -> ScanResult:
    """Scan a repo for credentials (use ``submission.facts.secrets``)."""
    repo = Path(repo)
    res = ScanResult()
    root = Path(repo)
    try:
        st = os.lstat(root)
    except OSError:
        res.problem = f"the repo path {repo} does not exist"
        return res
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        res.problem = f"{repo} is not a repository folder"
        return res
    stack = [str(repo)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            entries = list(it)
        for e in entries:
            try:
                if e.is_symlink():
                    continue
                if e.is_dir(follow_symlinks=False):
                    if e.name not in SKIP_DIRS:
                        stack.append(e.path)
                    continue
                if not e.is_file(follow_symlinks=False):
                    continue
                if e.name.lower().endswith(SKIP_SUFFIXES):
                    continue
                size = e.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            if size > MAX_FILE_BYTES or size == 0:
                continue
            if res.files >= MAX_FILES or res.bytes + size > MAX_TOTAL_BYTES:
                res.capped = True
                stack.clear()
                break
            rel = Path(e.path).relative_to(repo).as_posix()
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


