"""The CPU time a stopped job's processes used, as root and as an ordinary user: what tells a job that
computes (a fork bomb) from one a busy machine kept waiting (serving/local.py ``_starved``: a job
whose processes computed for as long as its wall clock is the student's timeout, never retried)."""
import os
import sys

import pytest

from deploycheck import sandbox
from tests.world import probe_as

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(not sandbox.isolation().sandboxed,
                                reason=f"no isolation on this machine: {sandbox.isolation().detail}")


@pytest.mark.parametrize("who", ["root", "nobody", "root-userns-denied"])
def test_the_children_still_running_when_a_job_is_stopped_count(tmp_path, who):
    """Three children compute 0.15 s each (little: spent well within the timeout on a loaded machine)
    and are still running (asleep) when the job is stopped at its timeout, its first process having
    slept throughout: the server counts them (read before the kill; the kernel reaps them without a
    count: the server's rusage of the job said ~0 s), as root, as an ordinary user and where user
    namespaces are denied."""
    res = probe_as(who, [sys.executable, os.path.join(ROOT, "tests", "sandbox", "cpu_probe.py"), ROOT], tmp_path,
                   (ROOT,))
    assert res["euid"] == (65534 if who == "nobody" else 0)
    assert res["status"] == "timeout" and res["cpu_used"] is not None and res["cpu_used"] >= 0.35, res
    assert res["isolation"].startswith("bubblewrap"), res
