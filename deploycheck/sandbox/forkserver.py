"""The grader's handle on one pre-warmed fork server (``deploycheck/inside/server.py``): starting it
inside bubblewrap with the directories its Python needs bound read-only, waiting for its ``ready``,
running one job at a time through it (the job's input prepared by :mod:`deploycheck.sandbox.jobs`,
the exchange in :mod:`deploycheck.sandbox.protocol`), and stopping it with everything it left.

For each job the grader prepares the input in the server's private base directory, makes four pipes
(stdout, stderr, answer, setup) and hands their write ends to the server with the job message over a
``SOCK_SEQPACKET`` control socket (``SCM_RIGHTS``); it keeps the read ends and closes its write ends.
The job process holds nothing else: no job can reach the control socket, the
pipes of another job, or the grader.
"""
from __future__ import annotations

import concurrent.futures
import functools
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

from deploycheck.sandbox import isolation as iso
from deploycheck.sandbox import jobs, protocol
from deploycheck.sandbox.isolation import Isolation
from deploycheck.sandbox.records import Interpreter, JobResult, Limits, ServerError, Talk

START_TIMEOUT = 180.0           # a server importing scikit-learn on a busy machine
INSIDE_DIR = Path(__file__).resolve().parent.parent / "inside"
SERVER_SCRIPT = INSIDE_DIR / "server.py"


@functools.lru_cache(maxsize=32)
def _interpreter_dirs(python: str) -> tuple[str, ...]:
    """The directories a Python needs (prefixes, its own sys.path), asked from that Python once."""
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        dirs = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
        dirs += [p for p in sys.path if p.startswith(tuple(dirs))]
    else:
        code = ("import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, "
                "getattr(sys, 'base_exec_prefix', sys.exec_prefix)] + sys.path))")
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                             env=iso.environment(), cwd="/", check=True)
        dirs = [p for p in json.loads(out.stdout) if p]
    dirs.append(os.path.dirname(os.path.abspath(python)))
    return tuple(dirs)


_SPAWNER: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None
_SPAWN_LOCK = threading.Lock()


def _spawn(start: Callable[[], subprocess.Popen]) -> subprocess.Popen:
    """Run ``start`` (a Popen of a server) on this process's one long-lived spawner thread.

    bubblewrap's ``--die-with-parent`` (PR_SET_PDEATHSIG) kills the sandbox when the *thread* that
    started it ends, not the process: a server started from a short-lived thread (the warm-up, a
    request thread) would be SIGKILLed under a running job."""
    global _SPAWNER
    with _SPAWN_LOCK:
        if _SPAWNER is None or _SPAWNER[0] != os.getpid():
            _SPAWNER = (os.getpid(), concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="deploycheck-sandbox-spawner"))
        pool = _SPAWNER[1]
    return pool.submit(start).result()


_JOB_IDS = itertools.count(1)


class Server:
    """One fork server for an (interpreter, job paths, isolation) triple; one job at a time."""

    def __init__(self, interp: Interpreter, job_paths: tuple[str, ...], mode: Isolation, seq: int):
        self.interp, self.job_paths, self.mode, self.seq = interp, job_paths, mode, seq
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.ctl: socket.socket | None = None
        self.base: Path | None = None
        self.log: Path | None = None
        self.ready: dict[str, Any] | None = None
        self.label = mode.label
        self.owner = os.getpid()
        self.loaded: set[str] = set()       # on-demand modules the server has imported

    # ------------------------------------------------------------------ start / stop
    def start(self) -> None:
        _sweep_stale_bases()
        self.base = Path(tempfile.mkdtemp(prefix=f"{BASE_PREFIX}{os.getpid()}-"))      # 0700
        jobs_dir = self.base / "jobs"
        jobs_dir.mkdir()
        os.chmod(jobs_dir, 0o755)
        jobs.prepare(jobs_dir / "probe", args={})
        sandboxed = self.mode.sandboxed
        root = sandboxed and self.mode.root
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.ctl = parent
        server_jobs_dir = "/jobs" if sandboxed else str(jobs_dir)
        sys_path = list(self.interp.sys_path) + [os.path.dirname(p) for p in self.interp.packages] \
            + [str(INSIDE_DIR)] + list(self.job_paths)
        binds = list(_interpreter_dirs(self.interp.python)) + list(self.interp.sys_path) \
            + list(self.interp.packages) + [str(INSIDE_DIR)] + list(self.job_paths)
        tmp_binds = [p for p in iso.minimal_binds(binds) if p.startswith(("/tmp/", "/var/tmp/", "/dev/shm/"))]
        cfg = {"sandboxed": sandboxed, "tmp_binds": tmp_binds, "private_uid": iso.private_uid(self.seq) if root else None,
               "job_userns": "auto" if root else True, "jobs_dir": server_jobs_dir, "probe_job": "probe",
               "ctl_fd": child.fileno(), "sys_path": sys_path, "preload": list(self.interp.preload),
               "on_demand": list(self.interp.on_demand)}
        argv = [self.interp.python, "-I", "-B", str(SERVER_SCRIPT), json.dumps(cfg)]
        self.log = self.base / "server.log"
        log = open(self.log, "wb")
        env = iso.environment()
        try:
            if sandboxed:
                bwrap = iso.find_bwrap()
                if bwrap is None:
                    raise ServerError("bubblewrap (bwrap) is no longer installed")
                argv = iso.bwrap_argv(bwrap, root=root, ro_binds=binds, jobs_dir=str(jobs_dir), env=env, argv=argv)
                popen_env = {"PATH": env["PATH"], "LANG": env["LANG"]}
            else:
                popen_env = env
            self.proc = _spawn(lambda: subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                        pass_fds=[child.fileno()], env=popen_env,
                                                        cwd=str(self.base), start_new_session=True))
        finally:
            log.close()
            child.close()

    def _log_tail(self, n: int = 1500) -> str:
        try:
            data = self.log.read_bytes() if self.log else b""
        except OSError:
            return ""
        return data[-n:].decode("utf-8", "replace").strip()

    def wait_ready(self) -> dict[str, Any]:
        if self.ready is not None:
            return self.ready
        assert self.ctl is not None and self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            r, _, _ = select.select([self.ctl], [], [], 0.2)
            if r:
                data = self.ctl.recv(1 << 20)
                if not data:
                    raise ServerError(f"the sandbox server exited while starting: {self._log_tail()}")
                msg = json.loads(data)
                if msg.get("op") == "ready":
                    self.ready = msg
                    break
            elif self.proc.poll() is not None:
                raise ServerError(f"the sandbox server exited while starting (code {self.proc.returncode}): "
                                   f"{self._log_tail() or 'no output'}")
            if time.monotonic() > deadline:
                raise ServerError(f"the sandbox server did not start within {START_TIMEOUT:g} s")
        if self.ready.get("job_isolation_error"):
            raise ServerError(f"per-job isolation does not work here: {self.ready['job_isolation_error']}")
        if self.mode.sandboxed:
            self.label = iso.sandboxed_isolation(self.mode.root, self.ready).label
        return self.ready

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.owner == os.getpid()

    def hang_up(self) -> None:
        """Close the control connection: the server exits (:meth:`close` then waits for it)."""
        if self.owner == os.getpid() and self.ctl is not None:
            try:
                self.ctl.close()
            except OSError:
                pass
            self.ctl = None

    def close(self) -> None:
        if self.owner != os.getpid():
            return
        self.hang_up()
        p, self.proc = self.proc, None
        if p is not None:
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        self.ready = None

    def attach(self) -> socket.socket:
        """A new control connection to this server, for another grader process of the run (handed
        over by :mod:`deploycheck.sandbox.broker`): its jobs, and only those, are its own."""
        with self.lock:
            self.wait_ready()
            assert self.ctl is not None
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                socket.send_fds(self.ctl, [json.dumps({"op": "attach"}).encode()], [theirs.fileno()])
            except OSError:
                mine.close()
                raise
            finally:
                theirs.close()
            return mine

    def info(self) -> dict[str, Any]:
        with self.lock:
            self.wait_ready()
            assert self.ctl is not None
            self.ctl.send(json.dumps({"op": "info"}).encode())
            return json.loads(self.ctl.recv(1 << 20))

    # ------------------------------------------------------------------ one job
    def _preload(self, modules: tuple[str, ...]) -> None:
        """Have the server import those of ``modules`` it imports on demand and has not yet (before a
        job, none running). An import that fails is not asked again: the job imports it itself."""
        want = [m for m in modules if m in self.interp.on_demand and m not in self.loaded]
        if not want:
            return
        assert self.ctl is not None
        self.ctl.send(json.dumps({"op": "preload", "modules": want}).encode())
        ready, _, _ = select.select([self.ctl], [], [], START_TIMEOUT)
        reply = json.loads(self.ctl.recv(1 << 20) or b"{}") if ready else {}
        if reply.get("op") != "preloaded":
            raise ServerError(f"the sandbox server did not import {', '.join(want)}: {self._log_tail()}")
        self.loaded.update(want)

    def run(self, job: str, args: Mapping[str, Any], folder: Path | None, extract: Path | None,
            limits: Limits, env: dict[str, str], preload: tuple[str, ...] = (), talk: Talk | None = None
            ) -> JobResult:
        with self.lock:
            t0 = time.monotonic()
            self.wait_ready()
            self._preload(preload)
            assert self.base is not None
            job_id = f"j{os.getpid()}-{next(_JOB_IDS):06d}"   # unique also among the processes attached
            job_dir = self.base / "jobs" / job_id

            def result(status: str, **kw: Any) -> JobResult:
                return JobResult(status, isolation=self.label, timeout=limits.timeout, cpu_s=limits.cpu_s,
                                 memory_mb=limits.memory_mb,
                                 elapsed_ms=round((time.monotonic() - t0) * 1000, 2), **kw)
            try:
                prep = jobs.prepare(job_dir, args=dict(args), folder=folder, extract=extract)
            except jobs.ExtractError as e:
                shutil.rmtree(job_dir, ignore_errors=True)
                name = extract.name if extract is not None else "the archive"
                return result("error", error_type="ExtractError", error=f"could not extract {name}: {e}")
            try:
                return self._exchange(job_id, job, prep, limits, env, result, talk)
            finally:
                shutil.rmtree(job_dir, ignore_errors=True)

    def _exchange(self, job_id: str, job: str, prep: jobs.PreparedJob, limits: Limits,
                  env: dict[str, str], result: protocol.MakeResult, talk: Talk | None = None) -> JobResult:
        assert self.ctl is not None
        conv = protocol.Conversation(talk, time.monotonic() + limits.timeout + protocol.KILL_GRACE) if talk else None
        msg = protocol.run_message(job_id, job, prep, limits, env, channel=conv is not None)
        pipes = [os.pipe() for _ in range(4)]                   # stdout, stderr, answer, setup
        try:
            protocol.send(self.ctl, msg, pipes, conv.theirs if conv else None)
        except OSError as e:
            if conv is not None:
                conv.close()
            raise ServerError(f"the sandbox server is gone ({e}): {self._log_tail()}") from e
        if conv is not None:
            conv.start()
        seen = protocol.collect(self.ctl, job_id, pipes, limits.timeout)
        talked, talk_error = conv.finish() if conv is not None else (None, "")
        if seen.server_gone:
            why = self._log_tail()
            self.kill()
            if not seen.timed_out:
                # the server went away under the job (no job can signal it: each has a session and PID
                # namespace of its own): whatever the job had done is lost with it, so the caller runs
                # the job again on a new server
                when = "during the job" if seen.setup else "before the job started"
                raise ServerError(f"the sandbox server exited {when}{': ' + why if why else ''}")
        return replace(protocol.decide(result, seen, prep.notes), talk=talked, talk_error=talk_error)

    def kill(self) -> None:
        p = self.proc
        if p is not None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
        self.close()


BASE_PREFIX = "deploycheck-sandbox-"


def _sweep_stale_bases() -> None:
    """Remove base directories of grader processes that died without cleaning up (an xdist
    worker that exits without atexit): ``deploycheck-sandbox-<pid>-*`` whose pid is gone."""
    tmp = Path(tempfile.gettempdir())
    try:
        entries = list(tmp.glob(f"{BASE_PREFIX}*-*"))
    except OSError:
        return
    for d in entries:
        m = re.match(re.escape(BASE_PREFIX) + r"(\d+)-", d.name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            if d.lstat().st_uid != os.geteuid() or d.is_symlink():
                continue
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue
