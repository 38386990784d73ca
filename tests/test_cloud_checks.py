"""The cloud.* check functions on the built reference deploys, in-process (offline stand-ins):
cost guard, deployment cap, platform selection, failure messages and the end-of-session teardown."""
import pytest
from dataclasses import replace

pytest.importorskip("moto")
pytest.importorskip("google.cloud.aiplatform")

from deploycheck.cloud import checks as cc  # noqa: E402
from deploycheck.settings import Settings  # noqa: E402
from deploycheck.submission import RepoRef, targets_for  # noqa: E402
from tests.helpers import build_reference  # noqa: E402


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref") / "reference_deploys"
    build_reference(d)
    return d


@pytest.fixture
def dc(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DEPLOYCHECK_RUN_ID", raising=False)
    monkeypatch.delenv("DEPLOYCHECK_LEDGER", raising=False)
    cc._STATE.clear()
    yield Settings(cloud="moto", report=tmp_path / "out", run_id=f"t-{tmp_path.name[-12:].lower()}")
    cc.teardown_all()
    cc._STATE.clear()


def target(ref, platform, student="ref"):
    (t,) = targets_for(RepoRef(student, str(ref)), platform)
    return t


def test_instance_type_outside_the_allowlist_is_refused(ref, dc):
    dc = replace(dc, instance_type="ml.p3.2xlarge")
    o = cc.cloud_deploy(target(ref, "aws"), dc)
    assert o.status == "failed" and "allowlist" in o.message and "--allow-instance-type" in o.message


def test_max_deployments_caps_the_run(ref, dc):
    dc = replace(dc, max_deployments=1)
    assert cc.cloud_deploy(target(ref, "aws", "s1"), dc).status == "passed"
    o = cc.cloud_deploy(target(ref, "aws", "s2"), dc)
    assert o.status == "failed" and "--max-deployments is 1" in o.message


def test_cloud_aws_skips_gcp_folders_and_checks_need_a_deployment(ref, dc):
    o = cc.cloud_deploy(target(ref, "gcp"), replace(dc, cloud="aws"))
    assert o.status == "skipped" and "--cloud gcp" in o.message
    o = cc.cloud_predict(target(ref, "aws", "never-deployed"), dc)
    assert o.status == "failed" and "cloud.deploy failed" in o.message
    assert cc.cloud_teardown(target(ref, "aws", "never-deployed"), dc).status == "skipped"


def test_unsafe_pickle_is_never_deployed(ref, dc, tmp_path):
    import pickle
    import shutil
    repo = tmp_path / "evil"
    shutil.copytree(ref, repo)
    (repo / "gcp_deploy" / "model.joblib").write_bytes(pickle.dumps({"x": __import__("os").system}))
    o = cc.cloud_deploy(target(repo, "gcp", "evil"), dc)
    assert o.status == "failed" and "artifact.safe" in o.message


def test_session_teardown_removes_what_a_crashed_test_left(ref, dc):
    t = target(ref, "gcp")
    assert cc.cloud_deploy(t, dc).status == "passed"
    assert cc.cloud_leftovers(t, dc).status == "failed"            # still deployed: leftovers lists it
    assert len(cc.teardown_all()) == 3
    o = cc.cloud_leftovers(t, dc)
    assert o.status == "passed", o.message
    assert cc.cloud_teardown(t, dc).status == "passed"             # already deleted, says so


def test_account_clean_lists_billable_resources(ref, dc):
    t = target(ref, "aws")
    assert cc.cloud_deploy(t, dc).status == "passed"
    o = cc.cloud_account_clean(t, dc)
    assert o.status == "failed" and "sagemaker-endpoint" in o.message and "ml.t2.medium" in o.message
    cc.cloud_teardown(t, dc)
    assert cc.cloud_account_clean(t, dc).status == "passed"
