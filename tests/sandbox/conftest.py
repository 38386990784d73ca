import sys
from pathlib import Path

import pytest

from deploycheck import sandbox

JOBS = str(Path(__file__).parent / "jobs")


@pytest.fixture(scope="session")
def interp():
    """The grader's Python without preloads: a fast server for jobs that need only the stdlib."""
    return sandbox.Interpreter(python=sys.executable, label="test")


@pytest.fixture
def run(interp):
    def _run(src=None, *, job="sbjobs:code", args=None, **kw):
        kw.setdefault("limits", sandbox.Limits(timeout=10, memory_mb=512))
        if src is not None:
            args = dict(args or {}, src=src)
        return sandbox.run(job, args or {}, interpreter=interp, job_paths=[JOBS], **kw)
    return _run
