"""Reading student text files safely: no symlinks, no FIFOs, bounded size, any common encoding.

``read_text(folder, rel)`` is what every static check uses to look at a README, a script or a
notebook. It never follows a symlink (not even in an intermediate directory), opens with
``O_NONBLOCK`` so a FIFO cannot hang the grader, reads at most ``limit`` bytes, recognises binary
files, decodes UTF-8 (with or without BOM), UTF-16 (with BOM) and falls back to cp1252/latin-1,
and normalises line endings to ``\\n``.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_LIMIT = 2_000_000


@dataclass
class TextFile:
    text: str = ""
    problem: str | None = None       # "binary", "is a symlink ...", "missing", ...
    truncated: bool = False          # only the first `limit` bytes were read
    encoding: str = "utf-8"
    note: str | None = None          # e.g. "decoded as cp1252 (not UTF-8)"

    @property
    def ok(self) -> bool:
        return self.problem is None


class FolderKey:
    """Hashable handle on a folder (DeployFolder or path) keyed on its path string.

    Lets ``functools.lru_cache`` cache per-folder analysis by the folder's path while the
    cached function still receives the full object."""
    __slots__ = ("obj", "key")

    def __init__(self, obj: Any):
        self.obj = obj
        self.key = str(base_path(obj))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FolderKey) and other.key == self.key

    def __repr__(self) -> str:
        return f"FolderKey({self.key!r})"


def base_path(folder: Any) -> Path:
    """The directory of a DeployFolder (its ``.path``) or of a plain path."""
    p = getattr(folder, "path", folder)
    return Path(p)


def _has_symlink_component(base: Path, rel: str) -> str | None:
    """The first component of ``base/rel`` (below base) that is a symlink, or None."""
    cur = base
    for part in Path(rel).parts:
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
            text, enc, note = data[3:].decode("utf-8", "replace"), "utf-8-sig", "invalid UTF-8 bytes were replaced"
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


def read_bytes(folder: Any, rel: str, limit: int = DEFAULT_LIMIT) -> tuple[bytes | None, str | None, bool]:
    """(data, problem, truncated) for a regular file ``rel`` below ``folder``; never follows links."""
    base = base_path(folder)
    rel = rel.replace("\\", "/")
    if rel.startswith("/") or ".." in Path(rel).parts:
        return None, f"{rel} is outside the folder", False
    link = _has_symlink_component(base, rel)
    if link is not None:
        return None, f"{link} is a symlink (not followed: commit the real file instead)", False
    path = base / rel
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, "missing", False
    except OSError as e:
        return None, f"cannot be opened ({e.strerror or e})", False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "is not a regular file", False
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
        return data, None, truncated
    except OSError as e:
        return None, f"cannot be read ({e.strerror or e})", False
    finally:
        os.close(fd)


def read_text(folder: Any, rel: str, limit: int = DEFAULT_LIMIT) -> TextFile:
    """Read ``rel`` (posix, relative to ``folder``: a DeployFolder or a directory path) as text.

    Never raises; problems ("binary", "missing", "... is a symlink ...") are in ``.problem``."""
    try:
        data, problem, truncated = read_bytes(folder, rel, limit)
        if data is None:
            return TextFile(problem=problem or "missing")
        if is_binary(data):
            return TextFile(problem="binary", truncated=truncated)
        text, enc, note = decode(data, truncated)
        return TextFile(text=text, truncated=truncated, encoding=enc, note=note)
    except Exception as e:  # pragma: no cover - defensive: hostile input must never raise
        return TextFile(problem=f"cannot be read ({type(e).__name__}: {e})")
