"""deploycheck.analysis.pickles: versions and globals read from pickle/joblib bytes without unpickling."""
from __future__ import annotations

import io
import os
import pickle

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deploycheck.analysis.pickle_safety import global_allowed, is_safe
from deploycheck.analysis.pickles import PickleScan, scan_pickle
from tests.helpers import dump_with_version


@pytest.fixture(scope="module")
def models():
    X, y = load_iris(return_X_y=True)
    Xw, yw = load_wine(return_X_y=True, as_frame=True)      # DataFrame: feature_names_in_ is an object array
    return {
        "logreg": LogisticRegression(max_iter=500).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(Xw, yw),
        "strlabels": LogisticRegression(max_iter=500).fit(X, np.array(["setosa", "versicolor", "virginica"])[y]),
    }


def _joblib_bytes(obj, compress):
    b = io.BytesIO()
    joblib.dump(obj, b, compress=compress)
    return b.getvalue()


COMPRESS = [(0, "joblib"), (3, "joblib-compressed:zlib"), (("lzma", 3), "joblib-compressed:lzma"),
            (("gzip", 3), "joblib-compressed:gzip"), (("bz2", 3), "joblib-compressed:bz2"),
            (("xz", 3), "joblib-compressed:xz")]


@pytest.mark.parametrize("name", ["logreg", "forest", "pipeline", "strlabels"])
@pytest.mark.parametrize("compress,fmt", COMPRESS, ids=[str(c) for c, _ in COMPRESS])
def test_joblib_version_found(models, name, compress, fmt):
    scan = scan_pickle(_joblib_bytes(models[name], compress))
    assert scan.error is None
    assert scan.format == fmt
    assert scan.sklearn_versions == [sklearn.__version__]
    assert scan.top and scan.top.startswith("sklearn.")
    assert is_safe(scan) == (True, [])


@pytest.mark.parametrize("proto", [0, 2, 4, 5])
def test_plain_pickle_all_protocols(models, proto):
    scan = scan_pickle(pickle.dumps(models["pipeline"], protocol=proto))
    assert scan.format == "pickle" and scan.error is None
    assert scan.sklearn_version == sklearn.__version__
    assert scan.top == "sklearn.pipeline.Pipeline"
    assert ("sklearn.pipeline", "Pipeline") in scan.globals
    assert is_safe(scan)[0]


def test_stack_global_resolved_through_memo(models):
    # protocol 4: module/name strings are memoized and fetched again with BINGET for the 2nd estimator
    scan = scan_pickle(pickle.dumps([models["logreg"], models["logreg"]], protocol=4))
    assert ("sklearn.linear_model._logistic", "LogisticRegression") in scan.globals
    assert all(m != "<unresolved>" for m, _ in scan.globals)


def test_dump_with_version_fakes_an_old_release(models, tmp_path):
    p = dump_with_version(models["forest"], tmp_path / "m.joblib", "1.2.1", compress=3)
    assert sklearn.base.__version__ == sklearn.__version__      # restored
    scan = scan_pickle(p.read_bytes())
    assert scan.sklearn_versions == ["1.2.1"]


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_malicious_pickle_is_flagged_and_never_loaded(tmp_path):
    canary = tmp_path / "canary"
    data = pickle.dumps(_Evil(canary))
    for blob in (data, _joblib_bytes(_Evil(canary), 3)):
        scan = scan_pickle(blob)
        ok, offending = is_safe(scan)
        assert not ok
        assert offending and offending[0].endswith(".system")      # posix.system / nt.system
        assert not canary.exists()


@pytest.mark.parametrize("module,name,allowed", [
    ("sklearn.linear_model._logistic", "LogisticRegression", True),
    ("numpy._core.multiarray", "_reconstruct", True),
    ("numpy", "dtype", True),
    ("scipy.sparse._csr", "csr_matrix", True),
    ("joblib.numpy_pickle", "NumpyArrayWrapper", True),
    ("collections", "OrderedDict", True),
    ("copyreg", "_reconstructor", True),
    ("_codecs", "encode", True),
    ("builtins", "set", True),
    ("builtins", "eval", False),
    ("builtins", "exec", False),
    ("builtins", "getattr", False),
    ("builtins", "__import__", False),
    ("__builtin__", "open", False),
    ("os", "system", False),
    ("posix", "system", False),
    ("subprocess", "Popen", False),
    ("runpy", "run_path", False),
    ("importlib", "import_module", False),
    ("socket", "socket", False),
    ("pickle", "loads", False),
    ("numpy", "load", False),
    ("numpy.testing._private.utils", "runstring", False),
    ("sklearn.utils._testing", "assert_run_python_script_without_output", False),
    ("sklearn.datasets", "fetch_openml", False),
    ("__main__", "MyTransformer", False),
])
def test_allowlist(module, name, allowed):
    assert global_allowed(module, name) is allowed


@pytest.mark.parametrize("blob,word", [
    (b"", "empty"),
    (b"\x80\x04garbage", "not a readable pickle"),
    (b"\x1f\x8bnot really gzip", "gzip"),
    (b"hello world, not a pickle", "not a readable pickle"),
])
def test_garbage_never_raises(blob, word):
    scan = scan_pickle(blob)
    assert isinstance(scan, PickleScan)
    assert scan.error and word in scan.error
    assert not is_safe(scan)[0]


def test_truncated_joblib_reports_error(models):
    data = _joblib_bytes(models["forest"], 0)
    scan = scan_pickle(data[: len(data) // 2])
    assert scan.error


def test_decompression_is_capped(models):
    data = _joblib_bytes(models["forest"], 3)
    scan = scan_pickle(data, max_decompressed=1000)
    assert scan.error and "too large" in scan.error


def test_zlib_bomb_is_not_inflated_beyond_cap():
    import zlib
    bomb = zlib.compress(b"\0" * (50 * 1024 * 1024), 9)         # 50 MB of zeros in ~50 KB
    scan = scan_pickle(bomb, max_decompressed=1024 * 1024)
    assert scan.error and "too large" in scan.error
