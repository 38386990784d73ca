"""Issue 22, "advice that works": artifact.version's fix is followed here, command by command, and
the model it makes then passes artifact.version and loads in the image's own runtime environment."""
from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from deploycheck.analysis.image_fit import Fit, Mismatch, env_command, retrain, successor
from deploycheck.discovery import Target, load_submission
from deploycheck.runtimes import catalog, envs, pythons
from deploycheck.verdicts import artifact as A

README = ('```python\nmodel = SKLearnModel(model_data="s3://bucket/model.tar.gz", role=role,\n'
          '                     entry_point="inference.py", framework_version="1.2-1")\n'
          'predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")\n```\n')


def _repo(tmp_path: Path, model_bytes: bytes) -> Path:
    d = tmp_path / "repo" / "aws_deploy"
    d.mkdir(parents=True, exist_ok=True)
    (d / "README.md").write_text(README)
    with tarfile.open(d / "model.tar.gz", "w:gz") as tf:
        ti = tarfile.TarInfo("model.joblib")
        ti.size = len(model_bytes)
        tf.addfile(ti, io.BytesIO(model_bytes))
    return tmp_path / "repo"


def _version(repo: Path):
    sub = load_submission.__wrapped__("student", str(repo))
    return A.artifact_version(Target("student", "aws", sub, "student"))


def _follow(command: str, cwd: Path) -> None:
    """Run the advised command as a student's shell would: ``uv`` and ``python3.X`` on PATH (this
    machine's, so nothing is downloaded), packages from the cache deploycheck's runtime environments
    were installed from (offline first, then the package index)."""
    bindir = cwd / "bin"
    bindir.mkdir()
    uv = pythons.uv_bin()
    assert uv, "uv is a dependency of deploycheck"
    (bindir / "uv").symlink_to(uv)
    minor = re.search(r"uv venv --python (3\.\d+)", command).group(1)
    py = pythons.find_python(minor)
    assert py is not None, f"Python {minor} (the suite's runtime environments need it)"
    (bindir / f"python{minor}").symlink_to(py.path)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(cwd), "UV_PYTHON_DOWNLOADS": "never",
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(envs.cache_root().parent / "uv")}
    res = subprocess.run(["bash", "-c", command], cwd=cwd, env={**env, "UV_OFFLINE": "1"},
                         capture_output=True, text=True, timeout=600)
    if res.returncode != 0:                     # a cache without these wheels: from the index
        subprocess.run(["rm", "-rf", "model-env"], cwd=cwd, check=True)
        res = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]


TRAIN = ("import joblib, sys\nfrom sklearn.datasets import load_iris\nfrom sklearn.linear_model import "
         "LogisticRegression\nX, y = load_iris(return_X_y=True)\n"
         "joblib.dump(LogisticRegression(max_iter=300).fit(X, y), sys.argv[1])\n")


def test_following_the_retrain_advice_gives_a_model_the_declared_image_loads(tmp_path):
    """A model pickled by today's scikit-learn and numpy 2, declared for 1.2-1: the advised commands,
    run as written, make an environment whose model passes and loads in 1.2-1's runtime."""
    X, y = load_iris(return_X_y=True)
    buf = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=300).fit(X, y), buf)
    o = _version(_repo(tmp_path, buf.getvalue()))
    assert o.status == "failed", o.message
    command = re.search(r"`(uv venv [^`]+)`", o.message).group(1)
    assert 'uv pip install --python model-env "scikit-learn==1.2.1" "numpy==1.24.1"' in command
    assert "model-env/bin/python" in o.message and "in sagemaker-scikit-learn 1.2-1's Python 3.9" in o.message

    work = tmp_path / "student"
    work.mkdir()
    _follow(command, work)
    (work / "train.py").write_text(TRAIN)
    out = work / "model.joblib"
    subprocess.run([str(work / "model-env/bin/python"), "train.py", str(out)], cwd=work, check=True,
                   capture_output=True, timeout=300)
    again = _version(_repo(tmp_path / "after", out.read_bytes()))
    assert again.status == "passed", again.message

    image = catalog.build_at(catalog.image("sagemaker:1.2-1"), None)
    runtime = envs.ensure(image, build=False)
    loaded = subprocess.run([runtime.python, "-c", "import joblib, sys; m = joblib.load(sys.argv[1]); "
                             "print(type(m).__name__, m.predict([[5.1, 3.5, 1.4, 0.2]])[0])", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0 and loaded.stdout.split() == ["LogisticRegression", "0"], loaded.stderr


def test_the_advised_install_is_the_one_deploycheck_builds_the_images_runtime_from():
    """Every image's advice installs the catalog's own pins in the Python its runtime environment is
    built on (that environment is the proof the install exists), with uv's own installer (a uv venv
    has no pip: `pip install` after `uv venv` would not install into it)."""
    for im in catalog.all_builds():
        if not im.supported:
            continue
        cmd = env_command(im)
        py = re.search(r"^uv venv --python (3\.\d+) model-env && uv pip install --python model-env ", cmd)
        assert py, cmd
        assert py.group(1) in envs._minors_for(im)[:1], (im.key, cmd)
        pins = re.findall(r'"([^"]+)"', cmd)
        assert set(pins) <= set(im.requirements()), (im.key, pins)
        lo, hi = catalog.sklearn_pythons(im.sklearn)
        as_t = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
        assert as_t(lo) <= as_t(py.group(1)) <= as_t(hi), (im.key, cmd)
        assert f'"numpy=={im.numpy}"' in cmd            # old scikit-learn wheels need the image's numpy
        if im.is_assumed("joblib"):
            assert "joblib==" not in cmd                 # never pin what the vendor never published


def test_a_retired_image_is_never_the_one_to_retrain_for():
    """The fix names the image the vendor says to declare instead, not re-training for a retired one."""
    old = catalog.image("sagemaker:1.4-2")
    assert successor(old) is catalog.image("sagemaker:1.9-0")          # via 1.4-2-py312, retired too
    assert successor(catalog.image("sagemaker:1.2-1")) is None
    fit = Fit(old, "1.2.1", (Mismatch("scikit-learn", "x", True, retrain(old, "1.2.1")),))
    text = fit.fixes()
    assert "scikit-learn==1.9.0" in text and "sagemaker-scikit-learn 1.9-0" in text, text
    assert "uv venv --python 3.12 model-env" in text and "--python 3.10" not in text


def test_an_undeclared_vertex_model_no_container_loads_gets_the_newest_container_and_its_install(tmp_path):
    """Today's scikit-learn on GCP, no container declared: no prebuilt container loads it, so the fix
    is re-training for the newest one, in its Python, and the URI to declare."""
    d = tmp_path / "repo" / "gcp_deploy"
    d.mkdir(parents=True)
    (d / "README.md").write_text("I uploaded model.joblib in the console and deployed it to an endpoint.\n")
    X, y = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=300).fit(X, y), d / "model.joblib")
    sub = load_submission.__wrapped__("student", str(tmp_path / "repo"))
    o = A.artifact_version(Target("student", "gcp", sub, "student"))
    newest = max((im for im in catalog.IMAGES if im.kind == "vertex" and catalog.retirement(im) is None),
                 key=lambda im: catalog.mm(im.sklearn))
    assert o.status == "failed", o.message
    assert "no prebuilt Vertex container loads it as it is" in o.message
    assert env_command(newest) in o.message and f"sklearn-cpu.{newest.version.split('.')[-1]}" in o.message
