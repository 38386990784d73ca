"""Per-run cloud state of one process: the run id, the ledger, one provider per platform, and the
deployments this process made (one :class:`Slot` per student and platform).

Each cloud check is its own pytest test, so a deployment lives here between ``cloud.deploy`` and
``cloud.teardown``; the plugin sends all checks of one student to the same xdist worker. Whatever
is still deployed when the process ends is deleted by :func:`teardown_all`, which runs from the
checks' session finalizer, from ``atexit`` and from a SIGTERM handler (Ctrl-C ends pytest normally,
so ``atexit`` covers it). A SIGKILL leaves the ledger for ``deploycheck sweep``.
"""
from __future__ import annotations

import atexit
import os
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Literal

from deploycheck.cloud import costs, registry
from deploycheck.cloud.base import (CloudError, CloudOptions, Deployment, Provider, Resource, TeardownError,
                                    new_run_id, resource_name)
from deploycheck.cloud.ledger import Ledger, default_path
from deploycheck.model import Prediction
from deploycheck.settings import env

Failure = Literal["student", "blocked", "run"]


@dataclass
class Slot:
    """What this process did for one (student, platform)."""
    provider: Provider | None = None
    deployment: Deployment | None = None       # what is (still) deployed
    failure: str | None = None                 # why cloud.deploy did not deploy
    failure_kind: Failure | None = None        # the student's folder / a blocked prerequisite / the run
    prediction: Prediction | None = None       # the cloud answer of cloud.predict
    removed: tuple[Resource, ...] = ()
    torn_down: bool = False


class CloudSession:
    def __init__(self, options: CloudOptions):
        self.options = options
        self.run_id = options.run_id or env("RUN_ID") or ""
        if not self.run_id:       # normally the plugin made one for the whole session (xdist workers share it)
            self.run_id = os.environ["DEPLOYCHECK_RUN_ID"] = new_run_id()
        self.ledger = Ledger(env("LEDGER") or default_path(self.run_id, options.report_dir))
        self.slots: dict[tuple[str, str], Slot] = {}
        self._providers: dict[tuple[str, str], Provider] = {}
        self._lock = threading.RLock()

    def provider(self, platform: str, cloud: str | None = None) -> Provider:
        """The provider of ``platform`` under ``--cloud`` (or ``cloud``), made once per session."""
        key = (cloud or self.options.cloud or platform, platform)
        with self._lock:
            if key not in self._providers:
                self._providers[key] = registry.provider(key[0], platform, self.options, self.run_id, self.ledger)
            return self._providers[key]

    def slot(self, student: str, platform: str) -> Slot:
        with self._lock:
            return self.slots.setdefault((student, platform), Slot())

    def reserve(self, student: str, platform: str) -> str:
        """The cost guard, before anything is created: the instance type must be allowed and the run
        under ``--max-deployments`` (counted across processes in the ledger). Returns the estimate."""
        itype = self.options.instance_type or costs.default_instance_type(platform)
        costs.check_instance_type(platform, itype, self.options.allow_instance_type)
        slot = Resource(platform, "endpoint-slot", resource_name(self.run_id, student, platform),
                        self.options.region(platform), self.run_id, student)
        self.ledger.reserve_endpoint(slot, self.options.max_deployments)
        install_finalizers()
        return costs.estimate(platform, itype, 1)

    def teardown(self, slot: Slot) -> tuple[Resource, ...]:
        """Delete what ``slot`` still has deployed; on failure the slot keeps what is left."""
        if slot.deployment is None or slot.torn_down or slot.provider is None:
            return ()
        try:
            removed = slot.provider.teardown(slot.deployment)
        except TeardownError as e:
            slot.removed += e.removed
            slot.deployment = _with_resources(slot.deployment, e.remaining)
            raise
        slot.removed += removed
        slot.torn_down = True
        return removed

    def teardown_all(self) -> tuple[Resource, ...]:
        removed: list[Resource] = []
        with self._lock:
            for slot in list(self.slots.values()):
                try:
                    removed += self.teardown(slot)
                except CloudError as e:        # the ledger keeps them for `deploycheck sweep`
                    slot.failure = f"teardown failed: {e}"
        return tuple(removed)


def _with_resources(dep: Deployment, remaining: tuple[Resource, ...]) -> Deployment:
    from dataclasses import replace
    return replace(dep, resources=remaining)


# ---------------------------------------------------------------------- the sessions of this process
_SESSIONS: dict[CloudOptions, CloudSession] = {}
_LOCK = threading.RLock()
_FINALIZERS = {"installed": False}


def session_for(options: CloudOptions) -> CloudSession:
    with _LOCK:
        if options not in _SESSIONS:
            _SESSIONS[options] = CloudSession(options)
        return _SESSIONS[options]


def sessions() -> tuple[CloudSession, ...]:
    with _LOCK:
        return tuple(_SESSIONS.values())


def teardown_all() -> tuple[Resource, ...]:
    """Delete every deployment of this process that is still up. Safe to call many times."""
    return tuple(r for s in sessions() for r in s.teardown_all())


def reset() -> None:
    """Tear everything down and forget every session (tests)."""
    teardown_all()
    with _LOCK:
        _SESSIONS.clear()


def install_finalizers() -> None:
    """``atexit`` and SIGTERM run :func:`teardown_all` (installed before the first deployment)."""
    with _LOCK:
        if _FINALIZERS["installed"]:
            return
        _FINALIZERS["installed"] = True
    atexit.register(teardown_all)
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
            return              # someone else handles SIGTERM (and ends the process through atexit)

        def on_term(signum: int, frame: FrameType | None) -> None:
            try:
                teardown_all()
            finally:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)
        signal.signal(signal.SIGTERM, on_term)
    except (ValueError, OSError):
        pass


def preflight(options: CloudOptions) -> str | None:
    """Before a real run (``--cloud aws|gcp``): None when the credentials work, else the one line that
    says which credentials or settings are needed."""
    if options.cloud not in ("aws", "gcp"):
        return None
    if options.cloud == "aws" and not options.aws_role_arn:
        return ("--cloud aws needs --aws-role-arn arn:aws:iam::<account>:role/<name>: the SageMaker execution role "
                "(trusts sagemaker.amazonaws.com, reads the model bucket; see README.md 'Real cloud runs')")
    try:
        p = registry.provider(options.cloud, options.cloud, options, options.run_id or "preflight",
                              Ledger(os.devnull))
        p.identity()
    except CloudError as e:
        return str(e)
    return None
