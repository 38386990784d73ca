"""The only reader of student bytes: never follows a symlink (not even in an intermediate
directory), opens with ``O_NONBLOCK`` so a FIFO cannot hang the grader, reads at most ``limit``
bytes, recognises binary files and decodes text with ONE decoder (UTF-8 with or without BOM,
UTF-16 with BOM, else cp1252/latin-1), normalising line endings to ``\\n``.

Every analysis module reads student files through :func:`read_bytes` / :func:`read_text`; paths
are posix and relative to a base directory (a deploy folder or a repo root).

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
from typing import Any, BinaryIO

DEFAULT_LIMIT = 2_000_000


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
    """``base/rel`` as text; problems ("binary", "missing", "... is a symlink ...") are in ``.problem``."""
    b = read_bytes(base, rel, limit)
    if b.data is None:
        return TextFile(problem=b.problem or "missing")
    if is_binary(b.data):
        return TextFile(problem="binary", truncated=b.truncated)
    text, enc, note = decode(b.data, b.truncated)
    return TextFile(text=text, truncated=b.truncated, encoding=enc, note=note)


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
