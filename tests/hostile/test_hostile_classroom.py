"""The hostile classroom, graded through the real predict.local path in four modes:

* ``root``: the suite's own user (root in CI): bubblewrap as root, jobs under a private uid;
* ``unprivileged``: as ``nobody`` with unprivileged user namespaces (an instructor's laptop);
* ``userns-denied``: as ``nobody`` with user namespaces denied by a seccomp filter: the grader must
  REFUSE to run student code, say how to get isolation, and with --allow-unsandboxed run and label
  the run UNSANDBOXED;
* ``root-userns-denied``: as root with user namespaces denied (a CI container without them).

Each mode grades every student once (``driver.py`` in a subprocess, as that user) while the test
listens on loopback and holds objects in the kernel-shared channels (SysV IPC, a POSIX message
queue, /dev/shm; the driver a token in its own session keyring); then the test checks the WORLD:
files (hashed before/after), the shared temp dirs, the processes left (by each attack's marker), the
listeners, what jobs left in those channels (the grader's session keyring, the machine's IPC
objects), the sandbox servers (no student may kill one), and that the grader lived.

Control experiment (by hand, never in CI: it really attacks the temp world and leaves a daemon for
a while): ``_run_mode("control-unsandboxed")`` grades the same classroom with no sandbox at all;
``verdicts`` then reports the breaches, which shows the checks here can see them.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

import classroom as cr
from tests.world import as_nobody

HERE = Path(__file__).resolve().parent
PACKAGE = Path(__import__("deploycheck").__file__).resolve().parent
ROOT = os.geteuid() == 0
SANDBOXED_MODES = ("root", "unprivileged", "root-userns-denied")


class Listeners:
    """TCP, UDP and abstract-unix listeners on loopback recording everything they receive."""

    def __init__(self, token: str) -> None:
        self.got: list[str] = []
        self.stop = threading.Event()
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(50)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.abstract = f"hostile-{token}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract)
        self.unix.listen(50)
        for s in (self.tcp, self.udp, self.unix):
            s.settimeout(0.2)
        self.threads = [threading.Thread(target=self._accept, args=(s,), daemon=True) for s in (self.tcp, self.unix)]
        self.threads.append(threading.Thread(target=self._udp, daemon=True))
        for t in self.threads:
            t.start()

    def _accept(self, s: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                c, _ = s.accept()
            except OSError:
                continue
            c.settimeout(1)
            try:
                self.got.append("connection: " + c.recv(65536).decode("latin-1"))
            except OSError:
                self.got.append("connection")
            c.close()

    def _udp(self) -> None:
        while not self.stop.is_set():
            try:
                self.got.append("udp: " + self.udp.recv(65536).decode("latin-1"))
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()
        for s in (self.tcp, self.udp, self.unix):
            s.close()

    @property
    def ports(self) -> tuple[int, int]:
        return self.tcp.getsockname()[1], self.udp.getsockname()[1]


def _run_mode(mode: str) -> dict:
    if mode in ("unprivileged", "userns-denied", "root-userns-denied") and not ROOT:
        if mode != "userns-denied":
            pytest.skip(f"mode {mode} switches users and needs the suite to run as root")
    if mode in SANDBOXED_MODES:
        iso = importlib.import_module("deploycheck.sandbox.isolation")    # sandbox.isolation is the function
        missing = iso.static_check()
        if missing is not None and "bubblewrap" in missing.detail and "not installed" in missing.detail:
            pytest.skip(f"mode {mode} needs bubblewrap: {missing.how_to_fix}")
    token = uuid.uuid4().hex[:10]
    base = Path(tempfile.mkdtemp(prefix="hostile-", dir="/tmp"))
    os.chmod(base, 0o755)
    listeners = Listeners(token)
    channels = cr.HostChannels(token, f"CANARY{token}")
    try:
        tcp, udp = listeners.ports
        world = cr.build(base / "world", tcp_port=tcp, udp_port=udp, abstract=listeners.abstract,
                         grader_pid=os.getpid(), test_pid=os.getpid(), package=str(PACKAGE), token=token)
        out = base / "out"
        out.mkdir(mode=0o777)
        os.chmod(out, 0o777)
        if mode in ("unprivileged", "userns-denied", "control-unsandboxed") and ROOT:
            subprocess.run(["chown", "-R", "nobody:nogroup", str(base / "world"), str(out)], check=True)
        before = cr.snapshot(world.root)
        pkg_before = cr.snapshot(PACKAGE)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **world.env}
        for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            if k in os.environ:
                env[k] = os.environ[k]
        argv = [sys.executable, str(HERE / "driver.py"), str(world.spec_path()), str(out / "results.json")]
        if mode in ("userns-denied", "root-userns-denied"):
            argv = [sys.executable, str(HERE / "nouserns.py")] + argv
            env["HOSTILE_ALLOW_CHECK"] = "1" if mode == "userns-denied" else "0"
        if mode == "control-unsandboxed":     # only for the control experiment (benchmarks/, by hand)
            argv = [sys.executable, str(HERE / "nouserns.py")] + argv
            env["HOSTILE_CONTROL_UNSANDBOXED"] = "1"
        if mode in ("unprivileged", "userns-denied", "control-unsandboxed") and ROOT:
            argv = as_nobody(argv, base / "stage", (str(PACKAGE.parent), str(HERE.parent.parent)))
        proc = subprocess.run(argv, env=env, cwd=str(base), capture_output=True, text=True, timeout=900)
        results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
        temp_leftovers = [str(p) for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/run/user/0")
                          if os.path.isdir(d) for p in Path(d).glob(f"hx{token[:6]}*")]
        channel_leftovers = channels.leftovers()
        after = cr.snapshot(world.root)
        changed = {p: (Path(p).read_text("latin-1") if os.path.isfile(p) else "") for p in set(before) | set(after)
                   if before.get(p) != after.get(p) and "/out/" not in p}   # read before the world goes
        return {"mode": mode, "world": world, "rc": proc.returncode, "stderr": proc.stderr[-4000:], "changed": changed,
                "results": results, "before": before, "after": after, "pkg_before": pkg_before,
                "pkg_after": cr.snapshot(PACKAGE), "temp_leftovers": temp_leftovers, "listened": list(listeners.got),
                "channel_leftovers": channel_leftovers}
    finally:
        listeners.close()
        channels.close()
        shutil.rmtree(base, ignore_errors=True)


def verdicts(run: dict) -> dict[str, list[str]]:
    """For each student of the classroom, what did NOT hold (empty: the attack was held)."""
    world: cr.World = run["world"]
    students = run["results"].get("students", {})
    mode = run["mode"]
    refused = mode == "userns-denied"
    canary = world.canaries[0]
    out: dict[str, list[str]] = {}
    for name in cr.NAMES + ["benign"]:
        probs: list[str] = []
        r = students.get(name)
        mark = world.marks.get(name, "~none~")
        if r is None:
            out[name] = [f"the grader did not grade this student (driver exit {run['rc']}): {run['stderr'][-800:]}"]
            continue
        text = json.dumps([r["message"], r["data"]])
        if canary in text:
            probs.append("a canary secret reached the student's report: " + text[text.index(canary) - 80:][:200])
        if r["left"]:
            probs.append(f"processes left after the job: {r['left']}")
        heard = [g for g in run["listened"] if mark in g]
        if heard:
            probs.append(f"the loopback listener received: {heard[:3]}")
        for p, text in run["changed"].items():
            if mark in text:
                probs.append(f"{p} was written by the attack")
        probs += [f"left in a shared temp dir: {p}" for p in run["temp_leftovers"] if mark in p]
        if r.get("servers_gone"):
            probs.append(f"a sandbox server died while this student was graded: {r['servers_gone']}")
        if name == "ipc_plant" and run["channel_leftovers"]:
            probs.append(f"left on the grader's machine: {run['channel_leftovers']}")
        keys = run["results"].get("session_keys")
        if name == "keyring_plant" and keys is not None and any(cr.PLANTED in k for k in keys):
            probs.append(f"planted a key in the grader's session keyring (the next run inherits it): {keys}")
        token_key = cr.shared_names(world.token)["key_description"]
        if name == "keyring_read_grader" and keys is not None and not any(k.endswith(";" + token_key) for k in keys):
            probs.append(f"the grader's session keyring lost its token: {keys}")
        if refused:
            flagged = "artifact.safe flagged it" in r["message"]          # never loaded at all
            if name != "benign" and not flagged and not ("refuses to run student code" in r["message"]
                                                         and "To get isolation" in r["message"]):
                probs.append(f"student code was not refused: {r['status']} {r['message'][:300]}")
        else:
            if name == "fill_disk":
                m = re.search(r"WROTE (\d+) MB", r["message"])
                if not m or int(m.group(1)) > 64:
                    probs.append(f"the job wrote more than 64 MB: {r['message'][:200]}")
            if name in ("forge_result_and_isolation_label", "forge_into_later_jobs", "forge_answer_at_import") \
                    and r["status"] == "passed":
                probs.append(f"a forged answer passed: {r['message'][:200]}")
            if "FORGED" in str(r["data"].get("isolation", "")):
                probs.append("the forged isolation label was reported")
            if "FORGED" in json.dumps([r["message"], r["data"].get("runtime"), r["data"].get("response")]):
                probs.append(f"a forged runtime or answer was reported: {r['message'][:200]}")
            if name == "kill_own_process_group" and r["status"] != "failed":
                probs.append(f"signalling its own process group was not the student's failure: {r['status']} "
                             f"{r['message'][:300]}")
            if name == "benign" and r["status"] != "passed":
                probs.append(f"a correct student graded after the attacks failed: {r['message'][:300]}")
        if name == cr.EVIL_SKLEARN_OS_SYSTEM and (world.root / "pwned-by-pickle").exists():
            probs.append("the pickle's command ran")
        if name == cr.EVIL_TAR_ESCAPE and any((world.root / f).exists() for f in ("escaped-abs", "escaped-by-tar")):
            probs.append("a tar member was extracted outside the model directory")
        out[name] = probs
    return out


@pytest.fixture(scope="module")
def runs():
    return {}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["root", "unprivileged", "userns-denied", "root-userns-denied"])
def test_hostile_classroom(mode, runs):
    run = _run_mode(mode)
    runs[mode] = run
    v = verdicts(run)
    broken = {k: p for k, p in v.items() if p}
    held = len(v) - len(broken)
    label = run["results"].get("isolation", "?")
    print(f"\nhostile classroom, mode {mode}: {held}/{len(v)} held ({label})")
    assert run["rc"] == 0, f"the grader process died or failed: {run['stderr']}"
    changed = sorted(p for p in set(run["before"]) | set(run["after"])
                     if run["before"].get(p) != run["after"].get(p) and "/out/" not in p)
    assert changed == [], f"the world changed: {changed}"
    pkg_changed = sorted(p for p in set(run["pkg_before"]) | set(run["pkg_after"])
                         if run["pkg_before"].get(p) != run["pkg_after"].get(p) and "__pycache__" not in p)
    assert pkg_changed == [], f"the grader's checkout changed: {pkg_changed}"
    assert run["listened"] == [], f"the loopback listeners received data: {run['listened'][:5]}"
    assert broken == {}, f"{held}/{len(v)} held in mode {mode}; not held: {json.dumps(broken, indent=1)[:6000]}"
    if mode == "userns-denied":
        allowed = run["results"]["allowed_benign"]
        assert allowed["status"] == "passed", allowed
        assert str(allowed["data"]["isolation"]).startswith("UNSANDBOXED")
    elif mode == "root-userns-denied":
        assert label.startswith("bubblewrap (as root") and "per job: pid" in label, label
    else:
        assert label.startswith("bubblewrap"), label
