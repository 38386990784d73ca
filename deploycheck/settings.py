"""Frozen :class:`Settings` built from the command line: the one place ``DEPLOYCHECK_*``
environment variables are read. Everything downstream takes a Settings (never pytest's config)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from deploycheck import overrides as ov
from deploycheck import rubric as rb

ENV_PREFIX = "DEPLOYCHECK_"


def env(name: str, default: str | None = None) -> str | None:
    """``DEPLOYCHECK_<name>`` from the environment (the only reader of these variables)."""
    return os.environ.get(ENV_PREFIX + name, default)


def env_flag(name: str) -> bool:
    return (env(name) or "").strip().lower() in ("1", "true", "yes", "on")


def cache_dir() -> Path:
    """deploycheck's user cache directory (``DEPLOYCHECK_CACHE_DIR``, else XDG, else ~/.cache)."""
    d = env("CACHE_DIR")
    if d:
        return Path(d)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "deploycheck"


@dataclass(frozen=True)
class Settings:
    """Everything the checks need from the command line, as plain data."""
    platform: str = "auto"
    report: Path | None = None
    sandbox_timeout: float = 20.0
    sandbox_memory_mb: int = 2048
    allow_unsandboxed: bool = False
    proof: bool = True
    cloud: str | None = None
    cloud_assets: str | None = None
    aws_region: str = "us-east-1"
    aws_role_arn: str | None = None
    aws_bucket: str | None = None
    gcp_project: str | None = None
    gcp_region: str = "us-central1"
    gcp_bucket: str | None = None
    instance_type: str | None = None
    allow_instance_type: bool = False
    max_deployments: int = 3
    run_id: str = ""
    audit_account: bool = False
    audit_trail: bool = False           # cloud.trail: the account's audit trail of the lab window
    trail_since: str | None = None
    trail_until: str | None = None
    rubric: rb.Rubric = field(default_factory=lambda: rb.Rubric(dict(rb.RUBRIC)))
    canvas: bool = False
    cache: bool = True                  # reuse outcomes of unchanged repos (--no-cache: grade afresh)
    overrides: ov.Overrides = ov.NONE   # --overrides FILE.toml: instructors' decisions, applied after grading
    as_of: str = ""                     # ISO date: serving images as they were then (rubric as_of, else --deadline)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def option_on(self, name: str | None) -> bool:
        """Whether a check gated on a Settings flag (``cloud``, ``audit_account``) may run."""
        return name is None or bool(getattr(self, name, None))

    def active_checks(self) -> list[str]:
        """Ids of the checks this run grades (enabled, and their option given), in rubric order."""
        return [s.id for s in sorted(self.rubric.specs.values(), key=lambda s: s.order)
                if s.enabled and self.option_on(s.option)]


def default_aws_region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
