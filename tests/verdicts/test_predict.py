"""predict.local (verdicts/predict.py) end to end through the real analysis, runtime environments and
sandbox, on small repos built in tmp_path."""
from __future__ import annotations

import io
import json
import tarfile

import joblib
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from deploycheck.analysis.artifact import ArtifactInfo
from deploycheck.verdicts import predict
from deploycheck.discovery import Target, load_submission
from deploycheck.settings import Settings

MODEL_FN = "import joblib, os\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
# framework_version="1.2-1": the runs use the 1.2-1 runtime environment (built once; see tests/serving)
README = ("# AWS\n```python\npredictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])\n```\n"
          "SKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n")
DC = Settings(sandbox_timeout=10, sandbox_memory_mb=1024)
_MODEL = {}


def model_bytes(version: str | None = None) -> bytes:
    if "m" not in _MODEL:
        X, y = load_iris(return_X_y=True)
        buf = io.BytesIO()
        joblib.dump(LogisticRegression(max_iter=500).fit(X, y), buf)
        _MODEL["m"] = buf.getvalue()
    data = _MODEL["m"]
    if version:  # same-length edit of the recorded version: a pickle "from" another release
        assert len(version) == len(sklearn.__version__)
        data = data.replace(sklearn.__version__.encode(), version.encode())
    return data


def aws_repo(root, inference=MODEL_FN, members=None, readme=README, version=None):
    d = root / "aws_deploy"
    d.mkdir(parents=True)
    (d / "inference.py").write_text(inference)
    (d / "README.md").write_text(readme)
    members = members or {"model.joblib": model_bytes(version)}
    with tarfile.open(d / "model.tar.gz", "w:gz") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return root


def gcp_repo(root, instances=None):
    d = root / "gcp_deploy"
    d.mkdir(parents=True)
    (d / "model.joblib").write_bytes(model_bytes())
    (d / "README.md").write_text("gcloud ai-platform versions create v1 --model m --origin gs://b/model/")
    if instances is not None:
        (d / "input.json").write_text(json.dumps({"instances": instances}))
    return root


def target(root, platform="aws") -> Target:
    sub = load_submission(f"s-{root.name}", str(root))
    return Target(sub.student, platform, sub, sub.student)



def test_aws_passes_with_documented_request(tmp_path):
    o = predict.predict_local(target(aws_repo(tmp_path)), DC)
    assert o.status == "passed", o.message
    assert "2 prediction(s) [0, 2]" in o.message and "aws_deploy/README.md line 3" in o.message
    # SKLearnPredictor: NumpySerializer and NumpyDeserializer (Accept: application/x-npy), as the SDK sends it
    assert o.data["content_type"] == "application/x-npy" and o.data["accept"] == "application/x-npy"
    assert o.data["response"].startswith("NumPy .npy") and o.data["response"].endswith("[0, 2]")
    assert o.data["isolation"] and o.data["latency_ms"] is not None and "5.1" in o.data["request"]
    rec = predict.local_prediction(target(tmp_path), DC)
    assert rec.ok and rec.status == 200 and rec.n_predictions == 2


def test_gcp_passes_with_input_json(tmp_path):
    o = predict.predict_local(target(gcp_repo(tmp_path, [[5.1, 3.5, 1.4, 0.2]]), "gcp"), DC)
    assert o.status == "passed", o.message
    assert o.data["response"] == '{"predictions": [0]}' and o.data["sample_source"] == "gcp_deploy/input.json"


def test_synthesized_when_nothing_documented(tmp_path):
    o = predict.predict_local(target(gcp_repo(tmp_path), "gcp"), DC)
    assert o.status == "passed" and "synthesized from the model (n_features_in_=4" in o.message


def test_no_folder(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    sub = load_submission("nofolder", str(tmp_path))
    o = predict.predict_local(Target("nofolder", None, sub, "nofolder"), DC)
    assert o.status == "failed" and o.blocked_by == "structure.deploy_folder"


def test_no_artifact(tmp_path):
    aws_repo(tmp_path)
    (tmp_path / "aws_deploy" / "model.tar.gz").unlink()
    o = predict.predict_local(target(tmp_path), DC)
    assert o.status == "failed" and "artifact.present" in o.message


def test_flagged_artifact_is_never_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(ArtifactInfo, "loadable", property(lambda self: False))
    o = predict.predict_local(target(aws_repo(tmp_path)), DC)
    assert o.status == "failed" and "artifact.safe flagged it" in o.message


def test_missing_module_names_requirements(tmp_path):
    o = predict.predict_local(target(aws_repo(tmp_path, "import xgboostish\n" + MODEL_FN)), DC)
    assert o.status == "failed" and "'xgboostish'" in o.message and "requirements.txt beside inference.py" in o.message


def test_externals_joblib(tmp_path):
    o = predict.predict_local(target(aws_repo(tmp_path, "from sklearn.externals import joblib\n" + MODEL_FN)), DC)
    assert o.status == "failed" and "import joblib" in o.message


def test_model_fn_exception_with_traceback(tmp_path):
    src = "def helper():\n    raise RuntimeError('bad scaler')\n\ndef model_fn(model_dir):\n    return helper()\n"
    o = predict.predict_local(target(aws_repo(tmp_path, src)), DC)
    assert o.status == "failed" and "RuntimeError: bad scaler" in o.message and "line 2" in o.message


def test_missing_model_fn(tmp_path):
    o = predict.predict_local(target(aws_repo(tmp_path, "x = 1\n")), DC)
    assert o.status == "failed" and "Please provide a model_fn implementation" in o.message


def test_wrong_file_name_lists_members(tmp_path):
    src = MODEL_FN.replace("model.joblib", "model.pkl")
    o = predict.predict_local(target(aws_repo(tmp_path, src)), DC)
    assert o.status == "failed" and "/opt/ml/model/model.pkl" in o.message and "contains: model.joblib" in o.message


def test_nested_tar_lists_members(tmp_path):
    o = predict.predict_local(target(aws_repo(tmp_path, members={"model/model.joblib": model_bytes()})), DC)
    assert o.status == "failed" and "model/model.joblib" in o.message and "root" in o.message


def test_nested_layout_that_model_fn_opens_passes(tmp_path):
    src = MODEL_FN.replace("'model.joblib'", "'model', 'model.joblib'")
    o = predict.predict_local(target(aws_repo(tmp_path, src, members={"model/model.joblib": model_bytes()})), DC)
    assert o.status == "passed", o.message


def test_code_dir_in_archive_wins(tmp_path):
    members = {"model.joblib": model_bytes(), "code/inference.py": MODEL_FN.encode()}
    o = predict.predict_local(target(aws_repo(tmp_path, "raise SystemExit('not this one')\n", members=members)), DC)
    assert o.status == "passed", o.message


def test_wrong_number_of_predictions(tmp_path):
    src = MODEL_FN + "\ndef predict_fn(data, model):\n    return [1]\n"
    o = predict.predict_local(target(aws_repo(tmp_path, src)), DC)
    assert o.status == "failed" and "2 row(s)" in o.message and "1 prediction(s)" in o.message


def test_an_array_as_the_body_fails_as_gunicorn_sends_it(tmp_path):
    """output_fn returning (ndarray, accept): gunicorn sends the status line and headers, then fails on
    the first item ("TypeError: 0 is not a byte") and closes the connection: the client gets a 200
    without predictions (a test client joined the array's bytes and passed it)."""
    src = MODEL_FN + "\ndef output_fn(prediction, accept):\n    return prediction, accept\n"
    o = predict.predict_local(target(aws_repo(tmp_path, src)), DC)
    assert o.status == "failed" and "HTTP 200 with an empty body" in o.message, o.message
    assert "0 is not a byte" in o.message and "output_fn in aws_deploy/inference.py must return a str/bytes" in o.message


def test_unsupported_content_type(tmp_path):
    # the image passes its default input_fn through the toolkit's error wrapper: 500, not 415
    readme = ("```python\nrt.invoke_endpoint(EndpointName='e', ContentType='text/plain', Body='1,2,3,4')\n```\n"
              "framework_version='1.2-1'\n")
    o = predict.predict_local(target(aws_repo(tmp_path, readme=readme)), DC)
    assert o.status == "failed" and "HTTP 500" in o.message and "input_fn" in o.message
    assert "Content type text/plain is not supported" in o.message


def test_version_mismatch_note(tmp_path):
    # pickled by the grader's scikit-learn, served by the declared image's 1.2.1: it loads, with a note
    o = predict.predict_local(target(aws_repo(tmp_path)), DC)
    assert o.status == "passed", o.message
    assert f"made with scikit-learn {sklearn.__version__}" in o.message and "used scikit-learn 1.2.1" in o.message
    assert o.data["runtime"] == "sagemaker-scikit-learn 1.2-1 (Python 3.9, scikit-learn 1.2.1)"


def test_timeout_message(tmp_path, monkeypatch):
    from deploycheck.serving import local
    monkeypatch.setattr(local, "machine_busy", lambda: "")     # the model's own fault, however busy the machine
    src = "def model_fn(model_dir):\n    while True:\n        pass\n"
    o = predict.predict_local(target(aws_repo(tmp_path, src)), Settings(sandbox_timeout=2, sandbox_memory_mb=512))
    assert o.status == "failed" and "longer than 2 s" in o.message


# ---------------------------------------------------------------- issue 22: the documented request decides

CSV_ONLY = MODEL_FN + ("\nimport numpy as np\n\ndef input_fn(body, content_type):\n"
                       "    if content_type != 'text/csv':\n        raise ValueError('text/csv only, got ' + content_type)\n"
                       "    text = body.decode() if isinstance(body, bytes) else body\n"
                       "    return np.array([[float(v) for v in l.split(',')] for l in text.strip().splitlines()])\n")
CLI_CSV = ("```bash\naws sagemaker-runtime invoke-endpoint --endpoint-name e --content-type text/csv "
           "--body \"5.1,3.5,1.4,0.2\" out.json\n```\nSKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n")


def test_a_documented_csv_request_is_the_one_sent(tmp_path):
    o = predict.predict_local(target(aws_repo(tmp_path, CSV_ONLY, readme=CLI_CSV)), DC)
    assert o.status == "passed", o.message
    assert "aws sagemaker-runtime invoke-endpoint, text/csv" in o.message and o.data["request"] == "5.1,3.5,1.4,0.2"
    assert o.data["request_documented"] is True


def test_a_synthesized_request_the_student_code_refuses_is_review_not_failure(tmp_path):
    readme = "# AWS\nSKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n"
    o = predict.predict_local(target(aws_repo(tmp_path, CSV_ONLY, readme=readme)), DC)
    assert o.status == "review", o.message
    assert "synthesized request" in o.message and "not counted against you" in o.message
    assert "text/csv only" in o.message and o.data["request_synthesized"] is True


def test_the_instances_wrapper_is_sent_to_sagemaker_unchanged(tmp_path):
    readme = ("```bash\naws sagemaker-runtime invoke-endpoint --endpoint-name e --content-type application/json "
              "--body fileb://request.json out.json\n```\nSKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n")
    root = aws_repo(tmp_path, readme=readme)
    (root / "aws_deploy" / "request.json").write_text('{"instances": [[5.1, 3.5, 1.4, 0.2]]}')
    o = predict.predict_local(target(root), DC)
    assert o.status == "failed" and "HTTP 500" in o.message and '{"instances": [...]}' in o.message, o.message


def test_a_command_the_client_refuses_fails_with_its_reason(tmp_path):
    readme = "```python\nrt.invoke_endpoint(EndpointName='e', ContentType='application/json', Body=[[5.1, 3.5, 1.4, 0.2]])\n```\n" \
             "SKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n"
    o = predict.predict_local(target(aws_repo(tmp_path, readme=readme)), DC)
    assert o.status == "failed" and "botocore refuses the body" in o.message and "json.dumps" in o.message


def test_a_shipped_requirement_that_cannot_be_installed_offline_is_inconclusive(tmp_path):
    """issue 22: source_dir's requirements.txt lists the package; the container would install it at
    start, deploycheck cannot offline: never the student's failure."""
    readme = "SKLearnModel(entry_point='inference.py', source_dir='.', framework_version='1.2-1')\n" + README
    root = aws_repo(tmp_path, "import xgboostish\n" + MODEL_FN, readme=readme)
    (root / "aws_deploy" / "requirements.txt").write_text("xgboostish==1.0\n")
    o = predict.predict_local(target(root), DC)
    assert o.status == "skipped" and o.data["inconclusive"] and "requirements.txt" in o.message, o.message
    assert o.provisional


def test_a_requirement_that_never_ships_fails_with_the_fix(tmp_path):
    readme = "SKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n" + README
    root = aws_repo(tmp_path, "import xgboostish\n" + MODEL_FN, readme=readme)
    (root / "aws_deploy" / "requirements.txt").write_text("xgboostish==1.0\n")
    o = predict.predict_local(target(root), DC)
    assert o.status == "failed" and "never reaches the endpoint" in o.message and "source_dir=" in o.message


FEATURES = "def prepare(rows):\n    return rows\n"


def test_an_own_module_beside_the_entry_point_reaches_the_container_only_as_the_sdk_uploads_it(tmp_path):
    """SKLearnModel(entry_point=...) without source_dir uploads the entry-point file alone (sagemaker
    fw_utils.tar_and_upload_dir: [script] + dependencies): a module beside it that it imports is not on
    the endpoint, and the container fails to import the entry point. With source_dir or
    dependencies=[...] it is uploaded; with no entry_point= found (deployed some other way) the entry
    point's folder is given the benefit of the doubt."""
    inference = "import features\n" + MODEL_FN

    def repo(name, call):
        root = aws_repo(tmp_path / name, inference, readme=README.replace(
            "SKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n", call))
        (root / "aws_deploy" / "features.py").write_text(FEATURES)
        return root

    o = predict.predict_local(target(repo("alone", "SKLearnModel(entry_point='inference.py', "
                                                   "framework_version='1.2-1')\n")), DC)
    assert o.status == "failed" and "No module named 'features'" in o.message, o.message
    assert "aws_deploy/features.py" in o.message and 'source_dir="."' in o.message \
        and 'dependencies=["features.py"]' in o.message and "requirements.txt" not in o.message, o.message
    for name, call in (("source_dir", "SKLearnModel(entry_point='inference.py', source_dir='.', "
                                      "framework_version='1.2-1')\n"),
                       ("dependencies", "SKLearnModel(entry_point='inference.py', dependencies=['features.py'], "
                                        "framework_version='1.2-1')\n"),
                       ("undeclared", "framework_version='1.2-1'\n")):
        o = predict.predict_local(target(repo(name, call)), DC)
        assert o.status == "passed", (name, o.message)


def test_without_source_dir_model_fn_sees_only_the_uploaded_code(tmp_path):
    """A model_fn that opens a file beside the entry point (os.path.dirname(__file__)) finds it only when
    the SDK uploads the folder (source_dir)."""
    inference = ("import joblib, os, json\n\ndef model_fn(model_dir):\n"
                 "    json.load(open(os.path.join(os.path.dirname(__file__), 'labels.json')))\n"
                 "    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n")
    for name, call, status in (("alone", "SKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n",
                                "failed"),
                               ("source_dir", "SKLearnModel(entry_point='inference.py', source_dir='.', "
                                              "framework_version='1.2-1')\n", "passed")):
        root = aws_repo(tmp_path / name, inference, readme=README.replace(
            "SKLearnModel(entry_point='inference.py', framework_version='1.2-1')\n", call))
        (root / "aws_deploy" / "labels.json").write_text("[0, 1, 2]")
        o = predict.predict_local(target(root), DC)
        assert o.status == status, (name, o.message)
        if status == "failed":
            assert "/opt/ml/code/labels.json" in o.message and "source_dir=" in o.message, o.message



def test_a_fork_bomb_on_a_busy_machine_costs_at_most_three_timeouts(tmp_path, monkeypatch):
    """Issue 21, the wall time of a check, its retry included: an entry point that forks without end at
    import, graded on a busy machine, gets at most three timeouts of wall clock (before: four, one
    timeout then a retry with three). Where its processes together got as much CPU time as the wall
    clock (counted by the server however many still run when it is stopped: a dedicated CI machine)
    it is the student's timeout after one; where the grader's share of the machine was too small to
    tell (this shared one under others' load) the retry ends as an error of the run, never a pass
    and never the student's failure."""
    from deploycheck.serving import local
    monkeypatch.setattr(local, "machine_busy", lambda: "runnable tasks waited for a CPU 93% of the last 10 s")
    attempts: list[float] = []
    real = local.sandbox_runner

    def counted(*a, **kw):
        attempts.append(kw["limits"].timeout)
        return real(*a, **kw)
    monkeypatch.setattr(local, "sandbox_runner", counted)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n" + MODEL_FN
    o = predict.predict_local(target(aws_repo(tmp_path, bomb)), Settings(sandbox_timeout=6, sandbox_memory_mb=1024))
    assert sum(attempts) <= 3 * 6, attempts
    if attempts == [6]:
        assert o.status == "failed" and "took longer than 6 s" in o.message, o.message
    else:
        assert attempts == [6, 12] and o.status == "skipped" and "too busy" in o.message, (attempts, o.message)
