"""`deploycheck sweep` and `deploycheck audit` against a moto server shared by processes, and crash
safety: a grader SIGKILLed mid-deploy leaves a ledger that sweep empties, verified by listing."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from deploycheck.cloud import cli
from deploycheck.cloud.aws import AwsProvider
from deploycheck.cloud.base import Bundle, ServingImage
from deploycheck.cloud.ledger import Ledger, pending, read
from tests.helpers import ROOT

from .conftest import HANG, assert_loopback_only, guarded_env

BUCKET = "deploycheck-sweep-test"
IMAGE = ServingImage("aws", 'framework_version="1.2-1"', "1.2-1", "1.2.1", "img")


def _provider(url, tmp_path, run_id, **kw):
    return AwsProvider("us-east-1", run_id=run_id, ledger=Ledger(tmp_path / "ledger.jsonl"), endpoint_url=url,
                       bucket=BUCKET, **kw)


def _folder(tmp_path):
    d = tmp_path / "aws_deploy"
    d.mkdir(exist_ok=True)
    (d / "inference.py").write_text("def model_fn(d):\n    return None\n")
    (d / "model.joblib").write_bytes(b"m")
    return d


def _bundle(tmp_path, student):
    return Bundle(student, "aws", _folder(tmp_path), IMAGE, model_files=("model.joblib",), entry_point="inference.py")


def _names(p):
    sm = p.sm
    return (sorted(m["ModelName"] for m in sm.list_models()["Models"])
            + sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"])
            + sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]))


KILLED_DEPLOY = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from deploycheck.cloud.aws import AwsProvider
    from deploycheck.cloud.base import Bundle, ServingImage
    from deploycheck.cloud.ledger import Ledger
    url, ledger, folder = sys.argv[1:4]
    def hang(step):
        if step == "create_endpoint":
            print("READY", flush=True)
            threading.Event().wait()
    p = AwsProvider("us-east-1", run_id="killed-run", ledger=Ledger(ledger), endpoint_url=url,
                    bucket="deploycheck-sweep-test", on_step=hang)
    p.deploy(Bundle("carol", "aws", Path(folder), ServingImage("aws", "", "1.2-1", "1.2.1", "img"),
                    model_files=("model.joblib",), entry_point="inference.py"))
""")


def _sweep(args, env):
    return subprocess.run([sys.executable, "-m", "deploycheck.cli", "sweep", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=HANG)


def test_sigkill_mid_deploy_then_sweep_ledger_leaves_nothing(moto_url, tmp_path):
    folder = _folder(tmp_path)
    ledger = tmp_path / "cloud-ledger.jsonl"
    env = guarded_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_DEPLOY, moto_url, str(ledger), str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "READY", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(HANG)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    p = _provider(moto_url, tmp_path, "killed-run")
    assert len(p.leftovers("killed-run")) == 4                   # endpoint, config, model, S3 object
    assert len(pending(read(ledger))) == 4

    out = _sweep(["--ledger", str(ledger), "--endpoint-url", moto_url, "--bucket", BUCKET], env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("removed ") >= 4 and "sagemaker-endpoint dc-carol-aws" in out.stdout
    assert p.leftovers("killed-run") == [] and not [n for n in _names(p) if n.startswith("dc-carol")]
    assert pending(read(ledger)) == []

    again = _sweep(["--ledger", str(ledger), "--endpoint-url", moto_url, "--bucket", BUCKET], env)
    assert again.returncode == 0 and "removed 0" in again.stdout                # idempotent
    assert_loopback_only(tmp_path)


def test_sweep_by_run_id_finds_tagged_resources_without_a_ledger(moto_url, tmp_path, capsys):
    p = _provider(moto_url, tmp_path, "run-no-ledger")
    p.deploy(_bundle(tmp_path, "dave"))
    other = _provider(moto_url, tmp_path, "someone-elses-run")
    other_dep = other.deploy(_bundle(tmp_path, "erin"))
    assert cli.sweep_main(["--run-id", "run-no-ledger", "--endpoint-url", moto_url, "--bucket", BUCKET]) == 0
    assert capsys.readouterr().out.count("removed ") >= 4
    assert p.leftovers("run-no-ledger") == []
    assert len(other.leftovers("someone-elses-run")) == 4         # other runs untouched
    assert cli.sweep_main(["--older-than", "1h", "--endpoint-url", moto_url, "--bucket", BUCKET]) == 0
    assert len(other.leftovers("someone-elses-run")) == 4         # too young for --older-than 1h
    assert cli.sweep_main(["--older-than", "0s", "--dry-run", "--endpoint-url", moto_url, "--bucket", BUCKET]) == 0
    assert "would remove sagemaker-endpoint dc-erin" in capsys.readouterr().out
    other.teardown(other_dep)


def test_audit_prints_billable_leftovers(moto_url, tmp_path, capsys):
    p = _provider(moto_url, tmp_path, "audit-run")
    dep = p.deploy(_bundle(tmp_path, "frank"))
    assert cli.audit_main(["--endpoint-url", moto_url]) == 1
    out = capsys.readouterr().out
    assert "sagemaker-endpoint dc-frank-aws" in out and "ml.t2.medium" in out and "/h" in out
    p.teardown(dep)
    assert cli.audit_main(["--endpoint-url", moto_url]) == 0


def test_usage_errors():
    with pytest.raises(SystemExit):
        cli.sweep_main([])
    with pytest.raises(SystemExit):
        cli.sweep_main(["--older-than", "soon"])


def test_a_missing_ledger_is_nothing_to_sweep(tmp_path, capsys):
    assert cli.sweep_main(["--ledger", str(tmp_path / "none.jsonl")]) == 0
    assert "nothing to sweep" in capsys.readouterr().out


def test_two_endpoints_each_answer_what_was_primed_for_them(moto_url, tmp_path):
    """moto's server caches answers per request body for every endpoint alike: without a fresh
    InferenceId per call, a second student's endpoint answered the first student's primed answer."""
    from deploycheck.model import Prediction, Request
    p = _provider(moto_url, tmp_path, "two-endpoints")
    d1, d2 = p.deploy(_bundle(tmp_path, "gina")), p.deploy(_bundle(tmp_path, "hugo"))
    req = Request(b"[[5.1, 3.5, 1.4, 0.2]]")
    got = []
    for dep, body in ((d1, b"[0]"), (d2, b"[2]")):
        p.prime(dep, Prediction(mode="local", platform="aws", ok=True, request=req, response=body,
                                response_content_type="application/json"))
        got.append(p.predict(dep, req).response)
    assert got == [b"[0]", b"[2]"]
    p.teardown(d1)
    p.teardown(d2)
