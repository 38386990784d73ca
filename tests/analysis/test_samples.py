"""Sample requests: the documented one, with the content type it would be sent with."""
from __future__ import annotations

import io
import json

import numpy as np

from deploycheck.analysis import samples
from deploycheck.discovery import DeployFolder, make_folder


def folder(tmp_path, platform="aws", **files) -> DeployFolder:
    d = tmp_path / f"{platform}_deploy"
    d.mkdir()
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
    assert s.content_type == "text/csv" and s.body == b"1,2\n3,4\n"


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
    assert json.loads(s.body) == {"instances": [[1, 2], [3, 4]]} and s.source == "gcp_deploy/req.json"


def test_code_is_never_evaluated(tmp_path):
    canary = tmp_path / "canary"
    readme = f"```python\npredictor.predict(__import__('os').system('touch {canary}'))\n```\n"
    assert samples.sample_request(folder(tmp_path, README__md=readme)) is None
    assert not canary.exists()


