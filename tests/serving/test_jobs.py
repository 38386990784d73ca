"""The inside jobs on the oldest Python they support (3.7: the 0.23-1 image and AI Platform 2.11),
through the sandbox: the job code is 3.7-compatible and the image's own libraries answer."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from deploycheck.runtimes import catalog, envs
from deploycheck.serving import local

sys.path.insert(0, str(Path(__file__).parent))
import cases  # noqa: E402


def _env(key: str) -> envs.RuntimeEnv:
    try:
        env = envs.ensure(catalog.image(key))
    except envs.EnvUnavailable as e:
        pytest.skip(str(e))
    if env.substituted:
        pytest.skip(f"Python {env.image.python} not found")
    return env


def _model(env: envs.RuntimeEnv, out: Path) -> bytes:
    subprocess.run([env.python, "-I", "-c", "import sys, joblib\nfrom sklearn.datasets import load_iris\n"
                    "from sklearn.linear_model import LogisticRegression\nX, y = load_iris(return_X_y=True)\n"
                    "joblib.dump(LogisticRegression(max_iter=1000).fit(X, y), sys.argv[1])", str(out)],
                   check=True, timeout=300, env={"PATH": "/usr/bin:/bin"})
    return out.read_bytes()


def _aws_target(env: envs.RuntimeEnv, tmp_path: Path, entry_point: str) -> local.Target:
    """aws_deploy/ with ``entry_point`` as inference.py and model.tar.gz holding an iris model
    pickled in ``env``."""
    d = tmp_path / "aws_deploy"
    d.mkdir()
    (d / "inference.py").write_text(entry_point)
    data = _model(env, tmp_path / "m.joblib")
    with tarfile.open(d / "model.tar.gz", "w:gz") as tf:
        ti = tarfile.TarInfo("model.joblib")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    return local.Target("aws", d, "aws_deploy", env.image, entry="inference.py", extract=d / "model.tar.gz")


def test_sagemaker_job_on_python_37_ignores_transform_fn(tmp_path):
    env = _env("sagemaker:0.23-1")
    t = _aws_target(env, tmp_path, cases.ENTRY_POINTS["transform_fn_with_input_fn"])
    run = local.run(t, [local.HttpRequest.ping(), local.HttpRequest("POST", "/invocations", (("Content-Type", "application/json"),),
                                                                    cases.JSON_MANY)],
                    runtime=local.Runtime(env.label, env.image, env))
    assert not run.machine_error, run.machine_error
    assert run.versions["python"].startswith("3.7.") and run.versions["sklearn"] == "0.23.2"
    assert [a.status for a in run.answers] == [200, 200]
    assert json.loads(run.answers[1].body) == [0, 2, 1]          # transform_fn ignored before 1.2-1


def test_vertex_job_on_python_37(tmp_path):
    env = _env("ai-platform:2.11")
    d = tmp_path / "gcp_deploy"
    d.mkdir()
    _model(env, d / "model.joblib")
    t = local.Target("gcp", d, "gcp_deploy", env.image)
    run = local.run(t, [local.HttpRequest("POST", "/predict", (), cases.VERTEX_REQUESTS[0][1])], synthesize={},
                    runtime=local.Runtime(env.label, env.image, env))
    assert run.versions["python"].startswith("3.7.") and run.versions["sklearn"] == "1.0.2"
    assert json.loads(run.answers[0].body) == {"predictions": [0, 2, 1]}
    assert run.synthesized is not None and json.loads(run.synthesized.body)["instances"][0] == [1.0] * 4
    assert run.answers[1].status == 200


WARM_PROBE = '''
import json, logging, subprocess
import joblib, os
ROOT_HANDLERS_AT_IMPORT = len(logging.getLogger().handlers)

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def predict_fn(data, model):
    from sagemaker_containers import _env
    def no_process(*a, **k):
        raise AssertionError("a process was started")
    subprocess.check_output = no_process
    import sys
    warm = sys.modules["sagemaker_job"].WARM_UP
    return [ROOT_HANDLERS_AT_IMPORT, _env.ServingEnv().num_gpus, int(model.predict(data[:1])[0]), warm]
'''


@pytest.mark.parametrize("image", ["sagemaker:0.23-1", "sagemaker:1.0-1", "sagemaker:1.2-1", "sagemaker:1.4-2"])
def test_the_fork_servers_warm_up_changes_nothing_a_student_sees(tmp_path, image):
    """Each SageMaker image's fork server answers the GPU question once and warms Flask/numpy
    before any job (no process per job), yet a student's module still imports with the root logger
    unconfigured, as in the container."""
    env = _env(image)
    t = _aws_target(env, tmp_path, WARM_PROBE)
    run = local.run(t, [local.HttpRequest("POST", "/invocations", (("Content-Type", "application/json"),),
                                          cases.JSON_MANY)], runtime=local.Runtime(env.label, env.image, env))
    assert not run.machine_error, run.machine_error
    assert run.answers[0].status == 200, run.answers[0].body
    assert json.loads(run.answers[0].body) == [0, 0, 0, ["application/x-npy 200", "application/json 200",
                                                         "text/csv 200"]]


PANDAS_ENTRY = cases.LOAD + ("import json\nimport pandas as pd\n\ndef input_fn(body, content_type):\n"
                             "    return pd.DataFrame(json.loads(body)).to_numpy()\n")


def test_pandas_is_imported_by_the_server_only_once_an_entry_point_imports_it(tmp_path):
    """pandas is imported on demand (deploycheck.runtimes.envs.ON_DEMAND): a student who does not use
    it gets a server without it, one who does gets it imported by the server before the job, and
    both get the same answers and the image's versions."""
    from deploycheck import sandbox
    from deploycheck.discovery import load_submission
    env = _env("sagemaker:1.2-1")
    interp = env.interpreter()
    assert "pandas" in interp.on_demand and "pandas" not in interp.preload
    sandbox.shutdown()                                   # a fresh server, whatever ran in this process
    answers, loaded = [], []
    for name, code in (("plain", cases.ENTRY_POINTS["model_fn_only"]), ("pandas", PANDAS_ENTRY)):
        repo = tmp_path / name
        repo.mkdir()
        _aws_target(env, repo, code)
        f = load_submission(name, str(repo)).folder("aws")
        assert f is not None
        t = local.target_for(f, f.facts.artifact, "inference.py", ".", f.path / "model.tar.gz")
        assert ("pandas" in t.imports) == (name == "pandas")
        run = local.run(t, [local.HttpRequest("POST", "/invocations", (("Content-Type", "application/json"),),
                                              cases.JSON_MANY)], runtime=local.Runtime(env.label, env.image, env))
        assert not run.machine_error, run.machine_error
        answers.append((run.answers[0].status, json.loads(run.answers[0].body)))
        assert run.versions["pandas"] == env.versions["pandas"]
        loaded.append(sandbox.server_info(interp)["loaded"])
    assert answers == [(200, [0, 2, 1])] * 2
    assert loaded == [[], ["pandas"]]
