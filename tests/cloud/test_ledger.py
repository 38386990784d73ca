"""The ledger (written before every create, replayed by sweep) and the cost guard."""
import multiprocessing

import pytest

from deploycheck.cloud import costs
from deploycheck.cloud.base import CostGuardError, Resource
from deploycheck.cloud.ledger import Ledger, pending, read


def test_pending_replays_creates_and_deletes_and_survives_a_torn_line(tmp_path):
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
    assert [r.name for r in left] == ["e"] and left[0].region == "us-east-1" and left[0].created
    assert [r.name for r in pending(read(led.path))] == ["other", "e"]       # newest first
    assert oct(led.path.stat().st_mode & 0o777) == "0o600"


def test_lines_of_the_wrong_shape_are_ignored(tmp_path):
    p = tmp_path / "l.jsonl"
    p.write_text('[1, 2]\n{"action": "explode", "provider": "aws", "kind": "k", "name": "n"}\n'
                 '{"action": "create", "provider": "aws", "kind": "k", "name": 5}\n'
                 '{"action": "create", "provider": "aws", "kind": "k", "name": "ok"}\n')
    assert [e.name for e in read(p)] == ["ok"]


def test_reserve_enforces_the_cap(tmp_path):
    led = Ledger(tmp_path / "l.jsonl")
    slot = Resource("aws", "endpoint-slot", "x", "", "r1", "s")
    assert led.reserve_endpoint(slot, 2) == 0
    assert led.reserve_endpoint(slot, 2) == 1
    with pytest.raises(CostGuardError, match="--max-deployments is 2"):
        led.reserve_endpoint(slot, 2)
    assert led.reserve_endpoint(Resource("aws", "endpoint-slot", "x", "", "r2", "s"), 2) == 0


def _reserve(path, results):
    try:
        Ledger(path).reserve_endpoint(Resource("aws", "endpoint-slot", "x", "", "run", "s"), 3)
        results.put("ok")
    except CostGuardError:
        results.put("refused")


def test_the_cap_holds_across_processes(tmp_path):
    """xdist workers share one ledger file: six processes racing for three slots get exactly three."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_reserve, args=(tmp_path / "l.jsonl", results)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    got = sorted(results.get() for _ in procs)
    assert got == ["ok"] * 3 + ["refused"] * 3
    assert sum(e.action == "reserve" for e in read(tmp_path / "l.jsonl")) == 3


def test_cost_guard_allowlist_and_estimate():
    costs.check_instance_type("aws", "ml.t2.medium")
    costs.check_instance_type("gcp", costs.default_instance_type("gcp"))
    with pytest.raises(CostGuardError, match="ml.p3.2xlarge.*allow-instance-type"):
        costs.check_instance_type("aws", "ml.p3.2xlarge")
    costs.check_instance_type("aws", "ml.p3.2xlarge", allow_any=True)
    line = costs.estimate("aws", "ml.t2.medium", 3, 60)
    assert "$0.168" in line and "approximate" in line
    assert "unknown" in costs.estimate("gcp", "a3-megagpu-8g")
