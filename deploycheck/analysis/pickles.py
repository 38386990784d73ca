"""Read a pickle / joblib file WITHOUT unpickling it: :func:`scan_pickle` and :func:`scan_file` give a
:class:`PickleScan`.

The scan reports

* every global the stream references, which is what an unpickler would import (judged by
  :mod:`deploycheck.analysis.pickle_safety`);
* every ``_sklearn_version`` value: ``BaseEstimator.__getstate__`` adds that key to the state dict
  of each estimator (scikit-learn ``sklearn/base.py``), so the version that pickled the model is in
  the stream;
* the container format: plain pickle, joblib, or joblib compressed with zlib/gzip/bz2/xz/lzma/lz4;
* the pickle protocol, and whether joblib wrote its arrays with alignment padding (joblib >= 1.2);
* why the walk stopped early, if it did.

:mod:`deploycheck.analysis.pickle_format` turns these into the facts an image's loader depends on.

Compressed files are decompressed in memory with a hard cap (:mod:`deploycheck.analysis.pickle_compression`);
the stream is walked by a symbolic stack machine that never imports or calls anything
(:mod:`deploycheck.analysis.pickle_machine`, which also knows joblib's raw array layout).
"""
from __future__ import annotations

import lzma
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from deploycheck.analysis.pickle_compression import MAX_DECOMPRESSED, TooLarge, compression_kind, decompress
from deploycheck.analysis.pickle_machine import BadPickle, Walker
from deploycheck.analysis.pickle_params import fitted_digest
from deploycheck.analysis.pickle_values import describe_top


@dataclass
class PickleScan:
    globals: list[tuple[str, str]] = field(default_factory=list)   # (module, name), first-seen order, unique
    sklearn_versions: list[str] = field(default_factory=list)      # unique, first-seen order
    format: str = "pickle"          # "pickle" | "joblib" | "joblib-compressed:<zlib|gzip|bz2|xz|lzma|lz4|zfile>"
    error: str | None = None        # why the walk stopped early (None: the whole stream was read)
    top: str | None = None          # "module.Class" of the top-level object, when known
    params: str | None = None       # digest of the fitted parameters (deploycheck.analysis.pickle_params)
    protocol: int | None = None     # pickle protocol of the (first) stream: PROTO's argument, 0 without one (0-1)
    aligned: bool | None = None     # joblib arrays written with alignment padding (joblib >= 1.2); None: no arrays

    @property
    def sklearn_version(self) -> str | None:
        """The version of the outermost estimator (the last one written), else the first found."""
        return self.sklearn_versions[-1] if self.sklearn_versions else None


def scan_pickle(data: bytes, max_decompressed: int = MAX_DECOMPRESSED) -> PickleScan:
    """Walk a pickle/joblib byte string without unpickling it. Never raises."""
    scan = PickleScan()
    try:
        kind = compression_kind(data)
        if kind:
            scan.format = f"joblib-compressed:{kind}"
            try:
                data = decompress(data, kind, max_decompressed)
            except TooLarge:
                scan.error = (f"too large: decompresses to more than {max_decompressed // (1024 * 1024)} MB")
                return scan
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as e:
                scan.error = f"not a valid {kind} file: {e}"
                return scan
        if not data:
            scan.error = "the file is empty"
            return scan
        scan.protocol = data[1] if data[:1] == b"\x80" and len(data) > 1 else 0      # no PROTO: protocol 0 or 1
        w = Walker(data, scan.globals, scan.sklearn_versions)
        try:
            top = w.run()
            scan.top = describe_top(top)
            scan.params = fitted_digest(top)
        except BadPickle as e:
            scan.error = f"not a readable pickle: {e}"
        except (ValueError, EOFError, UnicodeDecodeError, IndexError, KeyError, OverflowError, struct.error) as e:
            scan.error = f"not a readable pickle: {e}"
        if w.joblib and not kind:
            scan.format = "joblib"
        scan.aligned = w.aligned
    except Exception as e:  # defensive: hostile bytes must never raise out of here
        scan.error = f"not a readable pickle: {type(e).__name__}: {e}"
    return scan


def scan_file(path: str | Path, limit: int = MAX_DECOMPRESSED) -> PickleScan:
    """Read at most ``limit`` bytes of a regular file (symlinks refused) and scan them."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        return PickleScan(error=f"cannot open: {e.strerror}")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        return PickleScan(error=f"too large: more than {limit // (1024 * 1024)} MB")
    return scan_pickle(data)
