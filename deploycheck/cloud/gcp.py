"""GCP Vertex AI online prediction with google-cloud-storage + google-cloud-aiplatform (REST transport).

Deploy = what a student does with ``gsutil cp`` + ``gcloud ai models upload`` + ``gcloud ai endpoints
create/deploy-model``:

1. upload the model file to ``gs://<bucket>/deploycheck/<run>/<student>/model/<model.joblib|model.pkl>``
   (the prebuilt containers load exactly one such file from ``artifact_uri``); the bucket is only
   created (``storage.buckets.create``) when the upload finds it missing, so an existing bucket needs
   nothing but ``roles/storage.objectAdmin``;
2. ``aiplatform.Model.upload`` with the bundle's prebuilt scikit-learn container;
3. ``aiplatform.Endpoint.create`` and ``endpoint.deploy(machine_type=…, 1 replica)``;
4. ``endpoint.predict(instances=…)``; teardown: ``endpoint.delete(force=True)`` (undeploys first),
   ``model.delete()``, delete the GCS object.

Models and endpoints carry the labels ``deploycheck-run`` / ``deploycheck-student`` (GCP label
values, see base.label_value), GCS objects carry them as metadata. Each SDK call runs in a
``google.api_core.retry.Retry`` on transient errors (429/500/503). Every Google error leaves this
module as a one-line :class:`CloudError` (:func:`translate`); :class:`AccessError` names the
credentials, permission and role needed. Offline: ``api_endpoint`` is the Vertex fake of
:mod:`offline` and ``storage_endpoint`` gcp-storage-emulator, with anonymous credentials.
"""
from __future__ import annotations

import datetime

import json
import re
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, ParamSpec, TypeVar

from deploycheck.cloud import costs
from deploycheck.cloud.base import (README_GCP, RUN_TAG, STUDENT_TAG, AccessError, BillableResource, Bundle,
                                    CloudError, Deployment, Resource, StudentError, decode_answer, delete_all,
                                    deletion_order, label_value, object_prefix, redact, resource_name, rollback_note,
                                    tags, translated)
from deploycheck.cloud.ledger import Ledger
from deploycheck.model import GCP, Prediction, Request

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from deploycheck.cloud.trail import TrailReport

_P = ParamSpec("_P")
_R = TypeVar("_R")

MODEL_NAMES = ("model.joblib", "model.pkl", "model.bst")
NEEDS = (f"deploycheck needs roles/aiplatform.user on the project and roles/storage.objectAdmin on the bucket "
         f"(roles/compute.viewer to audit VMs; see {README_GCP})")
# permission prefix -> the predefined role that grants it
_ROLES = (("aiplatform.", "roles/aiplatform.user on the project"),
          ("storage.buckets.create", "roles/storage.admin on the project, or create the bucket first (--gcp-bucket)"),
          ("storage.", "roles/storage.objectAdmin on the bucket"),
          ("compute.", "roles/compute.viewer on the project"))
_PERMISSION_RE = (re.compile(r"Permission '?([\w.]+)'? denied"),
                  re.compile(r"does not have ([a-z]+\.[\w.]+) access"),
                  re.compile(r"permission[: ]+'?([a-z]+\.[a-z]+\.[\w]+)'?", re.I))
_MODEL_SERVER = re.compile(r"model server|never became ready|failed to (?:start|load)|container terminated", re.I)


def translate(exc: BaseException, doing: str = "", known: tuple[str | None, ...] = ()) -> CloudError:
    """A one-line :class:`CloudError` for a Google auth/API error; never holds a credential value."""
    if isinstance(exc, CloudError):
        return exc
    where = f" while {doing}" if doing else ""
    name = type(exc).__name__
    msg = " ".join(str(getattr(exc, "message", "") or exc).split())
    code = getattr(exc, "code", None)
    perm = next((m[1] for p in _PERMISSION_RE if (m := p.search(msg))), None)
    err: CloudError
    if isinstance(exc, _auth_error("DefaultCredentialsError")):
        err = AccessError("no Application Default Credentials: run `gcloud auth application-default login` (or set "
                          f"GOOGLE_APPLICATION_CREDENTIALS to a service-account key file outside the repo); {NEEDS}")
    elif isinstance(exc, _auth_error("RefreshError")):
        err = AccessError("the Google credentials have expired or were revoked: run `gcloud auth application-default "
                          f"login` again; {NEEDS}")
    elif "SERVICE_DISABLED" in msg or "has not been used" in msg or " is disabled" in msg:
        api = re.search(r"([a-z]+\.googleapis\.com)", msg)
        err = AccessError(f"the {api[1] if api else 'Vertex AI'} API is not enabled in this project: run `gcloud "
                          f"services enable {api[1] if api else 'aiplatform.googleapis.com'}`")
    elif name in ("PermissionDenied", "Forbidden") or code == 403 or perm:
        role = next((r for prefix, r in _ROLES if perm and perm.startswith(prefix)), None)
        grant = f"grant {role}" if role else f"grant the roles in {README_GCP}"
        err = AccessError(f"missing GCP permission {perm or '(see the message: ' + msg[:200] + ')'}{where}: {grant} "
                          f"to the identity running deploycheck (see {README_GCP})")
    elif name in ("Unauthenticated", "Unauthorized") or code == 401:
        err = AccessError(f"Google rejected the credentials: run `gcloud auth application-default login`; {NEEDS}")
    elif name == "ResourceExhausted" or "quota" in msg.lower():
        err = CloudError(f"GCP quota reached{where}: {msg} Request more quota or try another --gcp-region")
    elif name == "NotFound" and "project" in msg.lower():
        err = CloudError(f"GCP project not found{where}: check --gcp-project ({msg})")
    elif "deploying the model" in doing and _MODEL_SERVER.search(msg):
        err = StudentError(f"the model did not start on the Vertex container{where}: {msg}. It must load with the "
                           "container's scikit-learn (see predict.local and artifact.version)")
    else:
        err = CloudError(f"{name}{where}: {msg}")
    return type(err)(redact(str(err), known))


def _auth_error(name: str) -> type[Exception]:
    from google.auth import exceptions as gae
    cls: type[Exception] = getattr(gae, name)
    return cls


class GcpProvider:
    name = GCP

    def __init__(self, project: str | None, region: str = "us-central1", *, run_id: str, ledger: Ledger,
                 bucket: str | None = None, instance_type: str | None = None,
                 api_endpoint: str | None = None, storage_endpoint: str | None = None,
                 logging_endpoint: str | None = None,
                 credentials: Credentials | None = None, offline: bool = False, retry_initial_s: float = 1.0,
                 retry_timeout_s: float = 120.0, on_step: Callable[[str], None] | None = None):
        self.offline = offline or bool(api_endpoint)
        if self.offline and credentials is None:
            from google.auth.credentials import AnonymousCredentials
            credentials = AnonymousCredentials()
        self.region, self.run_id, self.ledger = region, run_id, ledger
        self.credentials: Credentials | None = credentials
        self._adc_project: str | None = None
        self.project = project or ("deploycheck-offline" if self.offline else self._default_project())
        self.bucket = bucket or f"{self.project}-deploycheck"
        self.instance_type = instance_type or costs.default_instance_type(GCP)
        self.api_endpoint, self.storage_endpoint = api_endpoint, storage_endpoint
        self.logging_endpoint = logging_endpoint
        self.on_step = on_step or (lambda step: None)
        from google.api_core import retry as gretry
        self.retry = gretry.Retry(predicate=gretry.if_transient_error, initial=retry_initial_s,
                                  maximum=max(retry_initial_s * 8, 1.0), multiplier=2.0, timeout=retry_timeout_s)
        self._storage: Any = None

    def _default_project(self) -> str:
        self._creds()
        if not self._adc_project:
            raise CloudError("no GCP project: pass --gcp-project (or run `gcloud config set project ID`)")
        return self._adc_project

    def _creds(self) -> Credentials:
        """The credentials in use: the offline anonymous ones, else Application Default Credentials."""
        if self.credentials is None:
            import google.auth
            try:
                self.credentials, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
            except Exception as e:  # noqa: BLE001
                raise self.translate(e, "reading the Application Default Credentials") from e
            self._adc_project = str(project) if project else None
        return self.credentials

    def translate(self, exc: BaseException, doing: str = "") -> CloudError:
        known = tuple(getattr(self.credentials, a, None) for a in ("token", "refresh_token", "client_secret"))
        return translate(exc, doing, known)

    # ------------------------------------------------------------------ clients
    def _init(self) -> ModuleType:
        import logging

        from google.cloud import aiplatform
        kw: dict[str, Any] = {"project": self.project, "location": self.region, "credentials": self._creds()}
        if self.api_endpoint:
            kw.update(api_endpoint=self.api_endpoint, api_transport="rest")
        logging.getLogger("google.cloud.aiplatform").setLevel(logging.WARNING)
        aiplatform.init(**kw)
        return aiplatform

    def storage(self) -> Any:
        if self._storage is None:
            import google.cloud.storage as storage
            kw: dict[str, Any] = {"project": self.project, "credentials": self._creds()}
            if self.storage_endpoint:
                kw["client_options"] = {"api_endpoint": self.storage_endpoint}
            self._storage = storage.Client(**kw)
        return self._storage

    def _call(self, fn: Callable[_P, _R], *a: _P.args, **kw: _P.kwargs) -> _R:
        return self.retry(fn)(*a, **kw)

    def _res(self, kind: str, name: str, student: str) -> Resource:
        return Resource(GCP, kind, name, self.region, self.run_id, student, time.time())

    def _create(self, created: list[Resource], student: str, kind: str, name: str) -> Resource:
        res = self._res(kind, name, student)
        self.ledger.will_create(res)
        created.append(res)
        return res

    @translated("checking the Google credentials")
    def identity(self) -> str:
        if self.offline:
            return f"anonymous (offline stand-ins), project {self.project}"
        import google.auth.transport.requests
        creds = self._creds()
        creds.refresh(google.auth.transport.requests.Request())
        who = getattr(creds, "service_account_email", None) or "user credentials"
        return f"{who}, project {self.project}, {self.region}"

    # ------------------------------------------------------------------ deploy
    def deploy(self, bundle: Bundle) -> Deployment:
        model_files = [f for f in bundle.model_files if Path(f).name in MODEL_NAMES]
        if len(model_files) != 1:
            raise StudentError("Vertex's prebuilt scikit-learn container needs exactly one model.joblib or model.pkl "
                               f"in {bundle.folder.name}/ (found {', '.join(bundle.model_files) or 'none'}).")
        name = resource_name(self.run_id, bundle.student, GCP)
        labels = tags(self.run_id, bundle.student)
        prefix = object_prefix(self.run_id, bundle.student) + "model/"
        created: list[Resource] = []
        step = "uploading the model file"
        try:
            aiplatform = self._init()
            data = (bundle.folder / model_files[0]).read_bytes()
            blob_name = prefix + Path(model_files[0]).name
            self._create(created, bundle.student, "gcs-object", f"gs://{self.bucket}/{blob_name}")
            self._upload(blob_name, data, labels)
            artifact_uri = f"gs://{self.bucket}/{prefix}"
            self.on_step("upload")
            step = "uploading the Vertex model"
            pending = self._create(created, bundle.student, "vertex-model", f"pending:{name}")
            model = self._call(aiplatform.Model.upload, display_name=name, artifact_uri=artifact_uri,
                               serving_container_image_uri=bundle.image.uri, labels=labels, sync=True)
            self._named(created, pending, model.resource_name)
            self.on_step("upload_model")
            step = "creating the endpoint"
            pending = self._create(created, bundle.student, "vertex-endpoint", f"pending:{name}")
            endpoint = self._call(aiplatform.Endpoint.create, display_name=name, labels=labels, sync=True)
            self._named(created, pending, endpoint.resource_name)
            self.on_step("create_endpoint")
            step = "deploying the model"
            started = time.monotonic()
            self._call(endpoint.deploy, model=model, deployed_model_display_name=name,
                       machine_type=self.instance_type, min_replica_count=1, max_replica_count=1, sync=True)
            self.on_step("deploy_model")
            return Deployment(GCP, bundle.student, self.run_id, self.region, endpoint.resource_name,
                              self.instance_type, bundle.image.uri, model=model.resource_name, artifact=artifact_uri,
                              resources=tuple(created), ready_s=round(time.monotonic() - started, 1))
        except BaseException as e:
            left: tuple[Resource, ...] = ()
            try:
                self.teardown_resources(tuple(created))
            except CloudError as te:   # the ledger and labels let sweep find the rest
                left = getattr(te, "remaining", tuple(created))
            if isinstance(e, Exception):
                err = self.translate(e, step)
                raise type(err)(f"{str(err).rstrip('.')}. {rollback_note(left, self.run_id)}") from e
            raise

    def _upload(self, blob_name: str, data: bytes, labels: dict[str, str]) -> None:
        from google.api_core import exceptions as gex
        blob = self.storage().bucket(self.bucket).blob(blob_name)
        blob.metadata = labels
        try:
            self._call(blob.upload_from_string, data, content_type="application/octet-stream")
        except gex.NotFound:        # no bucket yet: create it (needs storage.buckets.create), then upload
            self._call(self.storage().create_bucket, self.bucket, location=self.region)
            self._call(blob.upload_from_string, data, content_type="application/octet-stream")

    def _named(self, created: list[Resource], pending: Resource, real: str) -> None:
        """The create call returned the real resource name: ledger it and forget the placeholder."""
        res = self._res(pending.kind, real, pending.student)
        self.ledger.will_create(res)
        self.ledger.deleted(pending, note="renamed")
        created[created.index(pending)] = res

    # ------------------------------------------------------------------ predict
    @translated("priming the fake Vertex endpoint")
    def prime(self, deployment: Deployment, answer: Prediction) -> None:
        if not self.offline or not self.api_endpoint:
            raise CloudError("prime() is for the offline Vertex fake only: a real endpoint answers for itself")
        from deploycheck.cloud.offline import prime_vertex
        prime_vertex(self.api_endpoint, deployment.endpoint,
                     decode_answer(answer.response, answer.response_content_type))

    @translated("calling the endpoint's predict")
    def predict(self, deployment: Deployment, request: Request) -> Prediction:
        try:
            payload = json.loads(request.body)
        except ValueError as e:
            raise StudentError(f"the sample request is not JSON ({e}): Vertex expects {{\"instances\": [...]}}") from e
        instances = payload.get("instances") if isinstance(payload, dict) else payload
        params = payload.get("parameters") if isinstance(payload, dict) else None
        aiplatform = self._init()
        t0 = time.perf_counter()
        pred = self._call(aiplatform.Endpoint(deployment.endpoint).predict, instances=instances, parameters=params)
        ms = round((time.perf_counter() - t0) * 1000, 1)
        body = json.dumps({"predictions": _plain(list(pred.predictions)),
                           "deployedModelId": pred.deployed_model_id}).encode()
        return Prediction(mode="cloud", platform=GCP, ok=True, request=request, status=200, response=body,
                          response_content_type="application/json", latency_ms=ms, endpoint=deployment.endpoint,
                          runtime=deployment.image)

    # ------------------------------------------------------------------ teardown / sweep
    @translated("deleting")
    def delete(self, resource: Resource) -> bool:
        from google.api_core import exceptions as gex
        res = resource
        if res.name.startswith("pending:"):
            # created but never named (killed mid-call): find it by its labels
            found = [r for r in self.leftovers(res.run_id or None)
                     if r.kind == res.kind and r.student == label_value(res.student or "")]
            return any([self.delete(r) for r in found])
        try:
            if res.kind == "gcs-object":
                bucket, blob = res.name.removeprefix("gs://").split("/", 1)
                self._call(self.storage().bucket(bucket).blob(blob).delete)
            elif res.kind == "vertex-endpoint":
                aiplatform = self._init()
                self._call(aiplatform.Endpoint(res.name).delete, force=True, sync=True)   # undeploys first
            elif res.kind == "vertex-model":
                aiplatform = self._init()
                self._call(aiplatform.Model(res.name).delete, sync=True)
            else:
                raise CloudError(f"unknown GCP resource kind {res.kind}")
            return True
        except gex.NotFound:
            return False

    def teardown(self, deployment: Deployment) -> tuple[Resource, ...]:
        return self.teardown_resources(deployment.resources)

    def teardown_resources(self, resources: tuple[Resource, ...]) -> tuple[Resource, ...]:
        return delete_all(resources, self.delete, self.ledger.deleted,
                          f"deploycheck sweep --provider gcp --run-id {self.run_id}")

    @translated("listing Vertex AI and Cloud Storage")
    def leftovers(self, run_id: str | None = None, *, student: str | None = None,
                  older_than_s: float | None = None) -> list[Resource]:
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
                out.append(Resource(GCP, kind, item.resource_name, self.region, lb[RUN_TAG], lb.get(STUDENT_TAG, ""), ts))
        from google.api_core import exceptions as gex
        prefix = "deploycheck/" + (f"{want_run}/" if want_run else "")
        try:
            blobs = self._call(lambda: list(self.storage().list_blobs(self.bucket, prefix=prefix)))
        except gex.NotFound:
            blobs = []
        for blob in blobs:
            parts = blob.name.split("/")
            if want_student and (len(parts) < 3 or parts[2] != want_student):
                continue
            ts = blob.time_created.timestamp() if blob.time_created else None
            if older_than_s is not None and ts is not None and now - ts < older_than_s:
                continue
            out.append(Resource(GCP, "gcs-object", f"gs://{self.bucket}/{blob.name}", self.region,
                                parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "", ts))
        return sorted(out, key=deletion_order)

    # ------------------------------------------------------------------ audit
    def logging_client(self) -> Any:
        """Google's logging client for this project, over its HTTP/JSON transport (each entry's
        ``protoPayload`` then arrives as a dict); ``logging_endpoint`` points it elsewhere (tests: a
        local fake of the Logging API; the offline stand-ins keep no audit logs)."""
        from deploycheck.cloud.trail import reading_client
        kw: dict[str, Any] = {"project": self.project, "credentials": self._creds(), "_use_grpc": False}
        if self.logging_endpoint:
            kw["client_options"] = {"api_endpoint": self.logging_endpoint}
        return reading_client(**kw)

    @translated("reading the project's Admin Activity audit logs")
    def trail(self, start: datetime.datetime, end: datetime.datetime) -> TrailReport:
        """Vertex AI (and legacy AI Platform) models and endpoints created, deployed, undeployed and
        deleted between ``start`` and ``end``, from the Admin Activity audit logs
        (``logging.logEntries.list``; kept 400 days)."""
        from deploycheck.cloud import trail
        events = trail.gcp_events(self.logging_client(), self.project, start, end)
        return trail.TrailReport("gcp", f"GCP project {self.project}", start, end, tuple(trail.timelines(events)))

    @translated("auditing the project")
    def audit_account(self) -> list[BillableResource]:
        """Vertex endpoints with deployed models (they bill per node hour while idle), plus running
        Compute Engine VMs and Workbench instances listed over REST (google.auth AuthorizedSession;
        no further client library needed). Offline the REST part is skipped."""
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
        from google.api_core import exceptions as gex
        from google.auth.transport.requests import AuthorizedSession
        s = AuthorizedSession(self._creds())
        r = s.get(f"https://compute.googleapis.com/compute/v1/projects/{self.project}/aggregated/instances",
                  params={"filter": 'status = "RUNNING"'}, timeout=30)
        if r.status_code >= 400:
            raise gex.from_http_response(r)
        out: list[BillableResource] = []
        for zone, block in (r.json().get("items") or {}).items():
            for inst in block.get("instances", []):
                mtype = inst.get("machineType", "").rsplit("/", 1)[-1]
                labels = inst.get("labels") or {}
                kind = "workbench-instance" if any("workbench" in k or "notebook" in k for k in labels) else "gce-instance"
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
