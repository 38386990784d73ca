"""deploycheck.cloud.base: names, labels, the teardown loop, answers, redaction, options."""
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

from deploycheck.cloud.base import (AccessError, CloudError, CloudOptions, Resource, TeardownError, decode_answer,
                                    delete_all, label_value, options_from, parse_age, redact, resource_name,
                                    same_values)


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


def test_delete_all_tries_every_resource_newest_first_and_keeps_the_failed_ones():
    res = [Resource("aws", k, f"n-{k}") for k in ("s3-object", "sagemaker-model", "sagemaker-endpoint")]
    tried, forgotten = [], []

    def delete(r):
        tried.append(r.kind)
        if r.kind == "sagemaker-model":
            raise CloudError("DeleteModel failed: ThrottlingException")
        return r.kind != "s3-object"          # already gone: not counted as removed

    with pytest.raises(TeardownError) as ei:
        delete_all(res, delete, forgotten.append, "deploycheck sweep --run-id r1")
    assert tried == ["sagemaker-endpoint", "sagemaker-model", "s3-object"]
    assert ei.value.removed == (res[2],) and ei.value.remaining == (res[1],) and forgotten == [res[2], res[0]]
    assert "ThrottlingException" in str(ei.value) and "`deploycheck sweep --run-id r1`" in str(ei.value)
    assert ei.value.access is False
    assert delete_all([res[2]], lambda r: True, forgotten.append, "x") == (res[2],)


def test_delete_all_marks_permission_failures():
    def denied(r):
        raise AccessError("missing IAM permission sagemaker:DeleteEndpoint")
    with pytest.raises(TeardownError) as ei:
        delete_all([Resource("aws", "sagemaker-endpoint", "e")], denied, lambda r: None, "deploycheck sweep")
    assert ei.value.access and "sagemaker:DeleteEndpoint" in str(ei.value)


def test_decode_and_compare_json_npy_csv_and_vertex():
    buf = io.BytesIO()
    np.save(buf, np.array([0, 2]))
    assert decode_answer(buf.getvalue(), "application/x-npy") == [0, 2]
    assert decode_answer(b"0\n2\n", "text/csv") == [0.0, 2.0]
    assert decode_answer(json.dumps({"predictions": [0.0, 2.0]}).encode(), "application/json") == [0.0, 2.0]
    assert same_values([0, 2], [0.0, 2.0]) and same_values([[0.1, 0.9]], [0.1000001, 0.9])
    assert not same_values([0, 2], [0, 1]) and not same_values([0], [0, 0])
    assert same_values(["setosa"], ["setosa"]) and not same_values(["a"], ["b"])
    assert not same_values([True], [1])


def test_redact_removes_known_values_and_credential_shapes():
    line = redact("key AKIAABCDEFGHIJKLMNOP secret s3cr3t-canary-value token ya29.a0AfB_byC-canary\nnext",
                  known=("s3cr3t-canary-value", None, ""))
    assert "AKIA" not in line and "s3cr3t" not in line and "ya29" not in line and "\n" not in line


def test_options_from_reads_the_settings_names():
    o = options_from(SimpleNamespace(cloud="aws", cloud_assets="reference", aws_region="eu-west-1", report="out",
                                     max_deployments=2, run_id=None, instance_type=None))
    assert o == CloudOptions(cloud="aws", assets="reference", aws_region="eu-west-1", max_deployments=2,
                             report_dir=__import__("pathlib").Path("out"))
    assert o.region("aws") == "eu-west-1" and o.region("gcp") == "us-central1"
