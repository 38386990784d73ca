"""Job preparation on the grader side: the input a job gets, made from untrusted files safely.

* The private copy of the deploy folder: regular files only (symlinks are never copied or
  followed, nor are devices, FIFOs or sockets), version-control and virtualenv folders left out,
  at most :data:`COPY_FILES` files and :data:`COPY_BYTES` bytes.
* ``model.tar.gz`` extracted with ``tarfile``'s ``data`` filter (PEP 706): no absolute paths, no
  ``..``, nothing outside the destination, no device files, sane modes; links are not extracted at
  all (``artifact.valid`` reports them), at most :data:`TAR_MEMBERS` members and :data:`TAR_BYTES`
  bytes. Pythons without extraction filters (3.11.0-3.11.3, e.g. Debian 12's 3.11.2) get the same
  rules from :func:`_extract_validated`, which writes each regular member itself.

Everything is written world-readable (0644/0755) below the server's private base directory (0700):
the job reads it under its own uid, inside the sandbox, and copies it into its job tmpfs.
"""
from __future__ import annotations

import json
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COPY_FILES = 5000
COPY_BYTES = 256 * 1024 * 1024
TAR_MEMBERS = 10000
TAR_BYTES = 1024 * 1024 * 1024
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".ipynb_checkpoints", "node_modules",
                       ".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache"})
HAS_DATA_FILTER = hasattr(tarfile, "data_filter")


class ExtractError(Exception):
    """The archive cannot be extracted safely (the message names why)."""


@dataclass(frozen=True)
class PreparedJob:
    path: Path                 # the job's input directory (folder/, model/, args.json)
    input_bytes: int
    input_files: int
    has_folder: bool
    has_model: bool
    notes: tuple[str, ...] = ()


def _write_file(dst: Path, src_fd: int) -> int:
    n = 0
    out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        os.fchmod(out, 0o644)
        while True:
            chunk = os.read(src_fd, 1 << 20)
            if not chunk:
                break
            _write_all(out, chunk)
            n += len(chunk)
    finally:
        os.close(out)
    return n


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _mkdir(p: Path) -> None:
    p.mkdir(exist_ok=True)
    os.chmod(p, 0o755)


def copy_folder(src: Path, dst: Path, max_files: int = COPY_FILES, max_bytes: int = COPY_BYTES
                ) -> tuple[int, int, list[str]]:
    """Copy regular files from ``src`` to ``dst`` (never following or copying links).
    Returns (files, bytes, notes)."""
    notes: list[str] = []
    files = total = 0
    _mkdir(dst)
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        rel = Path(dirpath).relative_to(src)
        keep = []
        for d in sorted(dirnames):
            if d in SKIP_DIRS or os.path.islink(os.path.join(dirpath, d)):
                continue
            keep.append(d)
            _mkdir(dst / rel / d)
        dirnames[:] = keep
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if files >= max_files or total + st.st_size > max_bytes:
                notes.append(f"not copied (over {max_files} files or {max_bytes // 2**20} MB): {rel / f}")
                continue
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):   # swapped for something else meanwhile
                    continue
                total += _write_file(dst / rel / f, fd)
                files += 1
            finally:
                os.close(fd)
    return files, total, notes


def _member_name(m: tarfile.TarInfo) -> str:
    name = m.name.replace("\\", "/")
    norm = posixpath.normpath(name)
    if name.startswith("/") or norm == ".." or norm.startswith("../") or "\x00" in name:
        raise ExtractError(f"member {m.name!r} would be written outside the model directory")
    return "" if norm == "." else norm


def _members(tf: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Regular files and directories (links, devices and FIFOs are left out), bounded."""
    out = []
    total = count = 0
    for m in tf:
        count += 1
        total += max(0, m.size)
        if count > TAR_MEMBERS or total > TAR_BYTES:
            raise ExtractError(f"the archive is too large to extract (more than {TAR_MEMBERS} members "
                               f"or {TAR_BYTES // 2**30} GB)")
        if m.isreg() or m.isdir():
            _member_name(m)          # refuse escaping names even where the filter would
            out.append(m)
    return out


def _extract_validated(tf: tarfile.TarFile, members: list[tarfile.TarInfo], dest: Path) -> None:
    """Extraction without ``tarfile``'s filters: each validated regular member written by us."""
    for m in members:
        rel = _member_name(m)
        if not rel:
            continue
        target = dest / rel
        for parent in reversed(target.parents):
            if parent == dest or dest in parent.parents:
                if parent.is_symlink():
                    raise ExtractError(f"member {m.name!r} passes through a link")
                if not parent.exists():
                    _mkdir(parent)
        if m.isdir():
            if target.is_symlink():
                raise ExtractError(f"member {m.name!r} passes through a link")
            _mkdir(target)
            continue
        fh = tf.extractfile(m)
        if fh is None:
            continue
        if target.exists() or target.is_symlink():
            target.unlink()
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            while True:
                chunk = fh.read(1 << 20)
                if not chunk:
                    break
                _write_all(out, chunk)
        finally:
            os.close(out)


def extract_archive(archive: Path, dest: Path, use_filter: bool | None = None) -> tuple[int, int]:
    """Safely extract ``archive`` into ``dest``. Returns (files, bytes). Raises ExtractError."""
    use_filter = HAS_DATA_FILTER if use_filter is None else use_filter
    _mkdir(dest)
    try:
        fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise ExtractError(f"cannot open {archive.name}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "rb") as fh, tarfile.open(fileobj=fh, mode="r:*") as tf:
            members = _members(tf)
            if use_filter:
                tf.extractall(dest, members=members, filter="data")
            else:
                _extract_validated(tf, members, dest)
    except ExtractError:
        raise
    except (tarfile.TarError, OSError, EOFError, ValueError) as e:
        raise ExtractError(f"{type(e).__name__}: {e}") from e
    files = total = 0
    for dirpath, dirnames, filenames in os.walk(dest):          # readable by the job's own uid
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755, follow_symlinks=False)
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                os.chmod(p, 0o644)
                files += 1
                total += st.st_size
    return files, total


def prepare(job_dir: Path, *, args: dict[str, Any], folder: Path | None = None,
            extract: Path | None = None) -> PreparedJob:
    """Write a job's input below ``job_dir`` (created here). Raises ExtractError for archives."""
    _mkdir(job_dir)
    files = total = 0
    notes: list[str] = []
    if folder is not None:
        n, b, notes = copy_folder(Path(folder), job_dir / "folder")
        files, total = files + n, total + b
    if extract is not None:
        n, b = extract_archive(Path(extract), job_dir / "model")
        files, total = files + n, total + b
    data = json.dumps(args).encode()
    fd = os.open(job_dir / "args.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.fchmod(fd, 0o644)
        _write_all(fd, data)
    finally:
        os.close(fd)
    for d in ("home", "tmp"):         # used in place only by unsandboxed runs
        _mkdir(job_dir / d)
    os.chmod(job_dir / "tmp", 0o1777)
    return PreparedJob(job_dir, total + len(data), files + 1, folder is not None, extract is not None,
                       tuple(notes))
