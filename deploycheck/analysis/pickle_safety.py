"""Is a scanned pickle safe to load? Default-deny, exact (module, name) matches only.

A global is allowed when its module is listed and its name is one of that module's allowed names,
with no dots: a dotted name (pickle protocol 4 resolves ``STACK_GLOBAL('sklearn', 'os.system')`` to
``sklearn.os.system``, i.e. ``os.system``) is never allowed. scikit-learn's classes (every version a
serving image uses, old module paths included) are generated into the data file
``pickle_allowlist.json`` beside this module (by scripts/gen_pickle_allowlist.py); the rest is
listed here by hand. A scan that could not
read the whole stream is never safe: flagged pickles are never loaded.
"""
from __future__ import annotations

import functools
import json
from importlib import resources

from deploycheck.analysis.pickles import PickleScan


_EXACT: dict[str, frozenset[str]] = {
    "builtins": frozenset({"object", "set", "frozenset", "slice", "range", "complex", "bytearray", "dict", "list",
                           "tuple", "int", "float", "bool", "str", "bytes", "NoneType", "Ellipsis", "NotImplemented"}),
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "copyreg": frozenset({"_reconstructor", "__newobj__"}),
    "copy_reg": frozenset({"_reconstructor"}),
    "_codecs": frozenset({"encode"}),
    "functools": frozenset({"partial"}),
    "datetime": frozenset({"datetime", "date", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "fractions": frozenset({"Fraction"}),
    # numpy: array, scalar and dtype reconstruction (numpy 1.x ``numpy.core``, 2.x ``numpy._core``)
    "numpy": frozenset({"ndarray", "dtype", "ufunc", "matrix", "mean", "median", "average", "sum", "max", "min",
                        "amax", "amin", "std", "var", "prod", "nanmean", "nanmedian", "nansum", "nanmax", "nanmin"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "numpy.ma": frozenset({"MaskedArray"}),
    "numpy.ma.core": frozenset({"MaskedArray", "_mareconstruct"}),
    "numpy.random": frozenset({"__RandomState_ctor"}),
    "numpy.random.mtrand": frozenset({"RandomState"}),
    "numpy.random._pickle": frozenset({"__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"}),
    "numpy.random._mt19937": frozenset({"MT19937"}),
    "numpy.random._pcg64": frozenset({"PCG64", "PCG64DXSM"}),
    "numpy.random._philox": frozenset({"Philox"}),
    "numpy.random._sfc64": frozenset({"SFC64"}),
    "numpy.random.bit_generator": frozenset({"SeedSequence", "__pyx_unpickle_SeedSequence"}),
    "numpy.random._generator": frozenset({"Generator"}),
    # pure numpy functions estimators take as parameters (FeatureAgglomeration's pooling_func...)
    "numpy.core.fromnumeric": frozenset({"mean", "sum", "amax", "amin", "std", "var", "prod"}),
    # scikit-learn helpers that rebuild its own objects (Cython ``newObj(cls) = cls.__new__(cls)``,
    # the k-means loops BisectingKMeans keeps), and scipy's B-splines (SplineTransformer)
    "sklearn.neighbors._kd_tree": frozenset({"newObj"}), "sklearn.neighbors._ball_tree": frozenset({"newObj"}),
    "sklearn.neighbors.kd_tree": frozenset({"newObj"}), "sklearn.neighbors.ball_tree": frozenset({"newObj"}),
    "sklearn.neighbors._binary_tree": frozenset({"newObj"}),
    "sklearn.neighbors._dist_metrics": frozenset({"newObj"}), "sklearn.neighbors.dist_metrics": frozenset({"newObj"}),
    "sklearn.metrics._dist_metrics": frozenset({"newObj"}),
    "sklearn.cluster._kmeans": frozenset({"_kmeans_single_lloyd", "_kmeans_single_elkan"}),
    "scipy.interpolate._bsplines": frozenset({"BSpline"}),
    "scipy.interpolate._fitpack2": frozenset({"UnivariateSpline"}),
    "scipy._lib.array_api_compat.numpy._aliases": frozenset({"asarray"}),
    # joblib's array wrappers (joblib/numpy_pickle.py, numpy_pickle_compat.py)
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"}),
    "joblib.numpy_pickle_compat": frozenset({"NDArrayWrapper", "ZNDArrayWrapper"}),
    "sklearn.externals.joblib.numpy_pickle": frozenset({"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"}),
}
_EXACT["__builtin__"] = _EXACT["builtins"]


@functools.cache
def generated_allowlist() -> dict[str, frozenset[str]]:
    """The generated part: module -> the exact names allowed in it (read once per process)."""
    doc = json.loads(resources.files("deploycheck.analysis").joinpath("pickle_allowlist.json").read_text("utf-8"))
    return {module: frozenset(names) for module, names in doc["allowed"].items()}


def global_allowed(module: str, name: str) -> bool:
    """True only for an exact (module, name) pair of the allowlist (see above)."""
    allowed = generated_allowlist()
    if not isinstance(module, str) or not isinstance(name, str) or not name or "." in name:
        return False
    if name in _EXACT.get(module, ()) or name in allowed.get(module, ()):
        return True
    # Cython's pickling helper of an allowed class, in the same module
    return name.startswith("__pyx_unpickle_") and name[len("__pyx_unpickle_"):] in allowed.get(module, ())


def is_safe(scan: PickleScan) -> tuple[bool, list[str]]:
    """(safe, offending "module.name" globals). A scan that could not read the whole stream is not safe."""
    offending = [f"{m}.{n}" for m, n in scan.globals if not global_allowed(m, n)]
    return (not offending and scan.error is None), offending
