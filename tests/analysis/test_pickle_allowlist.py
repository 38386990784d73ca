"""The pickle allowlist: exact (module, name) matches, dotted names never, real models always."""
from __future__ import annotations

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.utils import all_estimators

from deploycheck.analysis.pickle_safety import global_allowed, is_safe
from deploycheck.analysis.pickles import scan_pickle


def _short(s: str) -> bytes:
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def stack_global(module: str, name: str, arg: str = "id") -> bytes:
    """A protocol-4 pickle calling module.name(arg) through STACK_GLOBAL."""
    return b"\x80\x04" + _short(module) + _short(name) + b"\x93" + _short(arg) + b"\x85R."


@pytest.mark.parametrize("module,name", [
    ("sklearn", "os.system"), ("sklearn.utils", "os.path.join"), ("numpy", "core.multiarray._reconstruct"),
    ("sklearn.tree._classes", "DecisionTreeClassifier.__init__"), ("builtins", "getattr"), ("builtins", "eval"),
    ("numpy", "load"), ("numpy", "fromfile"), ("numpy", "memmap"), ("numpy.lib.npyio", "load"), ("numpy", "testing"),
    ("joblib", "load"), ("sklearn.utils", "Memory"), ("sklearn.utils", "Parallel"), ("sklearn.utils.fixes", "np"),
    ("scipy.io", "loadmat"), ("sklearn", "__import__"), ("sklearn.datasets", "fetch_openml"), ("os", "system"),
    ("posix", "system"), ("subprocess", "Popen"), ("sklearn.utils._testing", "TempMemmap"), ("", ""),
])
def test_attacks_are_unsafe(module, name):
    assert not global_allowed(module, name)
    ok, offending = is_safe(scan_pickle(stack_global(module, name)))
    assert not ok and offending


def test_dotted_sklearn_os_system_is_never_loaded(tmp_path):
    canary = tmp_path / "ran"
    data = stack_global("sklearn", "os.system", f"touch {canary}")
    ok, offending = is_safe(scan_pickle(data))
    assert not ok and offending == ["sklearn.os.system"]
    assert not canary.exists()


@pytest.mark.parametrize("module,name", [
    ("sklearn.tree._classes", "DecisionTreeClassifier"), ("sklearn.tree.tree", "DecisionTreeClassifier"),
    ("sklearn.tree._tree", "Tree"), ("sklearn.ensemble.forest", "RandomForestClassifier"),
    ("sklearn.ensemble._gb_losses", "BinomialDeviance"), ("sklearn.linear_model.logistic", "LogisticRegression"),
    ("sklearn.preprocessing.data", "StandardScaler"), ("sklearn.linear_model._sgd_fast", "Hinge"),
    ("sklearn.neighbors._kd_tree", "KDTree"), ("sklearn.metrics._classification", "accuracy_score"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"), ("numpy", "dtype"),
    ("numpy", "log1p"), ("numpy", "float64"), ("scipy.sparse._csr", "csr_matrix"), ("scipy.sparse.csr", "csr_matrix"),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"), ("copyreg", "_reconstructor"), ("builtins", "set"),
])
def test_real_model_globals_are_allowed(module, name):
    assert global_allowed(module, name)


def _fitted_estimators():
    X, y = load_iris(return_X_y=True)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in all_estimators():
            try:
                est = cls()
            except TypeError:           # meta-estimators need an estimator argument
                continue
            try:
                if getattr(est, "_estimator_type", None) == "regressor":
                    est.fit(X[:, :3], X[:, 3])
                else:
                    est.fit(X, y)
            except Exception:  # noqa: BLE001 - estimators that need other data are pickled unfitted
                pass
            out.append((name, est))
    return out


def test_every_scikit_learn_estimator_pickles_safe():
    ests = _fitted_estimators()
    assert len(ests) > 100
    bad = {}
    for name, est in ests:
        for blob in (pickle.dumps(est, protocol=2), pickle.dumps(est, protocol=5), _joblib(est, 0), _joblib(est, 3)):
            ok, offending = is_safe(scan_pickle(blob))
            if not ok:
                bad[name] = offending or scan_pickle(blob).error
    assert bad == {}


def _joblib(obj, compress):
    b = io.BytesIO()
    joblib.dump(obj, b, compress=compress)
    return b.getvalue()


@pytest.mark.parametrize("obj", [
    np.arange(5), np.float32(1.5), np.dtype("f8"), np.random.RandomState(0), np.random.default_rng(0),
    sp.csr_matrix(np.eye(3)), sp.csc_matrix(np.eye(3)), sp.coo_matrix(np.eye(3)), np.ma.masked_array([1, 2]),
    np.log1p, np.float64, {"a": [1, 2.0, "x", None, True]},
], ids=lambda o: type(o).__name__)
def test_numpy_and_scipy_objects_are_safe(obj):
    for proto in (2, 4, 5):
        assert is_safe(scan_pickle(pickle.dumps(obj, protocol=proto))) == (True, [])


def test_the_data_file_is_the_generators_output_and_denies_what_the_generator_denies():
    import importlib.util
    import json
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_pickle_allowlist", root / "scripts" / "gen_pickle_allowlist.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    path = root / "deploycheck" / "analysis" / "pickle_allowlist.json"
    doc = json.loads(path.read_text())
    assert path.read_text() == gen.to_json(doc["from"], doc["allowed"])     # not edited by hand
    assert all(names == sorted(set(names) - gen.DENY_NAMES) and names for names in doc["allowed"].values())
    assert "DecisionTreeClassifier" in doc["allowed"]["sklearn.tree._classes"]
