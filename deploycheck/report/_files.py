"""Atomic writes and the one CSV writer (every cell neutralised against formula injection)."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable, Sequence

from deploycheck import files
from deploycheck.report.escape import csv_cell


def write_text(path: Path, text: str) -> Path:
    """UTF-8; a student file name that is not UTF-8 is written in its display form (files.printable)."""
    return files.atomic_write(path, files.printable(text).encode("utf-8"))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 CSV (CRLF line ends, quotes where needed), UTF-8 without a byte-order mark."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([csv_cell(h) for h in header])
    for r in rows:
        w.writerow([csv_cell(v) for v in r])
    return buf.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    return write_text(path, csv_text(header, rows))
