"""The ``cloud.*`` checks: deploy a deploy folder for real (or against moto / the offline GCP fakes),
predict, tear down, prove nothing of the run is left, and (opt-in) audit the whole account.

Each check is its own pytest test, so the deployment lives in a per-process state keyed by
(student, platform); the plugin sends all checks of one student to the same xdist worker, in file
order (deploy -> predict -> teardown -> leftovers). Whatever is still deployed when the process
ends is deleted by :func:`teardown_all`, which runs from the checks' session finalizer, from
``atexit`` and from a SIGTERM handler (Ctrl-C ends pytest normally, so ``atexit`` covers it).

``--cloud moto`` runs the very same code offline: AWS against a ``ThreadedMotoServer`` on
127.0.0.1 (one per process, or the one named by ``$DEPLOYCHECK_MOTO_ENDPOINT``), GCP against
gcp-storage-emulator and :mod:`deploycheck.cloud.fake_vertex`. The offline endpoints answer what
the local emulation (``predict.local``) answered, so ``cloud.predict`` compares the real path.
"""
from __future__ import annotations

import atexit
import base64
import io
import json
import math
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploycheck.cloud import costs
from deploycheck.cloud.base import (BillableResource, Bundle, CloudError, Deployment, Request,
                                    Resource, TeardownError, label_value, new_run_id, resource_name)
from deploycheck.cloud.ledger import Ledger, default_path
from deploycheck import localpredict, samples
from deploycheck.outcome import Outcome, failed, passed, skipped
from deploycheck.structure import needs_folder

REFERENCE_ROOT = Path(__file__).resolve().parents[2] / "reference_deploys"


# ====================================================================== offline services
@dataclass
class OfflineServices:
    moto_url: str
    storage_url: str
    vertex_url: str
    _stop: list = field(default_factory=list, repr=False)


_OFFLINE: OfflineServices | None = None
_LOCK = threading.RLock()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto_server() -> tuple[str, Any]:
    import logging
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.WARNING)     # one log line per request otherwise
    port = free_port()
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    srv.start()
    return f"http://127.0.0.1:{port}", srv


def start_storage_emulator() -> tuple[str, Any]:
    from gcp_storage_emulator.server import create_server
    port = free_port()
    srv = create_server("127.0.0.1", port, in_memory=True)
    srv._api.daemon = True          # its API thread is not a daemon: it would keep the process alive
    srv.start()
    return f"http://127.0.0.1:{port}", srv


def offline_services() -> OfflineServices:
    """The offline stand-ins, started once per process (or taken from ``$DEPLOYCHECK_MOTO_ENDPOINT``,
    ``$DEPLOYCHECK_STORAGE_ENDPOINT``, ``$DEPLOYCHECK_VERTEX_ENDPOINT`` when several processes share them)."""
    global _OFFLINE
    with _LOCK:
        if _OFFLINE is None:
            from deploycheck.cloud.fake_vertex import FakeVertex
            stop = []
            moto = os.environ.get("DEPLOYCHECK_MOTO_ENDPOINT")
            if not moto:
                moto, srv = start_moto_server()
                stop.append(srv.stop)
            gcs = os.environ.get("DEPLOYCHECK_STORAGE_ENDPOINT")
            if not gcs:
                gcs, srv2 = start_storage_emulator()
                stop.append(srv2.stop)
            vx = os.environ.get("DEPLOYCHECK_VERTEX_ENDPOINT")
            if not vx:
                fv = FakeVertex().start()
                vx = fv.url
                stop.append(fv.stop)
            _OFFLINE = OfflineServices(moto, gcs, vx, stop)
        return _OFFLINE


# ====================================================================== run, ledger, providers
def run_id(dc: Any) -> str:
    """The run id: ``--run-id``, else ``$DEPLOYCHECK_RUN_ID``, else one generated for this session."""
    if not getattr(dc, "run_id", ""):
        dc.run_id = os.environ.get("DEPLOYCHECK_RUN_ID") or new_run_id()
        os.environ.setdefault("DEPLOYCHECK_RUN_ID", dc.run_id)
    return dc.run_id


def ledger_for(dc: Any) -> Ledger:
    return Ledger(os.environ.get("DEPLOYCHECK_LEDGER") or default_path(run_id(dc), getattr(dc, "report", None)))


def applies(platform: str | None, dc: Any) -> str | None:
    """None when ``--cloud`` deploys this platform, else why not."""
    cloud = getattr(dc, "cloud", None)
    if not cloud:
        return "cloud checks run only with --cloud moto|aws|gcp"
    if cloud in ("aws", "gcp") and platform != cloud:
        other = "AWS (aws_deploy/)" if cloud == "aws" else "GCP (gcp_deploy/)"
        return f"--cloud {cloud} deploys {other} folders only; run with --cloud {platform} for this one"
    return None


def make_provider(platform: str, dc: Any, **kw: Any):
    """The provider for ``platform`` under ``dc.cloud`` (moto -> offline stand-ins, never real accounts)."""
    rid, ledger = run_id(dc), ledger_for(dc)
    itype = getattr(dc, "instance_type", None) or costs.default_instance_type(platform)
    if getattr(dc, "cloud", None) == "moto":
        svc = offline_services()
        if platform == "aws":
            from deploycheck.cloud.aws import AwsProvider
            return AwsProvider(dc.aws_region or "us-east-1", run_id=rid, ledger=ledger, role_arn=dc.aws_role_arn,
                               bucket=dc.aws_bucket or "deploycheck-offline", instance_type=itype,
                               endpoint_url=svc.moto_url, offline=True, **kw)
        from deploycheck.cloud.gcp import GcpProvider
        return GcpProvider(dc.gcp_project or "deploycheck-offline", dc.gcp_region or "us-central1", run_id=rid,
                           ledger=ledger, bucket=dc.gcp_bucket, instance_type=itype, api_endpoint=svc.vertex_url,
                           storage_endpoint=svc.storage_url, offline=True, retry_initial_s=0.05, **kw)
    if platform == "aws":
        from deploycheck.cloud.aws import AwsProvider
        return AwsProvider(dc.aws_region or "us-east-1", run_id=rid, ledger=ledger, role_arn=dc.aws_role_arn,
                           bucket=dc.aws_bucket, instance_type=itype, **kw)
    from deploycheck.cloud.gcp import GcpProvider
    return GcpProvider(dc.gcp_project, dc.gcp_region or "us-central1", run_id=rid, ledger=ledger,
                       bucket=dc.gcp_bucket, instance_type=itype, **kw)


def explain(platform: str, e: BaseException, doing: str = "") -> str:
    if isinstance(e, CloudError):
        return str(e)
    if platform == "aws":
        from deploycheck.cloud.aws import explain as ex
    else:
        from deploycheck.cloud.gcp import explain as ex
    return ex(e, doing)


# ====================================================================== bundle
def deploy_folder(t: Any, dc: Any):
    """The folder to deploy: the student's, or the reference one with ``--cloud-assets reference``."""
    if getattr(dc, "cloud_assets", None) == "reference":
        from deploycheck.submission import load_submission
        sub = load_submission("reference", str(REFERENCE_ROOT))
        f = sub.folder(t.platform)
        if f is None or not any(x.endswith((".joblib", ".pkl", ".tar.gz")) for x in f.files):
            raise CloudError(f"--cloud-assets reference: {REFERENCE_ROOT}/{t.platform}_deploy is not built: "
                             "run `python reference_deploys/build.py` first.")
        return f
    return t.folder


def _entry_point(folder) -> str | None:
    try:
        from deploycheck import entrypoint
        ep = entrypoint.entry_point(folder)
        rel = getattr(ep, "rel", ep)
        if rel:
            return str(rel)
    except Exception:  # noqa: BLE001 - module missing or hostile input: fall back to a text search
        pass
    cands = [f for f in folder.files if f.endswith(".py") and "def model_fn" in
             (folder.read_bytes(f, 500_000) or b"").decode("utf-8", "replace")]
    cands.sort(key=lambda f: (f.rsplit("/", 1)[-1] != "inference.py", f.count("/"), f))
    return cands[0] if cands else None


def _declared(folder, kind: str) -> list[Any]:
    try:
        from deploycheck import runtimes
        return [d for d in runtimes.declared_runtimes(folder) if d.kind == kind]
    except Exception:  # noqa: BLE001
        return []


def build_bundle(t: Any, dc: Any, folder=None) -> Bundle:
    """What to deploy for target ``t``; raises :class:`CloudError` with a student-facing reason."""
    folder = folder or deploy_folder(t, dc)
    from deploycheck import artifacts, runtimes
    if artifacts.is_unsafe(folder):
        raise CloudError(f"the model pickle in {folder.rel}/ was flagged by artifact.safe (or could not be scanned), "
                         "so deploycheck never deploys it: save the model with joblib.dump using only "
                         "scikit-learn/numpy objects.")
    info = artifacts.model_artifact(folder)
    if info is None:
        raise CloudError(f"no model artifact in {folder.rel}/ (artifact.present failed): add model.tar.gz "
                         "(AWS) or model.joblib (GCP).")
    if info.symlink:
        raise CloudError(f"{folder.rel}/{info.rel} is a symlink: commit the real file.")
    region = dc.aws_region if t.platform == "aws" else dc.gcp_region
    b = Bundle(student=t.student, platform=t.platform, folder=folder.path, sklearn_version=info.sklearn_version)
    if t.platform == "aws":
        if info.kind == "tar":
            b.model_archive = info.rel
        else:
            b.model_files = [info.rel]
        b.entry_point = _entry_point(folder)
        if not b.entry_point:
            raise CloudError(f"no entry point defining model_fn(model_dir) in {folder.rel}/ (entry_point.model_fn "
                             "failed): add inference.py with model_fn.")
        d = b.entry_point.rsplit("/", 1)[0] + "/" if "/" in b.entry_point else ""
        if d + "requirements.txt" in folder.files:
            b.requirements = d + "requirements.txt"
        decl = [x.value for x in _declared(folder, "sagemaker") if x.sklearn]
        fv = decl[0] if decl else (runtimes.best_sagemaker_framework_for(info.sklearn_version or "") or None)
        if not fv:
            raise CloudError(f"{folder.rel}/ declares no SageMaker framework_version and the pickle's scikit-learn "
                             f"({info.sklearn_version or 'unknown'}) has no image: set framework_version=\"1.2-1\" "
                             "and pickle the model with scikit-learn 1.2.1.")
        b.framework_version = fv
        from deploycheck.cloud.aws import image_uri
        b.image_uri = image_uri(region, fv)
    else:
        b.model_files = [info.rel]
        sk = None
        for kind in ("vertex", "ai_platform"):
            vals = [x.sklearn for x in _declared(folder, kind) if x.sklearn]
            if vals:
                sk = vals[0]
                break
        sk = sk or info.sklearn_version
        from deploycheck.cloud.gcp import container_uri
        b.image_uri = container_uri(sk, region)
    return b


# ====================================================================== local prediction, requests
def local_prediction(t: Any, dc: Any) -> dict[str, Any] | None:
    """``predict.local``'s record (request, response, content types) as a dict when it passed, else None."""
    rec = localpredict.prediction(t, dc)
    return rec.to_dict() if rec is not None and rec.status == "passed" else None


def request_from(rec: dict[str, Any] | None, folder, platform: str) -> Request:
    """The exact request the local emulation sent (so cloud and local see the same input), else the
    folder's documented sample request."""
    if rec and rec.get("request_b64"):
        return Request(base64.b64decode(rec["request_b64"]), rec.get("content_type") or "application/json",
                       rec.get("accept") or "application/json")
    s = samples.sample_request(folder, platform=platform)
    if s is not None:
        return Request(s.body, s.content_type or "application/json", s.accept or "application/json")
    raise CloudError(f"no sample request for {folder.rel}/: predict.local found none; add input.json with "
                     "{\"instances\": [[...]]} (or document the predict() call in the README).")


def local_response(rec: dict[str, Any]) -> tuple[bytes, str]:
    """The exact bytes and content type the local emulation answered."""
    ctype = rec.get("response_content_type") or rec.get("accept") or "application/json"
    if rec.get("response_b64"):
        return base64.b64decode(rec["response_b64"]), ctype
    return rec["response"].encode(), ctype


def decode(body: bytes, content_type: str) -> Any:
    """A response body as plain Python data (JSON, NPY, CSV)."""
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct == "application/x-npy" or body[:6] == b"\x93NUMPY":
        import numpy as np
        return np.load(io.BytesIO(body), allow_pickle=False).tolist()
    text = body.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        rows = [r for r in text.splitlines() if r.strip()]
        obj = [[_num(c) for c in r.split(",")] if "," in r else _num(r) for r in rows]
    if isinstance(obj, dict) and "predictions" in obj:
        obj = obj["predictions"]
    return obj


def _num(s: str) -> Any:
    try:
        return float(s)
    except ValueError:
        return s.strip()


def _flat(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [y for v in x for y in _flat(v)]
    return [x]


def same_predictions(a: Any, b: Any, rel: float = 1e-5) -> bool:
    fa, fb = _flat(a), _flat(b)
    if len(fa) != len(fb):
        return False
    for x, y in zip(fa, fb):
        if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            if str(x) != str(y):
                return False
        elif not math.isclose(float(x), float(y), rel_tol=rel, abs_tol=1e-9):
            return False
    return True


# ====================================================================== per-process state
@dataclass
class _State:
    provider: Any = None
    deployment: Deployment | None = None
    error: str | None = None
    prediction: dict[str, Any] | None = None
    removed: list[str] = field(default_factory=list)
    torn_down: bool = False


_STATE: dict[tuple[str, str], _State] = {}
_HOOKS = {"installed": False}


def _key(t: Any) -> tuple[str, str]:
    return (t.student, t.platform or "")


def teardown_all() -> list[str]:
    """Delete every deployment of this process that is still up. Safe to call many times."""
    removed: list[str] = []
    with _LOCK:
        for st in list(_STATE.values()):
            if st.deployment is not None and not st.torn_down and st.provider is not None:
                try:
                    removed += st.provider.teardown(st.deployment)
                    st.removed += removed
                    st.torn_down = True
                except Exception as e:  # noqa: BLE001 - the ledger keeps them for `deploycheck sweep`
                    st.error = f"teardown failed: {e}"
    return removed


def _install_hooks() -> None:
    if _HOOKS["installed"]:
        return
    _HOOKS["installed"] = True
    atexit.register(teardown_all)
    if threading.current_thread() is threading.main_thread():
        try:
            prev = signal.getsignal(signal.SIGTERM)
            if prev in (signal.SIG_DFL, None):
                def on_term(signum, frame):
                    try:
                        teardown_all()
                    finally:
                        signal.signal(signal.SIGTERM, signal.SIG_DFL)
                        os.kill(os.getpid(), signal.SIGTERM)
                signal.signal(signal.SIGTERM, on_term)
        except (ValueError, OSError):
            pass


def _guard(fn):
    """Never let an exception escape a check."""
    def wrapper(t, dc):
        try:
            return fn(t, dc)
        except CloudError as e:
            return failed(str(e))
        except Exception as e:  # noqa: BLE001
            return failed(explain(t.platform or "aws", e) + " (deploycheck caught this; tell your instructor if it "
                          "looks like a deploycheck bug)")
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _prereq(t: Any, dc: Any, check: str) -> Outcome | None:
    """Skipped when ``--cloud`` does not deploy this platform, failed when there is no deploy folder, else None."""
    why = applies(t.platform, dc)
    if why:
        return skipped(why)
    return needs_folder(t, check)


# ====================================================================== checks
@_guard
def cloud_deploy(t: Any, dc: Any) -> Outcome:
    """``cloud.deploy``: the folder deploys and the endpoint comes up."""
    if (o := _prereq(t, dc, "cloud.deploy")) is not None:
        return o
    st = _STATE.setdefault(_key(t), _State())
    if st.deployment is not None and not st.torn_down:
        return passed(f"already deployed: {st.deployment.endpoint}")
    folder = deploy_folder(t, dc)
    bundle = build_bundle(t, dc, folder)
    itype = getattr(dc, "instance_type", None) or costs.default_instance_type(t.platform)
    costs.check_instance_type(t.platform, itype, bool(getattr(dc, "allow_instance_type", False)))
    provider = make_provider(t.platform, dc)
    st.provider = provider
    rid = run_id(dc)
    slot = Resource(t.platform, "endpoint-slot", resource_name(rid, t.student, t.platform), provider.region, rid,
                    t.student)
    provider.ledger.reserve_endpoint(slot, int(getattr(dc, "max_deployments", 3)))
    estimate = costs.estimate(t.platform, itype, 1)
    _install_hooks()
    print(f"deploycheck cloud: run {rid}: deploying {t.student} {folder.rel}/ to {t.platform} "
          f"({'moto/offline' if dc.cloud == 'moto' else provider.region}); {estimate}; ledger {provider.ledger.path}",
          file=sys.__stderr__, flush=True)
    try:
        dep = provider.deploy(bundle)
    except Exception as e:
        st.error = explain(t.platform, e, "deploying")
        return failed(f"deploying {folder.rel}/ failed: {st.error}", run_id=rid)
    st.deployment, st.torn_down = dep, False
    where = "offline (moto / local fakes)" if dc.cloud == "moto" else dep.region
    return passed(f"deployed {folder.rel}/ as {dep.endpoint} on {dep.instance_type} ({where}) in {dep.ready_s} s; "
                  f"{estimate}",
                  endpoint=dep.endpoint, region=dep.region, instance_type=dep.instance_type, run_id=rid,
                  image=bundle.image_uri, resources=[r.to_dict() for r in dep.resources],
                  estimated_hourly_usd=costs.endpoint_hourly(t.platform, dep.instance_type))


@_guard
def cloud_predict(t: Any, dc: Any) -> Outcome:
    """``cloud.predict``: the endpoint answers the sample request like the local emulation."""
    if (o := _prereq(t, dc, "cloud.predict")) is not None:
        return o
    st = _STATE.get(_key(t))
    if st is None or st.deployment is None or st.torn_down:
        return failed("nothing to predict with: cloud.deploy failed" + (f" ({st.error})" if st and st.error else "")
                      + "; fix that first.")
    folder = deploy_folder(t, dc)
    rec = local_prediction(t, dc)
    request = request_from(rec, folder, t.platform)
    dep, provider = st.deployment, st.provider
    if dc.cloud == "moto":
        if rec is None:
            return failed("predict.local has no prediction, so the offline endpoint has nothing to answer: "
                          "fix predict.local first.")
        lb, lct = local_response(rec)
        value = decode(lb, lct)
        if t.platform == "gcp":
            provider.prime_offline_result(dep, json.dumps({"predictions": value}).encode(), "application/json")
        else:
            try:      # moto stores result bodies as text: binary (NPY) answers are primed as JSON
                lb.decode("utf-8")
                provider.prime_offline_result(dep, lb, lct)
            except UnicodeDecodeError:
                provider.prime_offline_result(dep, json.dumps(value).encode(), "application/json")
    body, ctype, ms = provider.predict(dep, request)
    cloud_value = decode(body, ctype)
    info: dict[str, Any] = {
        "mode": "cloud", "platform": t.platform, "provider": provider.name, "region": dep.region,
        "endpoint": dep.endpoint, "instance_type": dep.instance_type, "run_id": dep.run_id,
        "offline": dc.cloud == "moto",
        "request": request.body.decode("utf-8", "replace")[:20000], "content_type": request.content_type,
        "accept": request.accept, "response": body.decode("utf-8", "replace")[:20000],
        "response_content_type": ctype, "latency_ms": ms, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    st.prediction = info
    if rec is None:
        return passed(f"{dep.endpoint} answered in {ms:.0f} ms (not compared: predict.local has no prediction)",
                      **info, compared=False)
    local_body, local_ct = local_response(rec)
    local_value = decode(local_body, local_ct)
    info["local_response"] = local_body.decode("utf-8", "replace")[:20000]
    if not same_predictions(cloud_value, local_value):
        return failed(f"{dep.endpoint} answered {_short(cloud_value)} but the local emulation answered "
                      f"{_short(local_value)}: the deployed code or model differs from the folder (check the "
                      "framework/container version and the entry point).", **info, compared=True)
    return passed(f"{dep.endpoint} answered {_short(cloud_value)} in {ms:.0f} ms, the same as predict.local",
                  **info, compared=True)


def _short(v: Any, n: int = 120) -> str:
    s = json.dumps(v) if not isinstance(v, str) else v
    return s if len(s) <= n else s[: n - 3] + "..."


@_guard
def cloud_teardown(t: Any, dc: Any) -> Outcome:
    """``cloud.teardown``: every resource of the deployment is deleted."""
    if (o := _prereq(t, dc, "cloud.teardown")) is not None:
        return o
    st = _STATE.get(_key(t))
    if st is None or st.deployment is None:
        return skipped("nothing to tear down: cloud.deploy created nothing that is still there "
                       "(a failed deployment is deleted at once)")
    if st.torn_down:
        return passed(f"already deleted: {', '.join(st.removed) or 'nothing left'}", removed=st.removed)
    try:
        removed = st.provider.teardown(st.deployment)
    except TeardownError as e:
        st.error = str(e)
        return failed(str(e), removed=e.removed, remaining=e.remaining)
    st.removed, st.torn_down = removed, True
    return passed(f"deleted {len(removed)} resources: " + "; ".join(removed), removed=removed)


@_guard
def cloud_leftovers(t: Any, dc: Any) -> Outcome:
    """``cloud.leftovers``: listing the services finds nothing tagged with this run and student,
    and the ledger has nothing undeleted."""
    if (o := _prereq(t, dc, "cloud.leftovers")) is not None:
        return o
    st = _STATE.get(_key(t))
    provider = st.provider if st and st.provider else make_provider(t.platform, dc)
    rid = run_id(dc)
    found = provider.leftovers(rid, student=t.student)
    from deploycheck.cloud.ledger import pending
    in_ledger = [r for r in pending(provider.ledger.entries(), rid)
                 if r.student == t.student and r.provider == t.platform]
    if found or in_ledger:
        names = sorted({str(r) for r in found} | {str(r) + " (ledger)" for r in in_ledger})
        return failed(f"{len(names)} resources of run {rid} are still there: {'; '.join(names)}. "
                      f"Delete them with `deploycheck sweep --run-id {rid} --provider {t.platform}`.",
                      leftovers=names, run_id=rid)
    return passed(f"nothing tagged deploycheck-run={label_value(rid)} for {t.student} is left "
                  f"(listed {'SageMaker endpoints, configs, models and S3' if t.platform == 'aws' else 'Vertex endpoints, models and GCS'})",
                  run_id=rid)


@_guard
def cloud_account_clean(t: Any, dc: Any) -> Outcome:
    """``cloud.account_clean`` (``--audit-account``): nothing in the account bills by the hour.
    Without ``--cloud`` it audits the real account of the folder's platform (a student's CI)."""
    if not t.platform:  # the audit itself needs no folder, only the platform it stands for
        return needs_folder(t, "cloud.account_clean")
    why = applies(t.platform, dc) if getattr(dc, "cloud", None) else None
    if why:
        return skipped(why)
    provider = make_provider(t.platform, dc)
    items: list[BillableResource] = provider.audit_account()
    if items:
        total = sum(i.hourly_usd or 0 for i in items)
        return failed(f"{len(items)} billable resources are still running (~${total:.2f}/h): "
                      + "; ".join(str(i) for i in items)
                      + ". Delete them (console or CLI) unless you still need them.",
                      billable=[vars(i) for i in items], hourly_usd=round(total, 4))
    where = "SageMaker endpoints, notebook instances and EC2 instances" if t.platform == "aws" else \
        "Vertex endpoints" + ("" if dc.cloud == "moto" else ", Compute Engine and Workbench VMs")
    return passed(f"no billable leftovers in the {'account' if t.platform == 'aws' else 'project'} (checked {where})")


def cloud_prediction(t: Any) -> dict[str, Any] | None:
    """The cloud prediction recorded by ``cloud.predict`` for this target (for the proof card)."""
    st = _STATE.get(_key(t))
    return dict(st.prediction) if st and st.prediction else None
