"""AwsProvider with the real boto3 calls against moto in-process (mock_aws): no network, no account."""
import io
import json
import tarfile
from pathlib import Path

import pytest

from deploycheck.cloud.aws import AwsProvider, build_model_archive
from deploycheck.cloud.base import AccessError, Bundle, CloudError, ServingImage, StudentError
from deploycheck.cloud.ledger import Ledger, pending
from deploycheck.cloud.offline import in_process_aws
from deploycheck.model import Prediction, Request

IMAGE = ServingImage("aws", 'framework_version="1.2-1"', "1.2-1", "1.2.1",
                     "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "aws_deploy"
    d.mkdir()
    (d / "inference.py").write_text("import os, joblib\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n")
    (d / "model.joblib").write_bytes(b"not really a model")
    return d


@pytest.fixture
def aws(tmp_path):
    with in_process_aws():
        yield lambda **kw: AwsProvider("us-east-1", run_id="run1", ledger=Ledger(tmp_path / "ledger.jsonl"),
                                       offline=True, **kw)


def bundle(folder, student="alice"):
    return Bundle(student, "aws", Path(folder), IMAGE, "1.2.1", model_files=("model.joblib",), entry_point="inference.py")


def answer(body, ctype="application/json"):
    return Prediction(mode="local", platform="aws", ok=True, request=Request(b"[]"), response=body,
                      response_content_type=ctype)


def test_deploy_predict_teardown_leaves_nothing(aws, folder):
    p = aws()
    dep = p.deploy(bundle(folder))
    sm = p.sm
    model = sm.describe_model(ModelName=dep.model)
    assert model["PrimaryContainer"]["Environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": "us-east-1"}
    assert model["PrimaryContainer"]["Image"] == IMAGE.uri == dep.image
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=model["ModelArn"])["Tags"]}
    assert tags == {"deploycheck-run": "run1", "deploycheck-student": "alice"}
    bucket, key = dep.artifact.removeprefix("s3://").split("/", 1)
    obj = p.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(obj)) as tar:
        assert sorted(tar.getnames()) == ["code/inference.py", "model.joblib"]
    assert sm.describe_endpoint(EndpointName=dep.endpoint)["EndpointStatus"] == "InService"
    assert len(p.leftovers("run1")) == 4 and len(p.leftovers("run1", student="alice")) == 4
    assert p.leftovers("run1", student="bob") == []

    p.prime(dep, answer(b"[0, 2]"))
    got = p.predict(dep, Request(b"[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]"))
    assert json.loads(got.response) == [0, 2] and got.response_content_type == "application/json"
    assert got.mode == "cloud" and got.ok and got.endpoint == dep.endpoint and got.runtime == IMAGE.uri

    assert [b.kind for b in p.audit_account()] == ["sagemaker-endpoint"]
    removed = p.teardown(dep)
    assert [r.kind for r in removed] == ["sagemaker-endpoint", "sagemaker-endpoint-config", "sagemaker-model",
                                         "s3-object"]
    assert p.leftovers("run1") == [] and p.audit_account() == []
    assert pending(p.ledger.entries()) == []
    assert p.teardown(dep) == ()                                      # idempotent: all already gone


def test_headers_the_documented_request_does_not_set_are_not_sent(aws, folder):
    """`invoke-endpoint --body fileb://x.csv` without --content-type: the call carries no ContentType
    (and no Accept) at all, never an empty one; documented headers are sent as written."""
    p = aws()
    dep = p.deploy(bundle(folder))
    p.prime(dep, answer(b"[0]"))
    sent: list[dict] = []
    p.client("sagemaker-runtime").meta.events.register(
        "provide-client-params.sagemaker-runtime.InvokeEndpoint", lambda params, **_: sent.append(dict(params)))
    p.predict(dep, Request(b"5.1,3.5,1.4,0.2", content_type="", accept=""))
    p.predict(dep, Request(b"5.1,3.5,1.4,0.2", content_type="text/csv", accept="application/json"))
    assert "ContentType" not in sent[0] and "Accept" not in sent[0], sent[0]
    assert sent[1]["ContentType"] == "text/csv" and sent[1]["Accept"] == "application/json"
    p.teardown(dep)


def test_binary_answers_are_primed_as_json(aws, folder):
    import numpy as np
    p = aws()
    dep = p.deploy(bundle(folder))
    buf = io.BytesIO()
    np.save(buf, np.array([1, 0]))
    p.prime(dep, answer(buf.getvalue(), "application/x-npy"))
    assert json.loads(p.predict(dep, Request(b"[[1, 2, 3, 4]]")).response) == [1, 0]
    p.teardown(dep)


def test_ledger_line_is_written_before_each_create(aws, folder):
    p = aws()
    seen = []
    p.on_step = lambda step: seen.append((step, [e.kind for e in p.ledger.entries()]))
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


def test_throttling_and_5xx_are_retried_by_botocore(aws, folder):
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


def test_a_failing_endpoint_is_the_folders_problem_and_names_the_logs(aws, folder):
    p = aws()
    sm = p.sm

    def failed_status(parsed, **kw):           # what SageMaker answers when model_fn crashes in the container
        parsed.update(EndpointStatus="Failed", FailureReason="The primary container for production variant "
                      "AllTraffic did not pass the ping health check.")
    sm.meta.events.register("after-call.sagemaker.DescribeEndpoint", failed_status)
    with pytest.raises(StudentError) as ei:
        p.deploy(bundle(folder))
    assert "did not pass the ping health check" in str(ei.value) and "/aws/sagemaker/Endpoints/dc-alice" in str(ei.value)
    assert "deleted again" in str(ei.value) and p.leftovers("run1") == []


def test_a_denied_permission_from_moto_iam_names_the_action(tmp_path, folder):
    """moto's IAM enforcement: a user whose policy denies sagemaker:CreateEndpoint."""
    import boto3
    from moto.core.authorization import enable_iam_authentication
    with in_process_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="ta")
        iam.put_user_policy(UserName="ta", PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "sagemaker:CreateEndpoint", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="ta")["AccessKey"]
        session = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                region_name="us-east-1")
        p = AwsProvider("us-east-1", run_id="run1", ledger=Ledger(tmp_path / "l.jsonl"), offline=True, session=session)
        with enable_iam_authentication():
            with pytest.raises(AccessError) as ei:
                p.deploy(bundle(folder))
            assert p.leftovers("run1") == []                       # rolled back with the same identity
        msg = str(ei.value)
        assert "missing IAM permission sagemaker:CreateEndpoint" in msg and "IAM permissions" in msg
        assert key["SecretAccessKey"] not in msg and key["AccessKeyId"] not in msg
        assert "\n" not in msg


def test_canary_keys_moto_does_not_know_are_rejected_without_being_printed(tmp_path, folder):
    import boto3
    from moto.core.authorization import enable_iam_authentication
    canary = {"aws_access_key_id": "AKIACANARY0000000001", "aws_secret_access_key": "canary-secret-do-not-print"}
    with in_process_aws():
        p = AwsProvider("us-east-1", run_id="run1", ledger=Ledger(tmp_path / "l.jsonl"), offline=True,
                        session=boto3.Session(region_name="us-east-1", **canary))
        with enable_iam_authentication(), pytest.raises(AccessError) as ei:
            p.audit_account()
    msg = str(ei.value)
    assert "the AWS credentials were rejected" in msg and "aws configure" in msg
    assert not any(v in msg for v in canary.values())


def test_real_mode_needs_a_role(tmp_path, folder):
    with in_process_aws():
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


def _tar(path, members, link=False):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            if link:
                ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(ti)
            else:
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
    path.write_bytes(raw.getvalue())


def test_model_archive_is_repacked_like_the_sdk(tmp_path):
    _tar(tmp_path / "model.tar.gz", {"model.joblib": b"M", "code/old.py": b"old"})
    (tmp_path / "inference.py").write_text("def model_fn(d): ...\n")
    (tmp_path / "requirements.txt").write_text("joblib\n")
    b = Bundle("s", "aws", tmp_path, IMAGE, model_archive="model.tar.gz", entry_point="inference.py",
               requirements="requirements.txt")
    data = build_model_archive(b)
    assert data == build_model_archive(b)                       # deterministic
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert sorted(tar.getnames()) == ["code/inference.py", "code/requirements.txt", "model.joblib"]


def test_model_archive_refuses_links(tmp_path):
    _tar(tmp_path / "model.tar.gz", {"model.joblib": b""}, link=True)
    with pytest.raises(StudentError, match="link"):
        build_model_archive(Bundle("s", "aws", tmp_path, IMAGE, model_archive="model.tar.gz"))
