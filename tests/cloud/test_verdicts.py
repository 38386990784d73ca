"""The cloud.* verdicts on built reference deploys, in-process, against the offline stand-ins
(moto server, gcp-storage-emulator, fake Vertex) that --cloud moto starts: who is at fault decides
the status (student -> failed, prerequisite -> blocked, deploycheck/credentials/cost guard -> run error)."""
import json
import shutil

import pytest

from deploycheck import errors
from deploycheck.cloud import offline, session
from deploycheck.cloud.base import AccessError
from deploycheck.model import Prediction
from deploycheck.discovery import targets_for
from deploycheck.verdicts import cloud

from .conftest import settings


def target(repo, platform, student="ref"):
    (t,) = targets_for(student, str(repo), platform)
    return t


def run_error(o, *needles):
    assert o.status == "skipped" and o.error, o
    assert all(n in o.message for n in needles), o.message


@pytest.mark.parametrize("platform", ["aws", "gcp"])
def test_deploy_predict_teardown_leftovers_on_the_reference(reference, tmp_path, platform):
    dc = settings(tmp_path)
    t = target(reference, platform)
    o = cloud.cloud_deploy(t, dc)
    assert o.status == "passed" and "offline" in o.message, o.message
    assert cloud.cloud_deploy(t, dc).message.startswith("already deployed")
    p = cloud.cloud_predict(t, dc)
    assert p.status == "passed" and p.data["compared"] and "the same as predict.local" in p.message, p.message
    pred = cloud.cloud_prediction(t)
    assert isinstance(pred, Prediction) and pred.mode == "cloud" and pred.ok and pred.runtime == o.data["image"]
    assert cloud.cloud_leftovers(t, dc).status == "failed"              # still deployed: listed
    td = cloud.cloud_teardown(t, dc)
    assert td.status == "passed" and td.message.startswith(f"deleted {3 if platform == 'gcp' else 4} resources")
    assert cloud.cloud_teardown(t, dc).message.startswith("already deleted")
    left = cloud.cloud_leftovers(t, dc)
    assert left.status == "passed" and "nothing tagged deploycheck-run=" in left.message


def test_an_answer_unlike_predict_local_fails_cloud_predict(reference, tmp_path):
    dc = settings(tmp_path)
    t = target(reference, "aws")
    assert cloud.cloud_deploy(t, dc).status == "passed"
    # moto answers from a queue: put another answer before the one cloud.predict primes
    offline.prime_sagemaker(offline.services().moto_url, "us-east-1", b"[1, 1]", "application/json")
    o = cloud.cloud_predict(t, dc)
    assert o.status == "failed" and "answered [1, 1] but the local emulation answered [0, 2]" in o.message
    slot = session.session_for(cloud.options_from(dc)).slot("ref", "aws")
    slot.provider.predict(slot.deployment, cloud.local_prediction(t, dc).request)     # empty the queue again


def test_instance_type_outside_the_allowlist_is_a_run_error(reference, tmp_path):
    o = cloud.cloud_deploy(target(reference, "aws"), settings(tmp_path, instance_type="ml.p3.2xlarge"))
    run_error(o, "cost guard", "allowlist", "--allow-instance-type")


def test_max_deployments_caps_the_run(reference, tmp_path):
    dc = settings(tmp_path, max_deployments=1)
    assert cloud.cloud_deploy(target(reference, "aws", "s1"), dc).status == "passed"
    run_error(cloud.cloud_deploy(target(reference, "aws", "s2"), dc), "--max-deployments is 1")


def test_platform_selection_and_checks_that_need_a_deployment(reference, tmp_path):
    o = cloud.cloud_deploy(target(reference, "gcp"), settings(tmp_path, cloud="aws"))
    assert o.status == "skipped" and not o.error and "--cloud gcp" in o.message
    dc = settings(tmp_path)
    run_error(cloud.cloud_predict(target(reference, "aws", "never-deployed"), dc), "cloud.deploy did not run")
    assert cloud.cloud_teardown(target(reference, "aws", "never-deployed"), dc).status == "skipped"
    empty = tmp_path / "empty"
    empty.mkdir()
    (t,) = targets_for("nobody", str(empty), "aws")
    o = cloud.cloud_deploy(t, dc)
    assert o.status == "failed" and o.blocked_by == "structure.deploy_folder"


def test_an_unsafe_pickle_is_never_deployed(reference, tmp_path):
    import pickle
    repo = tmp_path / "evil"
    shutil.copytree(reference, repo)
    (repo / "gcp_deploy" / "model.joblib").write_bytes(pickle.dumps({"x": __import__("os").system}))
    dc = settings(tmp_path)
    o = cloud.cloud_deploy(target(repo, "gcp", "evil"), dc)
    assert o.status == "failed" and o.blocked_by == "predict.local" and "artifact.safe" in o.message
    assert session.session_for(cloud.options_from(dc)).ledger.entries() == []   # nothing reserved


def test_a_declared_image_that_does_not_serve_the_pickle_is_never_deployed(reference, tmp_path):
    # the local emulation runs the declared image's own scikit-learn, so it meets the mismatch first
    # (test_bundle checks the bundle's own refusal message)
    repo = tmp_path / "mismatch"
    shutil.copytree(reference, repo)
    for f in (repo / "gcp_deploy").iterdir():          # README and train.py name the container
        if f.suffix in (".md", ".py"):
            f.write_text(f.read_text().replace("sklearn-cpu.1-2", "sklearn-cpu.1-0"))
    dc = settings(tmp_path)
    o = cloud.cloud_deploy(target(repo, "gcp", "mm"), dc)
    assert o.status == "failed" and not o.error and o.blocked_by == "predict.local", o
    assert session.session_for(cloud.options_from(dc)).ledger.entries() == []   # nothing was created
    assert cloud.cloud_predict(target(repo, "gcp", "mm"), dc).blocked_by == "cloud.deploy"
    assert cloud.cloud_teardown(target(repo, "gcp", "mm"), dc).blocked_by == "cloud.deploy"


def test_reference_assets_deploy_the_reference_solution(tmp_path):
    repo = tmp_path / "student"
    (repo / "aws_deploy").mkdir(parents=True)
    (repo / "aws_deploy" / "README.md").write_text("# my deployment\n")
    dc = settings(tmp_path, cloud_assets="reference")
    t = target(repo, "aws", "stu")
    o = cloud.cloud_deploy(t, dc)
    assert o.status == "passed" and "dc-stu-aws-" in o.data["endpoint"], o.message
    assert cloud.cloud_predict(t, dc).status == "passed"
    assert cloud.cloud_teardown(t, dc).status == "passed"


def test_session_teardown_removes_what_a_crashed_test_left(reference, tmp_path):
    dc = settings(tmp_path)
    t = target(reference, "gcp")
    assert cloud.cloud_deploy(t, dc).status == "passed"
    assert len(cloud.teardown_all()) == 3
    assert cloud.cloud_leftovers(t, dc).status == "passed"
    assert cloud.cloud_teardown(t, dc).message.startswith("already deleted")


def test_account_clean_lists_billable_resources(reference, tmp_path):
    dc = settings(tmp_path, audit_account=True)
    t = target(reference, "aws")
    assert cloud.cloud_deploy(t, dc).status == "passed"
    o = cloud.cloud_account_clean(t, dc)
    assert o.status == "failed" and "sagemaker-endpoint" in o.message and "ml.t2.medium" in o.message
    cloud.cloud_teardown(t, dc)
    assert cloud.cloud_account_clean(t, dc).status == "passed"


def test_account_clean_without_credentials_is_a_run_error_in_one_line(reference, tmp_path):
    with pytest.raises(AccessError) as e:          # a cloud error escapes the verdict; the plugin applies the policy
        cloud.cloud_account_clean(target(reference, "aws"), settings(tmp_path, cloud=None, audit_account=True))
    o = errors.outcome_of("cloud.account_clean", e.value)
    run_error(o, "cloud.account_clean: no AWS credentials found", "aws configure", "IAM permissions")
    assert "\n" not in o.message and "AccessError" in o.traceback
    json.dumps(o.data)
