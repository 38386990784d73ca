"""A pickle's format facts read from its bytes (analysis.pickle_format) and compared with an image's
build (analysis.image_fit), on real pickles written by each image's own joblib/numpy/Python inside
its runtime environment, and checked against those libraries actually loading them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploycheck.analysis.image_fit import _mismatches, explain_load_failure, image_fit
from deploycheck.analysis.artifact import ArtifactInfo
from deploycheck.analysis.pickle_format import pickle_format
from deploycheck.analysis.pickles import scan_pickle
from deploycheck.runtimes import catalog, envs

TRAIN = r"""
import pickle, sys, joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X, y = load_iris(return_X_y=True)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
out, how = sys.argv[1], sys.argv[2]
if how == "pickle5":
    with open(out, "wb") as fh:
        pickle.dump(model, fh, protocol=5)
elif how == "zlib":
    joblib.dump(model, out, compress=3)
else:
    joblib.dump(model, out)
"""
LOAD = r"""
import sys, joblib
try:
    print("loaded", joblib.load(sys.argv[1]).predict([[5.1, 3.5, 1.4, 0.2]]))
except Exception as e:
    print("failed", type(e).__name__, e)
"""
LOAD_TRACEBACK = r"""
import sys, traceback, joblib
try:
    joblib.load(sys.argv[1])
except Exception:
    print(traceback.format_exc())
"""


def _python(key: str) -> str:
    return envs.ensure(catalog.image(key)).python


def _run(key: str, code: str, *args: str) -> str:
    p = subprocess.run([_python(key), "-I", "-c", code, *args], capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout.strip()


@pytest.fixture(scope="module")
def pickles(tmp_path_factory) -> dict[str, Path]:
    """Pickles written inside the runtime environments (each image's own scikit-learn/numpy/joblib)."""
    d = tmp_path_factory.mktemp("eras")
    made = {}
    for name, key, how in [("aip211", "ai-platform:2.11", "joblib"), ("aip211_zlib", "ai-platform:2.11", "zlib"),
                           ("sm10", "sagemaker:1.0-1", "joblib"), ("sm12", "sagemaker:1.2-1", "joblib"),
                           ("sm142", "sagemaker:1.4-2", "joblib"), ("sm142_p5", "sagemaker:1.4-2", "pickle5")]:
        out = d / f"{name}.bin"
        _run(key, TRAIN, str(out), how)
        made[name] = out
    return made


def fmt(path: Path):
    return pickle_format(scan_pickle(path.read_bytes()))


def test_each_eras_format_facts_from_the_bytes(pickles):
    a = fmt(pickles["aip211"])           # joblib 1.1.1, numpy 1.21.6, Python 3.7
    assert (a.container, a.aligned, a.numpy_major, a.protocol, a.compression) == ("joblib", False, 1, 3, "")
    assert fmt(pickles["aip211_zlib"]).compression == "zlib" and fmt(pickles["aip211_zlib"]).aligned is False
    b = fmt(pickles["sm10"])              # joblib 1.3.2 (aligned), numpy 1.24.1
    assert (b.container, b.aligned, b.numpy_major, b.protocol) == ("joblib", True, 1, 4)
    c = fmt(pickles["sm142"])             # numpy 2.1: numpy._core
    assert (c.aligned, c.numpy_major, c.numpy_core) == (True, 2, ("multiarray",))
    assert "saved under numpy 2" in c.described and "aligned arrays" in c.described
    p5 = fmt(pickles["sm142_p5"])
    assert (p5.container, p5.protocol, p5.numpy_major) == ("pickle", 5, 2) and p5.python_needed == (3, 8)


def test_the_rules_agree_with_the_libraries_loading_them(pickles):
    # numpy 2 pickle: numpy 1.24.1 cannot import numpy._core; numpy 1.26.4 has the multiarray stub
    assert "No module named 'numpy._core'" in _run("sagemaker:1.2-1", LOAD, str(pickles["sm142"]))
    assert _run("vertex:sklearn-cpu.1-6", LOAD, str(pickles["sm142"])).startswith("loaded")   # (and sklearn 1.6 reads 1.4)
    assert "No module named 'numpy._core'" in _run("vertex:sklearn-cpu.1-2", LOAD, str(pickles["sm142"]))
    assert fmt(pickles["sm142"]).numpy_loads("1.26.4") and not fmt(pickles["sm142"]).numpy_loads("1.24.1")
    # joblib 1.3's aligned arrays: joblib 1.1.1 fails; joblib 1.3.2 reads 1.1.1's unaligned file
    assert _run("ai-platform:2.11", LOAD, str(pickles["sm10"])).startswith("failed")
    assert _run("sagemaker:1.0-1", LOAD, str(pickles["aip211"])).startswith("loaded")
    # protocol 5 on Python 3.7
    p = subprocess.run([_python("sagemaker:0.23-1"), "-I", "-c", "import pickle,sys; pickle.load(open(sys.argv[1],'rb'))",
                        str(pickles["sm142_p5"])], capture_output=True, text=True, timeout=120)
    assert "unsupported pickle protocol: 5" in p.stderr


def _info(path: Path, sklearn: str) -> ArtifactInfo:
    scan = scan_pickle(path.read_bytes())
    assert scan.sklearn_version == sklearn
    return ArtifactInfo("file", "model.joblib", sklearn_version=sklearn, format=scan.format,
                        pickle=pickle_format(scan))


def test_image_fit_names_each_cause_and_only_certain_ones_fail(pickles):
    numpy2 = _info(pickles["sm142"], "1.4.2")
    f = image_fit(numpy2, catalog.image("1.2-1"))
    assert not f.ok and {m.what for m in f.certain} == {"scikit-learn", "numpy"}
    assert "saved under numpy 2 (it imports numpy._core.multiarray)" in f.cause and "numpy 1.24.1" in f.cause
    assert f.instead and f.instead[0].key == "sagemaker:1.4-2-py312"      # loads it as it is
    assert 'framework_version="1.4-2-py312"' in f.fixes()
    assert 'uv pip install --python model-env "scikit-learn==1.2.1" "numpy==1.24.1"' in f.fixes()
    assert image_fit(numpy2, catalog.image("1.4-2-py312")).ok
    assert image_fit(numpy2, catalog.image("sklearn-cpu.1-4")).mismatches == ()   # numpy 1.26: the stub loads it
    # joblib 1.3 (aligned) on AI Platform 2.11: its joblib 1.1.1 is assumed: noted, never failed
    aligned = _info(pickles["sm10"], "1.0.2")
    g = image_fit(aligned, catalog.image("ai-platform:2.11"))
    assert g.ok and [m.what for m in g.doubts] == ["joblib"] and "may not load" in g.doubt
    assert explain_load_failure(g, "KeyError: 14\n  File \".../joblib/numpy_pickle.py\"") == (g.doubts[0].cause, False)
    # ... while on SageMaker 0.20.0, whose joblib is scikit-learn's own vendored 0.12, it is certain
    assert any(m.what == "joblib" and m.certain for m in _mismatches(aligned.pickle, "1.0.2", catalog.image("0.20.0")))
    # protocol 5 needs Python 3.8: SageMaker 0.23-1 runs 3.7 (the vendor's Dockerfile)
    p5 = _info(pickles["sm142_p5"], "1.4.2")
    assert any(m.what == "python" and m.certain for m in _mismatches(p5.pickle, "1.4.2", catalog.image("0.23-1")))


def test_a_failed_load_is_explained_only_when_the_facts_fit_the_error(pickles):
    f = image_fit(_info(pickles["sm142"], "1.4.2"), catalog.image("1.2-1"))
    cause, certain = explain_load_failure(f, "ModuleNotFoundError: No module named 'numpy._core'")
    assert certain and "numpy._core" in cause
    assert explain_load_failure(f, "NameError: name 'os' is not defined") is None
    assert explain_load_failure(image_fit(_info(pickles["sm12"], "1.2.1"), catalog.image("1.2-1")),
                                "No module named 'numpy._core'") is None


def test_the_mismatch_the_real_error_names_is_the_cause_and_the_rest_what_fails_next(pickles):
    """scikit-learn 1.4.2 under numpy 2 loaded by 1.2-1 (numpy 1.24.1) stops at numpy._core, before
    any scikit-learn class is rebuilt: that is the cause; the scikit-learn release is what fails next."""
    error = _run("sagemaker:1.2-1", LOAD_TRACEBACK, str(pickles["sm142"]))      # as predict.local sees it
    assert "ModuleNotFoundError: No module named 'numpy._core'" in error and "_unpickle" in error, error
    cause, certain = explain_load_failure(image_fit(_info(pickles["sm142"], "1.4.2"), catalog.image("1.2-1")), error)
    assert certain and cause.startswith("it was saved under numpy 2 (it imports numpy._core.multiarray)"), cause
    assert cause.endswith("once that is fixed it still would not load: it was pickled with scikit-learn 1.4.2 and the "
                          "image has 1.2.1 (estimators do not unpickle across releases)"), cause
    # the same pickle by plain pickle protocol 5 on Python 3.7: the protocol is what the error names
    p = subprocess.run([_python("sagemaker:0.23-1"), "-I", "-c", "import pickle,sys; pickle.load(open(sys.argv[1],'rb'))",
                        str(pickles["sm142_p5"])], capture_output=True, text=True, timeout=120)
    cause, certain = explain_load_failure(image_fit(_info(pickles["sm142_p5"], "1.4.2"), catalog.image("0.23-1")),
                                          p.stderr)
    assert certain and cause.startswith("it uses pickle protocol 5, which the image's Python 3.7 cannot read"), cause


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
