"""AwsProvider against moto in-process (mock_aws): the real boto3 calls, no network, no account."""
import io
import json
import tarfile

import pytest

pytest.importorskip("moto")
from moto import mock_aws  # noqa: E402

from deploycheck.cloud.aws import AwsProvider  # noqa: E402
from deploycheck.cloud.base import Bundle, CloudError, Request  # noqa: E402
from deploycheck.cloud.ledger import Ledger, pending  # noqa: E402


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "aws_deploy"
    d.mkdir()
    (d / "inference.py").write_text("import os, joblib\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n")
    (d / "model.joblib").write_bytes(b"not really a model")
    return d


@pytest.fixture
def aws(tmp_path, monkeypatch):
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    with mock_aws():
        yield lambda **kw: AwsProvider("us-east-1", run_id="run1", ledger=Ledger(tmp_path / "ledger.jsonl"),
                                       offline=True, **kw)


def bundle(folder, student="alice"):
    return Bundle(student, "aws", folder, entry_point="inference.py", model_files=["model.joblib"],
                  framework_version="1.2-1")


def test_deploy_predict_teardown_leaves_nothing(aws, folder):
    p = aws()
    dep = p.deploy(bundle(folder))
    sm = p.sm
    model = sm.describe_model(ModelName=dep.ids["model"])
    env = model["PrimaryContainer"]["Environment"]
    assert env == {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                   "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": "us-east-1"}
    assert model["PrimaryContainer"]["Image"].endswith("sagemaker-scikit-learn:1.2-1-cpu-py3")
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=model["ModelArn"])["Tags"]}
    assert tags == {"deploycheck-run": "run1", "deploycheck-student": "alice"}
    obj = p.client("s3").get_object(Bucket=dep.ids["bucket"], Key=dep.ids["key"])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(obj)) as tar:
        assert sorted(tar.getnames()) == ["code/inference.py", "model.joblib"]
    assert sm.describe_endpoint(EndpointName=dep.endpoint)["EndpointStatus"] == "InService"
    assert len(p.leftovers("run1")) == 4

    p.prime_offline_result(dep, b"[0, 2]", "application/json")
    body, ctype, ms = p.predict(dep, Request(b"[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]"))
    assert json.loads(body) == [0, 2] and ctype == "application/json" and ms >= 0

    assert [b.kind for b in p.audit_account()] == ["sagemaker-endpoint"]
    removed = p.teardown(dep)
    assert len(removed) == 4 and removed[0].startswith("sagemaker-endpoint ")
    assert p.leftovers("run1") == [] and p.audit_account() == []
    assert pending(p.ledger.entries()) == []
    assert p.teardown(dep) == []                                    # idempotent


def test_ledger_line_is_written_before_each_create(aws, folder):
    p = aws()
    seen = []
    p.on_step = lambda step: seen.append((step, [e["kind"] for e in p.ledger.entries()]))
    p.teardown(p.deploy(bundle(folder)))
    assert seen[1] == ("create_model", ["s3-object", "sagemaker-model"])
    assert seen[3][1][-1] == "sagemaker-endpoint"


def test_failure_between_create_model_and_create_endpoint_deletes_everything(aws, folder):
    def boom(step):
        if step == "create_endpoint_config":
            raise RuntimeError("injected failure")
    p = aws(on_step=boom)
    with pytest.raises(CloudError, match="injected failure.*deleted again"):
        p.deploy(bundle(folder))
    assert p.leftovers("run1") == []
    assert p.sm.list_models()["Models"] == [] and p.sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert pending(p.ledger.entries()) == []


def test_keyboard_interrupt_mid_deploy_also_deletes(aws, folder):
    def ctrl_c(step):
        if step == "create_model":
            raise KeyboardInterrupt
    p = aws(on_step=ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        p.deploy(bundle(folder))
    assert p.leftovers("run1") == []


class _Raw:
    def __init__(self, data):
        self.data = data

    def stream(self, **kw):
        yield self.data


def test_throttling_and_5xx_are_retried(aws, folder):
    from botocore.awsrequest import AWSResponse
    p = aws(retry_mode="standard", max_attempts=5)
    calls = {"n": 0}

    def flaky(request, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            return AWSResponse(request.url, 400, {}, _Raw(json.dumps(
                {"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()))
        if calls["n"] == 2:
            return AWSResponse(request.url, 503, {}, _Raw(b"Service Unavailable"))
        return None                                                 # the real (moto) call

    p.sm.meta.events.register("before-send.sagemaker.CreateModel", flaky)
    dep = p.deploy(bundle(folder))
    assert calls["n"] == 3
    p.teardown(dep)


def test_access_denied_names_the_permission(aws, folder):
    from botocore.awsrequest import AWSResponse
    p = aws()

    def deny(request, **kw):
        return AWSResponse(request.url, 400, {}, _Raw(json.dumps({
            "__type": "AccessDeniedException",
            "message": "User: arn:aws:iam::123456789012:user/ta is not authorized to perform: "
                       "sagemaker:CreateEndpoint on resource: arn:aws:sagemaker:us-east-1:123456789012:endpoint/x"}).encode()))

    p.sm.meta.events.register("before-send.sagemaker.CreateEndpoint", deny)
    with pytest.raises(CloudError, match="missing IAM permission sagemaker:CreateEndpoint"):
        p.deploy(bundle(folder))
    assert p.leftovers("run1") == []


def test_real_mode_needs_a_role(tmp_path, folder):
    with mock_aws():
        p = AwsProvider("us-east-1", run_id="r", ledger=Ledger(tmp_path / "l.jsonl"))
        with pytest.raises(CloudError, match="--aws-role-arn"):
            p.deploy(bundle(folder))


def test_audit_lists_notebooks_and_ec2(aws):
    p = aws()
    p.sm.create_notebook_instance(NotebookInstanceName="lab", InstanceType="ml.t3.medium",
                                  RoleArn="arn:aws:iam::123456789012:role/x")
    ec2 = p.client("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    found = {(b.kind, b.type): b.hourly_usd for b in p.audit_account()}
    assert found == {("sagemaker-notebook", "ml.t3.medium"): 0.05, ("ec2-instance", "t3.micro"): 0.0104}
