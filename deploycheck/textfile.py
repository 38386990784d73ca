"""Transition shim: the one reader of student bytes is :mod:`deploycheck.files`."""
from pathlib import Path

from deploycheck import files
from deploycheck.files import TextFile, decode, is_binary  # noqa: F401


def _base(folder) -> Path:  # noqa: ANN001
    return Path(getattr(folder, "path", folder))


def read_text(folder, rel: str, limit: int = files.DEFAULT_LIMIT) -> TextFile:  # noqa: ANN001
    return files.read_text(_base(folder), rel, limit)


def read_bytes(folder, rel: str, limit: int = files.DEFAULT_LIMIT):  # noqa: ANN001, ANN201
    b = files.read_bytes(_base(folder), rel, limit)
    return b.data, b.problem, b.truncated
