"""End to end: grade the reference deploys with `--cloud moto` in a separate pytest process and
check that every cloud.* check passes and report.json holds the cloud request/response."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("moto")
pytest.importorskip("google.cloud.aiplatform")

from tests.helpers import ROOT, build_reference  # noqa: E402


def test_reference_deploys_pass_every_cloud_check_offline(tmp_path):
    ref = tmp_path / "reference_deploys"
    build_reference(ref)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "GOOGLE_", "DEPLOYCHECK_", "PYTEST_"))}
    env["HOME"] = str(tmp_path)
    r = subprocess.run([sys.executable, "-m", "pytest", "checks/test_cloud.py", "--repo", str(ref), "--cloud", "moto",
                        "--audit-account", "--report", str(out), "-p", "no:cacheprovider", "-q", "--no-proof"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=240)
    report = json.loads((out / "report.json").read_text())
    (student,) = report["students"]
    for plat in ("aws", "gcp"):
        assert student["platforms"][plat]["score"] == student["platforms"][plat]["max_score"] > 0, r.stdout
    checks = {c["id"]: c for c in student["checks"]}
    assert {cid for cid in checks if cid.startswith("cloud.")} == {
        "cloud.deploy", "cloud.predict", "cloud.teardown", "cloud.leftovers", "cloud.account_clean"}
    for cid, c in checks.items():
        assert c["status"] == "passed", (cid, c["message"], r.stdout[-3000:])
    pred = checks["cloud.predict"]["data"]
    from deploycheck.cloud.checks import decode
    assert json.loads(pred["request"]) and decode(pred["response"].encode(), "application/json") == [0, 2]
    assert pred["compared"] is True and pred["latency_ms"] >= 0 and pred["endpoint"].startswith("dc-")
    ledger = [json.loads(line) for line in (out / "cloud-ledger.jsonl").read_text().splitlines()]
    creates = {(e["kind"], e["name"]) for e in ledger if e["action"] == "create"}
    deletes = {(e["kind"], e["name"]) for e in ledger if e["action"] == "delete"}
    assert creates and creates <= deletes                                       # everything was deleted
    assert r.returncode == 0, r.stdout[-3000:]
