"""The HTTP exchange between the grader and the emulated container, grader side.

The serving jobs (``deploycheck/inside/sagemaker_job.py``, ``vertex_job.py``) run the container in
the sandbox with a conversation channel (``sandbox.run(talk=...)``). For each request the grader
makes a connected socket pair, hands one end to the container over the channel, writes the request
into its own end the way the platform's front proxy forwards it (:meth:`HttpRequest.wire`) and reads
the container's answer from it until the container closes it: the bytes the container's own server
code sent (gunicorn's gevent worker for SageMaker), status line and headers included. The grader
parses them with the standard library's HTTP client (:func:`read_answer`) and measures every
timing itself. The job only *reports* things about each request over the channel (the student's
exception, the loaded model's class and feature count): text for messages and the one input a
synthesized request needs, never a status, a body, a label or a time. A job that writes anything
else anywhere gains nothing: the answer is what came out of the connection.
"""
from __future__ import annotations

import http.client
import io
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from deploycheck import model

RESPONSE_LIMIT = 8 * 1024 * 1024     # bytes of one answer read (the platforms' payload limit is 6 MB)
REPORT_LIMIT = 1 << 20               # bytes of one report of the job read
MAX_FEATURES = 10_000                # a synthesized request's width, whatever the model says
SYNTH_VALUES = (1.0, 0.5)
# The platform's front proxy: SageMaker's nginx (sagemaker-containers etc/nginx.conf.template:
# proxy_pass over HTTP/1.0 to gunicorn's unix socket, X-Forwarded-For and Host set)
PROXY_HOST = "localhost:8080"
PROXY_CLIENT = "127.0.0.1"
NO_ANSWER_STATUS = 502               # what the proxy answers when the container sent no HTTP answer


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request to the emulated container."""
    method: str = "POST"
    path: str = "/invocations"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def ping(cls) -> HttpRequest:
        return cls("GET", "/ping")

    @classmethod
    def invocation(cls, req: model.Request, platform: str = "aws") -> HttpRequest:
        headers: list[tuple[str, str]] = []
        if req.content_type:
            headers.append(("Content-Type", req.content_type))
        if req.accept:
            headers.append(("Accept", req.accept))
        return cls("POST", "/invocations" if platform == "aws" else "/predict", tuple(headers), req.body)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def wire(self) -> bytes:
        """The request as the front proxy forwards it to the container's server: HTTP/1.0, the
        proxy's own X-Forwarded-For, Host and Connection headers, the body's length, the client's
        other headers unchanged, the body unchanged."""
        lines = [f"{self.method} {self.path} HTTP/1.0", f"X-Forwarded-For: {PROXY_CLIENT}", f"Host: {PROXY_HOST}",
                 "Connection: close"]
        if self.body or self.method not in ("GET", "HEAD", "DELETE"):
            lines.append(f"Content-Length: {len(self.body)}")
        lines += [f"{k}: {v}" for k, v in self.headers
                  if k.lower() not in ("host", "connection", "content-length", "transfer-encoding")]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + self.body


@dataclass(frozen=True)
class Exchange:
    """One request and what came back on its connection, as the grader saw it."""
    request: HttpRequest
    raw: bytes                        # every byte the container sent, as sent (at most RESPONSE_LIMIT)
    latency_ms: float                 # from the request's first byte to the connection's end (grader's clock)
    cut: str = ""                     # why the grader stopped reading early ("" when the container closed it)
    report: Mapping[str, Any] = field(default_factory=dict)   # the job's own account: messages only


@dataclass(frozen=True)
class Conversation:
    """Everything the grader exchanged with one container run."""
    ready: Mapping[str, Any] | None           # the job's report once started (None: it never reported)
    ready_ms: float | None                    # when that report came (grader's clock, from the job's start)
    exchanges: tuple[Exchange, ...] = ()
    synthesized: model.Request | None = None  # the request built from the loaded model, when one was sent
    ended: str = ""                           # why it ended before every request was answered


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP answer, parsed by the grader from the bytes the container sent."""
    status: int | None
    content_type: str | None
    body: bytes
    problem: str = ""                 # why those bytes are not one complete HTTP answer ("" when they are)
    headers: tuple[tuple[str, str], ...] = ()      # as sent, in order


def read_answer(raw: bytes, method: str = "POST", cut: str = "") -> HttpAnswer:
    """Parse ``raw`` with the standard library's HTTP client: the status, Content-Type and body a
    client of the container would get; ``problem`` says when the bytes are not a complete answer
    (nothing, not HTTP, a body shorter than its Content-Length, or ``cut``)."""

    class _Bytes:
        def makefile(self, *_a: Any, **_k: Any) -> io.BytesIO:
            return io.BytesIO(raw)
    if not raw:
        return HttpAnswer(None, None, b"", cut or "the container closed the connection without answering")
    resp = http.client.HTTPResponse(_Bytes(), method=method)      # type: ignore[arg-type]
    try:
        resp.begin()
    except (http.client.HTTPException, ValueError, OSError) as e:
        return HttpAnswer(None, None, b"", f"the container's answer is not HTTP ({type(e).__name__})")
    problem = cut
    try:
        body = resp.read()
    except http.client.IncompleteRead as e:
        body = e.partial
        problem = problem or (f"the container closed the connection after {len(body)} bytes of a body of "
                              f"{len(body) + (e.expected or 0)}")
    except (http.client.HTTPException, ValueError, OSError) as e:
        body, problem = b"", problem or f"the container's answer is not HTTP ({type(e).__name__})"
    return HttpAnswer(resp.status, resp.getheader("Content-Type"), body, problem, tuple(resp.getheaders()))


def synthesized_request(platform: str, synthesize: Mapping[str, Any], n_features: int) -> model.Request:
    """The request built from the loaded model when the student documented none: one row per value
    of SYNTH_VALUES, as wide as the model's ``n_features_in_``."""
    rows = [[float(v)] * n_features for v in SYNTH_VALUES]
    if platform != "aws":
        return model.Request(json.dumps({"instances": rows}).encode(), "application/json", "")
    ctype = synthesize.get("content_type") or "application/x-npy"
    if ctype == "application/x-npy":
        import numpy as np
        buf = io.BytesIO()
        np.save(buf, np.asarray(rows))
        body = buf.getvalue()
    elif ctype == "text/csv":
        body = ("\n".join(",".join(str(v) for v in r) for r in rows) + "\n").encode()
    else:
        body = json.dumps(rows).encode()
    return model.Request(body, ctype, synthesize.get("accept") or "")


def n_features(info: Any) -> int | None:
    """The model's ``n_features_in_`` from a job's report, when it is a sane number."""
    n = info.get("n_features_in_") if isinstance(info, Mapping) else None
    return n if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= MAX_FEATURES else None


class _Channel:
    """The grader's end of the conversation channel: reports in, connections out, all by a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.gone = False

    def _left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def report(self) -> dict[str, Any] | None:
        """The job's next report ({} when it is not one), None when the job is gone or silent."""
        if self.gone or not self._left():
            return None
        self.sock.settimeout(self._left())
        try:
            data = self.sock.recv(REPORT_LIMIT)
        except OSError:                       # (socket.timeout included)
            data = b""
        if not data:
            self.gone = True
            return None
        try:
            obj = json.loads(data)
        except ValueError:
            return {}
        return obj if isinstance(obj, dict) else {}

    def hand_over(self, conn: socket.socket) -> bool:
        try:
            self.sock.settimeout(self._left() or 0.001)
            socket.send_fds(self.sock, [b"c"], [conn.fileno()])
            return True
        except OSError:
            self.gone = True
            return False

    def exchange(self, req: HttpRequest) -> Exchange | None:
        """Send ``req`` on a new connection and read the answer until the container closes it."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if not self.hand_over(theirs):
                return None
        finally:
            theirs.close()
        with mine:
            t0 = time.monotonic()
            try:
                mine.settimeout(self._left() or 0.001)
                mine.sendall(req.wire())
            except OSError:
                pass                          # it answered (or closed) before reading it all: read that
            raw, cut = bytearray(), ""
            while True:
                left = self._left()
                if not left:
                    cut = "the container was still sending (or silent) when the job's time ran out"
                    break
                mine.settimeout(left)
                try:
                    chunk = mine.recv(1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                raw += chunk
                if len(raw) > RESPONSE_LIMIT:
                    cut = f"the answer was larger than {RESPONSE_LIMIT // 2**20} MB"
                    del raw[RESPONSE_LIMIT:]
                    break
            latency = round((time.monotonic() - t0) * 1000.0, 2)
        return Exchange(req, bytes(raw), latency, cut)


class Talk:
    """The grader's side of one container run (``sandbox.run(talk=...)``): wait for the container's
    start, send ``requests`` in order (then, with ``synthesize``, one built from the loaded model
    when the student documented none), each on a connection of its own, and return the
    :class:`Conversation`. Keeps no state between calls (a job may be run again on a new server)."""

    def __init__(self, platform: str, requests: Sequence[HttpRequest], synthesize: Mapping[str, Any] | None,
                 stop_on_startup_failure: bool = False) -> None:
        self.platform, self.requests, self.synthesize = platform, tuple(requests), synthesize
        self.stop_on_startup_failure = stop_on_startup_failure

    def __call__(self, sock: socket.socket, deadline: float) -> Conversation:
        try:
            return self._talk(_Channel(sock, deadline))
        finally:
            try:
                sock.shutdown(socket.SHUT_WR)         # no more requests: the container's loop ends
            except OSError:
                pass

    def _talk(self, chan: _Channel) -> Conversation:
        t0 = time.monotonic()
        ready = chan.report()
        if ready is None:
            return Conversation(None, None, ended="the container exited while starting")
        ready_ms = round((time.monotonic() - t0) * 1000.0, 2)
        if self.stop_on_startup_failure and ready.get("startup"):
            return Conversation(ready, ready_ms)          # the model would not deploy: nothing to ask
        pending, exchanges = list(self.requests), []
        synthesized: model.Request | None = None
        info: Any = ready.get("model")
        ended = ""
        while True:
            if not pending:
                n = n_features(info) if self.synthesize is not None and synthesized is None else None
                if n is None:
                    break
                synthesized = synthesized_request(self.platform, self.synthesize or {}, n)
                pending.append(HttpRequest.invocation(synthesized, self.platform))
            x = chan.exchange(pending.pop(0))
            if x is None:
                ended = "the container stopped taking requests"
                break
            report = chan.report()
            exchanges.append(x if report is None else Exchange(x.request, x.raw, x.latency_ms, x.cut, report))
            if report is None:
                ended = "the container went away after a request"
                break
            info = report.get("model") or info
        return Conversation(ready, ready_ms, tuple(exchanges), synthesized, ended)
