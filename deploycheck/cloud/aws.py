"""AWS SageMaker real-time endpoints with boto3 only (no SageMaker SDK).

What ``SKLearnModel(model_data=..., entry_point="inference.py", framework_version=...).deploy()``
does, step by step, so every resource is known and written to the ledger before it exists:

1. repack the model archive like the SDK (``sagemaker.utils.repack_model``): model files at the
   archive root, the entry point (and a ``requirements.txt`` beside it) under ``code/``;
2. upload it to S3 (``s3://<bucket>/deploycheck/<run id>/<student>/model.tar.gz``);
3. ``create_model`` with the scikit-learn serving image for the region and ``framework_version``
   and the environment the SDK sets (``Model._script_mode_env_vars`` in sagemaker-python-sdk
   ``src/sagemaker/model.py``): ``SAGEMAKER_PROGRAM`` = entry point file name,
   ``SAGEMAKER_SUBMIT_DIRECTORY`` = ``/opt/ml/model/code`` (code repacked into the model),
   ``SAGEMAKER_CONTAINER_LOG_LEVEL`` = ``20`` (logging.INFO), ``SAGEMAKER_REGION``;
4. ``create_endpoint_config`` (one variant "AllTraffic", 1 instance), ``create_endpoint``;
5. wait with the ``endpoint_in_service`` waiter (bounded by ``wait_timeout_s``).

``teardown`` deletes endpoint, endpoint config, model and the S3 object (newest first), tolerating
"already gone". Every call goes through botocore's retry handler (``standard`` or ``adaptive``
mode, ``max_attempts``), which retries throttling and 5xx answers.

Offline, the same code runs against moto (``endpoint_url`` of a ``ThreadedMotoServer`` or in-process
``mock_aws``); :meth:`AwsProvider.prime_offline_result` tells moto what ``invoke_endpoint`` answers.
"""
from __future__ import annotations

import io
import json
import re
import tarfile
import time
from pathlib import Path
from typing import Any, Callable

from deploycheck.artifacts import make_tar_gz
from deploycheck.cloud import costs
from deploycheck.cloud.base import (RUN_TAG, STUDENT_TAG, BillableResource, Bundle, CloudError, Deployment,
                                    Request, Resource, label_value, resource_name, tags, teardown_resources)
from deploycheck.cloud.ledger import Ledger

PROVIDER = "aws"
CODE_DIR = "/opt/ml/model/code"
LOG_LEVEL_INFO = "20"

def image_uri(region: str, framework_version: str) -> str:
    """The serving image ``SKLearnModel`` would use (deploycheck.runtimes.catalog owns the table)."""
    from deploycheck.runtimes import catalog
    try:
        return catalog.sagemaker_image_uri(region, framework_version)
    except ValueError as e:
        raise CloudError(f"{e}: use --aws-region us-east-1 (or another region with the image) and a "
                         f"framework_version of {', '.join(catalog.SAGEMAKER_SKLEARN)}.") from e


# ---------------------------------------------------------------------- archive
def _safe_members(data: bytes) -> list[tuple[str, bytes]]:
    """Regular files of a (student) model.tar.gz, refusing links, absolute and ``..`` paths."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for m in tar.getmembers():
            name = m.name.lstrip("./") if m.name.startswith("./") else m.name
            if m.isdir():
                continue
            if not m.isfile() or name.startswith("/") or ".." in Path(name).parts:
                raise CloudError(f"model.tar.gz member {m.name!r} is a link or leaves the archive: "
                                 "rebuild it with only regular files at the archive root (tar -czf model.tar.gz model.joblib).")
            if name.startswith("code/"):
                continue  # replaced by the entry point we pack, as the SDK's repack does
            fh = tar.extractfile(m)
            out.append((name, fh.read() if fh else b""))
    return out


def build_model_archive(bundle: Bundle) -> bytes:
    """The archive SKLearnModel would deploy: model files at the root, code under ``code/``.
    Deterministic (mtime 0, sorted) so the same folder gives the same bytes."""
    members: dict[str, bytes] = {}
    folder = bundle.folder
    if bundle.model_archive:
        members.update(_safe_members(_read(folder, bundle.model_archive)))
    for rel in bundle.model_files:
        members.setdefault(Path(rel).name, _read(folder, rel))
    if not members:
        raise CloudError(f"nothing to deploy in {folder.name}/: no model.tar.gz or model file found.")
    if bundle.entry_point:
        members["code/" + Path(bundle.entry_point).name] = _read(folder, bundle.entry_point)
    if bundle.requirements:
        members["code/requirements.txt"] = _read(folder, bundle.requirements)
    return make_tar_gz(members)


def _read(folder: Path, rel: str) -> bytes:
    p = folder / rel
    if p.is_symlink() or not p.is_file():
        raise CloudError(f"{folder.name}/{rel} is missing or a symlink: add the real file to the folder.")
    return p.read_bytes()


# ---------------------------------------------------------------------- errors
_ACTION_RE = re.compile(r"not authorized to perform:?\s*([\w-]+:[\w*]+)(?:\s+on resource:?\s*(\S+))?", re.I)


def explain(exc: BaseException, doing: str = "") -> str:
    """A one-sentence explanation of a boto3 error, naming the missing permission or setting.
    Never includes credential values (only what AWS put in its error message)."""
    from botocore import exceptions as bex
    where = f" while {doing}" if doing else ""
    if isinstance(exc, CloudError):
        return str(exc)
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return "no AWS credentials found: run `aws configure` or set AWS_PROFILE (deploycheck never reads keys from the repo)."
    if isinstance(exc, bex.ProfileNotFound):
        return f"AWS profile not found ({exc}): fix AWS_PROFILE or run `aws configure --profile NAME`."
    if isinstance(exc, bex.NoRegionError):
        return "no AWS region set: pass --aws-region (e.g. us-east-1) or set AWS_DEFAULT_REGION."
    if isinstance(exc, bex.EndpointConnectionError):
        return f"cannot reach the AWS endpoint{where} ({exc}): check the network and --aws-region."
    if isinstance(exc, bex.WaiterError):
        return f"waiting{where} failed: {exc}"
    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {})
        code, msg = err.get("Code", "?"), err.get("Message", "")
        op = getattr(exc, "operation_name", "") or "the call"
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError") \
                or "not authorized" in msg:
            m = _ACTION_RE.search(msg)
            perm = m[1] if m else _permission_for(op)
            on = f" on {m[2]}" if m and m[2] else ""
            return (f"missing IAM permission {perm}{on}{where}: add it to the policy of the identity running "
                    f"deploycheck (see reference_deploys/README.md, 'IAM permissions').")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return "the AWS session token has expired: refresh it (e.g. `aws sso login`) and run again."
        if code in ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"):
            return "the AWS credentials were rejected (invalid key id or secret): run `aws configure` again."
        if "assume" in msg.lower() and "role" in msg.lower():
            return (f"SageMaker cannot assume the execution role{where}: pass --aws-role-arn with a role whose trust "
                    f"policy allows sagemaker.amazonaws.com and that can read the model bucket ({msg}).")
        if code == "ResourceLimitExceeded":
            return (f"AWS quota reached{where}: {msg} Request a quota increase in Service Quotas, or use an "
                    "allowed instance type with quota (--instance-type).")
        return f"{op} failed{where}: {code}: {msg}"
    return f"{type(exc).__name__}{where}: {exc}"


def _permission_for(op: str) -> str:
    svc = {"PutObject": "s3", "DeleteObject": "s3", "ListObjectsV2": "s3", "CreateBucket": "s3",
           "HeadBucket": "s3", "GetCallerIdentity": "sts", "DescribeInstances": "ec2",
           "InvokeEndpoint": "sagemaker"}.get(op, "sagemaker")
    return f"{svc}:{op}" if op and op != "the call" else "(unknown action)"


# ---------------------------------------------------------------------- provider
class AwsProvider:
    name = PROVIDER

    def __init__(self, region: str = "us-east-1", *, run_id: str, ledger: Ledger,
                 role_arn: str | None = None, bucket: str | None = None, instance_type: str | None = None,
                 endpoint_url: str | None = None, offline: bool = False,
                 retry_mode: str = "standard", max_attempts: int = 5, wait_timeout_s: float = 1800.0,
                 wait_delay_s: float | None = None, on_step: Callable[[str], None] | None = None,
                 session: Any = None):
        import boto3
        from botocore.config import Config
        self.region, self.run_id, self.ledger = region, run_id, ledger
        self.role_arn, self.bucket = role_arn, bucket
        self.instance_type = instance_type or costs.default_instance_type(PROVIDER)
        self.endpoint_url, self.offline = endpoint_url, offline or bool(endpoint_url)
        self.wait_timeout_s = wait_timeout_s
        self.wait_delay_s = wait_delay_s if wait_delay_s is not None else (0.2 if self.offline else 15.0)
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

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, config=self.config, endpoint_url=self.endpoint_url)
        return self._clients[service]

    @property
    def sm(self):
        return self.client("sagemaker")

    # ------------------------------------------------------------------ settings
    def account_id(self) -> str:
        if "_acct" not in self.__dict__:
            self._acct = self.client("sts").get_caller_identity()["Account"]
        return self._acct

    def _role(self) -> str:
        if self.role_arn:
            return self.role_arn
        if self.offline:
            return f"arn:aws:iam::{self.account_id()}:role/deploycheck-offline"
        raise CloudError("no SageMaker execution role: pass --aws-role-arn arn:aws:iam::<account>:role/<name> "
                         "(a role sagemaker.amazonaws.com may assume, with read access to the model bucket).")

    def _bucket(self) -> str:
        if not self.bucket:
            self.bucket = f"deploycheck-{self.account_id()}-{self.region}"
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=self.bucket)
        except Exception as e:  # noqa: BLE001 - 404 -> create (empty buckets cost nothing; not ledgered)
            code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise
            kw = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            s3.create_bucket(Bucket=self.bucket, **kw)
        return self.bucket

    def _res(self, kind: str, name: str, student: str) -> Resource:
        return Resource(PROVIDER, kind, name, self.region, self.run_id, student, time.time())

    # ------------------------------------------------------------------ deploy
    def deploy(self, bundle: Bundle) -> Deployment:
        if not bundle.framework_version and not bundle.image_uri:
            raise CloudError("no framework_version: say which SageMaker scikit-learn image serves the model "
                             "(SKLearnModel(..., framework_version=\"1.2-1\")).")
        image = bundle.image_uri or image_uri(self.region, bundle.framework_version or "")
        name = resource_name(self.run_id, bundle.student, "aws")
        t = tags(self.run_id, bundle.student)
        aws_tags = [{"Key": k, "Value": v} for k, v in t.items()]
        dep = Deployment(PROVIDER, bundle.student, bundle.platform, self.run_id, self.region,
                         endpoint=name, instance_type=self.instance_type)
        try:
            archive = build_model_archive(bundle)
            role = self._role()
            bucket = self._bucket()
            key = f"deploycheck/{label_value(self.run_id)}/{label_value(bundle.student)}/model.tar.gz"
            dep.ids.update(bucket=bucket, key=key, model=name, config=name, endpoint=name)
            self._create(dep, "s3-object", f"s3://{bucket}/{key}", lambda: self.client("s3").put_object(
                Bucket=bucket, Key=key, Body=archive, Tagging="&".join(f"{k}={v}" for k, v in t.items())))
            self.on_step("upload")
            env = {"SAGEMAKER_PROGRAM": Path(bundle.entry_point).name if bundle.entry_point else "",
                   "SAGEMAKER_SUBMIT_DIRECTORY": CODE_DIR,
                   "SAGEMAKER_CONTAINER_LOG_LEVEL": LOG_LEVEL_INFO,
                   "SAGEMAKER_REGION": self.region}
            self._create(dep, "sagemaker-model", name, lambda: self.sm.create_model(
                ModelName=name, ExecutionRoleArn=role, Tags=aws_tags,
                PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{bucket}/{key}", "Environment": env}))
            self.on_step("create_model")
            self._create(dep, "sagemaker-endpoint-config", name, lambda: self.sm.create_endpoint_config(
                EndpointConfigName=name, Tags=aws_tags, ProductionVariants=[{
                    "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
                    "InstanceType": self.instance_type}]))
            self.on_step("create_endpoint_config")
            self._create(dep, "sagemaker-endpoint", name, lambda: self.sm.create_endpoint(
                EndpointName=name, EndpointConfigName=name, Tags=aws_tags))
            self.on_step("create_endpoint")
            self._wait_in_service(name)
            dep.ready_s = round(time.time() - dep.started, 1)
            return dep
        except BaseException as e:   # incl. KeyboardInterrupt/SystemExit: never leave a half deployment
            try:
                self.teardown(dep)
            except Exception:  # noqa: BLE001 - the ledger still lists them for sweep
                pass
            if isinstance(e, Exception) and not isinstance(e, CloudError):
                raise CloudError(explain(e, "deploying to SageMaker") + _removed_note(dep)) from e
            raise

    def _create(self, dep: Deployment, kind: str, name: str, call: Callable[[], Any]) -> None:
        res = self._res(kind, name, dep.student)
        self.ledger.will_create(res)           # BEFORE the call: a kill right after it is still swept
        dep.resources.append(res)
        call()

    def _wait_in_service(self, name: str) -> None:
        from botocore.exceptions import WaiterError
        delay = max(self.wait_delay_s, 0.01)
        attempts = max(1, int(self.wait_timeout_s / delay))
        try:
            # botocore's waiter takes whole seconds for Delay; offline we poll ourselves, fast.
            if delay >= 1:
                self.sm.get_waiter("endpoint_in_service").wait(
                    EndpointName=name, WaiterConfig={"Delay": int(delay), "MaxAttempts": attempts})
                return
            for _ in range(attempts):
                st = self.sm.describe_endpoint(EndpointName=name)
                if st["EndpointStatus"] == "InService":
                    return
                if st["EndpointStatus"] == "Failed":
                    raise WaiterError("EndpointInService", "Waiter encountered a terminal failure state",
                                      {"EndpointStatus": "Failed"})
                time.sleep(delay)
            raise WaiterError("EndpointInService", "Max attempts exceeded", {})
        except WaiterError as e:
            reason = ""
            try:
                reason = self.sm.describe_endpoint(EndpointName=name).get("FailureReason", "")
            except Exception:  # noqa: BLE001
                pass
            raise CloudError(f"endpoint {name} did not reach InService within {self.wait_timeout_s:.0f} s"
                             + (f": {reason}" if reason else f" ({e})")
                             + f". Check the CloudWatch log group /aws/sagemaker/Endpoints/{name}.") from e

    # ------------------------------------------------------------------ predict
    def prime_offline_result(self, dep: Deployment, body: bytes, content_type: str) -> None:
        """moto only: make ``invoke_endpoint`` answer ``body`` (the local emulation's answer), through
        moto's ``/moto-api/static/sagemaker/endpoint-results`` API."""
        if not self.offline:
            raise CloudError("prime_offline_result is for moto only")
        import requests
        base = self.endpoint_url or "http://motoapi.amazonaws.com"
        payload = {"account_id": self.account_id(), "region": self.region, "results": [
            {"Body": body.decode("utf-8", "replace"), "ContentType": content_type,
             "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""}]}
        r = requests.post(f"{base}/moto-api/static/sagemaker/endpoint-results", json=payload, timeout=10)
        r.raise_for_status()

    def predict(self, dep: Deployment, request: Request) -> tuple[bytes, str, float]:
        t0 = time.perf_counter()
        try:
            r = self.client("sagemaker-runtime").invoke_endpoint(
                EndpointName=dep.endpoint, Body=request.body, ContentType=request.content_type,
                Accept=request.accept)
        except Exception as e:  # noqa: BLE001
            raise CloudError(explain(e, f"invoking endpoint {dep.endpoint}")) from e
        body = r["Body"].read()
        return body, r.get("ContentType", ""), round((time.perf_counter() - t0) * 1000, 1)

    # ------------------------------------------------------------------ teardown / sweep
    def delete(self, res: Resource) -> bool:
        """Delete one resource; True if it was there, False if already gone."""
        from botocore.exceptions import ClientError
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
                except ClientError:
                    return False
                s3.delete_object(Bucket=bucket, Key=key)
            else:
                raise CloudError(f"unknown AWS resource kind {res.kind}")
            return True
        except ClientError as e:
            msg = e.response.get("Error", {}).get("Message", "")
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("ResourceNotFound", "NoSuchKey", "NoSuchBucket", "404") or "Could not find" in msg \
                    or "does not exist" in msg:
                return False
            raise

    def teardown(self, dep: Deployment) -> list[str]:
        return teardown_resources(dep, self.delete, self.ledger.deleted, explain,
                                  f"deploycheck sweep --run-id {self.run_id}")

    def leftovers(self, run_id: str | None = None, older_than_s: float | None = None,
                  student: str | None = None) -> list[Resource]:
        """Resources tagged by deploycheck (``run_id`` given: by that run), found by LISTING the
        services (not from the ledger). ``older_than_s``: only those created that long ago."""
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
                    out.append(Resource(PROVIDER, kind, item[name_key], self.region, tg[RUN_TAG],
                                        tg.get(STUDENT_TAG, ""), ts))
        out.extend(self._s3_leftovers(want_run, want_student, older_than_s, now))
        order = {"sagemaker-endpoint": 0, "sagemaker-endpoint-config": 1, "sagemaker-model": 2, "s3-object": 3}
        return sorted(out, key=lambda r: order.get(r.kind, 9))

    def _s3_leftovers(self, run: str | None, student: str | None, older_than_s: float | None, now: float):
        from botocore.exceptions import ClientError
        try:
            bucket = self.bucket or f"deploycheck-{self.account_id()}-{self.region}"
            prefix = "deploycheck/" + (f"{run}/" if run else "") + (f"{student}/" if run and student else "")
            s3 = self.client("s3")
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    parts = obj["Key"].split("/")
                    if student and (len(parts) < 3 or parts[2] != student):
                        continue
                    ts = obj["LastModified"].timestamp()
                    if older_than_s is not None and now - ts < older_than_s:
                        continue
                    yield Resource(PROVIDER, "s3-object", f"s3://{bucket}/{obj['Key']}", self.region,
                                   parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "", ts)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchBucket", "404"):
                return
            raise

    # ------------------------------------------------------------------ audit
    def audit_account(self) -> list[BillableResource]:
        """Everything in the region that bills by the hour while idle: SageMaker endpoints,
        notebook instances that are not stopped, running EC2 instances."""
        sm = self.sm
        out: list[BillableResource] = []
        for page in sm.get_paginator("list_endpoints").paginate():
            for ep in page.get("Endpoints", []):
                if ep.get("EndpointStatus") in ("Deleting", "Failed"):
                    continue
                itype, count = "?", 1
                try:
                    d = sm.describe_endpoint(EndpointName=ep["EndpointName"])
                    cfg = sm.describe_endpoint_config(EndpointConfigName=d["EndpointConfigName"])
                    v = cfg["ProductionVariants"][0]
                    itype = v.get("InstanceType") or ("serverless" if v.get("ServerlessConfig") else "?")
                    count = int(v.get("InitialInstanceCount") or 1)
                except Exception:  # noqa: BLE001 - config may be gone; still billable
                    pass
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
        ec2 = self.client("ec2")
        for page in ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]):
            for rsv in page.get("Reservations", []):
                for inst in rsv.get("Instances", []):
                    name = next((t["Value"] for t in inst.get("Tags", []) if t["Key"] == "Name"), "")
                    itype = inst.get("InstanceType", "?")
                    out.append(BillableResource("ec2-instance", inst["InstanceId"] + (f" ({name})" if name else ""),
                                                itype, costs.hourly("ec2-instance", itype), self.region,
                                                inst.get("State", {}).get("Name", "")))
        return out


def _removed_note(dep: Deployment) -> str:
    return " Everything created so far was deleted again." if not dep.resources else \
        " Some resources could not be deleted: run `deploycheck sweep --run-id " + dep.run_id + "`."
