"""Conformance of the request path (issue 22): each form a student documents a request in, as
deploycheck reads it (``analysis/samples.py``), sent to the REAL serving code and through
predict.local's job, which must answer alike; and the answers that decide a verdict are pinned on
the real code (the single CSV row the default input_fn cannot read, Vertex AI's
``{"instances": ...}`` sent to SageMaker, curl's form content type, a Vertex ``"parameters"`` key).

SageMaker: the reference is sagemaker-containers' own WSGI app served by gunicorn inside each
image's runtime environment (tests/serving/test_conformance.py's ``Reference``). Vertex AI: the
job follows Google's prediction library (its container's server is not public), see test_vertex.py."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from deploycheck.analysis import samples
from deploycheck.discovery import make_folder
from deploycheck.runtimes import catalog, envs
from deploycheck.serving import local

sys.path.insert(0, str(Path(__file__).parent))
import cases  # noqa: E402
from test_conformance import ref  # noqa: E402,F401  (the reference container of each image, per module)

ROW = "5.1,3.5,1.4,0.2"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
CSV_INPUT_FN = cases.LOAD + (
    "import numpy as np\n\ndef input_fn(body, content_type):\n"
    "    if content_type != 'text/csv':\n        raise ValueError('text/csv only, got ' + content_type)\n"
    "    text = body.decode() if isinstance(body, bytes) else body\n"
    "    return np.array([[float(v) for v in l.split(',')] for l in text.strip().splitlines()])\n")
CLI = "aws sagemaker-runtime invoke-endpoint --endpoint-name e --cli-binary-format raw-in-base64-out"
URL = "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e/invocations"
SDK = "```python\npredictor = model.deploy(initial_instance_count=1, instance_type='ml.t2.medium')\n{}\n```\n"

# name -> (README, extra files, entry point, expected status on the real container)
FORMS: dict[str, tuple[str, dict[str, str], str, int]] = {
    "cli_csv_one_row_csv_input_fn": (f"```bash\n{CLI} --content-type text/csv --body \"{ROW}\" out.json\n```\n", {},
                                     CSV_INPUT_FN, 200),
    "cli_csv_one_row_default_input_fn": (f"```bash\n{CLI} --content-type text/csv --body \"{ROW}\" out.json\n```\n",
                                         {}, cases.LOAD, 500),
    "cli_csv_rows_ansi_c": (f"```bash\n{CLI} --content-type text/csv --body $'{ROW}\\n6.7,3.0,5.2,2.3' o.json\n```\n",
                            {}, cases.LOAD, 200),
    "cli_fileb_instances": (f"```bash\n{CLI} --content-type application/json --body fileb://request.json o.json\n```\n",
                            {"request.json": json.dumps({"instances": ROWS}, indent=2)}, cases.LOAD, 500),
    "cli_fileb_rows": (f"```bash\n{CLI} --content-type application/json --body fileb://request.json o.json\n```\n",
                       {"request.json": json.dumps(ROWS)}, cases.LOAD, 200),
    "cli_no_content_type": (f"```bash\n{CLI} --body '{json.dumps(ROWS)}' o.json\n```\n", {}, cases.LOAD, 200),
    "sdk_numpy_default": (SDK.format(f"predictor.predict({ROWS})"), {}, cases.LOAD, 200),
    "sdk_csv_serializer": (SDK.format(f"predictor.serializer = CSVSerializer()\npredictor.predict({ROWS})"), {},
                           cases.LOAD, 200),
    "sdk_json_serializer_csv_input_fn": (SDK.format(f"predictor.serializer = JSONSerializer()\npredictor.predict({ROWS})"),
                                         {}, CSV_INPUT_FN, 500),
    "boto3_json_no_content_type": ("```python\nrt.invoke_endpoint(EndpointName='e', Body=json.dumps(%s))\n```\n" % ROWS,
                                   {}, cases.LOAD, 200),
    "boto3_csv_accept_csv": ("```python\nrt.invoke_endpoint(EndpointName='e', ContentType='text/csv', Accept='text/csv',"
                             " Body=open('rows.csv').read())\n```\n", {"rows.csv": f"{ROW}\n6.7,3.0,5.2,2.3\n"},
                             cases.LOAD, 200),
    "curl_data_form_content_type": (f"```bash\ncurl --aws-sigv4 aws:amz:us-east-1:sagemaker -X POST {URL} "
                                    f"-d '{json.dumps(ROWS)}'\n```\n", {}, cases.LOAD, 500),
    "curl_json": (f"```bash\ncurl {URL} --json @rows.json\n```\n", {"rows.json": json.dumps(ROWS, indent=1)},
                  cases.LOAD, 200),
    "curl_data_binary_csv": (f"```bash\ncurl -X POST {URL} -H 'Content-Type: text/csv' --data-binary @rows.csv\n```\n",
                             {"rows.csv": f"{ROW}\n6.7,3.0,5.2,2.3\n"}, cases.LOAD, 200),
}


def _folder(tmp_path: Path, readme: str, extra: dict[str, str], entry: str, model: bytes):
    d = tmp_path / "aws_deploy"
    d.mkdir(parents=True)
    (d / "README.md").write_text(readme)
    (d / "inference.py").write_text(entry)
    for name, text in extra.items():
        (d / name).write_text(text)
    (d / "model.tar.gz").write_bytes(samples_tar(model))
    return make_folder("aws", d, tmp_path)


def samples_tar(model: bytes) -> bytes:
    from deploycheck.analysis.artifact import make_tar_gz
    return make_tar_gz({"model.joblib": model})


def _headers(s: samples.SampleRequest) -> dict[str, str]:
    h = {}
    if s.content_type is not None:
        h["Content-Type"] = s.content_type
    if s.accept is not None:
        h["Accept"] = s.accept
    return h


@pytest.mark.parametrize("form", sorted(FORMS))
def test_documented_request_forms_against_the_real_container(ref, form, tmp_path):
    readme, extra, entry, expected = FORMS[form]
    folder = _folder(tmp_path, readme, extra, entry, ref.model)
    s = samples.sample_request(folder)
    assert s.decides and not s.client_error and s.body, (form, s)
    # the real serving code (gunicorn + sagemaker-containers): a case of its own for this entry point
    case = f"form_{form}"
    (ref.cases_dir / f"case_{case}.py").write_text(entry)
    real = ref.ask(case, "POST", "/invocations", _headers(s), s.body)
    assert real[0] == expected, (ref.image.key, form, real[0], real[2][:300])
    # predict.local's job on the same request, built the way predict.local builds it
    plan_reqs = [local.HttpRequest.invocation(local.model.Request(s.body, s.content_type or "", s.accept or ""))]
    target = local.Target(platform="aws", folder=folder.path, rel="aws_deploy", image=ref.image, entry="inference.py",
                          extract=folder.path / "model.tar.gz")
    run = local.run(target, plan_reqs, runtime=local.Runtime(ref.env.label, ref.image, ref.env, sklearn=ref.image.sklearn))
    got = run.answers[-1]
    assert (got.status, got.content_type, got.body) == real, (ref.image.key, form)


def test_the_sdk_default_asks_for_npy_and_gets_it(ref, tmp_path):
    """SKLearnPredictor: NumpySerializer + NumpyDeserializer; the container answers in .npy."""
    folder = _folder(tmp_path, SDK.format(f"predictor.predict({ROWS})"), {}, cases.LOAD, ref.model)
    s = samples.sample_request(folder)
    assert (s.content_type, s.accept) == ("application/x-npy", "application/x-npy")
    (ref.cases_dir / "case_npy_default.py").write_text(cases.LOAD)
    status, ctype, body = ref.ask("npy_default", "POST", "/invocations", _headers(s), s.body)
    assert (status, ctype) == (200, "application/x-npy") and np.load(io.BytesIO(body)).tolist() == [0, 2]


VERTEX_FORMS = {
    # name -> (README, files, expected status from the job: Google's library semantics)
    "json_request": ("gcloud ai endpoints predict 1 --region=r --json-request=request.json",
                     {"request.json": json.dumps({"instances": ROWS})}, 200),
    "json_request_parameters": ("gcloud ai endpoints predict 1 --region=r --json-request=request.json",
                                {"request.json": json.dumps({"instances": ROWS, "parameters": {}})}, 400),
    "legacy_json_request_parameters": ("gcloud ai-platform predict --model m --json-request=request.json",
                                       {"request.json": json.dumps({"instances": ROWS, "parameters": {}})}, 200),
    "json_instances": ("gcloud ai-platform predict --model m --json-instances=input.json",
                       {"input.json": "\n".join(json.dumps(r) for r in ROWS) + "\n"}, 200),
    "curl_request_file": ("curl -X POST -H 'Content-Type: application/json' "
                          "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/endpoints/1:predict "
                          "-d @request.json", {"request.json": json.dumps({"instances": ROWS, "extra": 1}, indent=2)},
                          400),
}


@pytest.fixture(scope="module")
def vertex_env():
    try:
        return envs.ensure(catalog.image("vertex:sklearn-cpu.1-2"))
    except envs.EnvUnavailable as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("form", sorted(VERTEX_FORMS))
def test_vertex_request_forms(vertex_env, form, tmp_path):
    import subprocess
    readme, extra, expected = VERTEX_FORMS[form]
    d = tmp_path / "gcp_deploy"
    d.mkdir()
    (d / "README.md").write_text(f"```bash\n{readme}\n```\n")
    for name, text in extra.items():
        (d / name).write_text(text)
    subprocess.run([vertex_env.python, "-I", "-c", "import sys, joblib\nfrom sklearn.datasets import load_iris\n"
                    "from sklearn.linear_model import LogisticRegression\nX, y = load_iris(return_X_y=True)\n"
                    "joblib.dump(LogisticRegression(max_iter=1000).fit(X, y), sys.argv[1])", str(d / "model.joblib")],
                   check=True, timeout=300, env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    s = samples.sample_request(make_folder("gcp", d, tmp_path))
    assert s.decides and not s.client_error, s
    target = local.Target(platform="gcp", folder=d, rel="gcp_deploy", image=vertex_env.image)
    run = local.run(target, [local.HttpRequest.invocation(local.model.Request(s.body, s.content_type or "", ""), "gcp")],
                    runtime=local.Runtime(vertex_env.label, vertex_env.image, vertex_env, sklearn=vertex_env.image.sklearn))
    assert run.answers[-1].status == expected, (form, run.answers[-1].body[:300])
