"""The only reader of student bytes: never follows a symlink (not even in an intermediate
directory), opens with ``O_NONBLOCK`` so a FIFO cannot hang the grader, reads at most ``limit``
bytes, recognises binary files and decodes text with ONE decoder (UTF-8 with or without BOM,
UTF-16 with BOM, else cp1252/latin-1), normalising line endings to ``\\n``.

Every analysis module reads student files through :func:`read_bytes` / :func:`read_text`; paths
are posix and relative to a base directory (a deploy folder or a repo root).

One budget bounds the text analysis of a whole repository, whatever reads it (:func:`budget_repo`,
decided once per repository when it is discovered): at most :data:`ANALYSIS_FILES` text files and
:data:`ANALYSIS_BYTES` of text (a large file counts :data:`ANALYSIS_FILE_CHARGE` at most: the
analyses read the heads of large files), of which at most :data:`ANALYSIS_PYTHON_BYTES` of Python
source that can be parsed into syntax trees (a script over :data:`PARSE_CHARS`/:data:`PARSE_LINES` is
never parsed, so it counts as text only). Files are taken in one order: the deploy folders first,
then the top level, then the rest, smaller before larger; :func:`read_text` refuses the contents of
the files left out ("not analysed"), so every check sees the same files whatever runs first, and a
repository of a thousand generated scripts costs its own student a note, never the grader's memory.

File names are bytes on POSIX: a name that is not UTF-8 (``r\\xe9sultat.png`` from a Windows zip)
reaches Python as a str holding surrogate escapes (PEP 383), which opens the file but cannot be
encoded, printed or written into a report. Such names stay as they are for every file operation;
:func:`printable` is their one display form (the undecodable bytes read with the same fallback as
file contents), applied where a string leaves for a message, a report or a terminal.

:func:`atomic_write` is the one writer of deploycheck's own files that other processes (parallel
xdist workers, a later run) read: they see the old file or the whole new one, never half of it.
"""
from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterable, Sequence

DEFAULT_LIMIT = 2_000_000
ANALYSIS_FILES = 1000                   # text files of one repository whose contents are analysed
ANALYSIS_BYTES = 12 * 2**20             # the text they hold, in all
ANALYSIS_FILE_CHARGE = 2**20            # what one file counts at most (analyses read large files' heads)
ANALYSIS_PYTHON_BYTES = 2**20           # the .py source among them that can be parsed into syntax trees
PARSE_CHARS = 400_000                   # largest Python text handed to ast.parse (analysis/sources.py)
PARSE_LINES = 20_000
# never read as text (images, archives, models, data in binary formats)
BINARY_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".tif", ".tiff", ".pdf", ".zip", ".gz",
                   ".tgz", ".tar", ".bz2", ".xz", ".7z", ".whl", ".so", ".dll", ".dylib", ".pyc", ".joblib", ".pkl",
                   ".pickle", ".npy", ".npz", ".parquet", ".feather", ".h5", ".hdf5", ".pt", ".pth", ".onnx", ".bst",
                   ".mp4", ".mov", ".mp3", ".woff", ".woff2", ".ttf", ".otf", ".xlsx", ".docx", ".pptx")


@dataclass(frozen=True)
class Bytes:
    data: bytes | None
    problem: str | None = None       # "missing", "... is a symlink ...", "is not a regular file", ...
    truncated: bool = False          # only the first `limit` bytes were read


@dataclass(frozen=True)
class TextFile:
    text: str = ""
    problem: str | None = None       # "binary", "missing", "... is a symlink ...", ...
    truncated: bool = False
    encoding: str = "utf-8"
    note: str | None = None          # e.g. "not valid UTF-8; read as cp1252 (save the file as UTF-8)"

    @property
    def ok(self) -> bool:
        return self.problem is None


_SURROGATES = re.compile("[\ud800-\udfff]+")


def _bytes_as_text(m: re.Match[str]) -> str:
    run = m.group(0)
    if not all("\udc80" <= c <= "\udcff" for c in run):
        return "\ufffd" * len(run)          # a lone surrogate that is no escaped byte (e.g. from JSON)
    raw = bytes(ord(c) - 0xDC00 for c in run)
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def printable(text: str) -> str:
    """``text`` with every surrogate escape (a file name's undecodable bytes) replaced by those bytes
    read as cp1252 (else latin-1), the fallback of :func:`decode`: always encodable as UTF-8.
    Strings without surrogates are returned unchanged."""
    return _SURROGATES.sub(_bytes_as_text, text) if _SURROGATES.search(text) else text


def printable_data(value: Any) -> Any:
    """:func:`printable` applied to every string (keys included) of a JSON-like value."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable_data(v) for v in value)
    return value


def undecodable(name: str) -> bool:
    """True when the file name ``name`` is not valid UTF-8 (it holds surrogate escapes)."""
    return bool(_SURROGATES.search(name))


def symlink_component(base: Path, rel: str) -> str | None:
    """The first component of ``base/rel`` (below base) that is a symlink, or None."""
    cur = base
    for part in PurePosixPath(rel).parts:
        cur = cur / part
        try:
            if stat.S_ISLNK(os.lstat(cur).st_mode):
                return Path(os.path.relpath(cur, base)).as_posix()
        except OSError:
            return None
    return None


def is_binary(data: bytes) -> bool:
    """NUL bytes or mostly control characters in the first 8 KB (UTF-16 BOM files are text)."""
    head = data[:8192]
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        return True
    # bytes that never occur in text: C0 controls other than \t \n \f \r and ESC
    text_chars = bytes({7, 8, 9, 10, 12, 13, 27} | set(range(0x20, 0x100)))
    nontext = head.translate(None, text_chars)
    return len(nontext) / len(head) > 0.30


def decode(data: bytes, truncated: bool = False) -> tuple[str, str, str | None]:
    """(text, encoding, note) for ``data``; line endings normalised to ``\\n``."""
    note = None
    if data.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8-sig"
        text = _decode_utf8(data[3:], truncated)
        if text is None:
            text, note = data[3:].decode("utf-8", "replace"), "invalid UTF-8 bytes were replaced"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16"
        body = data if not truncated or len(data) % 2 == 0 else data[:-1]
        text = body.decode("utf-16", "replace")
    else:
        enc = "utf-8"
        text = _decode_utf8(data, truncated)
        if text is None:
            try:
                text, enc = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                text, enc = data.decode("latin-1"), "latin-1"
            note = f"not valid UTF-8; read as {enc} (save the file as UTF-8)"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, enc, note


def _decode_utf8(data: bytes, truncated: bool) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        # a cut in the middle of a multi-byte character at the read limit is not an encoding error
        if truncated and e.start >= len(data) - 3:
            try:
                return data[:e.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None


def read_bytes(base: Path, rel: str, limit: int = DEFAULT_LIMIT) -> Bytes:
    """Up to ``limit`` bytes of the regular file ``base/rel``; never follows links, never raises."""
    rel = rel.replace("\\", "/")
    if rel.startswith("/") or ".." in PurePosixPath(rel).parts:
        return Bytes(None, f"{rel} is outside the folder")
    link = symlink_component(base, rel)
    if link is not None:
        return Bytes(None, f"{link} is a symlink (not followed: commit the real file instead)")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(base / rel, flags)
    except FileNotFoundError:
        return Bytes(None, "missing")
    except OSError as e:
        return Bytes(None, f"cannot be opened ({e.strerror or e})")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Bytes(None, "is not a regular file")
        chunks: list[bytes] = []
        got = 0
        while got < limit:
            chunk = os.read(fd, min(1 << 20, limit - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        data = b"".join(chunks)
        truncated = st.st_size > len(data) or (got >= limit and bool(os.read(fd, 1)))
        return Bytes(data, None, truncated)
    except OSError as e:
        return Bytes(None, f"cannot be read ({e.strerror or e})")
    finally:
        os.close(fd)


def open_binary(base: Path, rel: str) -> BinaryIO:
    """A binary file object for streaming a large regular file (archives), opened like
    :func:`read_bytes` (no symlink anywhere on the path, no FIFO); raises OSError with a reason."""
    link = symlink_component(base, rel)
    if link is not None:
        raise OSError(f"{link} is a symlink (not followed)")
    fd = os.open(base / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError("not a regular file")
    return os.fdopen(fd, "rb")


def read_text(base: Path, rel: str, limit: int = DEFAULT_LIMIT) -> TextFile:
    """``base/rel`` as text; problems ("binary", "missing", "... is a symlink ...", "not analysed ...")
    are in ``.problem``."""
    left_out = _left_out(base, rel)
    if left_out:
        return TextFile(problem=left_out)
    b = read_bytes(base, rel, limit)
    if b.data is None:
        return TextFile(problem=b.problem or "missing")
    if is_binary(b.data):
        return TextFile(problem="binary", truncated=b.truncated)
    text, enc, note = decode(b.data, b.truncated)
    return TextFile(text=text, truncated=b.truncated, encoding=enc, note=note)


# ------------------------------------------------------------------ one analysis budget per repository

@dataclass(frozen=True)
class AnalysisBudget:
    """A repository over the analysis budget: which of its files' contents are not analysed."""
    root: str
    left_out: frozenset[str]              # repo-relative paths
    files: int                            # text files the repository holds
    size: int                             # and their bytes

    def note(self) -> str:
        shown = sorted(self.left_out, key=lambda r: (r.count("/"), r))
        names = ", ".join(printable(r) for r in shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
        return (f"the repository is too large to analyse whole: deploycheck reads the contents of at most "
                f"{ANALYSIS_FILES} text files and {ANALYSIS_BYTES // 2**20} MB per repository (at most "
                f"{ANALYSIS_PYTHON_BYTES // 2**20} MB of it Python), and this one has {self.files} text files, "
                f"{self.size / 2**20:.0f} MB; the contents of {names} were not analysed (the checks treat them "
                "as unreadable): commit only what the deployment needs (no generated code, datasets or copies)")


_BUDGETS: dict[str, AnalysisBudget] = {}      # repo root -> its budget, for the repositories over it


def sized_listing(root: Path, skip_dirs: Iterable[str], skip_suffixes: tuple[str, ...], max_files: int
                  ) -> list[tuple[str, int]]:
    """(posix path relative to ``root``, size) of at most ``max_files`` regular files below it: no
    symlink followed, no directory of ``skip_dirs`` entered, no name ending in ``skip_suffixes``."""
    skip = set(skip_dirs)
    out: list[tuple[str, int]] = []
    stack = [root]
    while stack and len(out) < max_files:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_symlink():
                    continue
                if e.is_dir(follow_symlinks=False):
                    if e.name not in skip:
                        stack.append(Path(e.path))
                    continue
                if not e.is_file(follow_symlinks=False) or e.name.lower().endswith(skip_suffixes):
                    continue
                size = e.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            out.append((Path(e.path).relative_to(root).as_posix(), size))
    return out


def budget_repo(root: Path, listing: Sequence[tuple[str, int]], first: Sequence[str]) -> AnalysisBudget | None:
    """Decide which of a repository's text files (``listing``: (path, size), see :func:`sized_listing`)
    the analysis reads, the deploy folders (``first``; "." when the repository is one) first; None when
    it may read them all. From now on :func:`read_text` refuses the others' contents."""
    def rank(item: tuple[str, int]) -> tuple[int, int, int, str]:
        rel, size = item
        where = 0 if any(f in (".", "") or rel == f or rel.startswith(f + "/") for f in first) else 1 if "/" not in rel else 2
        return (where, min(size, ANALYSIS_FILE_CHARGE), rel.count("/"), rel)
    n = total = python = 0
    left: set[str] = set()
    for rel, size in sorted(listing, key=rank):
        charge = min(size, ANALYSIS_FILE_CHARGE)
        if n >= ANALYSIS_FILES or total + charge > ANALYSIS_BYTES:
            left.add(rel)
            continue
        parsed = _parsed_chars(root, rel, size) if rel.lower().endswith(".py") else 0
        if python + parsed > ANALYSIS_PYTHON_BYTES:
            left.add(rel)
            continue
        n, total, python = n + 1, total + charge, python + parsed
    key = os.path.normpath(os.path.abspath(root))
    if not left:
        _BUDGETS.pop(key, None)
        return None
    budget = AnalysisBudget(key, frozenset(left), len(listing), sum(s for _r, s in listing))
    _BUDGETS[key] = budget
    return budget


def parseable(text: str) -> bool:
    """Whether the analysis parses this Python text into a syntax tree (not over PARSE_CHARS/PARSE_LINES)."""
    return len(text) <= PARSE_CHARS and text.count("\n") <= PARSE_LINES


def _parsed_chars(root: Path, rel: str, size: int) -> int:
    """What the script ``root/rel`` of ``size`` bytes costs the parser: its characters when it can be
    parsed, else 0. A file of at most PARSE_CHARS bytes holds at most as many characters (every decoding
    gives at most one per byte) and is counted by its size; a larger one is read to tell (one that can be
    parsed has at most 4 bytes per character, and a CR dropped before each of its lines)."""
    if size <= PARSE_CHARS:
        return size
    b = read_bytes(root, rel, 4 * (PARSE_CHARS + PARSE_LINES) + 4)
    if b.data is None or b.truncated or is_binary(b.data):
        return 0
    text = decode(b.data)[0]
    return len(text) if parseable(text) else 0


def _left_out(base: Path, rel: str) -> str | None:
    """Why the contents of ``base/rel`` are not analysed (its repository is over the budget), else None."""
    if not _BUDGETS:
        return None
    full = os.path.normpath(os.path.join(os.path.abspath(base), rel.replace("\\", "/")))
    for root, budget in _BUDGETS.items():
        if full.startswith(root + os.sep) and full[len(root) + 1:] in budget.left_out:
            return (f"not analysed: the repository is over deploycheck's analysis budget ({ANALYSIS_FILES} text "
                    f"files, {ANALYSIS_BYTES // 2**20} MB)")
    return None


def file_size(base: Path, rel: str) -> int | None:
    """Size of a regular file (lstat: a symlink is not followed), else None."""
    try:
        st = os.lstat(base / rel)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def inside(p: Path, root: Path) -> bool:
    try:
        p.relative_to(root)
        return True
    except ValueError:
        return False


def path_status(repo: Path, p: Path) -> str:
    """ok | missing | escapes (a symlink on the way points outside the repo) | outside, for an
    absolute, normalised path ``p``."""
    cur = repo
    try:
        parts = p.relative_to(repo).parts
    except ValueError:
        return "outside"
    for part in parts:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except OSError:
            return "missing"
        if stat.S_ISLNK(st.st_mode):
            real = Path(os.path.realpath(cur))
            if not inside(real, repo):
                return "escapes"
            if not os.path.lexists(real):
                return "missing"
    return "ok"


def top_level_files(d: Path) -> list[str]:
    """Names of the regular files directly in ``d`` (symlinks left out), sorted."""
    try:
        return sorted(e.name for e in os.scandir(d) if not e.is_symlink() and e.is_file(follow_symlinks=False))
    except OSError:
        return []


def tree_size(path: Path) -> int:
    """Bytes of the files below ``path`` (links counted as themselves, never followed)."""
    total = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> Path:
    """Write ``path`` (creating its folder) through a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# ---------------------------------------------------------------------- listing a student's tree
MAX_LISTED = 5000        # files listed per tree (a 20 000-file repo stays fast)
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".tox"}


def list_tree(path: Path, limit: int = MAX_LISTED) -> tuple[tuple[str, ...], dict[str, str], bool]:
    """(regular files, symlinks -> link text, truncated) below ``path``, posix and relative, sorted;
    symlinks are never followed, SKIP_DIRS never entered, at most ``limit`` files listed."""
    found: list[str] = []
    links: dict[str, str] = {}
    truncated = False
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            rel = Path(e.path).relative_to(path).as_posix()
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
                if len(found) >= limit:
                    truncated = True
                    continue
                found.append(rel)
    return tuple(sorted(found)), links, truncated
