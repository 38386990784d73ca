"""The account's own audit trail as proof of a deployment and of its clean-up (``cloud.trail``,
``deploycheck audit --trail``).

The README and the screenshot are claims; the audit trail is what the cloud recorded:

* **AWS**: CloudTrail's event history (management events, kept 90 days, free to look up) through
  boto3's ``cloudtrail.lookup_events`` (paginated, one lookup attribute: ``EventSource`` =
  ``sagemaker.amazonaws.com``). Each event's ``CloudTrailEvent`` is the record as CloudTrail writes it
  (``eventTime``, ``eventName``, ``requestParameters``, ``errorCode``...; "CloudTrail record contents"
  in the CloudTrail user guide); SageMaker's ``requestParameters`` carry the API's own members
  (``endpointName``, ``endpointConfigName``, ``productionVariants[].instanceType``...), read here
  case-insensitively.
* **GCP**: the Admin Activity audit logs (always on, kept 400 days) through Google's logging client
  library (``google-cloud-logging``: ``Client.list_entries`` with a filter on
  ``logName=projects/P/logs/cloudaudit.googleapis.com%2Factivity`` and the Vertex AI / AI Platform
  services); each entry's ``protoPayload`` is an ``AuditLog`` (``methodName``, ``resourceName``,
  ``request``); of a long-running operation only its first entry counts.

From the events, :func:`timelines` builds each resource's life (created, deployed, undeployed,
deleted), how long it ran and what that cost at list price (:mod:`deploycheck.cloud.costs`), and
names every resource that was never deleted.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from deploycheck.cloud import costs

UTC = dt.timezone.utc
SAGEMAKER_SOURCE = "sagemaker.amazonaws.com"
GCP_SERVICES = ("aiplatform.googleapis.com", "ml.googleapis.com")

# AWS event name -> (action, resource kind)
AWS_EVENTS = {
    "CreateModel": ("create", "model"), "DeleteModel": ("delete", "model"),
    "CreateEndpointConfig": ("create", "endpoint-config"), "DeleteEndpointConfig": ("delete", "endpoint-config"),
    "CreateEndpoint": ("create", "endpoint"), "UpdateEndpoint": ("update", "endpoint"),
    "DeleteEndpoint": ("delete", "endpoint"),
}
# GCP method name (last part) -> (action, resource kind)
GCP_METHODS = {
    "UploadModel": ("create", "model"), "DeleteModel": ("delete", "model"),
    "CreateEndpoint": ("create", "endpoint"), "DeleteEndpoint": ("delete", "endpoint"),
    "DeployModel": ("deploy", "endpoint"), "UndeployModel": ("undeploy", "endpoint"),
    # legacy AI Platform Prediction (ml.googleapis.com)
    "CreateModel": ("create", "model"), "CreateVersion": ("deploy", "version"), "DeleteVersion": ("delete", "version"),
}


@dataclass(frozen=True)
class TrailEvent:
    time: dt.datetime                 # UTC
    action: str                       # create | deploy | update | undeploy | delete
    kind: str                         # endpoint | endpoint-config | model | version
    name: str
    config: str = ""                  # AWS: the endpoint's endpoint configuration
    instance_type: str = ""           # the machine it runs on, when the event says
    instances: int = 1
    source: str = ""                  # "CreateEndpoint" / "google.cloud.aiplatform.v1.EndpointService.DeployModel"
    who: str = ""


@dataclass
class Timeline:
    kind: str
    name: str
    created: dt.datetime | None = None
    deployed: dt.datetime | None = None       # started serving (AWS: created; Vertex: DeployModel)
    stopped: dt.datetime | None = None        # stopped serving (undeploy or delete)
    deleted: dt.datetime | None = None
    instance_type: str = ""
    instances: int = 1
    events: list[TrailEvent] = field(default_factory=list)

    @property
    def serving(self) -> bool:
        return self.kind in ("endpoint", "version")

    def minutes(self, until: dt.datetime) -> float | None:
        start = self.deployed or (self.created if self.serving else None)
        if start is None:
            return None
        end = self.stopped or self.deleted or until
        return max(0.0, (end - start).total_seconds() / 60)

    def cost_usd(self, provider: str, until: dt.datetime) -> float | None:
        m = self.minutes(until)
        if m is None or not self.instance_type:
            return None
        price = costs.hourly("sagemaker-endpoint" if provider == "aws" else "vertex-endpoint", self.instance_type)
        return None if price is None else price * max(1, self.instances) * m / 60

    def missing_delete(self) -> bool:
        return self.created is not None and self.deleted is None

    def describe(self, provider: str, until: dt.datetime) -> str:
        """``endpoint iris-ep created 2021-04-20 14:02 UTC, deleted 14:40 (38 min, ~$0.04 on ml.t2.medium)``."""
        first = self.created or self.deployed or (self.events[0].time if self.events else None)
        parts: list[str] = []
        if self.created:
            parts.append(f"created {_when(self.created)}")
        elif first:
            parts.append(f"first seen {_when(first)} (created before the window)")
        if self.deployed and self.deployed != self.created:
            parts.append(f"deployed {_when(self.deployed, first)}")
        if self.stopped and self.stopped != self.deleted:
            parts.append(f"undeployed {_when(self.stopped, first)}")
        if self.deleted:
            parts.append(f"deleted {_when(self.deleted, first)}")
        else:
            parts.append(f"never deleted (still there at {_when(until, first)})" if self.created else "not deleted")
        text = f"{self.kind} {self.name} " + ", ".join(parts)
        m = self.minutes(until)
        if m is not None:
            c = self.cost_usd(provider, until)
            on = f" on {self.instances} x {self.instance_type}" if self.instances > 1 else \
                f" on {self.instance_type}" if self.instance_type else ""
            money = f", ~${c:.2f} at list price{on}" if c is not None else (f"{on}, price unknown" if on else "")
            text += f" ({_duration(m)}{' so far' if not (self.stopped or self.deleted) else ''}{money})"
        return text


def _when(t: dt.datetime, ref: dt.datetime | None = None) -> str:
    t = t.astimezone(UTC)
    if ref is not None and ref.astimezone(UTC).date() == t.date():
        return t.strftime("%H:%M")
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _duration(minutes: float) -> str:
    m = int(round(minutes))
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m} min"
    return f"{h // 24} days {h % 24} h"


def timelines(events: Iterable[TrailEvent]) -> list[Timeline]:
    """Each resource's life from its events (in time order); an AWS endpoint's instance type comes
    from the endpoint configuration it was created (or last updated) with."""
    evs = sorted(events, key=lambda e: e.time)
    configs: dict[str, TrailEvent] = {}
    out: dict[tuple[str, str], Timeline] = {}
    for e in evs:
        if e.kind == "endpoint-config" and e.action == "create":
            configs[e.name] = e
        t = out.setdefault((e.kind, e.name), Timeline(e.kind, e.name))
        if e.action == "create" and t.deleted is not None:          # the same name used again
            t = out[(e.kind, f"{e.name}@{e.time.isoformat()}")] = Timeline(e.kind, e.name)
        t.events.append(e)
        cfg = configs.get(e.config) if e.config else None
        if cfg is not None:
            t.instance_type, t.instances = cfg.instance_type or t.instance_type, cfg.instances
        elif e.instance_type:
            t.instance_type, t.instances = e.instance_type, e.instances
        if e.action == "create":
            t.created = t.created or e.time
            if e.kind == "endpoint" and e.source == "CreateEndpoint":
                t.deployed = t.deployed or e.time
        elif e.action == "deploy":
            t.deployed = t.deployed or e.time
            t.stopped = None
        elif e.action == "undeploy":
            t.stopped = e.time
        elif e.action == "delete":
            t.deleted = e.time
            t.stopped = t.stopped or e.time
    return sorted(out.values(), key=lambda t: (t.created or t.events[0].time, t.kind, t.name))


# ------------------------------------------------------------------ AWS CloudTrail

def _get(d: Any, *names: str) -> Any:
    """``d[name]`` for the first name present, any letter case (CloudTrail's records use the API's
    members in lowerCamelCase; some services keep UpperCamelCase)."""
    if not isinstance(d, Mapping):
        return None
    low = {str(k).lower(): v for k, v in d.items()}
    for n in names:
        if n.lower() in low:
            return low[n.lower()]
    return None


def _time(s: Any) -> dt.datetime | None:
    if isinstance(s, dt.datetime):
        return s.astimezone(UTC) if s.tzinfo else s.replace(tzinfo=UTC)
    if not isinstance(s, str) or not s:
        return None
    try:
        t = dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith("Z") else s)
    except ValueError:
        return None
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def aws_event(raw: Mapping[str, Any]) -> TrailEvent | None:
    """One ``lookup_events`` event -> a TrailEvent (None for calls that failed or do not matter)."""
    name = str(raw.get("EventName") or "")
    if name not in AWS_EVENTS:
        return None
    try:
        rec = json.loads(raw.get("CloudTrailEvent") or "{}")
    except ValueError:
        rec = {}
    if not isinstance(rec, dict) or rec.get("errorCode"):
        return None                                    # the call failed: nothing was created or deleted
    when = _time(rec.get("eventTime")) or _time(raw.get("EventTime"))
    if when is None:
        return None
    action, kind = AWS_EVENTS[name]
    req = rec.get("requestParameters") if isinstance(rec.get("requestParameters"), dict) else {}
    key = {"endpoint": "endpointName", "endpoint-config": "endpointConfigName", "model": "modelName"}[kind]
    res_name = _get(req, key)
    if not res_name:
        res_name = next((r.get("ResourceName") for r in raw.get("Resources") or []
                         if isinstance(r, dict) and r.get("ResourceName")), "")
    if not res_name:
        return None
    itype, count = "", 1
    variants = _get(req, "productionVariants")
    if isinstance(variants, list) and variants and isinstance(variants[0], dict):
        itype = str(_get(variants[0], "instanceType") or "")
        try:
            count = sum(int(_get(v, "initialInstanceCount") or 1) for v in variants if isinstance(v, dict))
        except (TypeError, ValueError):
            count = 1
    who = _get(rec.get("userIdentity"), "arn") or raw.get("Username") or ""
    return TrailEvent(when, action, kind, str(res_name).split("/")[-1], config=str(_get(req, "endpointConfigName") or "")
                      if kind == "endpoint" else "", instance_type=itype, instances=count, source=name, who=str(who))


def aws_events(cloudtrail: Any, start: dt.datetime, end: dt.datetime) -> list[TrailEvent]:
    """SageMaker's management events between ``start`` and ``end`` from CloudTrail's event history."""
    out: list[TrailEvent] = []
    pages = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": SAGEMAKER_SOURCE}],
        StartTime=start, EndTime=end)
    for page in pages:
        for raw in page.get("Events") or []:
            e = aws_event(raw)
            if e is not None:
                out.append(e)
    return out


# ------------------------------------------------------------------ GCP audit logs

def gcp_filter(project: str, start: dt.datetime, end: dt.datetime) -> str:
    services = " OR ".join(f'"{s}"' for s in GCP_SERVICES)
    return (f'logName="projects/{project}/logs/cloudaudit.googleapis.com%2Factivity" '
            f'AND protoPayload.serviceName=({services}) '
            f'AND timestamp>="{start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}" '
            f'AND timestamp<="{end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"')


def _machine(req: Any) -> tuple[str, int]:
    dm = _get(req, "deployedModel") or {}
    ded = _get(dm, "dedicatedResources") or {}
    spec = _get(ded, "machineSpec") or {}
    itype = str(_get(spec, "machineType") or _get(req, "machineType") or _get(_get(req, "version"), "machineType") or "")
    try:
        count = int(_get(ded, "minReplicaCount") or 1)
    except (TypeError, ValueError):
        count = 1
    return itype, count


def gcp_event(payload: Mapping[str, Any], timestamp: Any, operation: Mapping[str, Any] | None = None) -> TrailEvent | None:
    """One audit log entry (its ``protoPayload`` as a dict) -> a TrailEvent."""
    if operation and operation.get("first") is not True and operation.get("last") is True:
        return None                                  # the end of a long-running operation already counted
    if _get(payload, "status") and _get(_get(payload, "status"), "code"):
        return None                                  # the call failed
    method = str(_get(payload, "methodName") or "")
    short = method.rsplit(".", 1)[-1]
    if short not in GCP_METHODS:
        return None
    action, kind = GCP_METHODS[short]
    when = _time(timestamp)
    if when is None:
        return None
    resource = str(_get(payload, "resourceName") or "")
    req = _get(payload, "request") or {}
    if kind == "version":
        name = str(_get(_get(req, "version"), "name") or resource.rsplit("/", 1)[-1])
        parent = resource.split("/versions/")[0].rsplit("/", 1)[-1] if "/models/" in resource else ""
        name = f"{parent}/{name}" if parent and "/" not in name else name
    elif kind == "endpoint":
        name = resource.split("/endpoints/")[-1].split("/")[0] if "/endpoints/" in resource else resource
        display = _get(_get(req, "endpoint"), "displayName")
        name = name or str(display or "")
    else:
        name = resource.rsplit("/", 1)[-1] or str(_get(_get(req, "model"), "displayName") or "")
    if not name:
        return None
    itype, count = _machine(req)
    who = _get(_get(payload, "authenticationInfo"), "principalEmail") or ""
    return TrailEvent(when, action, kind, name, instance_type=itype, instances=count, source=method, who=str(who))


def reading_client(**kw: Any) -> Any:
    """A ``google.cloud.logging.Client`` that only reads entries. The library gives each entry a
    ``Logger``, and a logger made without a monitored resource asks the GCE metadata server which
    machine this is (``detect_resource``): a network call about *this* machine, useless for reading
    another project's logs. Reading loggers get the ``global`` resource instead."""
    from google.cloud import logging as gl
    from google.cloud.logging_v2.resource import Resource

    class _Reader(gl.Client):
        def logger(self, name: str, *, labels: Any = None, resource: Any = None) -> Any:
            return super().logger(name, labels=labels, resource=resource or Resource(type="global", labels={}))
    return _Reader(**kw)


def gcp_events(client: Any, project: str, start: dt.datetime, end: dt.datetime) -> list[TrailEvent]:
    """Vertex AI / AI Platform Admin Activity entries between ``start`` and ``end``, through a
    ``google.cloud.logging.Client``."""
    from google.cloud import logging as gl
    out: list[TrailEvent] = []
    for entry in client.list_entries(resource_names=[f"projects/{project}"], filter_=gcp_filter(project, start, end),
                                     order_by=gl.ASCENDING, page_size=1000):
        payload = entry.payload
        if not isinstance(payload, Mapping):
            continue
        e = gcp_event(payload, entry.timestamp, getattr(entry, "operation", None))
        if e is not None:
            out.append(e)
    return out


# ------------------------------------------------------------------ the verdict's words

@dataclass(frozen=True)
class TrailReport:
    provider: str
    where: str                                   # "AWS account 123 us-east-1" / "GCP project p"
    start: dt.datetime
    end: dt.datetime
    lines: tuple[Timeline, ...]

    @property
    def missing(self) -> list[Timeline]:
        return [t for t in self.lines if t.missing_delete()]

    @property
    def deployed(self) -> list[Timeline]:
        return [t for t in self.lines if t.serving and (t.deployed or t.created)]

    def evidence(self) -> list[str]:
        return [t.describe(self.provider, self.end) for t in self.lines]

    def total_usd(self) -> float:
        return sum(t.cost_usd(self.provider, self.end) or 0.0 for t in self.lines)

    def window(self) -> str:
        return f"{_when(self.start)} to {_when(self.end)}"


RETENTION = {"aws": dt.timedelta(days=90), "gcp": dt.timedelta(days=400)}


def parse_time(text: str, what: str) -> dt.datetime:
    """An ISO 8601 time with a zone, or a date (midnight UTC); ValueError with a one-line message."""
    s = text.strip()
    try:
        if len(s) == 10:
            return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)
        t = dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
    except ValueError:
        raise ValueError(f"{what} {text}: not an ISO 8601 time; use e.g. 2024-04-15 or 2024-04-15T09:00:00+02:00") from None
    if t.tzinfo is None:
        raise ValueError(f"{what} {text}: give the time zone too, e.g. {s}+00:00 or {s}Z")
    return t.astimezone(UTC)


def window(provider: str, since: str | None, until: str | None, now: dt.datetime | None = None,
           flags: tuple[str, str] = ("--trail-since", "--trail-until")) -> tuple[dt.datetime, dt.datetime]:
    """The lab window: ``since``..``until`` (default: as far back as the trail keeps events, to now);
    ``flags``: the options they came from, named in the messages (grade's, or ``audit --since/--until``)."""
    end = parse_time(until, flags[1]) if until else (now or dt.datetime.now(UTC))
    start = parse_time(since, flags[0]) if since else end - RETENTION[provider]
    if start >= end:
        raise ValueError(f"{flags[0]} {since} is not before {flags[1]} {until or 'now'}")
    return start, end


def delete_command(provider: str, t: Timeline, region: str) -> str:
    """The command that deletes a resource the trail shows was never deleted."""
    if provider == "aws":
        flag = {"endpoint": "endpoint --endpoint-name", "endpoint-config": "endpoint-config --endpoint-config-name",
                "model": "model --model-name"}.get(t.kind, "model --model-name")
        return f"aws sagemaker delete-{flag} {t.name} --region {region}"
    if t.kind == "version":
        model, _, version = t.name.partition("/")
        return f"gcloud ai-platform versions delete {version or model} --model {model}"
    if t.kind == "endpoint":
        return (f"gcloud ai endpoints undeploy-model {t.name} --region {region} --deployed-model-id ID, then "
                f"gcloud ai endpoints delete {t.name} --region {region}")
    return f"gcloud ai models delete {t.name} --region {region}"
