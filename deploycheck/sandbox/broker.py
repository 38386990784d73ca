"""One fork server per runtime for a whole class run, shared by the xdist workers.

Every worker used to start its own server for each image it met: the same libraries imported once
per worker (0.4-0.7 s of CPU each) and held in memory once per worker. In a class run the xdist
controller owns the servers instead. It listens on a Unix socket in a private directory (0700) whose
path its workers inherit in :data:`ENV`. A worker that needs a server asks the controller for it
(:func:`ask_for`; the controller starts it if it is not running yet) and gets a control connection of
its own (``SCM_RIGHTS``), over which it runs its jobs directly: the controller is not in the way of
any job. The server shows each connection only its own jobs and stops a connection's jobs when it
closes (a worker that died). A server forks every job of its workers, one at a time: with many
workers it would be the bottleneck, so each :data:`WORKERS_PER_SERVER` workers (by xdist worker id)
share one. A server that went away is restarted by the controller on the next
request. Only processes of the same user can reach the socket; jobs cannot (they see neither the
directory nor the grader's file system).
"""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from deploycheck.sandbox.forkserver import START_TIMEOUT, Server
from deploycheck.sandbox.isolation import Isolation
from deploycheck.sandbox.records import Interpreter, ServerError

ENV = "DEPLOYCHECK_SANDBOX_BROKER"      # "<owner pid>:<socket path>"
MAX_MSG = 1 << 20
WORKERS_PER_SERVER = 4


def slot_of(worker: str) -> int:
    """Which of a runtime's servers xdist worker ``worker`` ("gw5") uses."""
    digits = worker[2:] if worker.startswith("gw") else ""
    return int(digits) // WORKERS_PER_SERVER if digits.isdigit() else 0


@dataclass(frozen=True)
class Attached:
    """What a worker needs to run jobs on a server the controller owns."""
    ctl: socket.socket
    base: Path
    log: Path
    label: str
    ready: dict[str, Any]


def address() -> str | None:
    """The broker's socket path when this process is a worker of a run whose controller shares its
    servers (None in the controller itself and outside such runs)."""
    owner, _, path = os.environ.get(ENV, "").partition(":")
    return path if path and owner.isdigit() and int(owner) != os.getpid() else None


def ask_for(path: str, interp: Interpreter, job_paths: tuple[str, ...]) -> socket.socket:
    """Ask the controller for a connection to ``interp``'s server; the answer is read by :func:`answer`
    (the server may still be starting: the caller goes on meanwhile)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
        s.send(json.dumps({"op": "attach", "interp": asdict(interp), "job_paths": list(job_paths),
                           "worker": os.environ.get("PYTEST_XDIST_WORKER", "")}).encode())
    except OSError:
        s.close()
        raise
    return s


def answer(s: socket.socket, timeout: float) -> Attached:
    ready, _, _ = select.select([s], [], [], timeout)
    if not ready:
        raise ServerError(f"the run's sandbox server was not ready within {timeout:g} s")
    data, fds, _flags, _addr = socket.recv_fds(s, MAX_MSG, 1)
    msg = json.loads(data or b"{}")
    if not msg.get("ok") or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise ServerError(msg.get("error") or "the grading run's controller did not hand over a sandbox server")
    os.set_inheritable(fds[0], False)     # no program this worker starts keeps the connection open
    return Attached(socket.socket(fileno=fds[0]), Path(msg["base"]), Path(msg["log"]), msg["label"], msg["ready"])


def isolation(path: str, timeout: float = 60.0) -> dict[str, Any] | None:
    """What isolation the run's first process found (it probed once for the whole run), or None."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(path)
            s.send(json.dumps({"op": "isolation"}).encode())
            ready, _, _ = select.select([s], [], [], timeout)
            got = json.loads(s.recv(MAX_MSG) or b"{}") if ready else {}
    except (OSError, ValueError):
        return None
    return got.get("isolation") if isinstance(got.get("isolation"), dict) else None


def _interpreter(d: dict[str, Any]) -> Interpreter:
    return Interpreter(python=str(d["python"]), sys_path=tuple(d["sys_path"]), preload=tuple(d["preload"]),
                       label=str(d["label"]), packages=tuple(d["packages"]), on_demand=tuple(d["on_demand"]))


@dataclass(frozen=True)
class Servers:
    """What the broker hands out: the controller's shared servers. :mod:`deploycheck.sandbox.client`
    starts the broker with its own functions, so that this module never imports it."""
    shared_server: Callable[[Interpreter, tuple[str, ...], int], Server]
    forget_server: Callable[[Interpreter, tuple[str, ...], Server], None]
    isolation: Callable[[], Isolation]          # the controller's isolation (never asking the run: it is the run)


class Broker:
    """The controller's side: hands out connections to its servers (started on first request)."""

    def __init__(self, servers: Servers) -> None:
        self.servers = servers          # the controller's own servers (deploycheck.sandbox.client)
        self.dir = Path(tempfile.mkdtemp(prefix="deploycheck-broker-"))          # 0700
        self.path = str(self.dir / "broker")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.bind(self.path)
        self.sock.listen(64)
        self.closed = False
        threading.Thread(target=self._accept, name="deploycheck-broker", daemon=True).start()

    @property
    def env_value(self) -> str:
        return f"{os.getpid()}:{self.path}"

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="deploycheck-broker-request", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        client = self.servers
        theirs = None
        try:
            req = json.loads(conn.recv(MAX_MSG) or b"{}")
            if req.get("op") == "isolation":
                conn.send(json.dumps({"isolation": asdict(client.isolation())}).encode())
                return
            interp, paths, slot = _interpreter(req["interp"]), tuple(req["job_paths"]), slot_of(str(req.get("worker", "")))
            reply: dict[str, Any] = {"ok": False, "error": ""}
            for attempt in (1, 2):
                srv = client.shared_server(interp, paths, slot)
                try:
                    theirs = srv.attach()
                    reply = {"ok": True, "base": str(srv.base), "log": str(srv.log), "label": srv.label,
                             "ready": srv.ready}
                    break
                except (ServerError, OSError) as e:         # gone meanwhile: the next request restarts it
                    client.forget_server(interp, paths, srv)
                    reply = {"ok": False, "error": f"the sandbox server could not start: {e}"[:3000]}
            if theirs is None:
                conn.send(json.dumps(reply).encode())
            else:
                socket.send_fds(conn, [json.dumps(reply).encode()], [theirs.fileno()])
        except Exception as e:  # noqa: BLE001 - the worker reports it as an error of the run
            try:
                conn.send(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:3000]}).encode())
            except OSError:
                pass
        finally:
            if theirs is not None:
                theirs.close()
            conn.close()

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class AttachedServer(Server):
    """A fork server that another process of this run started and owns (the xdist controller), used
    through a control connection of this process's own, which :mod:`deploycheck.sandbox.broker` hands
    over. Closing it closes only that connection; the owner stops the server."""

    def __init__(self, interp: Interpreter, job_paths: tuple[str, ...], mode: Isolation, seq: int, broker: str):
        super().__init__(interp, job_paths, mode, seq)
        self.broker = broker
        self._asking: socket.socket | None = None

    def start(self) -> None:
        self._asking = ask_for(self.broker, self.interp, self.job_paths)

    def wait_ready(self) -> dict[str, Any]:
        if self.ready is not None:
            return self.ready
        if self._asking is None:
            raise ServerError("this process's connection to the run's sandbox server is closed")
        asking, self._asking = self._asking, None
        try:
            got = answer(asking, START_TIMEOUT)
        finally:
            asking.close()
        self.ctl, self.base, self.log, self.label = got.ctl, got.base, got.log, got.label
        self.ready = got.ready
        return self.ready

    def alive(self) -> bool:
        return (self.ctl is not None or self._asking is not None) and self.owner == os.getpid()

    def close(self) -> None:
        for s in (self.ctl, self._asking):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self.ctl = self._asking = None
        self.ready = None

    def kill(self) -> None:
        self.close()
