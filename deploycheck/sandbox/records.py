"""The typed records across the sandbox's seam: :class:`Interpreter` (a Python to run jobs with),
:class:`Limits` (what one job may use) and :class:`JobResult` (what happened to it, every status
decided by the grader), with their defaults, and :data:`Talk` (the grader's side of a conversation
with a running job).
"""
from __future__ import annotations

import functools
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# The grader's side of a conversation with a running job (``sandbox.run(talk=...)``): called in a
# thread of the grader with its end of a SOCK_SEQPACKET socket pair whose other end the job holds
# (``ctx.channel``) and the monotonic time by which the job will have been stopped; what it returns
# is ``JobResult.talk``. It may be called more than once for one run() (a job run again on a new
# server): it keeps no state between calls.
Talk = Callable[[socket.socket, float], Any]

DEFAULT_TIMEOUT = 20.0          # seconds of wall clock per job
DEFAULT_MEMORY_MB = 2048        # address space a job may add to the pre-imported libraries
STATUSES = ("ok", "error", "timeout", "memory", "killed", "machine")

GRADER_PRELOAD = (
    "numpy", "scipy", "scipy.sparse", "scipy.special", "scipy.stats", "joblib", "pandas",
    "sklearn", "sklearn.base", "sklearn.utils", "sklearn.linear_model", "sklearn.ensemble",
    "sklearn.tree", "sklearn.svm", "sklearn.pipeline", "sklearn.preprocessing", "sklearn.neighbors",
    "sklearn.compose", "sklearn.impute", "sklearn.naive_bayes", "sklearn.cluster",
    "sklearn.feature_extraction.text",
)


@dataclass(frozen=True)
class Interpreter:
    """A Python to run jobs with: its executable, the site directories it imports from (bound
    read-only into the sandbox at their own paths), the modules its fork server imports once,
    and a label for messages. ``packages``: single package directories to expose (read-only)
    without the folder around them (e.g. deploycheck itself in a repo checkout). ``on_demand``:
    modules the fork server imports only once a job is run with them in ``preload`` (a library few
    students use, which would otherwise make every server start and every job's fork dearer)."""
    python: str
    sys_path: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    label: str = ""
    packages: tuple[str, ...] = ()
    on_demand: tuple[str, ...] = ()

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
    cpu_s: float | None = None           # CPU seconds of each process (None: the timeout); RLIMIT_CPU,
                                         # so SIGXCPU comes at cpu_s + 2 however busy the machine is

    @property
    def cpu_budget(self) -> float:
        """The CPU seconds each process of the job may use (the kernel adds 2 s of grace)."""
        return self.timeout if self.cpu_s is None else self.cpu_s


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
    cpu_s: float | None = None           # the CPU time limit when it was not the timeout
    memory_mb: int = DEFAULT_MEMORY_MB
    notes: tuple[str, ...] = ()
    cpu_used: float | None = None        # CPU seconds all the job's processes used (None: not known)
    talk: Any = None                     # what the caller's ``talk`` returned (sandbox.run(talk=...))
    talk_error: str = ""                 # the exception ``talk`` raised (deploycheck's own failure)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def cpu_exhausted(self) -> bool:
        """The job used up its CPU time (the kernel's SIGXCPU): the code's doing, however busy the
        machine was, unlike a wall-clock timeout."""
        return self.status == "timeout" and self.signal_name == "SIGXCPU"

    def describe(self) -> str:
        """One phrase for a failure message (callers add the advice)."""
        if self.cpu_exhausted:
            return f"it computed for more than {self.cpu_s or self.timeout:g} s of CPU time and was stopped"
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


class ServerError(Exception):
    """The fork server cannot start, or went away (an error of the run, never the student's)."""
