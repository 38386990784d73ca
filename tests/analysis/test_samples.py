"""Sample requests: the documented one, with the content type it would be sent with."""
from __future__ import annotations

import io
import json

import numpy as np

from deploycheck.analysis import samples
from deploycheck.discovery import DeployFolder, make_folder


def folder(tmp_path, platform="aws", **files) -> DeployFolder:
    d = tmp_path / f"{platform}_deploy"
    d.mkdir(parents=True)
    for name, text in files.items():
        (d / name.replace("__", ".")).write_text(text)
    return make_folder(platform, d, tmp_path)


AWS_README = """# Deploy
```python
predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
print(predictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]))
```
"""


def test_sklearn_predictor_default_is_npy(tmp_path):
    s = samples.sample_request(folder(tmp_path, README__md=AWS_README))
    assert s.content_type == "application/x-npy" and s.n_rows == 2
    assert np.load(io.BytesIO(s.body)).tolist() == [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    assert s.source == "aws_deploy/README.md line 4"


def test_csv_serializer_and_variable(tmp_path):
    readme = ("```python\nfrom sagemaker.serializers import CSVSerializer\npredictor.serializer = CSVSerializer()\n"
              "sample = [[1, 2], [3, 4]]\npredictor.predict(sample)\n```\n")
    s = samples.sample_request(folder(tmp_path, README__md=readme))
    # sagemaker.serializers.CSVSerializer: rows joined with "\n", no newline after the last one
    assert s.content_type == "text/csv" and s.body == b"1,2\n3,4" and s.accept == "application/x-npy"


def test_invoke_endpoint_uses_its_content_type(tmp_path):
    code = ("import boto3\nrt = boto3.client('sagemaker-runtime')\n"
            "rt.invoke_endpoint(EndpointName='e', ContentType='text/csv', Body='1.0,2.0\\n3.0,4.0')\n")
    s = samples.sample_request(folder(tmp_path, predict__py=code))
    assert s.content_type == "text/csv" and s.body == b"1.0,2.0\n3.0,4.0" and s.n_rows == 2
    assert s.source == "aws_deploy/predict.py line 3"


def test_invoke_endpoint_json_dumps(tmp_path):
    code = "import json\nrt.invoke_endpoint(EndpointName='e', ContentType='application/json', Body=json.dumps([[1, 2]]))\n"
    s = samples.sample_request(folder(tmp_path, predict__py=code))
    assert s.content_type == "application/json" and json.loads(s.body) == [[1, 2]]


def test_gcp_input_json(tmp_path):
    s = samples.sample_request(folder(tmp_path, "gcp", input__json='{"instances": [[1, 2], [3, 4], [5, 6]]}'))
    assert s.content_type == "application/json" and json.loads(s.body) == {"instances": [[1, 2], [3, 4], [5, 6]]}
    assert s.n_rows == 3 and s.source == "gcp_deploy/input.json"


def test_gcp_vertex_predict_instances_in_readme(tmp_path):
    readme = "```python\nendpoint.predict(instances=[[1.0, 2.0]])\n```\n"
    s = samples.sample_request(folder(tmp_path, "gcp", README__md=readme))
    assert json.loads(s.body) == {"instances": [[1.0, 2.0]]}


def test_json_instances_file_named_in_readme(tmp_path):
    readme = "```bash\ngcloud ai-platform predict --model m --json-instances=req.json\n```\n"
    s = samples.sample_request(folder(tmp_path, "gcp", README__md=readme, req__json="[1, 2]\n[3, 4]\n"))
    assert json.loads(s.body) == {"instances": [[1, 2], [3, 4]]} and s.source == "gcp_deploy/README.md line 2"
    assert s.form == "gcloud ai-platform predict --json-instances=req.json" and s.decides


def test_code_is_never_evaluated(tmp_path):
    canary = tmp_path / "canary"
    readme = f"```python\npredictor.predict(__import__('os').system('touch {canary}'))\n```\n"
    s = samples.sample_request(folder(tmp_path, README__md=readme))
    assert s.synthesized and s.content_type == "application/x-npy" and "cannot compute" in s.source
    assert not canary.exists()




# ---------------------------------------------------------------- issue 22: every form, sent as documented

def bash(*lines: str) -> str:
    return "```bash\n" + "\n".join(lines) + "\n```\n"


def test_aws_cli_inline_csv_body_is_sent_as_written(tmp_path):
    readme = bash("aws sagemaker-runtime invoke-endpoint --endpoint-name iris \\",
                  "    --content-type text/csv --body \"5.1,3.5,1.4,0.2\" out.json")
    s = samples.sample_request(folder(tmp_path, README__md=readme))
    assert (s.body, s.content_type, s.accept) == (b"5.1,3.5,1.4,0.2", "text/csv", None)
    assert s.decides and s.form == "aws sagemaker-runtime invoke-endpoint" and s.n_rows == 1
    assert s.source == "aws_deploy/README.md line 2" and any("raw-in-base64-out" in n for n in s.notes)


def test_aws_cli_fileb_sends_the_file_unchanged(tmp_path):
    """No stripping of {"instances": ...}: the real default input_fn gets exactly these bytes."""
    body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}\n'
    readme = bash("aws sagemaker-runtime invoke-endpoint --endpoint-name iris --body fileb://request.json "
                  "--content-type application/json --cli-binary-format raw-in-base64-out out.json")
    s = samples.sample_request(folder(tmp_path, README__md=readme, request__json=body))
    assert s.body == body.encode() and s.content_type == "application/json" and not s.notes
    assert "fileb://request.json" in s.form


def test_aws_cli_without_content_type_sends_none(tmp_path):
    readme = bash("aws sagemaker-runtime invoke-endpoint --endpoint-name iris --body '[[1, 2]]' out.json")
    s = samples.sample_request(folder(tmp_path, README__md=readme))
    assert s.content_type is None and s.body == b"[[1, 2]]"


def test_aws_cli_ansi_c_body_and_variables(tmp_path):
    readme = bash("PAYLOAD=$'5.1,3.5,1.4,0.2\\n6.7,3.0,5.2,2.3'",
                  "aws sagemaker-runtime invoke-endpoint --endpoint-name iris --content-type text/csv \\",
                  "  --body \"$PAYLOAD\" out.csv")
    s = samples.sample_request(folder(tmp_path, README__md=readme))
    assert s.body == b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3" and s.n_rows == 2


def test_aws_cli_in_a_notebook_cell(tmp_path):
    import json as _json
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# predict"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
         "source": "!aws sagemaker-runtime invoke-endpoint --endpoint-name e --content-type text/csv "
                   "--body '1,2' out.json\n"}]}
    s = samples.sample_request(folder(tmp_path, deploy__ipynb=_json.dumps(nb)))
    assert s.body == b"1,2" and s.source == "aws_deploy/deploy.ipynb cell 2 line 1"


def test_boto3_without_content_type_and_with_a_list_body(tmp_path):
    code = "import boto3\nrt = boto3.client('sagemaker-runtime')\nrt.invoke_endpoint(EndpointName='e', Body='[[1, 2]]')\n"
    s = samples.sample_request(folder(tmp_path, predict__py=code))
    assert s.content_type is None and s.body == b"[[1, 2]]"
    code = "rt.invoke_endpoint(EndpointName='e', ContentType='application/json', Body=[[1, 2]])\n"
    s = samples.sample_request(folder(tmp_path / "b", predict__py=code))
    assert "botocore refuses the body" in s.client_error and not s.body


def test_curl_forms(tmp_path):
    url = "http://localhost:8080/invocations"
    cases = [
        (f"curl -X POST {url} -H 'Content-Type: text/csv' -d @rows.csv", b"1,23,4", "text/csv", "*/*"),
        (f"curl -X POST {url} -H 'Content-Type: text/csv' --data-binary @rows.csv", b"1,2\n3,4\n", "text/csv", "*/*"),
        (f"curl -X POST {url} -d '[[1, 2]]'", b"[[1, 2]]", "application/x-www-form-urlencoded", "*/*"),
        (f"curl {url} --json '[[1, 2]]'", b"[[1, 2]]", "application/json", "application/json"),
        (f"curl {url} -H 'Content-Type: application/json' -H 'Accept: text/csv' --data-raw '@x'", b"@x",
         "application/json", "text/csv"),
    ]
    for i, (cmd, body, ctype, accept) in enumerate(cases):
        s = samples.sample_request(folder(tmp_path / str(i), README__md=bash(cmd), rows__csv="1,2\n3,4\n"))
        assert (s.body, s.content_type, s.accept, s.form) == (body, ctype, accept, "curl"), cmd


def test_gcloud_vertex_json_request_keeps_parameters(tmp_path):
    req = '{"instances": [[1.0, 2.0]], "parameters": {}}'
    readme = bash("gcloud ai endpoints predict 123 --region=us-central1 --json-request=request.json")
    s = samples.sample_request(folder(tmp_path, "gcp", README__md=readme, request__json=req))
    assert json.loads(s.body) == {"instances": [[1.0, 2.0]], "parameters": {}} and s.decides


def test_gcloud_legacy_json_request_sends_the_instances_only(tmp_path):
    req = '{"instances": [[1.0, 2.0]], "parameters": {"x": 1}, "signature_name": "s"}'
    readme = bash("gcloud ai-platform predict --model m --version v1 --json-request request.json")
    s = samples.sample_request(folder(tmp_path, "gcp", README__md=readme, request__json=req))
    assert json.loads(s.body) == {"instances": [[1.0, 2.0]]}


def test_gcloud_json_instances_with_a_pretty_printed_request_is_refused_by_gcloud(tmp_path):
    req = '{\n  "instances": [[1.0, 2.0]]\n}\n'
    readme = bash("gcloud ai-platform predict --model m --version v1 --json-instances=input.json")
    s = samples.sample_request(folder(tmp_path, "gcp", README__md=readme, input__json=req))
    assert "gcloud refuses input.json" in s.client_error and "not in JSON format" in s.client_error
    one_line = '{"instances": [[1.0, 2.0]]}\n'       # one instance: the whole object (the model gets a dict)
    s = samples.sample_request(folder(tmp_path / "b", "gcp", README__md=readme, input__json=one_line))
    assert json.loads(s.body) == {"instances": [{"instances": [[1.0, 2.0]]}]}
    readme = bash("gcloud ai-platform predict --model m --text-instances=input.txt")
    s = samples.sample_request(folder(tmp_path / "c", "gcp", README__md=readme, input__txt="1,2\n3,4\n"))
    assert json.loads(s.body) == {"instances": ["1,2", "3,4"]}


def test_vertex_sdk_instances_and_parameters(tmp_path):
    code = ("from google.cloud import aiplatform\nendpoint = aiplatform.Endpoint('projects/p/locations/l/endpoints/1')\n"
            "rows = [[1.0, 2.0], [3.0, 4.0]]\nprint(endpoint.predict(instances=rows, parameters={'t': 1}))\n")
    s = samples.sample_request(folder(tmp_path, "gcp", predict__py=code))
    assert json.loads(s.body) == {"instances": [[1.0, 2.0], [3.0, 4.0]], "parameters": {"t": 1}} and s.n_rows == 2


def test_sdk_serializers_given_to_deploy_and_initial_args(tmp_path):
    readme = ("```python\nfrom sagemaker.serializers import CSVSerializer\nfrom sagemaker.deserializers import JSONDeserializer\n"
              "predictor = model.deploy(initial_instance_count=1, instance_type='ml.t2.medium',\n"
              "                         serializer=CSVSerializer(), deserializer=JSONDeserializer())\n"
              "x = np.array([5.1, 3.5, 1.4, 0.2]).reshape(1, -1)\npredictor.predict(x)\n```\n")
    s = samples.sample_request(folder(tmp_path, README__md=readme))
    assert (s.body, s.content_type, s.accept) == (b"5.1,3.5,1.4,0.2", "text/csv", "application/json")
    readme = ("```python\npredictor = model.deploy(initial_instance_count=1, instance_type='ml.t2.medium')\n"
              "predictor.predict('1,2', initial_args={'ContentType': 'text/csv'})\n```\n")
    s = samples.sample_request(folder(tmp_path / "b", README__md=readme))
    assert s.content_type == "text/csv" and np.load(io.BytesIO(s.body)).tolist() == "1,2"


def test_json_serializer_and_a_generic_predictor(tmp_path):
    readme = ("```python\nfrom sagemaker.predictor import Predictor\nfrom sagemaker.serializers import JSONSerializer\n"
              "p = Predictor('iris-endpoint', serializer=JSONSerializer())\np.predict({'rows': [[1, 2]]})\n```\n")
    s = samples.sample_request(folder(tmp_path, README__md=readme))
    assert (s.body, s.content_type, s.accept, s.form) == (b'{"rows": [[1, 2]]}', "application/json", "*/*",
                                                          "Predictor.predict (json serializer)")


def test_a_local_model_predict_is_not_a_request(tmp_path):
    train = "clf = LogisticRegression().fit(X, y)\nprint(clf.predict([[5.1, 3.5, 1.4, 0.2]]))\n"
    s = samples.sample_request(folder(tmp_path, train__py=train))
    assert s.synthesized and "no request is documented" in s.source


def test_unreproducible_data_keeps_the_documented_form(tmp_path):
    readme = ("```python\npredictor = model.deploy(initial_instance_count=1, instance_type='ml.t2.medium')\n"
              "predictor.serializer = CSVSerializer()\nprint(predictor.predict(X_test[:2]))\n```\n")
    s = samples.sample_request(folder(tmp_path, README__md=readme))
    assert s.synthesized and not s.decides and s.content_type == "text/csv" and s.accept == "application/x-npy"
    assert "X_test[:2]" in s.source and "aws_deploy/README.md line 4" in s.source


def test_the_readme_comes_before_scripts_and_the_first_reproducible_request_wins(tmp_path):
    readme = ("```python\nprint(predictor.predict(X_test))\n```\n" +
              bash("aws sagemaker-runtime invoke-endpoint --endpoint-name e --content-type text/csv --body 1,2 o"))
    code = "rt.invoke_endpoint(EndpointName='e', ContentType='application/json', Body='[[9, 9]]')\n"
    s = samples.sample_request(folder(tmp_path, README__md=readme, predict__py=code))
    assert s.body == b"1,2" and s.decides and any("X_test" in n for n in s.notes)


def test_a_request_file_without_a_command_is_sent_unchanged_and_says_so(tmp_path):
    body = '{"instances": [[1.0, 2.0]],\n "parameters": {}}\n'
    s = samples.sample_request(folder(tmp_path, "gcp", request__json=body))
    assert s.body == body.encode() and s.inferred and not s.decides
    s = samples.sample_request(folder(tmp_path / "b", "aws", sample__csv="1,2\n3,4\n"))
    assert (s.body, s.content_type, s.n_rows) == (b"1,2\n3,4\n", "text/csv", 2) and "sample.csv" in s.inferred


def test_a_yaml_request_file_for_vertex_is_not_called_refused(tmp_path):
    """gcloud ai endpoints predict reads --json-request as YAML: deploycheck cannot, so it synthesizes
    (never a failure) instead of reporting gcloud's refusal."""
    readme = bash("gcloud ai endpoints predict 1 --region=r --json-request=request.yaml")
    s = samples.sample_request(folder(tmp_path, "gcp", README__md=readme, request__yaml="instances:\n- [1.0, 2.0]\n"))
    assert s.synthesized and not s.client_error and "YAML" in s.source
