"""GcpProvider through the real google-cloud-storage / google-cloud-aiplatform clients, against
gcp-storage-emulator and deploycheck's fake Vertex REST API (LROs included)."""
import json

import pytest

pytest.importorskip("google.cloud.aiplatform")
pytest.importorskip("gcp_storage_emulator")

from deploycheck.cloud.base import Bundle, CloudError, Request  # noqa: E402
from deploycheck.cloud.checks import start_storage_emulator  # noqa: E402
from deploycheck.cloud.fake_vertex import FakeVertex  # noqa: E402
from deploycheck.cloud.gcp import GcpProvider  # noqa: E402
from deploycheck.cloud.ledger import Ledger, pending  # noqa: E402


@pytest.fixture(scope="module")
def gcs():
    url, srv = start_storage_emulator()
    yield url
    srv.stop()


@pytest.fixture
def fake():
    with FakeVertex(lro_polls=1) as fv:
        yield fv


@pytest.fixture
def gcp(gcs, fake, tmp_path):
    def make(**kw):
        return GcpProvider("p", "us-central1", run_id="run1", ledger=Ledger(tmp_path / "ledger.jsonl"),
                           bucket=f"b-{tmp_path.name.lower()[:40]}", api_endpoint=fake.url, storage_endpoint=gcs,
                           retry_initial_s=0.01, **kw)
    return make


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "gcp_deploy"
    d.mkdir()
    (d / "model.joblib").write_bytes(b"not really a model")
    return d


def bundle(folder, student="Bob.Smith"):
    return Bundle(student, "gcp", folder, model_files=["model.joblib"], sklearn_version="1.2.2")


def test_deploy_predict_teardown_leaves_nothing(gcp, fake, folder):
    p = gcp()
    dep = p.deploy(bundle(folder))
    model = fake.models[dep.ids["model"]]
    assert model["containerSpec"]["imageUri"] == "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest"
    assert model["artifactUri"].endswith("/deploycheck/run1/bob-smith/model/")
    assert model["labels"] == {"deploycheck-run": "run1", "deploycheck-student": "bob-smith"}
    ep = fake.endpoints[dep.endpoint]
    assert ep["deployedModels"][0]["dedicatedResources"]["machineSpec"]["machineType"] == "e2-standard-2"
    assert any("/operations/" in path for _, path in fake.requests)            # LROs were polled
    assert {r.kind for r in p.leftovers("run1")} == {"vertex-endpoint", "vertex-model", "gcs-object"}

    p.prime_offline_result(dep, b'{"predictions": [0, 2]}')
    body, ctype, _ = p.predict(dep, Request(b'{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'))
    assert json.loads(body)["predictions"] == [0, 2]
    assert [b.kind for b in p.audit_account()] == ["vertex-endpoint"]

    removed = p.teardown(dep)
    assert [r.split()[0] for r in removed] == ["vertex-endpoint", "vertex-model", "gcs-object"]
    assert p.leftovers("run1") == [] and fake.models == {} and fake.endpoints == {}
    assert pending(p.ledger.entries()) == []


def test_transient_503s_are_retried(gcp, fake, folder):
    fake.add_fault("models:upload", 503, count=2)
    fake.add_fault(":predict", 503, count=1)
    p = gcp()
    dep = p.deploy(bundle(folder))
    p.prime_offline_result(dep, b'{"predictions": [1]}')
    body, _, _ = p.predict(dep, Request(b'{"instances": [[1, 2, 3, 4]]}'))
    assert json.loads(body)["predictions"] == [1]
    assert sum(1 for _, path in fake.requests if path.endswith("models:upload")) == 3
    p.teardown(dep)


def test_failure_mid_deploy_deletes_everything(gcp, fake, folder):
    fake.add_fault(":deployModel", 400, count=1)
    p = gcp()
    with pytest.raises(CloudError, match="deleted again"):
        p.deploy(bundle(folder))
    assert fake.models == {} and fake.endpoints == {} and p.leftovers("run1") == []
    assert pending(p.ledger.entries()) == []


def test_two_model_files_are_refused_before_anything_is_created(gcp, fake, folder):
    b = bundle(folder)
    b.model_files = ["model.joblib", "model.pkl"]
    with pytest.raises(CloudError, match="exactly one model.joblib or model.pkl"):
        gcp().deploy(b)
    assert fake.requests == []


def test_sweep_ledger_finds_resources_created_before_their_name_was_known(gcp, fake, gcs, folder, tmp_path, capsys):
    """Killed between a create call and its answer, the ledger only holds `pending:<display name>`:
    sweep finds the resources by their labels and deletes them."""
    import json as _json

    from deploycheck.cloud import cli
    p = gcp()
    dep = p.deploy(bundle(folder))
    crash = tmp_path / "crashed-ledger.jsonl"
    lines = [e for e in p.ledger.entries() if e["action"] == "create" and
             (e["name"].startswith("pending:") or e["kind"] == "gcs-object")]
    crash.write_text("".join(_json.dumps(e) + "\n" for e in lines))
    assert {e["kind"] for e in lines} == {"gcs-object", "vertex-model", "vertex-endpoint"}
    rc = cli.sweep_main(["--ledger", str(crash), "--gcp-project", "p", "--gcp-api-endpoint", fake.url,
                         "--gcs-endpoint", gcs, "--bucket", p.bucket])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert fake.models == {} and fake.endpoints == {} and p.leftovers("run1") == [], out
    assert dep.endpoint in out
