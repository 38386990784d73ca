"""The grader side of the sandbox: one pre-warmed fork server per :class:`Interpreter`, started
lazily inside bubblewrap, and the exchange of one job with it.

For each job the grader prepares the input (:mod:`deploycheck.sandbox.jobs`) in the server's
private base directory, makes four pipes (stdout, stderr, answer, setup) and hands their write
ends to the server with the job message over a ``SOCK_SEQPACKET`` control socket
(``SCM_RIGHTS``); it keeps the read ends and closes its write ends. The job's keeper and the job
process hold nothing else: no job can reach the control socket, the pipes of another job, or the
grader. The grader alone decides every status and the isolation label: from the setup pipe (closed
by the job process before any job code runs), the job's wait status (reported by the server),
its own wall clock, and one validated answer frame (``DCJ1`` + 8-byte length + JSON) whose only
trusted content is the job's own data.
"""
from __future__ import annotations

import array
import atexit
import concurrent.futures
import functools
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from deploycheck.sandbox import isolation as iso
from deploycheck.sandbox import jobs
from deploycheck.sandbox.isolation import Isolation, IsolationUnavailable

DEFAULT_TIMEOUT = 20.0          # seconds of wall clock per job
DEFAULT_MEMORY_MB = 2048        # address space a job may add to the pre-imported libraries
OUTPUT_TAIL = 64 * 1024         # bytes of stdout/stderr kept
OUTPUT_CAP = 16 * 1024 * 1024   # bytes of stdout/stderr read; then the pipe is closed
RESULT_LIMIT = 32 * 1024 * 1024  # largest answer read back
START_TIMEOUT = 180.0           # a server importing scikit-learn on a busy machine
KILL_GRACE = 10.0               # after a kill, how long the server has to report the exit
DRAIN_GRACE = 3.0               # after the exit, how long output pipes may stay open
INSIDE_DIR = Path(__file__).resolve().parent.parent / "inside"
SERVER_SCRIPT = INSIDE_DIR / "server.py"
FRAME_MAGIC = b"DCJ1"
STATUSES = ("ok", "error", "timeout", "memory", "killed", "machine")
_ENV_NAME = re.compile(r"^(SAGEMAKER|SM|AIP|CLOUD_ML|MODEL|DEPLOYCHECK_JOB)_[A-Z0-9_]+$")

GRADER_PRELOAD = (
    "numpy", "scipy", "scipy.sparse", "scipy.special", "scipy.stats", "joblib", "pandas",
    "sklearn", "sklearn.base", "sklearn.utils", "sklearn.linear_model", "sklearn.ensemble",
    "sklearn.tree", "sklearn.svm", "sklearn.pipeline", "sklearn.preprocessing", "sklearn.neighbors",
    "sklearn.compose", "sklearn.impute", "sklearn.naive_bayes", "sklearn.cluster",
    "sklearn.feature_extraction.text",
)


# ============================================================================ public records

@dataclass(frozen=True)
class Interpreter:
    """A Python to run jobs with: its executable, the site directories it imports from (bound
    read-only into the sandbox at their own paths), the modules its fork server imports once,
    and a label for messages. ``packages``: single package directories to expose (read-only)
    without the folder around them (e.g. deploycheck itself in a repo checkout)."""
    python: str
    sys_path: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    label: str = ""
    packages: tuple[str, ...] = ()

    @classmethod
    def grader(cls) -> Interpreter:
        """The grader's own Python and site-packages (and deploycheck, for its serving jobs)."""
        return _grader_interpreter()


@functools.lru_cache(maxsize=1)
def _grader_interpreter() -> Interpreter:
    import site
    import deploycheck
    sites = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        sites.append(site.getusersitepackages())
    sites += [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages")) and p not in sites]
    try:
        from importlib.metadata import version
        skl = version("scikit-learn")
    except Exception:  # noqa: BLE001
        skl = "?"
    pkg = str(Path(deploycheck.__file__).resolve().parent)
    return Interpreter(python=sys.executable, sys_path=tuple(sites), preload=GRADER_PRELOAD,
                       label=f"the grader's own Python {sys.version.split()[0]} (scikit-learn {skl})",
                       packages=(pkg,))


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULT_TIMEOUT     # wall clock, seconds
    memory_mb: int = DEFAULT_MEMORY_MB   # address space on top of the pre-imported libraries
    disk_mb: int = 64                    # what the job may write (its tmpfs beyond its input)
    nproc: int = 64                      # processes and threads of the job
    nofile: int = 256                    # open files


@dataclass(frozen=True)
class JobResult:
    """What happened to one job; every field but ``data``/``error*``/``traceback`` (the job's own
    answer) and the output tails is decided by the grader."""
    status: str                          # ok | error | timeout | memory | killed | machine
    data: Any = None                     # the job's JSON return value (status ok)
    error: str = ""
    error_type: str = ""
    traceback: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""
    isolation: str = ""
    elapsed_ms: float = 0.0
    exit_code: int | None = None
    signal_name: str = ""
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        """One phrase for a failure message (callers add the advice)."""
        if self.status == "timeout":
            return f"it was still running after {self.timeout:g} s and was stopped"
        if self.status == "memory":
            return f"it ran out of memory (the limit is {self.memory_mb} MB on top of scikit-learn)"
        if self.status == "killed":
            if self.signal_name:
                return f"the process died with {self.signal_name}"
            return f"the process exited with code {self.exit_code} before returning a result"
        if self.status in ("error", "machine"):
            return self.error or "it failed"
        return "ok"


# ============================================================================ interpreter facts

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


# ============================================================================ the server

class _ServerError(Exception):
    pass


# JobResult with the fields the grader decides for every job filled in (status, **fields)
_MakeResult = Callable[..., JobResult]


class _Server:
    def __init__(self, interp: Interpreter, job_paths: tuple[str, ...], mode: Isolation, seq: int):
        self.interp, self.job_paths, self.mode, self.seq = interp, job_paths, mode, seq
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.ctl: socket.socket | None = None
        self.base: Path | None = None
        self.log: Path | None = None
        self.ready: dict[str, Any] | None = None
        self.label = mode.label
        self.count = 0
        self.owner = os.getpid()

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
               "ctl_fd": child.fileno(), "sys_path": sys_path, "preload": list(self.interp.preload)}
        argv = [self.interp.python, "-I", "-B", str(SERVER_SCRIPT), json.dumps(cfg)]
        self.log = self.base / "server.log"
        log = open(self.log, "wb")
        env = iso.environment()
        try:
            if sandboxed:
                bwrap = iso.find_bwrap()
                if bwrap is None:
                    raise _ServerError("bubblewrap (bwrap) is no longer installed")
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
                    raise _ServerError(f"the sandbox server exited while starting: {self._log_tail()}")
                msg = json.loads(data)
                if msg.get("op") == "ready":
                    self.ready = msg
                    break
            elif self.proc.poll() is not None:
                raise _ServerError(f"the sandbox server exited while starting (code {self.proc.returncode}): "
                                   f"{self._log_tail() or 'no output'}")
            if time.monotonic() > deadline:
                raise _ServerError(f"the sandbox server did not start within {START_TIMEOUT:g} s")
        if self.ready.get("job_isolation_error"):
            raise _ServerError(f"per-job isolation does not work here: {self.ready['job_isolation_error']}")
        if self.mode.sandboxed:
            self.label = iso.sandboxed_isolation(self.mode.root, bool(self.ready.get("job_userns", True))).label
        return self.ready

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.owner == os.getpid()

    def close(self) -> None:
        if self.owner != os.getpid():
            return
        if self.ctl is not None:
            try:
                self.ctl.close()
            except OSError:
                pass
            self.ctl = None
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

    def info(self) -> dict[str, Any]:
        with self.lock:
            self.wait_ready()
            assert self.ctl is not None
            self.ctl.send(json.dumps({"op": "info"}).encode())
            return json.loads(self.ctl.recv(1 << 20))

    # ------------------------------------------------------------------ one job
    def run(self, job: str, args: Mapping[str, Any], folder: Path | None, extract: Path | None,
            limits: Limits, env: dict[str, str]) -> JobResult:
        with self.lock:
            t0 = time.monotonic()
            self.wait_ready()
            assert self.base is not None
            self.count += 1
            job_id = f"j{self.count:06d}"
            job_dir = self.base / "jobs" / job_id

            def result(status: str, **kw: Any) -> JobResult:
                return JobResult(status, isolation=self.label, timeout=limits.timeout, memory_mb=limits.memory_mb,
                                 elapsed_ms=round((time.monotonic() - t0) * 1000, 2), **kw)
            try:
                prep = jobs.prepare(job_dir, args=dict(args), folder=folder, extract=extract)
            except jobs.ExtractError as e:
                shutil.rmtree(job_dir, ignore_errors=True)
                name = extract.name if extract is not None else "the archive"
                return result("error", error_type="ExtractError", error=f"could not extract {name}: {e}")
            try:
                return self._exchange(job_id, job, prep, limits, env, result)
            finally:
                shutil.rmtree(job_dir, ignore_errors=True)

    def _exchange(self, job_id: str, job: str, prep: jobs.PreparedJob, limits: Limits,
                  env: dict[str, str], result: _MakeResult) -> JobResult:
        assert self.ctl is not None
        msg = {"op": "run", "id": job_id, "job": job, "env": env,
               "limits": {"timeout": limits.timeout, "memory_mb": limits.memory_mb, "disk_mb": limits.disk_mb,
                          "nproc": limits.nproc, "nofile": limits.nofile},
               "input_bytes": prep.input_bytes, "input_files": prep.input_files,
               "has_folder": prep.has_folder, "has_model": prep.has_model}
        pipes = [os.pipe() for _ in range(4)]                   # stdout, stderr, answer, setup
        try:
            self.ctl.sendmsg([json.dumps(msg).encode()],
                             [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w for _, w in pipes]))])
        except OSError as e:
            for r, w in pipes:
                os.close(r)
                os.close(w)
            raise _ServerError(f"the sandbox server is gone ({e}): {self._log_tail()}") from e
        for _, w in pipes:
            os.close(w)
        out_r, err_r, ans_r, set_r = (r for r, _ in pipes)
        out, err = _Tail(), _Tail()
        answer = bytearray()
        setup = bytearray()
        too_large = False
        open_fds = {out_r, err_r, ans_r, set_r}
        status: int | None = None
        timed_out = False
        deadline = time.monotonic() + limits.timeout
        kill_deadline = drain_deadline = None
        server_gone = False
        try:
            while open_fds or status is None:
                now = time.monotonic()
                if status is None and not timed_out and now >= deadline:
                    timed_out = True
                    self.ctl.send(json.dumps({"op": "kill", "id": job_id}).encode())
                    kill_deadline = now + KILL_GRACE
                if kill_deadline is not None and status is None and now >= kill_deadline:
                    server_gone = True          # no exit report: take the whole sandbox down
                    break
                if status is not None and drain_deadline is None:
                    drain_deadline = now + DRAIN_GRACE
                if drain_deadline is not None and now >= drain_deadline:
                    break
                wait = min(x for x in (deadline if not timed_out else kill_deadline, drain_deadline) if x is not None) - now
                fds = list(open_fds) + ([self.ctl] if status is None else [])
                ready, _, _ = select.select(fds, [], [], max(0.0, wait))
                for fd in ready:
                    if isinstance(fd, socket.socket):     # the control socket
                        data = self.ctl.recv(1 << 20)
                        if not data:
                            server_gone = True
                            status = -1
                            continue
                        m = json.loads(data)
                        if m.get("id") == job_id and m.get("op") == "exit":
                            status = int(m.get("status", -1))
                        continue
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        open_fds.discard(fd)
                        os.close(fd)
                        continue
                    if fd == out_r or fd == err_r:
                        tail = out if fd == out_r else err
                        tail.add(chunk)
                        if tail.total > OUTPUT_CAP:
                            tail.cut = True
                            open_fds.discard(fd)
                            os.close(fd)        # further writes fail with EPIPE in the job
                    elif fd == ans_r:
                        answer += chunk
                        if len(answer) > RESULT_LIMIT + 12:
                            too_large = True
                            open_fds.discard(fd)
                            os.close(fd)
                    else:
                        setup += chunk[:4096]
        finally:
            for fd in open_fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if server_gone:
            why = self._log_tail()
            self.kill()
            if not timed_out:
                return result("machine", error_type="SandboxError",
                              error=f"the sandbox server exited during the job{': ' + why if why else ''}",
                              stdout_tail=out.text(), stderr_tail=err.text(), notes=prep.notes)
        return _decide(result, status, timed_out, bytes(setup), bytes(answer), too_large, out, err, prep.notes)

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


class _Tail:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.total = 0
        self.cut = False

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.buf += chunk
        if len(self.buf) > OUTPUT_TAIL:
            del self.buf[:len(self.buf) - OUTPUT_TAIL]

    def text(self) -> str:
        t = bytes(self.buf).decode("utf-8", "replace")
        if self.total > len(self.buf):
            t = f"[... {self.total - len(self.buf)} bytes cut ...]\n" + t
        if self.cut:
            t += f"\n[output stopped after {OUTPUT_CAP // 2**20} MB: further writes failed]"
        return t


def _str(v: object, n: int) -> str:
    return v[:n] if isinstance(v, str) else ""


def _decide(result: _MakeResult, status: int | None, timed_out: bool, setup: bytes, answer: bytes, too_large: bool,
            out: _Tail, err: _Tail, notes: tuple[str, ...]) -> JobResult:
    """Every status, from what the grader saw; the answer only fills the job's own fields."""
    common: dict[str, Any] = {"stdout_tail": out.text(), "stderr_tail": err.text(), "notes": notes}
    exit_code = signal_name = None
    if status is not None and status >= 0:
        if os.WIFSIGNALED(status):
            try:
                signal_name = signal.Signals(os.WTERMSIG(status)).name
            except ValueError:
                signal_name = f"signal {os.WTERMSIG(status)}"
        elif os.WIFEXITED(status):
            exit_code = os.WEXITSTATUS(status)
    common.update(exit_code=exit_code, signal_name=signal_name or "")
    if timed_out:
        return result("timeout", **common)
    if not setup.startswith(b"R"):
        why = setup[1:].decode("utf-8", "replace") if setup.startswith(b"E") else ""
        return result("machine", error_type="SandboxError",
                      error="the sandbox could not set up the job: " + (why or f"its process ended first "
                                                                          f"({signal_name or f'exit code {exit_code}'})"),
                      **common)
    if too_large:
        return result("error", error_type="ResultTooLarge",
                      error=f"the job's answer was larger than {RESULT_LIMIT // 2**20} MB", **common)
    if answer:
        payload = None
        if answer[:4] == FRAME_MAGIC and len(answer) >= 12:
            (n,) = struct.unpack(">Q", answer[4:12])
            if len(answer) == 12 + n:
                try:
                    payload = json.loads(answer[12:])
                except ValueError:
                    payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("ok"), bool):
            return result("error", error_type="ResultInvalid",
                          error=f"the job's answer channel held {len(answer)} bytes that are not one answer "
                                "(the code wrote to file descriptor 3, deploycheck's result pipe)", **common)
        if payload["ok"]:
            return result("ok", data=payload.get("data"), **common)
        kind = "memory" if payload.get("memory") is True else "error"
        return result(kind, error=_str(payload.get("error"), 4000), error_type=_str(payload.get("error_type"), 200),
                      traceback=_str(payload.get("traceback"), 8000), **common)
    if signal_name == "SIGXCPU":
        return result("timeout", **common)
    if "MemoryError" in common["stderr_tail"] or "std::bad_alloc" in common["stderr_tail"] \
            or "Cannot allocate memory" in common["stderr_tail"]:
        return result("memory", **common)
    return result("killed", **common)


# ============================================================================ module state

_LOCK = threading.Lock()
_SERVERS: dict[tuple[Interpreter, tuple[str, ...], str], _Server] = {}
_OWNER = os.getpid()
_SEQ = 0
_ISOLATION: Isolation | None = None
_PROBE_ERROR: str | None = None


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


def _reset_after_fork() -> None:
    global _OWNER, _SEQ
    if _OWNER != os.getpid():
        _SERVERS.clear()       # the parent's servers are the parent's
        _OWNER = os.getpid()
        _SEQ = 0


def isolation() -> Isolation:
    """What this machine gives (probed once per process by starting a bare server)."""
    global _ISOLATION
    with _LOCK:
        _reset_after_fork()
        if _ISOLATION is None:
            _ISOLATION = _probe()
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
    mode = iso.sandboxed_isolation(root, True)
    srv = _Server(Interpreter(python=sys.executable), (), mode, _SEQ)
    try:
        srv.start()
        ready = srv.wait_ready()
        return iso.sandboxed_isolation(root, bool(ready.get("job_userns", True)))
    except (_ServerError, OSError, ValueError) as e:
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


def _server(interp: Interpreter, job_paths: tuple[str, ...], mode: Isolation) -> _Server:
    global _SEQ
    with _LOCK:
        _reset_after_fork()
        key = (interp, job_paths, mode.mode)
        srv = _SERVERS.get(key)
        if srv is not None and not srv.alive():
            srv.close()
            srv = None
        if srv is None:
            _SEQ += 1
            srv = _Server(interp, job_paths, mode, _SEQ)
            srv.start()
            _SERVERS[key] = srv
        return srv


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
        env: Mapping[str, str] | None = None) -> JobResult:
    """Run ``job`` ("module:function", a module in deploycheck/inside/ or in ``job_paths``) as
    ``function(ctx, **args)`` in a fresh isolated child of ``interpreter``'s fork server.

    Never raises for anything the job does. Raises :class:`IsolationUnavailable` when no isolation
    works here and unsandboxed runs are not allowed. A failure of the sandbox itself is status
    "machine" (an error of the run, never the student's)."""
    interp = interpreter or Interpreter.grader()
    limits = limits or Limits()
    mode = _effective()
    paths = tuple(str(Path(p).resolve()) for p in job_paths)
    environment = job_environment(env)
    t0 = time.monotonic()
    for attempt in (1, 2):
        try:
            srv = _server(interp, paths, mode)
            return srv.run(job, dict(args or {}), Path(folder) if folder else None,
                           Path(extract) if extract else None, limits, environment)
        except (_ServerError, OSError, ValueError) as e:
            with _LOCK:
                srv_ = _SERVERS.pop((interp, paths, mode.mode), None)
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
        srv.close()


atexit.register(shutdown)
