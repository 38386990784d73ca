"""The provider-neutral data of a cloud deployment: what is deployed (:class:`Bundle`), what was
created (:class:`Deployment`, :class:`Resource`), what bills (:class:`BillableResource`), and the
errors every provider raises (:class:`CloudError` carries a student/instructor-ready message).

A provider (``aws.AwsProvider``, ``gcp.GcpProvider``) implements :class:`Provider`:
``deploy(bundle) -> Deployment``, ``predict(deployment, request) -> (body, content_type, ms)``,
``teardown(deployment) -> list[str]``, ``leftovers(run_id) -> list[Resource]``,
``audit_account() -> list[BillableResource]`` and ``delete(resource) -> bool`` (used by sweep).
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

RUN_TAG = "deploycheck-run"
STUDENT_TAG = "deploycheck-student"


class CloudError(Exception):
    """A failure with a message that says what is wrong and what to change (never a credential)."""


class CostGuardError(CloudError):
    """The cost guard refused a deployment (instance type not allowed, too many deployments)."""


class TeardownError(CloudError):
    def __init__(self, message: str, removed: list[str], remaining: list[str]):
        super().__init__(message)
        self.removed, self.remaining = removed, remaining


def teardown_resources(dep: Deployment, delete: Callable[[Resource], bool],
                       forget: Callable[[Resource], Any], explain: Callable[[BaseException, str], str],
                       sweep_command: str) -> list[str]:
    """Delete ``dep.resources`` newest first with the provider's ``delete``; ``forget`` (the ledger's
    ``deleted``) is called for each one gone. Tries every resource even when one fails; what could not be
    deleted stays in ``dep.resources`` and a :class:`TeardownError` names each failure (worded by the
    provider's ``explain``) and the ``sweep_command`` to run once the cause is fixed. Returns the removed ones."""
    removed, failed, kept = [], [], []
    for res in reversed(dep.resources):
        try:
            if delete(res):
                removed.append(str(res))
            forget(res)
        except Exception as e:  # noqa: BLE001 - try the others, report all
            failed.append(f"{res}: {explain(e, 'deleting')}")
            kept.insert(0, res)
    dep.resources = kept
    if failed:
        raise TeardownError("could not delete " + "; ".join(failed)
                            + f". Run `{sweep_command}` after fixing the cause.", removed, failed)
    return removed


@dataclass
class Request:
    body: bytes
    content_type: str = "application/json"
    accept: str = "application/json"


@dataclass
class Bundle:
    """Everything a provider needs to deploy one deploy folder."""
    student: str
    platform: str                         # "aws" | "gcp"
    folder: Path                          # absolute path of the deploy folder
    entry_point: str | None = None        # AWS: entry point, relative to the folder
    model_files: list[str] = field(default_factory=list)   # files relative to the folder
    model_archive: str | None = None      # AWS: model.tar.gz relative to the folder (repacked)
    requirements: str | None = None       # AWS: requirements.txt beside the entry point
    request: Request | None = None        # sample request
    sklearn_version: str | None = None    # recorded in the pickle
    framework_version: str | None = None  # AWS SageMaker scikit-learn framework_version ("1.2-1")
    image_uri: str | None = None          # AWS serving image / GCP prebuilt container URI


@dataclass
class Resource:
    provider: str                         # "aws" | "gcp"
    kind: str                             # s3-object, sagemaker-model, sagemaker-endpoint-config,
                                          # sagemaker-endpoint, gcs-object, vertex-model, vertex-endpoint
    name: str                             # name, ARN, s3://… / gs://… URI or Vertex resource name
    region: str = ""
    run_id: str = ""
    student: str = ""
    created: float | None = None          # epoch seconds when known

    def key(self) -> tuple[str, str, str]:
        return (self.provider, self.kind, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.region})" if self.region else "")


@dataclass
class Deployment:
    provider: str
    student: str
    platform: str
    run_id: str
    region: str
    endpoint: str = ""                    # endpoint name (AWS) / resource name (GCP)
    instance_type: str = ""
    resources: list[Resource] = field(default_factory=list)   # in creation order
    ids: dict[str, str] = field(default_factory=dict)          # model, config, bucket, key, deployed_model...
    started: float = field(default_factory=time.time)
    ready_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["resources"] = [r.to_dict() for r in self.resources]
        return d


@dataclass
class BillableResource:
    kind: str                             # e.g. sagemaker-endpoint, ec2-instance, vertex-endpoint
    name: str
    type: str                             # instance / machine type
    hourly_usd: float | None              # approximate on-demand price (see costs.py), None if unknown
    region: str = ""
    detail: str = ""

    def __str__(self) -> str:
        price = f"~${self.hourly_usd:.3f}/h" if self.hourly_usd is not None else "price unknown"
        return f"{self.kind} {self.name} ({self.type}, {price}{', ' + self.region if self.region else ''})"


class Provider(Protocol):
    name: str
    region: str

    def deploy(self, bundle: Bundle) -> Deployment: ...
    def predict(self, deployment: Deployment, request: Request) -> tuple[bytes, str, float]: ...
    def teardown(self, deployment: Deployment) -> list[str]: ...
    def leftovers(self, run_id: str | None = None, older_than_s: float | None = None) -> list[Resource]: ...
    def audit_account(self) -> list[BillableResource]: ...
    def delete(self, resource: Resource) -> bool: ...


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


def parse_age(s: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", s or "")
    if not m:
        raise ValueError(f"not an age: {s!r} (use e.g. 30m, 2h, 1d)")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]
