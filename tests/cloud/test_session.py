"""deploycheck.cloud.session: whatever a process still has deployed is deleted when it ends, by
SIGTERM or normally (atexit), and the ledger says so."""
import json
import signal
import subprocess
import sys
import textwrap

import pytest

from deploycheck.cloud import session
from deploycheck.cloud.base import CloudOptions
from tests.helpers import ROOT

from .conftest import HANG, assert_loopback_only, guarded_env

CHILD = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from deploycheck.discovery import targets_for
    from deploycheck.settings import Settings
    from deploycheck.verdicts import cloud
    ref, report, mode = sys.argv[1:4]
    dc = Settings(cloud="moto", report=Path(report), run_id="fin-run", max_deployments=3, sandbox_timeout=120.0)
    (t,) = targets_for("fin", ref, "aws")
    print(cloud.cloud_deploy(t, dc).status, flush=True)
    if mode == "term":
        threading.Event().wait()          # until SIGTERM
""")


@pytest.mark.parametrize("mode", ["term", "exit"])
def test_a_process_that_ends_deletes_what_it_deployed(reference, tmp_path, mode):
    report = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(reference), str(report), mode], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=guarded_env(tmp_path))
    try:
        assert proc.stdout.readline().strip() == "passed", proc.stderr.read()
        if mode == "term":
            proc.send_signal(signal.SIGTERM)
        proc.wait(HANG)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (-signal.SIGTERM if mode == "term" else 0), proc.stderr.read()
    ledger = [json.loads(x) for x in (report / "cloud-ledger.jsonl").read_text().splitlines()]
    created = {(e["kind"], e["name"]) for e in ledger if e["action"] == "create"}
    deleted = {(e["kind"], e["name"]) for e in ledger if e["action"] == "delete"}
    assert len(created) == 4 and created <= deleted
    assert_loopback_only(tmp_path)


def test_one_session_per_options_and_a_generated_run_id_is_shared(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPLOYCHECK_RUN_ID", raising=False)
    a = session.session_for(CloudOptions(cloud="moto", report_dir=tmp_path))
    assert session.session_for(CloudOptions(cloud="moto", report_dir=tmp_path)) is a
    b = session.session_for(CloudOptions(cloud="moto"))
    assert a.run_id == b.run_id                                   # the run id of this process (and its workers)
    assert a.ledger.path == tmp_path / "cloud-ledger.jsonl"
    assert b.ledger.path == tmp_path / ".deploycheck" / "ledger" / f"{b.run_id}.jsonl"
