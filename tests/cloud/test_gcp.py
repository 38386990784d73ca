"""GcpProvider through the real google-cloud-storage / google-cloud-aiplatform clients, against
gcp-storage-emulator and the fake Vertex REST API (long-running operations included)."""
import json
from pathlib import Path

import pytest

from deploycheck.cloud import cli
from deploycheck.cloud.base import AccessError, Bundle, CloudError, ServingImage, StudentError
from deploycheck.cloud.gcp import GcpProvider, translate
from deploycheck.cloud.ledger import Ledger, pending
from deploycheck.model import Prediction, Request

IMAGE = ServingImage("gcp", "sklearn-cpu.1-2", "sklearn-cpu.1-2", "1.2",
                     "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest")


@pytest.fixture
def gcp(gcs_url, fake, tmp_path):
    def make(**kw):
        return GcpProvider("p", "us-central1", run_id="run1", ledger=Ledger(tmp_path / "ledger.jsonl"),
                           bucket=f"b-{tmp_path.name.lower()[:40]}", api_endpoint=fake.url, storage_endpoint=gcs_url,
                           retry_initial_s=0.01, **kw)
    return make


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "gcp_deploy"
    d.mkdir()
    (d / "model.joblib").write_bytes(b"not really a model")
    return d


def bundle(folder, student="Bob.Smith", files=("model.joblib",)):
    return Bundle(student, "gcp", Path(folder), IMAGE, "1.2.2", model_files=files)


def answer(predictions):
    return Prediction(mode="local", platform="gcp", ok=True, request=Request(b"{}"),
                      response=json.dumps({"predictions": predictions}).encode(), response_content_type="application/json")


def test_deploy_predict_teardown_leaves_nothing(gcp, fake, folder):
    p = gcp()
    dep = p.deploy(bundle(folder))
    model = fake.models[dep.model]
    assert model["containerSpec"]["imageUri"] == IMAGE.uri
    assert model["artifactUri"].endswith("/deploycheck/run1/bob-smith/model/") == dep.artifact.endswith("model/")
    assert model["labels"] == {"deploycheck-run": "run1", "deploycheck-student": "bob-smith"}
    ep = fake.endpoints[dep.endpoint]
    assert ep["deployedModels"][0]["dedicatedResources"]["machineSpec"]["machineType"] == "e2-standard-2"
    assert any("/operations/" in path for _, path in fake.requests)            # LROs were polled
    assert {r.kind for r in p.leftovers("run1")} == {"vertex-endpoint", "vertex-model", "gcs-object"}

    p.prime(dep, answer([0, 2]))
    got = p.predict(dep, Request(b'{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'))
    assert json.loads(got.response)["predictions"] == [0, 2] and got.mode == "cloud" and got.runtime == IMAGE.uri
    assert [b.kind for b in p.audit_account()] == ["vertex-endpoint"]

    removed = p.teardown(dep)
    assert [r.kind for r in removed] == ["vertex-endpoint", "vertex-model", "gcs-object"]
    assert p.leftovers("run1") == [] and fake.models == {} and fake.endpoints == {}
    assert pending(p.ledger.entries()) == []


def test_transient_503s_are_retried(gcp, fake, folder):
    fake.add_fault("models:upload", 503, count=2)
    fake.add_fault(":predict", 503, count=1)
    p = gcp()
    dep = p.deploy(bundle(folder))
    p.prime(dep, answer([1]))
    assert json.loads(p.predict(dep, Request(b'{"instances": [[1, 2, 3, 4]]}')).response)["predictions"] == [1]
    assert sum(1 for _, path in fake.requests if path.endswith("models:upload")) == 3
    p.teardown(dep)


def test_failure_mid_deploy_deletes_everything(gcp, fake, folder):
    fake.add_fault(":deployModel", 400, count=1)
    p = gcp()
    with pytest.raises(CloudError, match="deleted again") as ei:
        p.deploy(bundle(folder))
    assert not isinstance(ei.value, StudentError)           # a 400 from the API is not the folder's fault
    assert fake.models == {} and fake.endpoints == {} and p.leftovers("run1") == []
    assert pending(p.ledger.entries()) == []


def test_a_denied_permission_names_it_and_the_role(gcp, fake, folder):
    fake.deny("aiplatform.endpoints.create")
    p = gcp()
    with pytest.raises(AccessError) as ei:
        p.deploy(bundle(folder))
    msg = str(ei.value)
    assert "missing GCP permission aiplatform.endpoints.create" in msg and "roles/aiplatform.user" in msg
    assert "GCP roles" in msg and fake.models == {} and p.leftovers("run1") == []
    fake.deny("aiplatform.endpoints.list")
    with pytest.raises(AccessError, match="aiplatform.endpoints.list.*roles/aiplatform.user"):
        p.audit_account()


def test_a_model_that_does_not_start_is_the_folders_problem():
    from google.api_core import exceptions as gex
    e = translate(gex.FailedPrecondition("Model server never became ready. Please validate your model."),
                  "deploying the model")
    assert isinstance(e, StudentError) and "predict.local" in str(e)
    assert type(translate(gex.FailedPrecondition("Model server never became ready"), "creating the endpoint")) is CloudError


def test_two_model_files_are_refused_before_anything_is_created(gcp, fake, folder):
    with pytest.raises(StudentError, match="exactly one model.joblib or model.pkl"):
        gcp().deploy(bundle(folder, files=("model.joblib", "model.pkl")))
    assert fake.requests == []


def test_sweep_ledger_finds_resources_created_before_their_name_was_known(gcp, fake, gcs_url, folder, tmp_path, capsys):
    """Killed between a create call and its answer, the ledger only holds `pending:<display name>`:
    sweep finds the resources by their labels and deletes them."""
    p = gcp()
    dep = p.deploy(bundle(folder))
    crash = tmp_path / "crashed-ledger.jsonl"
    lines = [e for e in p.ledger.entries() if e.action == "create" and
             (e.name.startswith("pending:") or e.kind == "gcs-object")]
    crash.write_text("".join(json.dumps({"action": e.action, "provider": e.provider, "kind": e.kind, "name": e.name,
                                         "region": e.region, "run_id": e.run_id, "student": e.student}) + "\n"
                             for e in lines))
    assert {e.kind for e in lines} == {"gcs-object", "vertex-model", "vertex-endpoint"}
    rc = cli.sweep_main(["--ledger", str(crash), "--gcp-project", "p", "--gcp-api-endpoint", fake.url,
                         "--gcs-endpoint", gcs_url, "--bucket", p.bucket])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert fake.models == {} and fake.endpoints == {} and p.leftovers("run1") == [], out
    assert dep.endpoint in out
