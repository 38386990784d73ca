"""Unit tests of the provider-neutral cloud pieces: names, ledger, cost guard, archive, comparison."""
import io
import json
import tarfile

import numpy as np
import pytest

from deploycheck.cloud import costs
from deploycheck.cloud.aws import build_model_archive, explain as aws_explain
from deploycheck.cloud.base import (Bundle, CloudError, CostGuardError, Deployment, Resource, TeardownError,
                                    label_value, parse_age, resource_name, teardown_resources)
from deploycheck.cloud.checks import decode, same_predictions
from deploycheck.cloud.gcp import explain as gcp_explain
from deploycheck.cloud.ledger import Ledger, pending, read


def test_names_are_valid_for_sagemaker_and_gcp_labels():
    n = resource_name("20250101-000000-abcdef", "Some Student_With.A-Very-Long-Name-" + "x" * 80, "aws")
    assert len(n) <= 63 and n.startswith("dc-") and all(c.isalnum() or c == "-" for c in n)
    assert n != resource_name("20250101-000000-abcdef", "Some Student_With.A-Very-Long-Name-" + "x" * 81, "aws")
    v = label_value("Alice.SMITH@School" + "y" * 90)
    assert len(v) <= 63 and v == v.lower() and set(v) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def test_parse_age():
    assert parse_age("2h") == 7200 and parse_age("30m") == 1800 and parse_age("90") == 90
    with pytest.raises(ValueError):
        parse_age("two hours")


def test_ledger_pending_replays_creates_and_deletes_and_survives_a_torn_line(tmp_path):
    led = Ledger(tmp_path / "l.jsonl")
    a = Resource("aws", "sagemaker-model", "m", "us-east-1", "r1", "s")
    b = Resource("aws", "sagemaker-endpoint", "e", "us-east-1", "r1", "s")
    c = Resource("aws", "sagemaker-model", "other", "us-east-1", "r2", "s")
    for r in (a, b, c):
        led.will_create(r)
    led.deleted(a)
    with open(led.path, "a") as fh:
        fh.write('{"action": "create", "kind": "sagemak')          # a SIGKILL mid-write
    left = pending(read(led.path), "r1")
    assert [r.name for r in left] == ["e"]
    assert [r.name for r in pending(read(led.path))] == ["other", "e"]       # newest first


def test_ledger_reserve_enforces_the_cap(tmp_path):
    led = Ledger(tmp_path / "l.jsonl")
    slot = Resource("aws", "endpoint-slot", "x", "", "r1", "s")
    assert led.reserve_endpoint(slot, 2) == 0
    assert led.reserve_endpoint(slot, 2) == 1
    with pytest.raises(CostGuardError, match="--max-deployments is 2"):
        led.reserve_endpoint(slot, 2)
    other_run = Resource("aws", "endpoint-slot", "x", "", "r2", "s")
    assert led.reserve_endpoint(other_run, 2) == 0


def test_teardown_tries_every_resource_newest_first_and_keeps_the_failed_ones():
    res = [Resource("aws", k, f"n-{k}") for k in ("s3-object", "sagemaker-model", "sagemaker-endpoint")]
    dep = Deployment("aws", "stu", "aws", "r1", "us-east-1", resources=list(res))
    tried, forgotten = [], []

    def delete(r):
        tried.append(r.kind)
        if r.kind == "sagemaker-model":
            raise CloudError("AccessDenied on DeleteModel")
        return r.kind != "s3-object"          # already gone: not counted as removed

    with pytest.raises(TeardownError) as ei:
        teardown_resources(dep, delete, forgotten.append, lambda e, doing: f"{e} ({doing})", "deploycheck sweep --run-id r1")
    assert tried == ["sagemaker-endpoint", "sagemaker-model", "s3-object"]
    assert ei.value.removed == [str(res[2])] and dep.resources == [res[1]] and forgotten == [res[2], res[0]]
    assert "AccessDenied on DeleteModel (deleting)" in str(ei.value) and "`deploycheck sweep --run-id r1`" in str(ei.value)
    dep.resources = [res[2]]
    assert teardown_resources(dep, lambda r: True, forgotten.append, str, "x") == [str(res[2])] and dep.resources == []


def test_cost_guard_allowlist_and_estimate():
    costs.check_instance_type("aws", "ml.t2.medium")
    costs.check_instance_type("gcp", costs.default_instance_type("gcp"))
    with pytest.raises(CostGuardError, match="ml.p3.2xlarge.*allow-instance-type"):
        costs.check_instance_type("aws", "ml.p3.2xlarge")
    costs.check_instance_type("aws", "ml.p3.2xlarge", allow_any=True)
    line = costs.estimate("aws", "ml.t2.medium", 3, 60)
    assert "$0.168" in line and "approximate" in line


def test_model_archive_is_repacked_like_the_sdk(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in {"model.joblib": b"M", "code/old.py": b"old"}.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    (tmp_path / "model.tar.gz").write_bytes(raw.getvalue())
    (tmp_path / "inference.py").write_text("def model_fn(d): ...\n")
    (tmp_path / "requirements.txt").write_text("joblib\n")
    b = Bundle("s", "aws", tmp_path, entry_point="inference.py", model_archive="model.tar.gz",
               requirements="requirements.txt")
    data = build_model_archive(b)
    assert data == build_model_archive(b)                       # deterministic
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert sorted(tar.getnames()) == ["code/inference.py", "code/requirements.txt", "model.joblib"]


def test_model_archive_refuses_links(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        ti = tarfile.TarInfo("model.joblib")
        ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(ti)
    (tmp_path / "model.tar.gz").write_bytes(raw.getvalue())
    with pytest.raises(CloudError, match="link"):
        build_model_archive(Bundle("s", "aws", tmp_path, model_archive="model.tar.gz"))


def test_aws_errors_name_the_missing_permission_and_never_a_secret():
    from botocore.exceptions import ClientError, NoCredentialsError
    e = ClientError({"Error": {"Code": "AccessDeniedException", "Message":
                               "User: arn:aws:iam::123456789012:user/ta is not authorized to perform: "
                               "sagemaker:CreateModel on resource: arn:aws:sagemaker:us-east-1:123456789012:model/x "
                               "because no identity-based policy allows the sagemaker:CreateModel action"}},
                    "CreateModel")
    msg = aws_explain(e)
    assert "missing IAM permission sagemaker:CreateModel" in msg and "README" in msg
    assert "aws configure" in aws_explain(NoCredentialsError())


def test_gcp_errors_name_the_missing_permission():
    from google.api_core import exceptions as gex
    from google.auth.exceptions import DefaultCredentialsError
    assert "gcloud auth application-default login" in gcp_explain(DefaultCredentialsError("none"))
    msg = gcp_explain(gex.PermissionDenied("Permission 'aiplatform.endpoints.create' denied on resource"))
    assert "aiplatform.endpoints.create" in msg and "roles/aiplatform.user" in msg


def test_decode_and_compare_json_npy_csv_and_vertex():
    buf = io.BytesIO()
    np.save(buf, np.array([0, 2]))
    assert decode(buf.getvalue(), "application/x-npy") == [0, 2]
    assert decode(b"0\n2\n", "text/csv") == [0.0, 2.0]
    assert decode(json.dumps({"predictions": [0.0, 2.0]}).encode(), "application/json") == [0.0, 2.0]
    assert same_predictions([0, 2], [0.0, 2.0]) and same_predictions([[0.1, 0.9]], [0.1000001, 0.9])
    assert not same_predictions([0, 2], [0, 1]) and not same_predictions([0], [0, 0])
    assert same_predictions(["setosa"], ["setosa"]) and not same_predictions(["a"], ["b"])
