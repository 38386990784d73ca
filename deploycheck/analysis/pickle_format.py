"""A model pickle's format facts, read from its bytes without loading it (``ArtifactInfo.pickle``):
what the loader on the serving image must support, beyond the scikit-learn label.

* **container**: a plain pickle (``pickle.dump``) or a joblib file (``joblib.dump``: numpy arrays
  replaced by ``NumpyArrayWrapper`` objects followed by their raw bytes, joblib >= 0.10); joblib
  < 0.10 wrote ``NDArrayWrapper`` objects and companion ``.npy`` files instead.
* **joblib era**: since joblib 1.2.0 (2022-09-16) ``NumpyArrayWrapper`` carries
  ``numpy_array_alignment_bytes`` and, in a seekable file, a padding length byte and padding before
  each array's data (joblib/joblib tag 1.2.0, ``joblib/numpy_pickle.py``: ``write_array`` /
  ``read_array``). An older joblib ignores the attribute and reads the padding as array data: the
  arrays come out shifted and the stream breaks ("invalid load key").
* **numpy**: numpy 2.0 renamed ``numpy.core`` to ``numpy._core`` (numpy/numpy #24634), so a
  pickle made under numpy 2 imports ``numpy._core.multiarray`` etc. numpy < 1.26 has no
  ``numpy._core`` ("No module named 'numpy._core'"); 1.26 ships stubs for some of its modules
  (#24906: ``multiarray``, ``umath``, ``_multiarray_umath``, ``_internal``, ``_dtype``,
  ``_dtype_ctypes``; checked in numpy 1.26.4) and fails on the others (#28340: ``numpy._core.numeric``).
  numpy 2 still loads ``numpy.core`` pickles (with a DeprecationWarning).
* **protocol**: protocol 5 needs Python >= 3.8, 4 >= 3.4 (``pickle`` module documentation); joblib
  writes ``pickle.DEFAULT_PROTOCOL`` (4 on Python 3.8+), ``pickle.dump(..., HIGHEST_PROTOCOL)`` 5.
* **compression**: joblib reads zlib/gzip/bz2/lzma/xz with the standard library, lz4 only with the
  ``lz4`` package installed (``joblib/compressor.py``: "LZ4 is not installed").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploycheck.analysis.pickles import PickleScan

ALIGNED_SINCE = "1.2.0"                 # the joblib release that writes aligned arrays
NUMPY_1_26_STUBS = frozenset({"multiarray", "umath", "_multiarray_umath", "_internal", "_dtype", "_dtype_ctypes"})
PROTOCOL_PYTHON = {5: (3, 8), 4: (3, 4), 3: (3, 0)}


@dataclass(frozen=True)
class PickleFormat:
    container: str                        # "pickle" | "joblib" | "joblib < 0.10"
    compression: str = ""                 # "" | "zlib" | "gzip" | "bz2" | "xz" | "lzma" | "lz4" | "zfile"
    protocol: int | None = None           # 0 also stands for protocol 1 (no PROTO opcode)
    aligned: bool | None = None           # joblib arrays with alignment padding; None: no joblib arrays
    numpy_major: int | None = None        # 2: numpy._core module paths; 1: numpy.core; None: neither
    numpy_core: tuple[str, ...] = ()      # the numpy._core submodules the stream imports

    @property
    def joblib_needed(self) -> str | None:
        """The oldest joblib that reads the file correctly (None: any joblib >= 0.10)."""
        return ALIGNED_SINCE if self.aligned else None

    @property
    def python_needed(self) -> tuple[int, int] | None:
        return PROTOCOL_PYTHON.get(self.protocol or 0)

    def numpy_loads(self, numpy: str) -> bool:
        """Whether numpy release ``numpy`` imports every numpy module path the pickle names."""
        if self.numpy_major != 2:
            return True
        v = _version(numpy)
        if v >= (2, 0):
            return True
        return v >= (1, 26) and set(self.numpy_core) <= NUMPY_1_26_STUBS

    @property
    def described(self) -> str:
        """"a joblib file with aligned arrays (joblib >= 1.2), numpy 2 (numpy._core), pickle protocol 4"."""
        what = {"pickle": "a pickle", "joblib": "a joblib file", "joblib < 0.10": "an old (joblib < 0.10) file"}
        parts = [what.get(self.container, self.container)]
        if self.aligned:
            parts.append(f"with aligned arrays (written by joblib >= {ALIGNED_SINCE[:3]})")
        if self.numpy_major == 2:
            parts.append("saved under numpy 2 (it imports numpy._core)")
        if self.protocol is not None:
            parts.append(f"pickle protocol {self.protocol or '0/1'}")
        if self.compression:
            parts.append(f"{self.compression}-compressed")
        return ", ".join(parts)

    def to_data(self) -> dict[str, object]:
        return {"container": self.container, "compression": self.compression, "protocol": self.protocol,
                "aligned": self.aligned, "numpy": self.numpy_major}


def _version(v: str) -> tuple[int, int]:
    parts = (v or "0.0").split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0) if len(parts) > 1 else 0
    except ValueError:
        return 0, 0


def pickle_format(scan: PickleScan) -> PickleFormat:
    """The format facts of one scanned model file."""
    fmt = scan.format or "pickle"
    compression = fmt.split(":", 1)[1] if fmt.startswith("joblib-compressed:") else ""
    modules = [m for m, _n in scan.globals]
    core = tuple(sorted({m.split(".", 2)[2] for m in modules if m.startswith("numpy._core.") and m.count(".") >= 2}
                        | ({"multiarray"} if "numpy._core" in modules else set())))
    numpy_major = 2 if any(m == "numpy._core" or m.startswith("numpy._core.") for m in modules) else \
        1 if any(m == "numpy.core" or m.startswith("numpy.core.") for m in modules) else None
    old = compression == "zfile" or any(n == "NDArrayWrapper" for _m, n in scan.globals)
    container = "joblib < 0.10" if old else "joblib" if (fmt.startswith("joblib") or scan.aligned is not None) \
        else "pickle"
    return PickleFormat(container, compression, scan.protocol, scan.aligned, numpy_major, core)
