"""Run untrusted student code (entry points, pickles) isolated, fast.

``deploycheck.sandbox.run("module:function", args, interpreter=..., folder=..., extract=...,
limits=...)`` runs a job in a fresh child of a pre-warmed fork server (one per
:class:`Interpreter`, started lazily) inside bubblewrap, and returns a :class:`JobResult` whose
status and isolation label are decided by the grader. See ``client.py`` (the grader side's
functions and state), ``records.py`` (Interpreter, Limits, JobResult), ``forkserver.py`` (one fork
server's lifecycle), ``protocol.py`` (one job's exchange and its status), ``isolation.py``
(bubblewrap and what this machine allows), ``jobs.py`` (safe job input) and
``deploycheck/inside/server.py`` (the server inside the sandbox; ``job_process.py`` there isolates
each job).
"""
from deploycheck.sandbox.client import (isolation, job_environment, prestart, reset_isolation, run, server_info,
                                        shutdown)
from deploycheck.sandbox.isolation import (Isolation, IsolationUnavailable, allow_unsandboxed,
                                           set_allow_unsandboxed)
from deploycheck.sandbox.protocol import OUTPUT_TAIL
from deploycheck.sandbox.records import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, Interpreter, JobResult, Limits

__all__ = ["DEFAULT_MEMORY_MB", "DEFAULT_TIMEOUT", "OUTPUT_TAIL", "Interpreter", "Isolation",
           "IsolationUnavailable", "JobResult", "Limits", "allow_unsandboxed", "isolation", "job_environment",
           "prestart", "reset_isolation", "run", "server_info", "set_allow_unsandboxed", "shutdown"]
