"""The provider-neutral records of a cloud deployment and THE :class:`Provider` protocol.

Records (all frozen): :class:`CloudOptions` (what the run asked for), :class:`ServingImage` (one
entry of the serving-image catalog), :class:`Bundle` (what to deploy), :class:`Resource` (one
thing created), :class:`Deployment` (what one deploy created), :class:`BillableResource` (what
the account audit found). Predictions and requests are ``deploycheck.model.Request`` /
``deploycheck.model.Prediction``.

Errors: every provider method raises only :class:`CloudError` subclasses, whose message is one
line that says what is wrong and what to change (and never holds a credential value):
:class:`StudentError` (the deploy folder is the cause), :class:`AccessError` (credentials or a
permission are missing: the run's problem), :class:`CostGuardError` (the cost guard refused),
:class:`TeardownError` (something could not be deleted).
"""
from __future__ import annotations

import datetime

import functools
import hashlib
import io
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Concatenate, Iterable, ParamSpec, Protocol, TypeVar

from deploycheck.errors import RunError, StudentInputError
from deploycheck.model import Platform, Prediction, Request

if TYPE_CHECKING:
    from deploycheck.cloud.trail import TrailReport
    from deploycheck.settings import Settings

RUN_TAG = "deploycheck-run"
STUDENT_TAG = "deploycheck-student"
README_IAM = "README.md, section 'Real cloud runs' > 'IAM permissions'"
README_GCP = "README.md, section 'Real cloud runs' > 'GCP roles'"


# ---------------------------------------------------------------------- errors
class CloudError(RunError):
    """A cloud step failed; ``str(e)`` is one line saying what is wrong and what to change. Unless it
    is a :class:`StudentError`, an error of the run (deploycheck's exception policy, :mod:`deploycheck.errors`)."""


class StudentError(CloudError, StudentInputError):
    """The deploy folder itself cannot be deployed (or its model fails on the serving image): the
    check fails with the message."""


class AccessError(CloudError):
    """Credentials are missing, expired or rejected, or a permission is missing."""


class CostGuardError(CloudError):
    """The cost guard refused a deployment (instance type not allowed, too many deployments)."""


class TeardownError(CloudError):
    """Some resources could not be deleted; ``access``: because of credentials or a permission."""

    def __init__(self, message: str, removed: tuple[Resource, ...], remaining: tuple[Resource, ...],
                 access: bool = False):
        super().__init__(message)
        self.removed, self.remaining, self.access = removed, remaining, access


# ---------------------------------------------------------------------- records
@dataclass(frozen=True)
class CloudOptions:
    """The cloud part of a run's settings (pytest options, or `deploycheck sweep|audit` arguments)."""
    cloud: str | None = None                 # "moto" | "aws" | "gcp"; None: no deployments
    assets: str | None = None                # "reference": deploy reference_deploys/ instead of the student's
    aws_region: str = "us-east-1"
    aws_role_arn: str | None = None
    aws_bucket: str | None = None
    gcp_project: str | None = None
    gcp_region: str = "us-central1"
    gcp_bucket: str | None = None
    instance_type: str | None = None         # None: costs.DEFAULT_INSTANCE of the platform
    allow_instance_type: bool = False
    max_deployments: int = 3
    run_id: str = ""
    audit_account: bool = False
    report_dir: Path | None = None
    trail_since: str | None = None           # the lab window of cloud.trail (ISO 8601; default: 90 days back)
    trail_until: str | None = None           # (default: now)

    def region(self, platform: str) -> str:
        return self.aws_region if platform == "aws" else self.gcp_region


def options_from(settings: Settings) -> CloudOptions:
    """THE adapter from the run's :class:`Settings` (the plugin's ``dc``; read by attribute name, so
    any object carrying these names works) to :class:`CloudOptions`."""
    def get(name: str, default: Any = None) -> Any:
        v = getattr(settings, name, default)
        return default if v is None else v
    report = get("report", None)
    return CloudOptions(
        cloud=get("cloud"), assets=get("cloud_assets"), aws_region=get("aws_region", "us-east-1"),
        aws_role_arn=get("aws_role_arn"), aws_bucket=get("aws_bucket"), gcp_project=get("gcp_project"),
        gcp_region=get("gcp_region", "us-central1"), gcp_bucket=get("gcp_bucket"),
        instance_type=get("instance_type"), allow_instance_type=bool(get("allow_instance_type", False)),
        max_deployments=int(get("max_deployments", 3)), run_id=str(get("run_id", "") or ""),
        audit_account=bool(get("audit_account", False)), report_dir=Path(report) if report else None,
        trail_since=get("trail_since"), trail_until=get("trail_until"))


@dataclass(frozen=True)
class ServingImage:
    """One serving image of the catalog: SageMaker ``framework_version`` or a Vertex prebuilt container."""
    platform: Platform
    label: str                 # 'framework_version="1.2-1"' / 'sklearn-cpu.1-2'
    version: str               # "1.2-1" / "sklearn-cpu.1-2": the value a folder declares
    sklearn: str               # scikit-learn it loads models with: "1.2.1" / "1.2"
    uri: str                   # image URI in the deployment's region


@dataclass(frozen=True)
class Bundle:
    """Everything a provider needs to deploy one deploy folder (built by :mod:`bundle`)."""
    student: str
    platform: Platform
    folder: Path                              # absolute path of the deploy folder
    image: ServingImage
    sklearn_version: str | None = None        # recorded in the pickle
    model_files: tuple[str, ...] = ()         # relative to the folder
    model_archive: str | None = None          # AWS: model.tar.gz relative to the folder (repacked)
    entry_point: str | None = None            # AWS: entry point relative to the folder
    requirements: str | None = None           # AWS: requirements.txt beside the entry point


@dataclass(frozen=True)
class Resource:
    provider: str                             # "aws" | "gcp"
    kind: str                                 # s3-object, sagemaker-model, sagemaker-endpoint-config,
                                              # sagemaker-endpoint, gcs-object, vertex-model, vertex-endpoint
    name: str                                 # name, s3:// / gs:// URI or Vertex resource name
    region: str = ""
    run_id: str = ""
    student: str = ""
    created: float | None = None              # epoch seconds when known

    def key(self) -> tuple[str, str, str]:
        return (self.provider, self.kind, self.name)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.region})" if self.region else "")


@dataclass(frozen=True)
class Deployment:
    provider: Platform
    student: str
    run_id: str
    region: str
    endpoint: str                             # SageMaker endpoint name / Vertex endpoint resource name
    instance_type: str
    image: str                                # serving image URI
    model: str = ""                           # SageMaker model name / Vertex model resource name
    artifact: str = ""                        # s3:// / gs:// URI of the uploaded model
    resources: tuple[Resource, ...] = ()      # in creation order
    ready_s: float | None = None


@dataclass(frozen=True)
class BillableResource:
    kind: str                                 # sagemaker-endpoint, sagemaker-notebook, ec2-instance, vertex-endpoint...
    name: str
    type: str                                 # instance / machine type
    hourly_usd: float | None                  # approximate on-demand price (costs.py), None if unknown
    region: str = ""
    detail: str = ""

    def __str__(self) -> str:
        price = f"~${self.hourly_usd:.3f}/h" if self.hourly_usd is not None else "price unknown"
        return f"{self.kind} {self.name} ({self.type}, {price}{', ' + self.region if self.region else ''})"


# ---------------------------------------------------------------------- THE protocol
class Provider(Protocol):
    """A cloud as deploycheck uses it, real or offline: ``aws.AwsProvider``, ``gcp.GcpProvider``,
    made by ``registry.provider()``. Every method raises only :class:`CloudError` subclasses."""
    name: Platform                            # "aws" | "gcp"
    region: str
    offline: bool                             # moto / local fakes: no real account is touched
    instance_type: str
    run_id: str

    def identity(self) -> str:
        """Who the credentials are (account/principal, project); :class:`AccessError` without usable ones."""

    def deploy(self, bundle: Bundle) -> Deployment:
        """Create storage object, model, endpoint (each written to the ledger BEFORE its create call) and
        wait until it serves; on any failure (even KeyboardInterrupt) delete what was created."""

    def predict(self, deployment: Deployment, request: Request) -> Prediction:
        """Send ``request`` to the endpoint; a ``mode="cloud"`` Prediction of what came back."""

    def prime(self, deployment: Deployment, answer: Prediction) -> None:
        """Offline only: make the stand-in endpoint answer ``answer`` (CloudError against a real cloud)."""

    def teardown(self, deployment: Deployment) -> tuple[Resource, ...]:
        """Delete the deployment's resources, newest first; the removed ones. Tries every one, then
        raises :class:`TeardownError` naming what is left and the sweep command."""

    def delete(self, resource: Resource) -> bool:
        """Delete one resource (also one found by sweep): True if it existed, False if already gone."""

    def leftovers(self, run_id: str | None = None, *, student: str | None = None,
                  older_than_s: float | None = None) -> list[Resource]:
        """Resources tagged by deploycheck, found by LISTING the services (never from the ledger)."""

    def audit_account(self) -> list[BillableResource]:
        """Everything in the account/project that bills by the hour while idle."""

    def trail(self, start: datetime.datetime, end: datetime.datetime) -> TrailReport:
        """The account's own audit trail of model deployments between ``start`` and ``end``
        (:mod:`deploycheck.cloud.trail`)."""

    def translate(self, exc: BaseException, doing: str = "") -> CloudError:
        """The one-line CloudError for an SDK error (AccessError for credentials and permissions),
        with every credential value in use redacted."""


# ---------------------------------------------------------------------- names
def new_run_id() -> str:
    """``20250131-142501-a1b2c3``: sortable, unique enough, valid as an AWS tag and a GCP label."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def label_value(s: str) -> str:
    """A GCP label value: lowercase letters, digits, ``_`` and ``-``, at most 63 characters."""
    v = re.sub(r"[^a-z0-9_-]+", "-", s.lower()).strip("-")
    if len(v) > 63:
        v = v[:54] + "-" + hashlib.sha1(s.encode()).hexdigest()[:8]
    return v or "x"


def resource_name(run_id: str, student: str, platform: str, limit: int = 63) -> str:
    """A name valid for SageMaker (``^[a-zA-Z0-9](-*[a-zA-Z0-9])*``, ≤ 63) and unique per
    (run, student, platform): ``dc-<student slug>-<platform>-<hash>``."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", student).strip("-").lower() or "student"
    h = hashlib.sha1(f"{run_id}/{student}/{platform}".encode()).hexdigest()[:10]
    room = limit - len(f"dc--{platform}-{h}")
    return f"dc-{slug[:room].rstrip('-')}-{platform}-{h}"


def tags(run_id: str, student: str) -> dict[str, str]:
    return {RUN_TAG: label_value(run_id), STUDENT_TAG: label_value(student)}


def object_prefix(run_id: str, student: str | None = None) -> str:
    """Where a run's model objects live in the bucket: ``deploycheck/<run>/<student>/``."""
    return f"deploycheck/{label_value(run_id)}/" + (f"{label_value(student)}/" if student else "")


def parse_age(s: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", s or "")
    if not m:
        raise ValueError(f"not an age: {s!r} (use e.g. 30m, 2h, 1d)")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]


KIND_ORDER = {"sagemaker-endpoint": 0, "vertex-endpoint": 0, "sagemaker-endpoint-config": 1,
              "sagemaker-model": 2, "vertex-model": 2, "s3-object": 3, "gcs-object": 3}


def deletion_order(r: Resource) -> tuple[bool, int]:
    """Sort key: named resources before ``pending:`` placeholders, endpoints before configs, models, objects."""
    return (r.name.startswith("pending:"), KIND_ORDER.get(r.kind, 9))


# ---------------------------------------------------------------------- shared provider steps
class _Translates(Protocol):
    def translate(self, exc: BaseException, doing: str = "") -> CloudError: ...


_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S", bound=_Translates)


def translated(doing: str) -> Callable[[Callable[Concatenate[_S, _P], _R]], Callable[Concatenate[_S, _P], _R]]:
    """Decorator for provider methods: any SDK error leaves as ``self.translate(e, doing)`` (one line)."""
    def deco(fn: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
        @functools.wraps(fn)
        def wrapper(self: _S, *a: _P.args, **kw: _P.kwargs) -> _R:
            try:
                return fn(self, *a, **kw)
            except CloudError:
                raise
            except Exception as e:  # noqa: BLE001 - every SDK error becomes one line
                raise self.translate(e, doing) from e
        return wrapper
    return deco

def delete_all(resources: Iterable[Resource], delete: Callable[[Resource], bool],
               forget: Callable[[Resource], None], sweep_command: str) -> tuple[Resource, ...]:
    """Delete ``resources`` newest first with the provider's ``delete`` (which raises CloudError);
    ``forget`` (the ledger's ``deleted``) is called for each one gone. Tries every resource even when
    one fails; raises :class:`TeardownError` naming each failure and ``sweep_command``. Returns the
    resources that existed and were removed."""
    removed: list[Resource] = []
    failed: list[str] = []
    kept: list[Resource] = []
    access = False
    for res in reversed(tuple(resources)):
        try:
            if delete(res):
                removed.append(res)
            forget(res)
        except CloudError as e:
            failed.append(f"{res}: {e}")
            kept.insert(0, res)
            access = access or isinstance(e, AccessError)
    if failed:
        raise TeardownError("could not delete " + "; ".join(failed) + f". Run `{sweep_command}` after fixing "
                            "the cause.", tuple(removed), tuple(kept), access=access)
    return tuple(removed)


def rollback_note(left: tuple[Resource, ...], run_id: str) -> str:
    """What a failed deploy says about the resources it created (they are deleted at once)."""
    if not left:
        return "Everything created so far was deleted again."
    return f"{len(left)} resources could not be deleted: run `deploycheck sweep --run-id {run_id}`."


# ---------------------------------------------------------------------- what an answer holds
def decode_answer(body: bytes, content_type: str | None) -> Any:
    """A serving endpoint's response body as plain data (JSON, NPY, CSV); Vertex's
    ``{"predictions": [...]}`` becomes the list. NPY is read with ``allow_pickle=False``."""
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


def _num(s: str) -> float | str:
    try:
        return float(s)
    except ValueError:
        return s.strip()


def _flat(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [y for v in x for y in _flat(v)]
    return [x]


def same_values(a: Any, b: Any, rel: float = 1e-5) -> bool:
    """Equal predictions: same shape when flattened, numbers within ``rel``, labels equal as text."""
    fa, fb = _flat(a), _flat(b)
    if len(fa) != len(fb):
        return False
    for x, y in zip(fa, fb):
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
        if not numeric:
            if str(x) != str(y):
                return False
        elif not math.isclose(float(x), float(y), rel_tol=rel, abs_tol=1e-9):
            return False
    return True


# ---------------------------------------------------------------------- never print a secret
_SECRET_PATTERNS = (
    re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b"),                 # AWS access key ids
    re.compile(r"ya29\.[\w.-]{10,}"),                                          # Google OAuth access tokens
    re.compile(r"1//[\w.-]{20,}"),                                             # Google refresh tokens
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
)


def redact(text: str, known: Iterable[str | None] = ()) -> str:
    """``text`` with credential-shaped strings and every value in ``known`` (the credentials in use)
    replaced by ``[redacted]``."""
    for value in known:
        if value and len(value) >= 6:
            text = text.replace(value, "[redacted]")
    for pat in _SECRET_PATTERNS:
        text = pat.sub("[redacted]", text)
    return " ".join(text.split())          # one line
