"""GCP Vertex AI online prediction with google-cloud-storage + google-cloud-aiplatform (REST transport).

Deploy = what a student does with ``gsutil cp`` + ``gcloud ai models upload`` + ``gcloud ai endpoints
create/deploy-model``:

1. upload the model file to ``gs://<bucket>/deploycheck/<run>/<student>/model/<model.joblib|model.pkl>``
   (the prebuilt containers load exactly one such file from ``artifact_uri``);
2. ``aiplatform.Model.upload`` with the prebuilt scikit-learn container for the pickle's version
   (``deploycheck.runtimes.vertex_container_uri``; list in aiplatform/constants/prediction.py);
3. ``aiplatform.Endpoint.create`` and ``endpoint.deploy(machine_type=…, 1 replica)``;
4. ``endpoint.predict(instances=…)``; teardown: ``endpoint.delete(force=True)`` (undeploys first),
   ``model.delete()``, delete the GCS object.

Every model/endpoint carries the labels ``deploycheck-run`` / ``deploycheck-student`` (GCP label
values: lowercase ``[a-z0-9_-]``, ≤ 63 chars, see base.label_value), GCS objects carry them as
metadata. Each SDK call is wrapped in a ``google.api_core.retry.Retry`` on transient errors
(429/500/503, connection resets). Offline: ``api_endpoint`` points at :mod:`fake_vertex` and
``storage_endpoint`` at gcp-storage-emulator, with anonymous credentials.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Callable

from deploycheck.cloud import costs
from deploycheck.cloud.base import (RUN_TAG, STUDENT_TAG, BillableResource, Bundle, CloudError, Deployment,
                                    Request, Resource, label_value, resource_name, tags, teardown_resources)
from deploycheck.cloud.ledger import Ledger

PROVIDER = "gcp"

def container_uri(sklearn_version: str | None, region: str) -> str:
    """The prebuilt scikit-learn container for the pickle's version (deploycheck.runtimes.catalog
    owns the table: the same major.minor, else the nearest)."""
    from deploycheck.runtimes import catalog
    uri = catalog.vertex_container_uri(sklearn_version, region)
    if uri is None:
        raise CloudError(f"no Vertex prebuilt scikit-learn container serves scikit-learn {sklearn_version}: "
                         f"retrain with one of {', '.join(t.replace('-', '.') for t in catalog.VERTEX_SKLEARN_TAGS)} "
                         "and save the model again.")
    return uri


def explain(exc: BaseException, doing: str = "") -> str:
    """One sentence for a Google error: the missing permission, API or setting."""
    where = f" while {doing}" if doing else ""
    if isinstance(exc, CloudError):
        return str(exc)
    name = type(exc).__name__
    msg = str(getattr(exc, "message", "") or exc)
    if name == "DefaultCredentialsError":
        return ("no Google credentials found: run `gcloud auth application-default login` "
                "(or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file outside the repo).")
    if name == "RefreshError":
        return "the Google credentials could not be refreshed: run `gcloud auth application-default login` again."
    m = re.search(r"Permission '?([\w.]+)'? denied", msg) or re.search(r"permission[: ]+'?([a-z]+\.[\w.]+)'?", msg, re.I)
    if name in ("PermissionDenied", "Forbidden") or m:
        perm = m[1] if m else "(see the message)"
        if "has not been used" in msg or "is disabled" in msg or "SERVICE_DISABLED" in msg:
            api = re.search(r"([a-z]+\.googleapis\.com)", msg)
            return (f"the {api[1] if api else 'Vertex AI'} API is not enabled in this project: "
                    f"run `gcloud services enable {api[1] if api else 'aiplatform.googleapis.com'}`.")
        return (f"missing GCP permission {perm}{where}: grant the identity running deploycheck the roles "
                f"listed in reference_deploys/README.md (roles/aiplatform.user, roles/storage.objectAdmin on the bucket).")
    if name in ("Unauthenticated", "Unauthorized"):
        return "Google rejected the credentials: run `gcloud auth application-default login`."
    if name == "ResourceExhausted" or "quota" in msg.lower():
        return f"GCP quota reached{where}: {msg} Request more quota or try another --gcp-region."
    if name == "NotFound" and "project" in msg.lower():
        return f"GCP project not found{where}: check --gcp-project ({msg})."
    return f"{name}{where}: {msg}"


class GcpProvider:
    name = PROVIDER

    def __init__(self, project: str | None, region: str = "us-central1", *, run_id: str, ledger: Ledger,
                 bucket: str | None = None, instance_type: str | None = None,
                 api_endpoint: str | None = None, storage_endpoint: str | None = None,
                 credentials: Any = None, offline: bool = False, retry_initial_s: float = 1.0,
                 retry_timeout_s: float = 120.0, on_step: Callable[[str], None] | None = None):
        self.offline = offline or bool(api_endpoint)
        if self.offline and credentials is None:
            from google.auth.credentials import AnonymousCredentials
            credentials = AnonymousCredentials()
        if not project:
            if self.offline:
                project = "deploycheck-offline"
            else:
                try:
                    import google.auth
                    _, project = google.auth.default()
                except Exception as e:  # noqa: BLE001
                    raise CloudError(explain(e)) from e
                if not project:
                    raise CloudError("no GCP project: pass --gcp-project (or `gcloud config set project ID`).")
        self.project, self.region, self.run_id, self.ledger = project, region, run_id, ledger
        self.bucket = bucket or f"{project}-deploycheck"
        self.instance_type = instance_type or costs.default_instance_type(PROVIDER)
        self.api_endpoint, self.storage_endpoint, self.credentials = api_endpoint, storage_endpoint, credentials
        self.on_step = on_step or (lambda step: None)
        from google.api_core import retry as gretry
        self.retry = gretry.Retry(predicate=gretry.if_transient_error, initial=retry_initial_s,
                                  maximum=max(retry_initial_s * 8, 1.0), multiplier=2.0, timeout=retry_timeout_s)
        self._storage = None

    # ------------------------------------------------------------------ clients
    def _init(self):
        from google.cloud import aiplatform
        kw: dict[str, Any] = {"project": self.project, "location": self.region}
        if self.credentials is not None:
            kw["credentials"] = self.credentials
        if self.api_endpoint:
            kw.update(api_endpoint=self.api_endpoint, api_transport="rest")
        import logging
        logging.getLogger("google.cloud.aiplatform").setLevel(logging.WARNING)
        aiplatform.init(**kw)
        return aiplatform

    def storage(self):
        if self._storage is None:
            from google.cloud import storage
            kw: dict[str, Any] = {"project": self.project}
            if self.credentials is not None:
                kw["credentials"] = self.credentials
            if self.storage_endpoint:
                kw["client_options"] = {"api_endpoint": self.storage_endpoint}
            self._storage = storage.Client(**kw)
        return self._storage

    def _call(self, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        return self.retry(fn)(*a, **kw)

    def _res(self, kind: str, name: str, student: str) -> Resource:
        return Resource(PROVIDER, kind, name, self.region, self.run_id, student, time.time())

    def _create(self, dep: Deployment, kind: str, name: str) -> Resource:
        res = self._res(kind, name, dep.student)
        self.ledger.will_create(res)
        dep.resources.append(res)
        return res

    # ------------------------------------------------------------------ deploy
    def deploy(self, bundle: Bundle) -> Deployment:
        model_files = [f for f in bundle.model_files if Path(f).name in ("model.joblib", "model.pkl", "model.bst")]
        if len(model_files) != 1:
            raise CloudError("Vertex's prebuilt scikit-learn container needs exactly one model.joblib or model.pkl "
                             f"in {bundle.folder.name}/ (found {', '.join(bundle.model_files) or 'none'}).")
        image = bundle.image_uri or container_uri(bundle.sklearn_version, self.region)
        name = resource_name(self.run_id, bundle.student, "gcp")
        labels = tags(self.run_id, bundle.student)
        dep = Deployment(PROVIDER, bundle.student, bundle.platform, self.run_id, self.region,
                         instance_type=self.instance_type)
        prefix = f"deploycheck/{label_value(self.run_id)}/{label_value(bundle.student)}/model/"
        try:
            aiplatform = self._init()
            # 1. the artifact folder in GCS
            data = (bundle.folder / model_files[0]).read_bytes()
            bucket = self._bucket()
            blob_name = prefix + Path(model_files[0]).name
            self._create(dep, "gcs-object", f"gs://{bucket.name}/{blob_name}")
            blob = bucket.blob(blob_name)
            blob.metadata = labels
            self._call(blob.upload_from_string, data, content_type="application/octet-stream")
            dep.ids.update(bucket=bucket.name, artifact_uri=f"gs://{bucket.name}/{prefix}")
            self.on_step("upload")
            # 2. the model (ledger line names the display name until the id is known)
            pending = self._create(dep, "vertex-model", f"pending:{name}")
            model = self._call(aiplatform.Model.upload, display_name=name, artifact_uri=dep.ids["artifact_uri"],
                               serving_container_image_uri=image, labels=labels, sync=True)
            self._named(dep, pending, model.resource_name)
            dep.ids["model"] = model.resource_name
            self.on_step("upload_model")
            # 3. endpoint + deployment
            pending = self._create(dep, "vertex-endpoint", f"pending:{name}")
            endpoint = self._call(aiplatform.Endpoint.create, display_name=name, labels=labels, sync=True)
            self._named(dep, pending, endpoint.resource_name)
            dep.endpoint = dep.ids["endpoint"] = endpoint.resource_name
            self.on_step("create_endpoint")
            self._call(endpoint.deploy, model=model, deployed_model_display_name=name,
                       machine_type=self.instance_type, min_replica_count=1, max_replica_count=1, sync=True)
            self.on_step("deploy_model")
            dep.ready_s = round(time.time() - dep.started, 1)
            return dep
        except BaseException as e:
            try:
                self.teardown(dep)
            except Exception:  # noqa: BLE001 - ledger + labels let sweep find the rest
                pass
            if isinstance(e, Exception) and not isinstance(e, CloudError):
                note = (" Everything created so far was deleted again." if not dep.resources else
                        f" Some resources could not be deleted: run `deploycheck sweep --run-id {self.run_id}`.")
                raise CloudError(explain(e, "deploying to Vertex AI") + note) from e
            raise

    def _named(self, dep: Deployment, pending: Resource, real: str) -> None:
        """The create call returned the real resource name: ledger it and forget the placeholder."""
        res = self._res(pending.kind, real, dep.student)
        self.ledger.will_create(res)
        self.ledger.deleted(pending, note="renamed")
        dep.resources[dep.resources.index(pending)] = res

    def _bucket(self):
        from google.api_core import exceptions as gex
        client = self.storage()
        try:
            return self._call(client.get_bucket, self.bucket)
        except gex.NotFound:
            return self._call(client.create_bucket, self.bucket, location=self.region)

    # ------------------------------------------------------------------ predict
    def prime_offline_result(self, dep: Deployment, body: bytes, content_type: str = "application/json") -> None:
        """fake Vertex only: make the endpoint answer the local emulation's ``{"predictions": …}``."""
        if not self.offline:
            raise CloudError("prime_offline_result is for the offline fake only")
        import requests
        preds = json.loads(body).get("predictions", [])
        requests.post(f"{self.api_endpoint}/fake-vertex/results",
                      json={"endpoint": dep.endpoint, "predictions": preds}, timeout=10).raise_for_status()

    def predict(self, dep: Deployment, request: Request) -> tuple[bytes, str, float]:
        try:
            payload = json.loads(request.body)
        except ValueError as e:
            raise CloudError(f"the sample request is not JSON ({e}): Vertex expects {{\"instances\": [...]}}.") from e
        instances = payload.get("instances") if isinstance(payload, dict) else payload
        params = payload.get("parameters") if isinstance(payload, dict) else None
        aiplatform = self._init()
        t0 = time.perf_counter()
        try:
            ep = aiplatform.Endpoint(dep.endpoint)
            pred = self._call(ep.predict, instances=instances, parameters=params)
        except Exception as e:  # noqa: BLE001
            raise CloudError(explain(e, f"calling {dep.endpoint}:predict")) from e
        ms = round((time.perf_counter() - t0) * 1000, 1)
        body = json.dumps({"predictions": _plain(list(pred.predictions)),
                           "deployedModelId": pred.deployed_model_id}).encode()
        return body, "application/json", ms

    # ------------------------------------------------------------------ teardown / sweep
    def delete(self, res: Resource) -> bool:
        from google.api_core import exceptions as gex
        if res.name.startswith("pending:"):
            # created but never named (killed mid-call): find it by display name + labels
            found = [r for r in self.leftovers(res.run_id or None)
                     if r.kind == res.kind and r.student == label_value(res.student or "")]
            return any(self.delete(r) for r in found)
        try:
            if res.kind == "gcs-object":
                bucket, blob = res.name.removeprefix("gs://").split("/", 1)
                self._call(self.storage().bucket(bucket).blob(blob).delete)
            elif res.kind == "vertex-endpoint":
                aiplatform = self._init()
                ep = aiplatform.Endpoint(res.name)
                self._call(ep.delete, force=True, sync=True)   # force: undeploy every model first
            elif res.kind == "vertex-model":
                aiplatform = self._init()
                self._call(aiplatform.Model(res.name).delete, sync=True)
            else:
                raise CloudError(f"unknown GCP resource kind {res.kind}")
            return True
        except gex.NotFound:
            return False

    def teardown(self, dep: Deployment) -> list[str]:
        return teardown_resources(dep, self.delete, self.ledger.deleted, explain,
                                  f"deploycheck sweep --provider gcp --run-id {self.run_id}")

    def leftovers(self, run_id: str | None = None, older_than_s: float | None = None,
                  student: str | None = None) -> list[Resource]:
        """Labelled endpoints and models and the run's GCS objects, found by listing the services."""
        aiplatform = self._init()
        want_run = label_value(run_id) if run_id else None
        want_student = label_value(student) if student else None
        flt = f'labels.{RUN_TAG}="{want_run}"' if want_run else f"labels.{RUN_TAG}:*"
        now = time.time()
        out: list[Resource] = []
        for kind, cls in (("vertex-endpoint", aiplatform.Endpoint), ("vertex-model", aiplatform.Model)):
            for item in self._call(cls.list, filter=flt):
                lb = dict(item.labels or {})
                if RUN_TAG not in lb or (want_run and lb[RUN_TAG] != want_run) \
                        or (want_student and lb.get(STUDENT_TAG) != want_student):
                    continue
                ts = item.create_time.timestamp() if getattr(item, "create_time", None) else None
                if older_than_s is not None and ts is not None and now - ts < older_than_s:
                    continue
                out.append(Resource(PROVIDER, kind, item.resource_name, self.region, lb[RUN_TAG],
                                    lb.get(STUDENT_TAG, ""), ts))
        from google.api_core import exceptions as gex
        prefix = "deploycheck/" + (f"{want_run}/" if want_run else "")
        try:
            for blob in self._call(lambda: list(self.storage().list_blobs(self.bucket, prefix=prefix))):
                parts = blob.name.split("/")
                if want_student and (len(parts) < 3 or parts[2] != want_student):
                    continue
                ts = blob.time_created.timestamp() if blob.time_created else None
                if older_than_s is not None and ts is not None and now - ts < older_than_s:
                    continue
                out.append(Resource(PROVIDER, "gcs-object", f"gs://{self.bucket}/{blob.name}", self.region,
                                    parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "", ts))
        except gex.NotFound:
            pass
        order = {"vertex-endpoint": 0, "vertex-model": 1, "gcs-object": 2}
        return sorted(out, key=lambda r: order.get(r.kind, 9))

    # ------------------------------------------------------------------ audit
    def audit_account(self) -> list[BillableResource]:
        """Vertex endpoints with deployed models (they bill per node hour while idle), plus running
        Compute Engine VMs and Workbench instances listed over REST (google.auth AuthorizedSession;
        there is no need for another client library). Offline the REST part is skipped."""
        aiplatform = self._init()
        out: list[BillableResource] = []
        for ep in self._call(aiplatform.Endpoint.list):
            for dm in ep.gca_resource.deployed_models:
                res = dm.dedicated_resources
                itype = res.machine_spec.machine_type if res and res.machine_spec else "automatic"
                n = max(int(res.min_replica_count or 1), 1) if res else 1
                price = costs.hourly("vertex-endpoint", itype)
                out.append(BillableResource("vertex-endpoint", f"{ep.display_name} ({ep.resource_name})", itype,
                                            price * n if price is not None else None, self.region,
                                            f"deployed model {dm.id}"))
        if not self.offline:
            out.extend(self._compute_instances())
        return out

    def _compute_instances(self) -> list[BillableResource]:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession
        creds = self.credentials
        if creds is None:
            creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        s = AuthorizedSession(creds)
        out: list[BillableResource] = []
        r = s.get(f"https://compute.googleapis.com/compute/v1/projects/{self.project}/aggregated/instances",
                  params={"filter": 'status = "RUNNING"'}, timeout=30)
        if r.status_code == 403:
            raise CloudError("missing GCP permission compute.instances.list: grant roles/compute.viewer "
                             "(or enable the Compute Engine API) to audit VMs.")
        r.raise_for_status()
        for zone, block in (r.json().get("items") or {}).items():
            for inst in block.get("instances", []):
                mtype = inst.get("machineType", "").rsplit("/", 1)[-1]
                labels = inst.get("labels") or {}
                kind = ("workbench-instance" if any("workbench" in k or "notebook" in k for k in labels)
                        else "gce-instance")
                out.append(BillableResource(kind, inst.get("name", "?"), mtype, costs.hourly("gce-instance", mtype),
                                            zone.removeprefix("zones/"), inst.get("status", "")))
        return out


def _plain(x: Any) -> Any:
    """protobuf Values come back as floats: 2.0 -> 2 so JSON matches the local answer's shape."""
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x
