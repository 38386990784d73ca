"""One job's exchange with the fork server, grader side: the ``run`` message, the four pipes whose
write ends travel with it to the server (``SCM_RIGHTS``), reading them and the control socket until
the server reports the job's exit (output kept bounded; a kill at the timeout), and the job's status.

The grader alone decides every status: from the setup pipe (closed by the job process before any job
code runs), the job's wait status (reported by the server), its own wall clock, and one validated
answer frame (``DCJ1`` + 8-byte length + JSON) whose only trusted content is the job's own data.

A job run with a ``talk`` also gets one end of a ``SOCK_SEQPACKET`` socket pair (:class:`Conversation`):
the grader's side runs ``talk`` in a thread while the job runs (the serving jobs get each HTTP
connection over it, so the grader reads the container's answers itself, byte for byte).
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from deploycheck.sandbox import jobs
from deploycheck.sandbox.records import JobResult, Limits, Talk

OUTPUT_TAIL = 64 * 1024         # bytes of stdout/stderr kept
OUTPUT_CAP = 16 * 1024 * 1024   # bytes of stdout/stderr read; then the pipe is closed
RESULT_LIMIT = 32 * 1024 * 1024  # largest answer read back
KILL_GRACE = 10.0               # after a kill, how long the server has to report the exit
DRAIN_GRACE = 3.0               # after the exit, how long output pipes may stay open
FRAME_MAGIC = b"DCJ1"

# JobResult with the fields the grader decides for every job filled in (status, **fields)
MakeResult = Callable[..., JobResult]


def run_message(job_id: str, job: str, prep: jobs.PreparedJob, limits: Limits, env: dict[str, str],
                channel: bool = False) -> dict[str, Any]:
    """The ``run`` message of one job (its pipes, and its end of the conversation channel when
    ``channel``, travel with it: :func:`send`)."""
    return {"op": "run", "id": job_id, "job": job, "env": env,
            "limits": {"timeout": limits.timeout, "memory_mb": limits.memory_mb, "disk_mb": limits.disk_mb,
                       "nproc": limits.nproc, "nofile": limits.nofile,
                       "cpu": limits.cpu_budget},
            "input_bytes": prep.input_bytes, "input_files": prep.input_files,
            "has_folder": prep.has_folder, "has_model": prep.has_model, "channel": channel}


def send(ctl: socket.socket, msg: dict[str, Any], pipes: list[tuple[int, int]], channel: socket.socket | None = None
         ) -> None:
    """Send ``msg`` with the write ends of ``pipes`` (stdout, stderr, answer, setup) and the job's end
    of the conversation ``channel``, then close the grader's copies of them. On failure every end is
    closed and the OSError raised."""
    fds = [w for _, w in pipes] + ([channel.fileno()] if channel is not None else [])
    try:
        socket.send_fds(ctl, [json.dumps(msg).encode()], fds)
    except OSError:
        for r, w in pipes:
            os.close(r)
            os.close(w)
        raise
    finally:
        if channel is not None:
            channel.close()
    for _, w in pipes:
        os.close(w)


class Conversation:
    """The grader's side of a job's conversation channel: ``talk(sock, deadline)`` in a thread of its
    own while the job runs (``theirs`` travels to the job with its pipes)."""

    def __init__(self, talk: Talk, deadline: float) -> None:
        self.mine, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.result: Any = None
        self.error = ""
        self.thread = threading.Thread(target=self._run, args=(talk, deadline), daemon=True,
                                       name="deploycheck-sandbox-talk")

    def _run(self, talk: Talk, deadline: float) -> None:
        try:
            self.result = talk(self.mine, deadline)
        except Exception as e:  # noqa: BLE001 - deploycheck's own failure: the caller reports it
            self.error = f"{type(e).__name__}: {e}"[:2000]

    def start(self) -> None:
        self.thread.start()

    def finish(self, grace: float = DRAIN_GRACE) -> tuple[Any, str]:
        """(what talk returned, its error) once the job is over (its end of the channel is closed)."""
        if self.thread.ident is not None:
            self.thread.join(grace)
            if self.thread.is_alive():        # still waiting on the channel: end it
                try:
                    self.mine.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.thread.join(grace)
        self.close()
        if self.thread.is_alive():
            return None, "the conversation with the job did not end"
        return self.result, self.error

    def close(self) -> None:
        for s in (self.mine, self.theirs):
            try:
                s.close()
            except OSError:
                pass


class Tail:
    """The last :data:`OUTPUT_TAIL` bytes of one output pipe, and how much was read."""

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


@dataclass
class Seen:
    """What the grader saw of one job."""
    status: int | None          # the wait status the server reported (-1: the server went away)
    timed_out: bool             # the grader's wall clock ran out and it asked for a kill
    setup: bytes                # the setup pipe: b"R" once the job is set up, b"E<why>" when that failed
    answer: bytes               # the answer pipe (one frame, unchecked)
    too_large: bool             # the answer pipe held more than RESULT_LIMIT
    out: Tail
    err: Tail
    server_gone: bool           # the server went away, or did not report the exit after a kill
    cpu_s: float | None = None  # CPU seconds the job's processes used (the server's rusage of it)


def collect(ctl: socket.socket, job_id: str, pipes: list[tuple[int, int]], timeout: float) -> Seen:
    """Read the read ends of the job's ``pipes`` (stdout, stderr, answer, setup; closed here) and the
    control socket until the server reports the job's exit and the pipes are drained; ask the server
    to kill the job after ``timeout`` seconds."""
    out_r, err_r, ans_r, set_r = (r for r, _ in pipes)
    out, err = Tail(), Tail()
    answer = bytearray()
    setup = bytearray()
    too_large = False
    open_fds = {out_r, err_r, ans_r, set_r}
    status: int | None = None
    cpu_s: float | None = None
    timed_out = False
    deadline = time.monotonic() + timeout
    kill_deadline = drain_deadline = None
    server_gone = False
    try:
        while open_fds or status is None:
            now = time.monotonic()
            if status is None and not timed_out and now >= deadline:
                timed_out = True
                ctl.send(json.dumps({"op": "kill", "id": job_id}).encode())
                kill_deadline = now + KILL_GRACE
            if kill_deadline is not None and status is None and now >= kill_deadline:
                server_gone = True          # no exit report: take the whole sandbox down
                break
            if status is not None and drain_deadline is None:
                drain_deadline = now + DRAIN_GRACE
            if drain_deadline is not None and now >= drain_deadline:
                break
            wait = min(x for x in (deadline if not timed_out else kill_deadline, drain_deadline) if x is not None) - now
            fds = list(open_fds) + ([ctl] if status is None else [])
            ready, _, _ = select.select(fds, [], [], max(0.0, wait))
            for fd in ready:
                if isinstance(fd, socket.socket):     # the control socket
                    data = ctl.recv(1 << 20)
                    if not data:
                        server_gone = True
                        status = -1
                        continue
                    m = json.loads(data)
                    if m.get("id") == job_id and m.get("op") == "exit":
                        status = int(m.get("status", -1))
                        cpu_s = float(m["cpu_s"]) if isinstance(m.get("cpu_s"), (int, float)) else None
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
    return Seen(status, timed_out, bytes(setup), bytes(answer), too_large, out, err, server_gone, cpu_s)


def _str(v: object, n: int) -> str:
    return v[:n] if isinstance(v, str) else ""


def decide(result: MakeResult, seen: Seen, notes: tuple[str, ...]) -> JobResult:
    """Every status, from what the grader saw; the answer only fills the job's own fields."""
    status, timed_out, setup, answer, too_large = seen.status, seen.timed_out, seen.setup, seen.answer, seen.too_large
    out, err = seen.out, seen.err
    common: dict[str, Any] = {"stdout_tail": out.text(), "stderr_tail": err.text(), "notes": notes,
                              "cpu_used": seen.cpu_s}
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
