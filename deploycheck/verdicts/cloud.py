"""The ``cloud.*`` verdicts: deploy a deploy folder (real cloud, or moto and the offline GCP fakes),
predict, tear down, prove nothing of the run is left, and (``--audit-account``) audit the account.

Thin over :mod:`deploycheck.cloud` (bundle, provider, session). Who is at fault decides the status:
the folder (:class:`StudentError`) -> failed; a failed prerequisite -> ``model.blocked``; deploycheck's
own machinery, credentials, permissions, the cost guard -> ``model.run_error`` (never the student's
failure). ``--cloud moto`` primes each offline endpoint with what ``predict.local`` answered, so
``cloud.predict`` exercises the real client path and compares typed :class:`Prediction` records.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from deploycheck.cloud import bundle as bundles
from deploycheck.cloud import costs
from deploycheck.cloud import session as sessions
from deploycheck.cloud.base import (CloudError, CloudOptions, CostGuardError, Resource, StudentError,
                                    TeardownError, decode_answer, label_value, options_from, same_values)
from deploycheck.cloud.ledger import pending
from deploycheck.model import (Outcome, Platform, Prediction, Request, blocked, failed, passed, review, run_error,
                               skipped)
from deploycheck.report.escape import terminal

if TYPE_CHECKING:
    from deploycheck.discovery import Target
    from deploycheck.settings import Settings

REFERENCE_ROOT = Path(__file__).resolve().parents[2] / "reference_deploys"
Verdict = Callable[["Target", "Settings"], Outcome]


# ---------------------------------------------------------------------- the two adapters
def local_prediction(t: Target, dc: Settings) -> Prediction | None:
    """predict.local's answer for this target as a typed ``mode="local"`` Prediction (exact request
    and response bytes; ``ok=False`` with predict.local's message when it did not answer), None
    without a deploy folder."""
    from deploycheck.verdicts import predict
    p = predict.local_prediction(t, dc)
    if p is not None and p.ok:
        return p
    if t.platform is None or t.folder is None:
        return None
    why = predict.predict_local(t, dc).message           # the same (cached) run
    return Prediction(mode="local", platform=t.platform, ok=False, request=p.request if p else Request(b""),
                      message=why)


def _deployed_target(t: Target, o: CloudOptions) -> Target:
    """The target whose folder is deployed: the student's, or with ``--cloud-assets reference`` the
    reference solution's (an instructor's canary)."""
    if o.assets != "reference" or t.platform is None:
        return t
    from deploycheck.discovery import targets_for
    ref = [x for x in targets_for("reference", str(REFERENCE_ROOT), t.platform) if x.folder is not None]
    folder = ref[0].folder if ref else None
    if folder is None or not any(f.endswith((".joblib", ".pkl", ".tar.gz")) for f in folder.files):
        raise CloudError(f"--cloud-assets reference: {REFERENCE_ROOT}/{t.platform}_deploy is not built: run "
                         "`python reference_deploys/build.py` first")
    return ref[0]


# ---------------------------------------------------------------------- shared steps
@dataclass(frozen=True)
class _Check:
    """One cloud check on one target: the target, its platform, the run's options and cloud session,
    and the slot of what this process deployed for the target."""
    t: Target
    platform: Platform
    options: CloudOptions
    settings: Settings
    session: sessions.CloudSession
    slot: sessions.Slot


def _verdict(check: str, audit: bool = False) -> Callable[[Callable[[_Check], Outcome]], Verdict]:
    """Applicability first (``audit``: the account audit's rule, else :func:`_not_applicable`); then the
    check on a :class:`_Check`. What escapes follows deploycheck's one exception policy
    (:mod:`deploycheck.errors`): a :class:`StudentError` fails the check, any other error is the run's."""
    def deco(fn: Callable[[_Check], Outcome]) -> Verdict:
        @wraps(fn)
        def wrapper(t: Target, dc: Settings) -> Outcome:
            o = options_from(dc)
            na = _audit_not_applicable(t, o) if audit else _not_applicable(t, o, check)
            if na is not None or t.platform is None:
                return na or skipped(f"{check} does not apply")
            sess = sessions.session_for(o)
            return fn(_Check(t, "aws" if t.platform == "aws" else "gcp", o, dc, sess,
                             sess.slot(t.student, t.platform)))
        return wrapper
    return deco


def _not_applicable(t: Target, o: CloudOptions, check: str) -> Outcome | None:
    if not o.cloud:
        return skipped("cloud checks run only with --cloud moto|aws|gcp")
    if o.cloud in ("aws", "gcp") and t.platform != o.cloud:
        other = "AWS (aws_deploy/)" if o.cloud == "aws" else "GCP (gcp_deploy/)"
        return skipped(f"--cloud {o.cloud} deploys {other} folders only; run with --cloud {t.platform} for this one")
    if t.folder is None or t.platform is None:
        return blocked("structure.deploy_folder", f"{check} needs a deploy folder: put your deployment in aws_deploy/ "
                       "(SageMaker) or gcp_deploy/ (GCP) at the root of the repo")
    return None


def _audit_not_applicable(t: Target, o: CloudOptions) -> Outcome | None:
    """The audit needs no folder, only the platform it stands for (without --cloud: the real account)."""
    if t.platform is None:
        return blocked("structure.deploy_folder", "the audit needs to know the platform: add aws_deploy/ or gcp_deploy/")
    if o.cloud in ("aws", "gcp") and t.platform != o.cloud:
        return skipped(f"--cloud {o.cloud} audits the {o.cloud.upper()} account only")
    return None


def _without_deployment(slot: sessions.Slot, check: str) -> Outcome:
    """The verdict of a check that needs cloud.deploy's deployment when there is none."""
    why = slot.failure or "cloud.deploy did not run for this folder in this process"
    if slot.failure_kind == "run":
        return run_error(f"{check}: nothing deployed, because cloud.deploy could not run: {why}")
    if slot.failure_kind is None:
        return run_error(f"{check}: {why}")
    return blocked("cloud.deploy", f"nothing was deployed ({why}); fix that first")


def _text(b: bytes, limit: int = 20000) -> str:
    return b.decode("utf-8", "replace")[:limit]


def _short(v: object, n: int = 120) -> str:
    s = v if isinstance(v, str) else json.dumps(v)
    return s if len(s) <= n else s[: n - 3] + "..."


# ---------------------------------------------------------------------- the verdicts
@_verdict("cloud.deploy")
def cloud_deploy(c: _Check) -> Outcome:
    """``cloud.deploy``: the folder deploys and the endpoint comes up."""
    t, o, sess, slot = c.t, c.options, c.session, c.slot
    if slot.deployment is not None and not slot.torn_down:
        return passed(f"already deployed: {slot.deployment.endpoint}")
    target = _deployed_target(t, o)
    folder = target.folder
    assert folder is not None
    local = local_prediction(target, c.settings)
    if local is None or not local.ok:
        slot.failure, slot.failure_kind = "predict.local has no answer", "blocked"
        return blocked("predict.local", f"{folder.rel}/ is deployed only once the local emulation answers (it costs "
                       f"nothing and fails the same way): {local.message if local else 'no local prediction'}")
    try:
        bundle = bundles.bundle_for(folder, t.student, o.region(c.platform))
        estimate = sess.reserve(t.student, c.platform)
        provider = sess.provider(c.platform)
        slot.provider = provider
        where = "moto/offline" if provider.offline else provider.region
        print(terminal(f"deploycheck cloud: run {sess.run_id}: deploying {t.student} {folder.rel}/ to {c.platform} "
                       f"({where}); {estimate}; ledger {sess.ledger.path}", 1000), file=sys.__stderr__, flush=True)
        dep = provider.deploy(bundle)
    except CloudError as e:
        slot.failure, slot.failure_kind = str(e), "student" if isinstance(e, StudentError) else "run"
        if isinstance(e, StudentError):
            return failed(f"deploying {folder.rel}/ failed: {e}", run_id=sess.run_id)
        kind = "the cost guard refused" if isinstance(e, CostGuardError) else "could not deploy"
        return run_error(f"cloud.deploy: {kind} {folder.rel}/: {e}", run_id=sess.run_id)
    slot.deployment, slot.torn_down, slot.failure, slot.failure_kind = dep, False, None, None
    where = "offline (moto / local fakes)" if provider.offline else dep.region
    return passed(f"deployed {folder.rel}/ as {dep.endpoint} on {dep.instance_type} ({where}, image "
                  f"{bundle.image.label}) in {dep.ready_s} s; {estimate}",
                  endpoint=dep.endpoint, region=dep.region, instance_type=dep.instance_type, run_id=sess.run_id,
                  image=dep.image, resources=[str(r) for r in dep.resources],
                  estimated_hourly_usd=costs.endpoint_hourly(c.platform, dep.instance_type))


@_verdict("cloud.predict")
def cloud_predict(c: _Check) -> Outcome:
    """``cloud.predict``: the endpoint answers the local emulation's request the way predict.local did."""
    slot = c.slot
    if slot.deployment is None or slot.torn_down or slot.provider is None:
        return _without_deployment(slot, "cloud.predict")
    local = local_prediction(_deployed_target(c.t, c.options), c.settings)
    if local is None or not local.ok:
        return blocked("predict.local", "there is no local answer to send and compare with; fix predict.local first")
    dep, provider = slot.deployment, slot.provider
    if provider.offline:
        provider.prime(dep, local)
    answer = provider.predict(dep, local.request)
    slot.prediction = answer
    cloud_value = decode_answer(answer.response, answer.response_content_type)
    local_value = decode_answer(local.response, local.response_content_type)
    data: dict[str, Any] = {
        "mode": "cloud", "platform": c.platform, "provider": provider.name, "region": dep.region,
        "endpoint": dep.endpoint, "instance_type": dep.instance_type, "run_id": dep.run_id,
        "offline": provider.offline, "request": _text(local.request.body), "content_type": local.request.content_type,
        "accept": local.request.accept, "response": _text(answer.response),
        "response_content_type": answer.response_content_type, "latency_ms": answer.latency_ms,
        "local_response": _text(local.response), "compared": True,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if not same_values(cloud_value, local_value):
        return failed(f"{dep.endpoint} answered {_short(cloud_value)} but the local emulation answered "
                      f"{_short(local_value)}: the deployed code or model differs from the folder (check the "
                      "framework/container version and the entry point).", **data)
    return passed(f"{dep.endpoint} answered {_short(cloud_value)} in {answer.latency_ms:.0f} ms, the same as "
                  "predict.local", **data)


@_verdict("cloud.teardown")
def cloud_teardown(c: _Check) -> Outcome:
    """``cloud.teardown``: every resource of the deployment is deleted."""
    slot = c.slot
    if slot.torn_down:
        return passed(f"already deleted: {'; '.join(map(str, slot.removed)) or 'nothing left'}",
                      removed=[str(r) for r in slot.removed])
    if slot.deployment is None:
        if slot.failure_kind is None:
            return skipped("nothing to tear down: cloud.deploy did not run for this folder in this process")
        return _without_deployment(slot, "cloud.teardown")
    try:
        removed = c.session.teardown(slot)
    except TeardownError as e:
        data = {"removed": [str(r) for r in e.removed], "remaining": [str(r) for r in e.remaining]}
        return run_error(f"cloud.teardown: {e}", **data) if e.access else failed(str(e), **data)
    return passed(f"deleted {len(removed)} resources: " + "; ".join(map(str, removed)),
                  removed=[str(r) for r in removed])


@_verdict("cloud.leftovers")
def cloud_leftovers(c: _Check) -> Outcome:
    """``cloud.leftovers``: listing the services finds nothing tagged with this run and student, and the
    ledger has nothing undeleted."""
    t, sess = c.t, c.session
    provider = c.slot.provider or sess.provider(c.platform)
    found: list[Resource] = provider.leftovers(sess.run_id, student=t.student)
    in_ledger = [r for r in pending(sess.ledger.entries(), sess.run_id)
                 if r.student == t.student and r.provider == c.platform]
    if found or in_ledger:
        names = sorted({str(r) for r in found} | {f"{r} (ledger)" for r in in_ledger})
        return failed(f"{len(names)} resources of run {sess.run_id} are still there: {'; '.join(names)}. Delete them "
                      f"with `deploycheck sweep --run-id {sess.run_id} --provider {c.platform}`.",
                      leftovers=names, run_id=sess.run_id)
    listed = "SageMaker endpoints, configs, models and S3" if c.platform == "aws" else "Vertex endpoints, models and GCS"
    return passed(f"nothing tagged deploycheck-run={label_value(sess.run_id)} for {t.student} is left (listed {listed})",
                  run_id=sess.run_id)


@_verdict("cloud.account_clean", audit=True)
def cloud_account_clean(c: _Check) -> Outcome:
    """``cloud.account_clean`` (``--audit-account``): nothing in the account bills by the hour. Without
    ``--cloud`` it audits the real account of the folder's platform (a student's CI with their keys)."""
    provider = c.session.provider(c.platform, c.options.cloud or c.platform)
    items = provider.audit_account()
    if items:
        total = sum(i.hourly_usd or 0 for i in items)
        return failed(f"{len(items)} billable resources are still running (~${total:.2f}/h): "
                      + "; ".join(map(str, items)) + ". Delete them (console or CLI) unless you still need them.",
                      billable=[str(i) for i in items], hourly_usd=round(total, 4))
    where = ("SageMaker endpoints, notebook instances and EC2 instances" if c.platform == "aws" else
             "Vertex endpoints" + ("" if provider.offline else ", Compute Engine and Workbench VMs"))
    return passed(f"no billable leftovers in the {'account' if c.platform == 'aws' else 'project'} (checked {where})")


@_verdict("cloud.trail", audit=True)
def cloud_trail(c: _Check) -> Outcome:
    """``cloud.trail`` (``--audit-trail``): the account's own audit trail of the lab window shows an
    endpoint deployed, and every model, configuration and endpoint it created deleted. Without
    ``--cloud`` it reads the real account of the folder's platform (the student's read-only keys)."""
    from deploycheck.cloud import trail
    provider = c.session.provider(c.platform, c.options.cloud or c.platform)
    try:
        start, end = trail.window(c.platform, c.options.trail_since, c.options.trail_until)
    except ValueError as e:
        return run_error(str(e))
    rep = provider.trail(start, end)
    lines = rep.evidence()
    data = {"trail": lines, "window": rep.window(), "where": rep.where, "cost_usd": round(rep.total_usd(), 4)}
    if not rep.deployed:
        return review(f"the audit trail of {rep.where} shows no endpoint deployed between {rep.window()}"
                      + (f" (only: {'; '.join(lines)})" if lines else "")
                      + ": deployed from another account or region, before the window, or not at all? "
                        "Your instructor will look at it.", **data)
    if rep.missing:
        region = c.options.region(c.platform)
        fixes = "; ".join(trail.delete_command(c.platform, t, region) for t in rep.missing)
        return failed(f"the audit trail of {rep.where} shows {len(rep.missing)} resource(s) never deleted: "
                      + "; ".join(t.describe(c.platform, end) for t in rep.missing)
                      + f". Delete them (unless you still need them): {fixes}", **data)
    return passed(f"the audit trail of {rep.where} shows the deployment and its clean-up: " + "; ".join(lines)
                  + f" (~${rep.total_usd():.2f} in all at list price)", **data)


def cloud_prediction(t: Target) -> Prediction | None:
    """The cloud answer recorded by ``cloud.predict`` for this target (for the proof card)."""
    for s in sessions.sessions():
        slot = s.slots.get((t.student, t.platform or ""))
        if slot is not None and slot.prediction is not None:
            return slot.prediction
    return None


def teardown_all() -> tuple[Resource, ...]:
    """Delete everything this process still has deployed (the checks' session finalizer)."""
    return sessions.teardown_all()


__all__ = ["cloud_deploy", "cloud_predict", "cloud_teardown", "cloud_leftovers", "cloud_account_clean",
           "cloud_prediction", "teardown_all", "local_prediction"]
