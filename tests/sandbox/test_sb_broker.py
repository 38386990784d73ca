"""One sandbox server per runtime for a whole run, shared by its processes (deploycheck.sandbox.broker):
a class run's xdist workers attach to the controller's servers instead of starting their own."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from deploycheck import sandbox
from deploycheck.sandbox import broker, client
from deploycheck.sandbox.broker import AttachedServer
from deploycheck.sandbox.forkserver import Server, ServerError
from tests.world import procs_with, status_field

pytestmark = pytest.mark.skipif(not sandbox.isolation().sandboxed,
                                reason=f"no isolation on this machine: {sandbox.isolation().detail}")

JOBS = str(Path(__file__).parent / "jobs")
ROOT = Path(__file__).resolve().parents[2]

WORKER = r'''
import json, sys
from deploycheck import sandbox
from deploycheck.sandbox import client
interp = sandbox.Interpreter(python=sys.executable, preload=(sys.argv[2],), label="shared")
r = sandbox.run("sbjobs:code", {"src": "result = 6 * 7"}, interpreter=interp, job_paths=[sys.argv[1]])
kinds = sorted(type(s).__name__ for s in client._SERVERS.values())
print(json.dumps({"ok": r.ok, "data": r.data, "error": r.error, "servers": kinds}), flush=True)
sys.stdin.read()                      # keeps its connection until the test has looked
'''


@pytest.fixture
def sharing():
    sandbox.shutdown()
    client.share_servers()
    try:
        yield client._BROKER
    finally:
        client.stop_sharing()
        sandbox.shutdown()


def _marked(tag: str) -> sandbox.Interpreter:
    # the tag is in the server's command line (its preload list; importing it fails harmlessly)
    return sandbox.Interpreter(python=sys.executable, preload=(tag,), label="shared")


def _sandboxes(tag: str) -> list[int]:
    """bubblewrap processes started for servers with ``tag`` whose parent is not bubblewrap (one per sandbox)."""
    out = []
    for pid in procs_with(tag):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            ppid = status_field(pid, "PPid")
            parent = Path(f"/proc/{ppid}/cmdline").read_bytes().split(b"\0")[0] if ppid else b""
        except OSError:
            continue
        if not ppid:                               # gone meanwhile
            continue
        if cmd.endswith(b"bwrap") and not parent.endswith(b"bwrap"):
            out.append(pid)
    return out


def test_the_processes_of_a_run_share_one_server_per_runtime(sharing):
    tag = f"sbshare_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # gw0..gw3 share one server, gw4 gets the next one (broker.WORKERS_PER_SERVER)
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, JOBS, tag], env=dict(env, PYTEST_XDIST_WORKER=gw),
                                cwd=str(ROOT), text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
               for gw in ("gw0", "gw3", "gw4")]
    try:
        outs = [json.loads(w.stdout.readline()) for w in workers]        # type: ignore[union-attr]
        assert [o["data"] for o in outs] == [42, 42, 42], outs
        assert all(o["servers"] == ["AttachedServer"] for o in outs), outs
        boxes = _sandboxes(tag)                    # while the workers still hold their connections
        assert len(boxes) == 2, boxes
        assert all(status_field(b, "PPid") == str(os.getpid()) for b in boxes)   # started by the run's first process
    finally:
        for w in workers:
            w.communicate("", timeout=60)


def _attached(srv: Server) -> AttachedServer:
    a = AttachedServer(srv.interp, srv.job_paths, srv.mode, 0, "")
    a.ctl, a.base, a.log, a.label, a.ready = srv.attach(), srv.base, srv.log, srv.label, srv.ready
    return a


def _sleeper(marker: str, seconds: float) -> dict:
    return {"src": f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
                   f"time.sleep({seconds})\nresult = 'slept'"}


def test_a_connection_sees_and_stops_only_its_own_jobs(sharing):
    srv = client._server(_marked(f"sbconn_{uuid.uuid4().hex[:8]}"), (JOBS,), client._effective(), own=True)
    srv.wait_ready()
    a, b = _attached(srv), _attached(srv)
    env, limits = client.job_environment(), sandbox.Limits(timeout=30)
    marker = f"sbown{uuid.uuid4().hex[:6]}"
    out: list = []
    t = threading.Thread(target=lambda: out.append(b.run("sbjobs:code", _sleeper(marker, 2), None, None, limits, env)))
    t.start()
    while t.is_alive() and not procs_with(marker):
        time.sleep(0.02)
    assert srv.base is not None
    running = [p.name for p in (srv.base / "jobs").iterdir() if p.name != "probe"]
    assert len(running) == 1
    a.ctl.send(json.dumps({"op": "kill", "id": running[0]}).encode())      # another connection's job
    t.join()
    assert out[0].ok and out[0].data == "slept", out[0]

    # a connection that closes (its process died) takes its running jobs with it; the server stays
    marker = f"sbgone{uuid.uuid4().hex[:6]}"
    gone: list = []

    def run_until_gone() -> None:
        try:
            b.run("sbjobs:code", _sleeper(marker, 60), None, None, limits, env)
        except ServerError as e:                # (run() would run it again on a new connection)
            gone.append(e)
    t = threading.Thread(target=run_until_gone)
    t.start()
    while not procs_with(marker):
        time.sleep(0.02)
    assert b.ctl is not None
    b.ctl.shutdown(2)                          # as when its process dies: the server sees the end
    t.join(30)
    assert gone, "the connection's end was not noticed"
    deadline = time.monotonic() + 10
    while procs_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert procs_with(marker) == []
    r = a.run("sbjobs:code", {"src": "result = 1"}, None, None, limits, env)
    assert r.ok and r.data == 1, r


def test_a_worker_gets_a_new_server_when_the_shared_one_died(sharing, monkeypatch):
    monkeypatch.setenv(broker.ENV, f"1:{sharing.path}")     # this process now also acts as a worker
    interp = _marked(f"sbdead_{uuid.uuid4().hex[:8]}")
    r1 = sandbox.run("sbjobs:code", {"src": "result = 1"}, interpreter=interp, job_paths=[JOBS])
    own = client._SERVERS[client._key(interp, (JOBS,), client._effective(), own=True)]
    assert r1.ok and own.proc is not None, r1
    os.killpg(own.proc.pid, signal.SIGKILL)
    own.proc.wait(10)
    r2 = sandbox.run("sbjobs:code", {"src": "result = 2"}, interpreter=interp, job_paths=[JOBS])
    assert r2.ok and r2.data == 2, r2
    again = client._SERVERS[client._key(interp, (JOBS,), client._effective(), own=True)]
    assert again is not own and again.alive()


def test_a_worker_takes_the_isolation_the_run_found_without_probing_again(sharing):
    script = ("import json\nfrom deploycheck.sandbox import client\n"
              "def no_probe():\n    raise AssertionError('probed again')\n"
              "client._probe = no_probe\nprint(json.dumps(client.isolation().label))")
    out = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=str(ROOT),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == sandbox.isolation().label


@pytest.mark.parametrize("attack", ["os.kill(0, signal.SIGKILL)", "os.killpg(os.getpgrp(), signal.SIGKILL)",
                                    "os.kill(-1, signal.SIGKILL)", "os.kill(-os.getpgrp(), signal.SIGTERM)"])
def test_a_job_that_signals_its_group_or_everyone_reaches_only_itself(sharing, attack):
    """Each job has a session, process group and PID namespace of its own: a job that signals its
    group (or every process it may) while another connection's job runs on the same server leaves
    the server and that job alone (before, kill(0, SIGKILL) as an ordinary user took the shared
    server and every job on it)."""
    srv = client._server(_marked(f"sbsig_{uuid.uuid4().hex[:8]}"), (JOBS,), client._effective(), own=True)
    srv.wait_ready()
    assert srv.proc is not None
    bwrap, server_pid = srv.proc.pid, sandbox.server_info(srv.interp, (JOBS,))["pid"]
    victim_conn, attacker_conn = _attached(srv), _attached(srv)
    env, limits = client.job_environment(), sandbox.Limits(timeout=30)
    marker = f"sbvictim{uuid.uuid4().hex[:6]}"
    out: list = []
    t = threading.Thread(target=lambda: out.append(
        victim_conn.run("sbjobs:code", _sleeper(marker, 3), None, None, limits, env)))
    t.start()
    while t.is_alive() and not procs_with(marker):
        time.sleep(0.02)
    src = (f"import os, signal, time\ntry:\n    {attack}\nexcept ProcessLookupError:\n    pass\ntime.sleep(0.2)\n"
           "result = ['alive', os.getpid(), os.getpgrp() == os.getpid()]")
    r = attacker_conn.run("sbjobs:code", {"src": src}, None, None, limits, env)
    t.join()
    assert out and out[0].ok and out[0].data == "slept", out    # the other student's job lived
    # the job's own process (its PID namespace's init) ignores a signal from inside; it leads its group
    assert r.ok and r.data == ["alive", 1, True], r
    assert srv.alive() and srv.proc.pid == bwrap, "the server was killed"
    assert sandbox.server_info(srv.interp, (JOBS,))["pid"] == server_pid
