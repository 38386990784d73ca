"""AWS SageMaker real-time endpoints with boto3 only (no SageMaker SDK).

What ``SKLearnModel(model_data=..., entry_point="inference.py", framework_version=...).deploy()``
does, step by step, so every resource is known and written to the ledger before it exists:

1. repack the model archive like the SDK (``sagemaker.utils.repack_model``): model files at the
   archive root, the entry point (and a ``requirements.txt`` beside it) under ``code/``;
2. upload it to S3 (``s3://<bucket>/deploycheck/<run id>/<student>/model.tar.gz``);
3. ``create_model`` with the bundle's serving image and the environment the SDK sets
   (``Model._script_mode_env_vars`` in sagemaker-python-sdk ``src/sagemaker/model.py``):
   ``SAGEMAKER_PROGRAM`` = entry point file name, ``SAGEMAKER_SUBMIT_DIRECTORY`` =
   ``/opt/ml/model/code``, ``SAGEMAKER_CONTAINER_LOG_LEVEL`` = ``20``, ``SAGEMAKER_REGION``;
4. ``create_endpoint_config`` (one variant "AllTraffic", 1 instance), ``create_endpoint``;
5. boto3's ``endpoint_in_service`` waiter.

Every call goes through botocore's retry handler (``standard`` mode, ``max_attempts``), which
retries throttling and 5xx answers. Every botocore error leaves this module as a one-line
:class:`CloudError` (:func:`translate`): :class:`AccessError` names the credentials or the IAM
action needed. Offline, the same code runs against moto (``endpoint_url`` of a ThreadedMotoServer,
or in-process ``mock_aws`` with ``endpoint_url=None, offline=True``).
"""
from __future__ import annotations

import datetime

import io
import json
import re
import secrets
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from deploycheck.cloud import costs
from deploycheck.cloud.base import (README_IAM, RUN_TAG, STUDENT_TAG, AccessError, BillableResource, Bundle,
                                    CloudError, Deployment, Resource, StudentError, decode_answer, delete_all,
                                    deletion_order, label_value, object_prefix, redact, resource_name, rollback_note,
                                    tags, translated)
from deploycheck.cloud.ledger import Ledger
from deploycheck.model import AWS, Prediction, Request

if TYPE_CHECKING:
    import boto3
    from botocore.exceptions import ClientError

    from deploycheck.cloud.trail import TrailReport

AwsService = Literal["s3", "sagemaker", "sagemaker-runtime", "sts", "ec2", "cloudtrail"]   # the services deploycheck calls
CODE_DIR = "/opt/ml/model/code"
LOG_LEVEL_INFO = "20"
# What the identity running deploycheck must be allowed (README.md 'IAM permissions' lists exactly these).
REQUIRED_ACTIONS = (
    "sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:AddTags",
    "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:InvokeEndpoint",
    "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel",
    "sagemaker:ListEndpoints", "sagemaker:ListEndpointConfigs", "sagemaker:ListModels", "sagemaker:ListTags",
    "sagemaker:ListNotebookInstances", "ec2:DescribeInstances",
    "s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket", "s3:CreateBucket",
    "iam:PassRole")
NEEDS = ("deploycheck needs sagemaker:CreateModel/CreateEndpointConfig/CreateEndpoint/InvokeEndpoint/Delete*/List*, "
         f"s3:PutObject/GetObject/DeleteObject/ListBucket and iam:PassRole on the --aws-role-arn role (see {README_IAM})")
_OPERATION_SERVICE = {"PutObject": "s3", "DeleteObject": "s3", "ListObjectsV2": "s3", "CreateBucket": "s3",
                      "HeadBucket": "s3", "HeadObject": "s3", "GetCallerIdentity": "sts", "DescribeInstances": "ec2"}


# ---------------------------------------------------------------------- errors
_ACTION_RE = re.compile(r"not authorized to perform:?\s*([\w-]+:[\w*]+)(?:\s+on resource:?\s*(\S+))?", re.I)
_XML_ERROR = re.compile(r"<Code>(?P<code>\w+)</Code>\s*<Message>(?P<message>[^<]*)</Message>")
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError")
_EXPIRED = ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired")
_REJECTED = ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidAccessKeyId",
             "AuthFailure", "InvalidToken")


def translate(exc: BaseException, doing: str = "", known: tuple[str | None, ...] = ()) -> CloudError:
    """A one-line :class:`CloudError` for a boto3 error; never holds a credential value (``known``:
    the credentials in use, redacted wherever they appear)."""
    from botocore import exceptions as bex
    if isinstance(exc, CloudError):
        return exc
    where = f" while {doing}" if doing else ""
    err: CloudError
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        err = AccessError("no AWS credentials found: run `aws configure` (or `aws sso login`, or set AWS_PROFILE); "
                          + NEEDS)
    elif isinstance(exc, bex.ProfileNotFound):
        err = AccessError(f"{exc}: fix AWS_PROFILE or run `aws configure --profile NAME`; {NEEDS}")
    elif isinstance(exc, (bex.TokenRetrievalError, bex.SSOTokenLoadError, bex.UnauthorizedSSOTokenError,
                          bex.SSOError, bex.CredentialRetrievalError)):
        err = AccessError("the AWS SSO session or credential source has expired or failed: run `aws sso login` "
                          f"(or refresh the credentials) and run again; {NEEDS}")
    elif isinstance(exc, bex.NoRegionError):
        err = CloudError("no AWS region set: pass --aws-region (e.g. us-east-1) or set AWS_DEFAULT_REGION")
    elif isinstance(exc, bex.EndpointConnectionError):
        err = CloudError(f"cannot reach the AWS endpoint{where} ({exc}): check the network and --aws-region")
    elif isinstance(exc, bex.ClientError):
        err = _client_error(exc, where)
    else:
        err = CloudError(f"{type(exc).__name__}{where}: {exc}")
    return type(err)(redact(str(err), known))


def _client_error(exc: ClientError, where: str) -> CloudError:
    e = exc.response.get("Error", {})
    code, msg = str(e.get("Code", "?")), str(e.get("Message", ""))
    op = getattr(exc, "operation_name", "") or ""
    if code.isdigit() and (xml := _XML_ERROR.search(msg)):     # an XML error body botocore did not parse
        code, msg = xml["code"], xml["message"]
    if code in _DENIED or "not authorized" in msg:
        m = _ACTION_RE.search(msg)
        perm = m[1] if m else (f"{_OPERATION_SERVICE.get(op, 'sagemaker')}:{op}" if op else "(see the AWS message)")
        on = f" on {m[2]}" if m and m[2] else ""
        return AccessError(f"missing IAM permission {perm}{on}{where}: add it to the policy of the identity running "
                           f"deploycheck (see {README_IAM})")
    if code in _EXPIRED or "expired" in msg.lower() and "token" in msg.lower():
        return AccessError(f"the AWS credentials have expired ({code}): refresh them (`aws sso login`, or new "
                           f"temporary keys) and run again; {NEEDS}")
    if code in _REJECTED:
        return AccessError(f"the AWS credentials were rejected ({code}): run `aws configure` again or fix "
                           f"AWS_PROFILE; {NEEDS}")
    if code in ("401", "403"):
        return AccessError(f"AWS refused the request (HTTP {code}){where}: check the credentials; {NEEDS}")
    if "assume" in msg.lower() and "role" in msg.lower():
        return AccessError(f"SageMaker cannot assume the execution role{where}: pass --aws-role-arn with a role whose "
                           f"trust policy allows sagemaker.amazonaws.com and that can read the model bucket ({msg})")
    if code == "ModelError":
        return StudentError(f"the endpoint's container answered an error{where}: {msg} The entry point's handlers "
                            "(input_fn/predict_fn/output_fn) fail on the sample request; predict.local shows how.")
    if code == "ResourceLimitExceeded":
        return CloudError(f"AWS quota reached{where}: {msg} Request a quota increase in Service Quotas, or use an "
                          "allowed instance type with quota (--instance-type)")
    return CloudError(f"{op or 'the call'} failed{where}: {code}: {msg}")


# ---------------------------------------------------------------------- archive
def _safe_members(data: bytes) -> list[tuple[str, bytes]]:
    """Regular files of a (student) model.tar.gz, refusing links, absolute and ``..`` paths."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for m in tar.getmembers():
            name = m.name[2:] if m.name.startswith("./") else m.name
            if m.isdir():
                continue
            if not m.isfile() or name.startswith("/") or ".." in Path(name).parts:
                raise StudentError(f"model.tar.gz member {m.name!r} is a link or leaves the archive: rebuild it with "
                                   "only regular files at the archive root (tar -czf model.tar.gz model.joblib).")
            if name.startswith("code/"):
                continue  # replaced by the entry point we pack, as the SDK's repack does
            fh = tar.extractfile(m)
            out.append((name, fh.read() if fh else b""))
    return out


def build_model_archive(bundle: Bundle) -> bytes:
    """The archive SKLearnModel would deploy: model files at the root, code under ``code/``.
    Deterministic (mtime 0, sorted) so the same folder gives the same bytes."""
    from deploycheck.analysis.artifact import make_tar_gz
    members: dict[str, bytes] = {}
    if bundle.model_archive:
        members.update(_safe_members(_read(bundle.folder, bundle.model_archive)))
    for rel in bundle.model_files:
        members.setdefault(Path(rel).name, _read(bundle.folder, rel))
    if not members:
        raise StudentError(f"nothing to deploy in {bundle.folder.name}/: no model.tar.gz or model file found.")
    if bundle.entry_point:
        members["code/" + Path(bundle.entry_point).name] = _read(bundle.folder, bundle.entry_point)
    if bundle.requirements:
        members["code/requirements.txt"] = _read(bundle.folder, bundle.requirements)
    return make_tar_gz(members)


def _read(folder: Path, rel: str) -> bytes:
    p = folder / rel
    if p.is_symlink() or not p.is_file():
        raise StudentError(f"{folder.name}/{rel} is missing or a symlink: add the real file to the folder.")
    return p.read_bytes()


# ---------------------------------------------------------------------- provider
class AwsProvider:
    name = AWS

    def __init__(self, region: str = "us-east-1", *, run_id: str, ledger: Ledger,
                 role_arn: str | None = None, bucket: str | None = None, instance_type: str | None = None,
                 endpoint_url: str | None = None, offline: bool = False,
                 retry_mode: Literal["legacy", "standard", "adaptive"] = "standard", max_attempts: int = 5,
                 wait_timeout_s: float = 1800.0, on_step: Callable[[str], None] | None = None,
                 session: boto3.Session | None = None):
        import boto3
        from botocore.config import Config
        self.region, self.run_id, self.ledger = region, run_id, ledger
        self.role_arn, self.bucket = role_arn, bucket
        self.instance_type = instance_type or costs.default_instance_type(AWS)
        self.endpoint_url, self.offline = endpoint_url, offline or bool(endpoint_url)
        self.wait_timeout_s = wait_timeout_s
        self.wait_delay_s = 1.0 if self.offline else 15.0      # moto is InService at once: no wait
        self.on_step = on_step or (lambda step: None)
        if session is None:
            if self.offline:   # moto: dummy credentials, never the real chain
                session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        aws_session_token="testing", region_name=region)
            else:
                session = boto3.Session(region_name=region)
        self.session = session
        self.config = Config(region_name=region, retries={"mode": retry_mode, "max_attempts": max_attempts},
                             connect_timeout=10, read_timeout=70)
        self._clients: dict[str, Any] = {}
        self._account: str | None = None

    def client(self, service: AwsService) -> Any:
        """The botocore client of ``service`` (Any: botocore builds clients at run time, and the
        per-service stub packages are not installed)."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service, config=self.config, endpoint_url=self.endpoint_url)
        return self._clients[service]

    @property
    def sm(self) -> Any:
        return self.client("sagemaker")

    def translate(self, exc: BaseException, doing: str = "") -> CloudError:
        return translate(exc, doing, self.known_secrets())

    def known_secrets(self) -> tuple[str | None, ...]:
        try:
            c = self.session.get_credentials()
            return (c.access_key, c.secret_key, c.token) if c is not None else ()
        except Exception:  # noqa: BLE001 - no credentials: nothing to redact
            return ()

    # ------------------------------------------------------------------ identity and settings
    @translated("checking the AWS credentials")
    def identity(self) -> str:
        me = self.client("sts").get_caller_identity()
        self._account = me["Account"]
        return f"{me['Arn']} (account {me['Account']}, {self.region})"

    def _account_id(self) -> str:
        if self._account is None:
            self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account

    def _role(self) -> str:
        if self.role_arn:
            return self.role_arn
        if self.offline:
            return f"arn:aws:iam::{self._account_id()}:role/deploycheck-offline"
        raise CloudError("no SageMaker execution role: pass --aws-role-arn arn:aws:iam::<account>:role/<name> "
                         "(a role sagemaker.amazonaws.com may assume, with read access to the model bucket)")

    def _bucket(self) -> str:
        if not self.bucket:
            self.bucket = f"deploycheck-{self._account_id()}-{self.region}"
        from botocore.exceptions import ClientError
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=self.bucket)
        except ClientError as e:  # 404 -> create (an empty bucket costs nothing; not ledgered)
            if e.response.get("Error", {}).get("Code", "") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            kw = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            s3.create_bucket(Bucket=self.bucket, **kw)
        return self.bucket

    def _res(self, kind: str, name: str, student: str) -> Resource:
        return Resource(AWS, kind, name, self.region, self.run_id, student, time.time())

    # ------------------------------------------------------------------ deploy
    def deploy(self, bundle: Bundle) -> Deployment:
        name = resource_name(self.run_id, bundle.student, AWS)
        t = tags(self.run_id, bundle.student)
        aws_tags = [{"Key": k, "Value": v} for k, v in t.items()]
        created: list[Resource] = []
        try:
            archive = build_model_archive(bundle)
            role = self._role()
            bucket = self._bucket()
            key = object_prefix(self.run_id, bundle.student) + "model.tar.gz"
            self._create(created, bundle.student, "s3-object", f"s3://{bucket}/{key}", lambda: self.client("s3").put_object(
                Bucket=bucket, Key=key, Body=archive, Tagging="&".join(f"{k}={v}" for k, v in t.items())))
            self.on_step("upload")
            env = {"SAGEMAKER_PROGRAM": Path(bundle.entry_point).name if bundle.entry_point else "",
                   "SAGEMAKER_SUBMIT_DIRECTORY": CODE_DIR, "SAGEMAKER_CONTAINER_LOG_LEVEL": LOG_LEVEL_INFO,
                   "SAGEMAKER_REGION": self.region}
            self._create(created, bundle.student, "sagemaker-model", name, lambda: self.sm.create_model(
                ModelName=name, ExecutionRoleArn=role, Tags=aws_tags,
                PrimaryContainer={"Image": bundle.image.uri, "ModelDataUrl": f"s3://{bucket}/{key}", "Environment": env}))
            self.on_step("create_model")
            self._create(created, bundle.student, "sagemaker-endpoint-config", name, lambda: self.sm.create_endpoint_config(
                EndpointConfigName=name, Tags=aws_tags, ProductionVariants=[{
                    "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
                    "InstanceType": self.instance_type}]))
            self.on_step("create_endpoint_config")
            self._create(created, bundle.student, "sagemaker-endpoint", name, lambda: self.sm.create_endpoint(
                EndpointName=name, EndpointConfigName=name, Tags=aws_tags))
            self.on_step("create_endpoint")
            started = time.monotonic()
            self._wait_in_service(name)
            return Deployment(AWS, bundle.student, self.run_id, self.region, name, self.instance_type,
                              bundle.image.uri, model=name, artifact=f"s3://{bucket}/{key}", resources=tuple(created),
                              ready_s=round(time.monotonic() - started, 1))
        except BaseException as e:   # incl. KeyboardInterrupt/SystemExit: never leave a half deployment
            left = self._rollback(created)
            if isinstance(e, Exception):
                err = self.translate(e, "deploying to SageMaker")
                raise type(err)(f"{str(err).rstrip('.')}. {rollback_note(left, self.run_id)}") from e
            raise

    def _create(self, created: list[Resource], student: str, kind: str, name: str, call: Callable[[], object]) -> None:
        res = self._res(kind, name, student)
        self.ledger.will_create(res)           # BEFORE the call: a kill right after it is still swept
        created.append(res)
        call()

    def _rollback(self, created: list[Resource]) -> tuple[Resource, ...]:
        try:
            self.teardown_resources(tuple(created))
            return ()
        except CloudError as e:
            return getattr(e, "remaining", tuple(created))

    def _wait_in_service(self, name: str) -> None:
        from botocore.exceptions import WaiterError
        attempts = max(1, int(self.wait_timeout_s / self.wait_delay_s))
        try:
            self.sm.get_waiter("endpoint_in_service").wait(
                EndpointName=name, WaiterConfig={"Delay": self.wait_delay_s, "MaxAttempts": attempts})
        except WaiterError as e:
            reason = str((e.last_response or {}).get("FailureReason", ""))
            logs = f"Check the CloudWatch log group /aws/sagemaker/Endpoints/{name}."
            if reason and "capacity" not in reason.lower():
                raise StudentError(f"endpoint {name} failed to start: {reason}. {logs} model_fn must load the model "
                                   "with the image's scikit-learn (see predict.local and artifact.version)") from e
            raise CloudError(f"endpoint {name} did not reach InService within {self.wait_timeout_s:.0f} s"
                             + (f": {reason}" if reason else "") + f". {logs}") from e

    # ------------------------------------------------------------------ predict
    @translated("priming moto's answer")
    def prime(self, deployment: Deployment, answer: Prediction) -> None:
        if not self.offline:
            raise CloudError("prime() is for moto only: a real endpoint answers for itself")
        from deploycheck.cloud.offline import prime_sagemaker
        body, ctype = answer.response, answer.response_content_type or "application/json"
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:   # moto keeps text bodies: binary (NPY) answers are primed as JSON
            body, ctype = json.dumps(decode_answer(body, ctype)).encode(), "application/json"
        prime_sagemaker(self.endpoint_url, self.region, body, ctype)

    @translated("invoking the endpoint")
    def predict(self, deployment: Deployment, request: Request) -> Prediction:
        t0 = time.perf_counter()
        # a fresh InferenceId per call (SageMaker's request id for data capture) also keeps moto from
        # answering from its cache of an earlier endpoint's answer to the same body
        # a header the documented request does not set is not sent (as `aws sagemaker-runtime
        # invoke-endpoint` without --content-type/--accept), never sent empty
        headers = {k: v for k, v in (("ContentType", request.content_type), ("Accept", request.accept)) if v}
        r = self.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=deployment.endpoint, Body=request.body, **headers,
            InferenceId=f"deploycheck-{label_value(self.run_id)}-{secrets.token_hex(6)}"[:64])
        body = r["Body"].read()
        return Prediction(mode="cloud", platform=AWS, ok=True, request=request, status=200, response=body,
                          response_content_type=r.get("ContentType", ""),
                          latency_ms=round((time.perf_counter() - t0) * 1000, 1), endpoint=deployment.endpoint,
                          runtime=deployment.image)

    # ------------------------------------------------------------------ teardown / sweep
    @translated("deleting")
    def delete(self, resource: Resource) -> bool:
        from botocore.exceptions import ClientError
        res = resource
        try:
            if res.kind == "sagemaker-endpoint":
                self.sm.delete_endpoint(EndpointName=res.name)
            elif res.kind == "sagemaker-endpoint-config":
                self.sm.delete_endpoint_config(EndpointConfigName=res.name)
            elif res.kind == "sagemaker-model":
                self.sm.delete_model(ModelName=res.name)
            elif res.kind == "s3-object":
                bucket, key = res.name.removeprefix("s3://").split("/", 1)
                s3 = self.client("s3")
                try:
                    s3.head_object(Bucket=bucket, Key=key)
                except ClientError as e:
                    if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
                        return False
                    raise
                s3.delete_object(Bucket=bucket, Key=key)
            else:
                raise CloudError(f"unknown AWS resource kind {res.kind}")
            return True
        except ClientError as e:
            msg, code = e.response.get("Error", {}).get("Message", ""), e.response.get("Error", {}).get("Code", "")
            if code in ("ResourceNotFound", "NoSuchKey", "NoSuchBucket", "404") or "Could not find" in msg \
                    or "does not exist" in msg:
                return False
            raise

    def teardown(self, deployment: Deployment) -> tuple[Resource, ...]:
        return self.teardown_resources(deployment.resources)

    def teardown_resources(self, resources: tuple[Resource, ...]) -> tuple[Resource, ...]:
        return delete_all(resources, self.delete, self.ledger.deleted, f"deploycheck sweep --run-id {self.run_id}")

    @translated("listing SageMaker and S3")
    def leftovers(self, run_id: str | None = None, *, student: str | None = None,
                  older_than_s: float | None = None) -> list[Resource]:
        sm = self.sm
        want_run = label_value(run_id) if run_id else None
        want_student = label_value(student) if student else None
        now = time.time()
        out: list[Resource] = []
        specs = [("sagemaker-endpoint", "list_endpoints", "Endpoints", "EndpointName", "EndpointArn"),
                 ("sagemaker-endpoint-config", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName",
                  "EndpointConfigArn"),
                 ("sagemaker-model", "list_models", "Models", "ModelName", "ModelArn")]
        for kind, op, key, name_key, arn_key in specs:
            for page in sm.get_paginator(op).paginate(NameContains="dc-"):
                for item in page.get(key, []):
                    tg = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=item[arn_key]).get("Tags", [])}
                    if RUN_TAG not in tg or (want_run and tg[RUN_TAG] != want_run) \
                            or (want_student and tg.get(STUDENT_TAG) != want_student):
                        continue
                    created = item.get("CreationTime")
                    ts = created.timestamp() if hasattr(created, "timestamp") else None
                    if older_than_s is not None and ts is not None and now - ts < older_than_s:
                        continue
                    out.append(Resource(AWS, kind, item[name_key], self.region, tg[RUN_TAG], tg.get(STUDENT_TAG, ""), ts))
        out.extend(self._s3_leftovers(want_run, want_student, older_than_s, now))
        return sorted(out, key=deletion_order)

    def _s3_leftovers(self, run: str | None, student: str | None, older_than_s: float | None,
                      now: float) -> list[Resource]:
        from botocore.exceptions import ClientError
        bucket = self.bucket or f"deploycheck-{self._account_id()}-{self.region}"
        prefix = "deploycheck/" + (f"{run}/" if run else "") + (f"{student}/" if run and student else "")
        out = []
        try:
            for page in self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    parts = obj["Key"].split("/")
                    if student and (len(parts) < 3 or parts[2] != student):
                        continue
                    ts = obj["LastModified"].timestamp()
                    if older_than_s is not None and now - ts < older_than_s:
                        continue
                    out.append(Resource(AWS, "s3-object", f"s3://{bucket}/{obj['Key']}", self.region,
                                        parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "", ts))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("NoSuchBucket", "404"):
                raise
        return out

    # ------------------------------------------------------------------ audit
    @translated("reading the account's CloudTrail event history")
    def trail(self, start: datetime.datetime, end: datetime.datetime) -> TrailReport:
        """SageMaker's models, endpoint configurations and endpoints created and deleted between
        ``start`` and ``end``, from CloudTrail's event history (``cloudtrail:LookupEvents``; the last
        90 days, this region)."""
        from deploycheck.cloud import trail
        events = trail.aws_events(self.client("cloudtrail"), start, end)
        return trail.TrailReport("aws", f"AWS {self.region}", start, end, tuple(trail.timelines(events)))

    @translated("auditing the account")
    def audit_account(self) -> list[BillableResource]:
        """Everything in the region that bills by the hour while idle: SageMaker endpoints,
        notebook instances that are not stopped, running EC2 instances."""
        sm = self.sm
        out: list[BillableResource] = []
        for page in sm.get_paginator("list_endpoints").paginate():
            for ep in page.get("Endpoints", []):
                if ep.get("EndpointStatus") in ("Deleting", "Failed"):
                    continue
                itype, count = self._endpoint_type(ep["EndpointName"])
                price = costs.hourly("sagemaker-endpoint", itype)
                out.append(BillableResource("sagemaker-endpoint", ep["EndpointName"], itype,
                                            price * count if price is not None else None, self.region,
                                            ep.get("EndpointStatus", "")))
        for page in sm.get_paginator("list_notebook_instances").paginate():
            for nb in page.get("NotebookInstances", []):
                if nb.get("NotebookInstanceStatus") in ("Stopped", "Deleting", "Failed"):
                    continue
                itype = nb.get("InstanceType", "?")
                out.append(BillableResource("sagemaker-notebook", nb["NotebookInstanceName"], itype,
                                            costs.hourly("sagemaker-notebook", itype), self.region,
                                            nb.get("NotebookInstanceStatus", "")))
        for page in self.client("ec2").get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]):
            for rsv in page.get("Reservations", []):
                for inst in rsv.get("Instances", []):
                    label = next((t["Value"] for t in inst.get("Tags", []) if t["Key"] == "Name"), "")
                    itype = inst.get("InstanceType", "?")
                    out.append(BillableResource("ec2-instance", inst["InstanceId"] + (f" ({label})" if label else ""),
                                                itype, costs.hourly("ec2-instance", itype), self.region,
                                                inst.get("State", {}).get("Name", "")))
        return out

    def _endpoint_type(self, endpoint: str) -> tuple[str, int]:
        from botocore.exceptions import ClientError
        try:
            d = self.sm.describe_endpoint(EndpointName=endpoint)
            v = self.sm.describe_endpoint_config(EndpointConfigName=d["EndpointConfigName"])["ProductionVariants"][0]
            return (v.get("InstanceType") or ("serverless" if v.get("ServerlessConfig") else "?"),
                    int(v.get("InitialInstanceCount") or 1))
        except ClientError:      # config already gone: still billable
            return "?", 1

