"""The grader side of the sandbox, its public functions: :func:`run` a job in a fresh isolated
child of a pre-warmed fork server (one per :class:`~deploycheck.sandbox.records.Interpreter`, started
lazily: :mod:`deploycheck.sandbox.forkserver`), what isolation this machine gives (probed once per
process by starting a bare server), and this process's servers (forgotten after a fork, stopped at
exit). A failure of the sandbox itself is status "machine": an error of the run, never the student's.
"""
from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from deploycheck.sandbox import isolation as iso
from deploycheck.sandbox import broker as _broker
from deploycheck.sandbox.broker import AttachedServer
from deploycheck.sandbox.forkserver import Server
from deploycheck.sandbox.records import ServerError
from deploycheck.sandbox.isolation import Isolation, IsolationUnavailable
from deploycheck.sandbox.records import Interpreter, JobResult, Limits, Talk

_ENV_NAME = re.compile(r"^(SAGEMAKER|SM|AIP|CLOUD_ML|MODEL|DEPLOYCHECK_JOB)_[A-Z0-9_]+$")


_LOCK = threading.Lock()
# (interpreter, job paths, isolation mode, the broker's address or "" for a server of this process's own,
# which of the broker's servers for that interpreter)
_SERVERS: dict[tuple[Interpreter, tuple[str, ...], str, str, int], Server] = {}
_OWNER = os.getpid()
_SEQ = 0
_ISOLATION: Isolation | None = None
_PROBE_ERROR: str | None = None


def _reset_after_fork() -> None:
    global _OWNER, _SEQ
    if _OWNER != os.getpid():
        _SERVERS.clear()       # the parent's servers are the parent's
        _OWNER = os.getpid()
        _SEQ = 0


def isolation(ask_the_run: bool = True) -> Isolation:
    """What this machine gives (probed once per process by starting a bare server; in a worker of a
    class run, as the run's first process found it, unless ``ask_the_run`` is False)."""
    global _ISOLATION
    shared = _broker.address() if ask_the_run else None
    known = _broker.isolation(shared) if shared and _ISOLATION is None else None   # (not under the lock: the
    with _LOCK:                                                                    # broker may be this process)
        _reset_after_fork()
        if _ISOLATION is None:
            _ISOLATION = Isolation(**known) if known else _probe()
        return _ISOLATION


def reset_isolation() -> None:
    """Forget the probed isolation (tests; after installing bubblewrap)."""
    global _ISOLATION
    with _LOCK:
        _ISOLATION = None


def _probe() -> Isolation:
    static = iso.static_check()
    if static is not None:
        return static
    root = os.geteuid() == 0
    global _SEQ
    _SEQ += 1
    mode = iso.sandboxed_isolation(root)
    srv = Server(Interpreter(python=sys.executable), (), mode, _SEQ)
    try:
        srv.start()
        ready = srv.wait_ready()
        return iso.sandboxed_isolation(root, ready)
    except (ServerError, OSError, ValueError) as e:
        blockers = iso.userns_blockers()
        detail = "bubblewrap cannot create the sandbox here" + (f" ({', '.join(blockers)})" if blockers else "")
        return Isolation("unavailable", f"{detail}: {str(e)[:600]}", iso.how_to_fix("" if root else "userns"))
    finally:
        srv.close()


def _effective() -> Isolation:
    mode = isolation()
    if mode.sandboxed:
        return mode
    if iso.allow_unsandboxed():
        return iso.unsandboxed_isolation(mode)
    raise IsolationUnavailable(mode)


def _key(interp: Interpreter, job_paths: tuple[str, ...], mode: Isolation, own: bool = False, slot: int = 0
         ) -> tuple[Interpreter, tuple[str, ...], str, str, int]:
    return (interp, job_paths, mode.mode, "" if own else (_broker.address() or ""), slot)


def _server(interp: Interpreter, job_paths: tuple[str, ...], mode: Isolation, own: bool = False,
            slot: int = 0) -> Server:
    """This process's server for ``interp``: its own, or (in a worker of a class run, unless ``own``)
    the run's, through the broker."""
    global _SEQ
    with _LOCK:
        _reset_after_fork()
        key = _key(interp, job_paths, mode, own, slot)
        srv = _SERVERS.get(key)
        if srv is not None and not srv.alive():
            srv.close()
            srv = None
        if srv is None:
            _SEQ += 1
            srv = AttachedServer(interp, job_paths, mode, _SEQ, key[3]) if key[3] else Server(interp, job_paths, mode, _SEQ)
            srv.start()
            _SERVERS[key] = srv
        return srv


def shared_server(interp: Interpreter, job_paths: tuple[str, ...], slot: int = 0) -> Server:
    """This process's own server for ``interp`` (the broker's, for the run's other processes), the
    ``slot``-th when several share the work."""
    return _server(interp, job_paths, _effective(), own=True, slot=slot)


def forget_server(interp: Interpreter, job_paths: tuple[str, ...], srv: Server) -> None:
    with _LOCK:
        for key, s in list(_SERVERS.items()):
            if s is srv:
                del _SERVERS[key]
    srv.kill()


_BROKER: _broker.Broker | None = None


def share_servers() -> None:
    """From now on, processes started by this one with its environment (xdist workers) use this
    process's fork servers, one per runtime, instead of starting their own (:mod:`.broker`)."""
    global _BROKER
    with _LOCK:
        if _BROKER is None:
            _BROKER = _broker.Broker(_broker.Servers(shared_server, forget_server,
                                                     lambda: isolation(ask_the_run=False)))
            os.environ[_broker.ENV] = _BROKER.env_value


def stop_sharing() -> None:
    global _BROKER
    with _LOCK:
        b, _BROKER = _BROKER, None
        if b is not None and os.environ.get(_broker.ENV) == b.env_value:
            del os.environ[_broker.ENV]
    if b is not None:
        b.close()


def job_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowlisted environment of a job (HOME and TMPDIR are set to the job's own dirs)."""
    extra = dict(extra or {})
    for k in extra:
        if not _ENV_NAME.match(k):
            raise ValueError(f"environment variable {k!r} is not a serving variable a job may get")
    return iso.environment(extra)


def run(job: str, args: Mapping[str, Any] | None = None, *, interpreter: Interpreter | None = None,
        folder: str | os.PathLike[str] | None = None, extract: str | os.PathLike[str] | None = None,
        limits: Limits | None = None, job_paths: tuple[str, ...] | list[str] = (),
        env: Mapping[str, str] | None = None, preload: tuple[str, ...] = (), talk: Talk | None = None) -> JobResult:
    """Run ``job`` ("module:function", a module in deploycheck/inside/ or in ``job_paths``) as
    ``function(ctx, **args)`` in a fresh isolated child of ``interpreter``'s fork server.
    ``preload``: modules the job will import; those the interpreter imports on demand are imported
    by its server first (once), as a real container's long-lived worker would have them.
    ``talk``: the grader's side of a conversation with the running job (:data:`~.records.Talk`; the
    job's end is ``ctx.channel``); what it returns is ``JobResult.talk``.

    Never raises for anything the job does. Raises :class:`IsolationUnavailable` when no isolation
    works here and unsandboxed runs are not allowed. A failure of the sandbox itself is status
    "machine" (an error of the run, never the student's)."""
    interp = interpreter or Interpreter.grader()
    limits = limits or Limits()
    mode = _effective()
    paths = tuple(str(Path(p).resolve()) for p in job_paths)
    environment = job_environment(env)
    t0 = time.monotonic()
    for attempt in (1, 2):                 # a server that went away under the job: once more on a new one
        try:
            srv = _server(interp, paths, mode)
            return srv.run(job, dict(args or {}), Path(folder) if folder else None,
                           Path(extract) if extract else None, limits, environment, tuple(preload), talk)
        except (ServerError, OSError, ValueError) as e:
            with _LOCK:
                srv_ = _SERVERS.pop(_key(interp, paths, mode), None)
            if srv_ is not None:
                srv_.kill()
            if attempt == 2 or "per-job isolation" in str(e):
                return JobResult("machine", error_type="SandboxError", error=f"sandbox failure: {e}"[:3000],
                                 isolation=mode.label, timeout=limits.timeout, memory_mb=limits.memory_mb,
                                 elapsed_ms=round((time.monotonic() - t0) * 1000, 2))
    raise AssertionError("unreachable")


def prestart(interpreter: Interpreter | None = None) -> None:
    """Start ``interpreter``'s fork server now, in the background (returns at once; never raises)."""
    try:
        mode = _effective()
        _server(interpreter or Interpreter.grader(), (), mode)
    except Exception:  # noqa: BLE001 - run() reports the problem when it matters
        pass


def server_info(interpreter: Interpreter | None = None, job_paths: tuple[str, ...] = ()) -> dict[str, Any]:
    """pid, VmSize and running jobs of a fork server (starts it if needed); tests and benchmarks."""
    mode = _effective()
    paths = tuple(str(Path(p).resolve()) for p in job_paths)
    return _server(interpreter or Interpreter.grader(), paths, mode).info()


def shutdown() -> None:
    """Stop every fork server of this process (they also die with it)."""
    with _LOCK:
        servers = list(_SERVERS.values()) if _OWNER == os.getpid() else []
        _SERVERS.clear()
    for srv in servers:
        srv.hang_up()            # all exit at once, then each is waited for
    for srv in servers:
        srv.close()


atexit.register(shutdown)
