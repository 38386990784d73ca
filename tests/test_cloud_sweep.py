"""Crash safety: a grader SIGKILLed mid-deploy leaves a ledger; `deploycheck sweep` removes
everything it lists, verified by listing the services (moto server shared by processes)."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("moto")

from deploycheck.cloud import cli  # noqa: E402
from deploycheck.cloud.aws import AwsProvider  # noqa: E402
from deploycheck.cloud.base import Bundle  # noqa: E402
from deploycheck.cloud.checks import start_moto_server  # noqa: E402
from deploycheck.cloud.ledger import Ledger, pending, read  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def moto_url():
    url, srv = start_moto_server()
    yield url
    srv.stop()


def _provider(url, tmp_path, run_id, **kw):
    return AwsProvider("us-east-1", run_id=run_id, ledger=Ledger(tmp_path / "ledger.jsonl"), endpoint_url=url,
                       bucket="deploycheck-sweep-test", **kw)


def _folder(tmp_path):
    d = tmp_path / "aws_deploy"
    d.mkdir(exist_ok=True)
    (d / "inference.py").write_text("def model_fn(d):\n    return None\n")
    (d / "model.joblib").write_bytes(b"m")
    return d


def _names(p):
    sm = p.sm
    return (sorted(m["ModelName"] for m in sm.list_models()["Models"])
            + sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"])
            + sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]))


KILLED_DEPLOY = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from deploycheck.cloud.aws import AwsProvider
    from deploycheck.cloud.base import Bundle
    from deploycheck.cloud.ledger import Ledger
    url, ledger, folder = sys.argv[1:4]
    def hang(step):
        if step == "create_endpoint":
            print("READY", flush=True)
            time.sleep(600)
    p = AwsProvider("us-east-1", run_id="killed-run", ledger=Ledger(ledger), endpoint_url=url,
                    bucket="deploycheck-sweep-test", on_step=hang)
    p.deploy(Bundle("carol", "aws", Path(folder), entry_point="inference.py", model_files=["model.joblib"],
                    framework_version="1.2-1"))
""")


def test_sigkill_mid_deploy_then_sweep_ledger_leaves_nothing(moto_url, tmp_path):
    folder = _folder(tmp_path)
    ledger = tmp_path / "cloud-ledger.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_DEPLOY, moto_url, str(ledger), str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "READY", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    p = _provider(moto_url, tmp_path, "killed-run")
    assert len(p.leftovers("killed-run")) == 4                   # endpoint, config, model, S3 object
    assert len(pending(read(ledger))) == 4

    out = subprocess.run([sys.executable, "-m", "deploycheck.cli", "sweep", "--ledger", str(ledger),
                          "--endpoint-url", moto_url, "--bucket", "deploycheck-sweep-test"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("removed ") >= 4 and "sagemaker-endpoint dc-carol-aws" in out.stdout
    assert p.leftovers("killed-run") == [] and not [n for n in _names(p) if n.startswith("dc-carol")]
    assert pending(read(ledger)) == []

    again = subprocess.run([sys.executable, "-m", "deploycheck.cli", "sweep", "--ledger", str(ledger),
                            "--endpoint-url", moto_url, "--bucket", "deploycheck-sweep-test"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert again.returncode == 0 and "removed 0" in again.stdout                # idempotent


def test_sweep_by_run_id_finds_tagged_resources_without_a_ledger(moto_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))                    # no ~/.deploycheck ledger to help
    p = _provider(moto_url, tmp_path, "run-no-ledger")
    p.deploy(Bundle("dave", "aws", _folder(tmp_path), entry_point="inference.py", model_files=["model.joblib"],
                    framework_version="1.2-1"))
    other = _provider(moto_url, tmp_path, "someone-elses-run")
    other_dep = other.deploy(Bundle("erin", "aws", _folder(tmp_path), entry_point="inference.py",
                                    model_files=["model.joblib"], framework_version="1.2-1"))
    rc = cli.sweep_main(["--run-id", "run-no-ledger", "--endpoint-url", moto_url, "--bucket", "deploycheck-sweep-test"])
    out = capsys.readouterr().out
    assert rc == 0 and out.count("removed ") >= 4, out
    assert p.leftovers("run-no-ledger") == []
    assert len(other.leftovers("someone-elses-run")) == 4         # other runs untouched
    assert cli.sweep_main(["--older-than", "1h", "--endpoint-url", moto_url,
                           "--bucket", "deploycheck-sweep-test"]) == 0
    assert len(other.leftovers("someone-elses-run")) == 4         # too young for --older-than 1h
    assert cli.sweep_main(["--older-than", "0s", "--dry-run", "--endpoint-url", moto_url,
                           "--bucket", "deploycheck-sweep-test"]) == 0
    assert "would remove sagemaker-endpoint dc-erin" in capsys.readouterr().out
    other.teardown(other_dep)


def test_audit_cli_prints_billable_leftovers(moto_url, tmp_path, capsys):
    p = _provider(moto_url, tmp_path, "audit-run")
    dep = p.deploy(Bundle("frank", "aws", _folder(tmp_path), entry_point="inference.py",
                          model_files=["model.joblib"], framework_version="1.2-1"))
    assert cli.audit_main(["--endpoint-url", moto_url]) == 1
    out = capsys.readouterr().out
    assert "sagemaker-endpoint dc-frank-aws" in out and "ml.t2.medium" in out and "/h" in out
    p.teardown(dep)


def test_sweep_usage_errors():
    with pytest.raises(SystemExit):
        cli.sweep_main([])
    with pytest.raises(SystemExit):
        cli.sweep_main(["--older-than", "soon"])
