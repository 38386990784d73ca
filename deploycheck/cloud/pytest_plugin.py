"""The cloud package's one pytest hook: before a real run (``--cloud aws|gcp``) check the credentials
and settings once, and end the run with ONE line that says what is needed (pytest prints it as
``ERROR: ...``, exit status 4) instead of failing every folder's cloud checks one by one."""
from __future__ import annotations

import pytest

from deploycheck.cloud.base import options_from
from deploycheck.cloud.session import preflight


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or getattr(config.option, "cloud", None) not in ("aws", "gcp"):
        return
    problem = preflight(options_from(config.option))
    if problem:
        raise pytest.UsageError(problem)
