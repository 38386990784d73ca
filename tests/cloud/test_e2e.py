"""End to end: grade the reference deploys with `--cloud moto --audit-account` in a separate pytest
process; every cloud.* check passes, report.json holds the cloud exchange, the ledger is closed."""
import json
import subprocess
import sys

from deploycheck.cloud.base import decode_answer
from deploycheck.rubric import RUBRIC
from tests.helpers import ROOT

from .conftest import HANG, assert_loopback_only, guarded_env


def test_reference_deploys_pass_every_cloud_check_offline(reference, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "pytest", "checks/test_cloud.py", "--repo", str(reference), "--cloud",
                        "moto", "--audit-account", "--report", str(out), "-p", "no:cacheprovider", "-q", "--no-proof"],
                       capture_output=True, text=True, cwd=ROOT, env=guarded_env(tmp_path), timeout=HANG)
    report = json.loads((out / "report.json").read_text())
    (student,) = report["students"]
    # cloud.trail reads CloudTrail's lookup_events, which moto lacks (tests/cloud/test_trail.py stubs it)
    cloud_points = sum(s.points for cid, s in RUBRIC.items() if cid.startswith("cloud.") and cid != "cloud.trail")
    for plat in ("aws", "gcp"):
        assert student["platforms"][plat]["score"] == student["platforms"][plat]["max_score"] == cloud_points, r.stdout
    checks = {c["id"]: c for c in student["checks"]}
    assert {cid for cid in checks if cid.startswith("cloud.")} == {
        "cloud.deploy", "cloud.predict", "cloud.teardown", "cloud.leftovers", "cloud.account_clean"}
    for cid, c in checks.items():
        assert c["status"] == "passed", (cid, c["message"], r.stdout[-3000:])
    pred = checks["cloud.predict"]["data"]
    assert json.loads(pred["request"]) and decode_answer(pred["response"].encode(), "application/json") == [0, 2]
    assert pred["compared"] is True and pred["latency_ms"] >= 0 and pred["endpoint"]
    ledger = [json.loads(line) for line in (out / "cloud-ledger.jsonl").read_text().splitlines()]
    creates = {(e["kind"], e["name"]) for e in ledger if e["action"] == "create"}
    deletes = {(e["kind"], e["name"]) for e in ledger if e["action"] == "delete"}
    assert creates and creates <= deletes                                       # everything was deleted
    assert r.returncode == 0, r.stdout[-3000:]
    assert_loopback_only(tmp_path)
