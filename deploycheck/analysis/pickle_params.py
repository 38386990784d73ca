"""The fitted parameters of a pickled model, as one digest, read from the symbolic pickle machine's
result (:class:`~deploycheck.analysis.pickle_machine.Walker`): nothing is imported, created or called.

Two pickles of the same fitted model give the same digest whatever wrote them: plain ``pickle``
(numpy's ``_reconstruct`` + ``__setstate__`` tuple, or protocol 5's ``_frombuffer``) or ``joblib``
(``NumpyArrayWrapper`` + raw bytes), compressed or not, another protocol, another scikit-learn
version (``_sklearn_version`` is left out), another ``n_jobs``: only the *fitted* attributes count
(scikit-learn's convention: public names ending in ``_``, e.g. ``coef_``, ``classes_``,
``tree_``), with every array reduced to (shape, dtype, digest of its bytes), recursively through
pipelines and ensembles (``steps``, ``estimators_``...). Used by the class's integrity signals
(:mod:`deploycheck.classroom.integrity`) to find two students handing in one model.
"""
from __future__ import annotations

import hashlib
from typing import Any

from deploycheck.analysis.pickle_values import Blob, Global, Instance

MAX_NODES = 200_000          # symbolic values visited per pickle (hostile input)
MAX_DEPTH = 60
MIN_ARRAY_BYTES = 64         # below this a model's fitted state says too little to tell students apart

_ARRAY_FUNCS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}


# estimator parameters that hold the fitted estimators themselves (Pipeline, ColumnTransformer, Voting...)
_HOLDERS = {"steps", "estimators", "transformers", "estimator", "base_estimator", "final_estimator"}


class _TooBig(Exception):
    pass


def _name(g: Any) -> str:
    return f"{g.module}.{g.name}" if isinstance(g, Global) else "?"


def _typestr(dtype: Any) -> str:
    if isinstance(dtype, Instance) and isinstance(dtype.args, tuple) and dtype.args and isinstance(dtype.args[0], str):
        return dtype.args[0]
    return "?"


def _blob(v: Any) -> Blob | None:
    """A bytes value: a :class:`Blob`, or protocol 2's ``_codecs.encode(text, "latin1")``."""
    if isinstance(v, Blob):
        return v
    if isinstance(v, Instance) and isinstance(v.func, Global) and (v.func.module, v.func.name) == ("_codecs", "encode") \
            and isinstance(v.args, tuple) and len(v.args) == 2 and isinstance(v.args[0], str):
        return Blob(v.args[0].encode("latin-1", "replace"))
    return None


class _Canon:
    """Canonical, hashable form of the fitted state; counts the array bytes it saw."""

    def __init__(self) -> None:
        self.nodes = 0
        self.array_bytes = 0

    def array(self, shape: Any, dtype: Any, blob: Any) -> tuple[Any, ...]:
        blob = _blob(blob)
        if isinstance(blob, Blob):
            self.array_bytes += blob.size
            return ("array", self.plain(shape, 0), _typestr(dtype), blob.digest.hex())
        return ("array", self.plain(shape, 0), _typestr(dtype), "?")

    def instance(self, obj: Instance, depth: int) -> Any:
        f = obj.func
        if isinstance(f, Global) and f.name == "NumpyArrayWrapper":          # joblib
            raw = obj.state[0] if isinstance(obj.state, tuple) and obj.state else obj.state
            wst: dict[Any, Any] = raw if isinstance(raw, dict) else {}
            if obj.data is None:                                              # an object array: nested pickle
                return ("array", self.plain(wst.get("shape"), 0), _typestr(wst.get("dtype")), "objects")
            return self.array(wst.get("shape"), wst.get("dtype"), obj.data)
        if isinstance(f, Global) and (f.module, f.name) in _ARRAY_FUNCS:
            if f.name == "_frombuffer" and isinstance(obj.args, tuple) and len(obj.args) >= 3:
                return self.array(obj.args[2], obj.args[1], obj.args[0])
            st = obj.state
            if isinstance(st, tuple) and len(st) >= 5:                       # (version, shape, dtype, fortran, data)
                data = st[4]
                if isinstance(data, list):                                   # an object array: its items
                    return ("array", self.plain(st[1], 0), _typestr(st[2]), self.fitted(data, depth + 1))
                return self.array(st[1], st[2], data)
            return ("array", "?")
        if _blob(obj) is not None:
            return self.plain(_blob(obj), depth)
        if isinstance(f, Global) and f.module in ("copyreg", "copy_reg") and f.name == "_reconstructor" \
                and isinstance(obj.args, tuple) and obj.args:
            f = obj.args[0]
        return ("obj", _name(f), self.fitted(obj.state, depth + 1))

    def fitted(self, v: Any, depth: int) -> Any:
        """An object's state. An estimator's (scikit-learn's ``__getstate__`` adds ``_sklearn_version``)
        keeps only its fitted attributes and the estimators it holds (``steps``, ``estimators``...);
        any other object's (a ``Tree``'s nodes and values) is kept whole."""
        if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], dict):    # (state, slotstate)
            return self.fitted(v[0], depth)
        if not (isinstance(v, dict) and "_sklearn_version" in v):
            return self.plain(v, depth)
        self._count(depth)
        keep = []
        for k, x in v.items():
            if isinstance(k, str) and ((k.endswith("_") and not k.startswith("_")) or k in _HOLDERS):
                keep.append((k, self.plain(x, depth + 1)))
        return ("state", tuple(sorted(keep, key=lambda kv: kv[0])))

    def plain(self, v: Any, depth: int) -> Any:
        self._count(depth)
        if isinstance(v, Instance):
            return self.instance(v, depth)
        if isinstance(v, Blob):
            self.array_bytes += v.size
            return ("bytes", v.digest.hex())
        if isinstance(v, (list, tuple)):
            return ("seq", tuple(self.plain(x, depth + 1) for x in v))
        if isinstance(v, dict):
            return ("dict", tuple(sorted(((repr(k), self.plain(x, depth + 1)) for k, x in v.items()),
                                         key=lambda kv: kv[0])))
        if isinstance(v, float):
            return ("f", v.hex())
        if isinstance(v, (str, int, bool)) or v is None:
            return v
        if isinstance(v, Global):
            return ("g", _name(v))
        return "?"

    def _count(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _TooBig


def fitted_digest(top: Any) -> str | None:
    """The digest (hex) of the fitted parameters of the pickled object ``top`` (what
    :meth:`Walker.run` returned), or None when it has too little array data to mean anything (an
    unfitted estimator, a dict of settings) or is too large to canonicalise."""
    c = _Canon()
    try:
        form = c.plain(top, 0)
    except (_TooBig, RecursionError):
        return None
    if c.array_bytes < MIN_ARRAY_BYTES:
        return None
    return hashlib.blake2b(repr(form).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
