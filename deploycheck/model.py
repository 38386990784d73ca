"""Typed records shared by every part of deploycheck.

Everything that crosses a module boundary is one of these frozen dataclasses; they are turned
into JSON only at the xdist boundary (worker -> controller) and in the report files
(:func:`to_json` / ``from_json``). Nothing here imports another deploycheck module.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Mapping

Status = Literal["passed", "failed", "skipped"]
PASSED: Status = "passed"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"
STATUSES: tuple[Status, ...] = (PASSED, FAILED, SKIPPED)

Platform = Literal["aws", "gcp"]
AWS: Platform = "aws"
GCP: Platform = "gcp"
PLATFORMS: tuple[Platform, ...] = (AWS, GCP)


@dataclass(frozen=True)
class Outcome:
    """The verdict of one check on one deploy folder, before points are attached.

    ``blocked_by`` names the prerequisite check whose failure makes this one fail (the student is
    told to fix that one first). ``error`` marks a failure of deploycheck's own machinery (an
    environment, the sandbox, the browser): it is reported as an error of the run, never as the
    student's failure. ``data`` holds JSON-serialisable extras kept in report.json."""
    status: Status
    message: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    blocked_by: str | None = None
    error: bool = False

    @property
    def ok(self) -> bool:
        return self.status == PASSED


def passed(message: str = "", **data: Any) -> Outcome:
    return Outcome(PASSED, message, dict(data))


def failed(message: str, **data: Any) -> Outcome:
    return Outcome(FAILED, message, dict(data))


def skipped(message: str, **data: Any) -> Outcome:
    return Outcome(SKIPPED, message, dict(data))


def blocked(by: str, message: str, **data: Any) -> Outcome:
    """Failed because the prerequisite ``by`` failed; the message says the one thing to fix."""
    return Outcome(FAILED, f"blocked by {by}: {message}", dict(data), blocked_by=by)


def run_error(message: str, **data: Any) -> Outcome:
    """deploycheck's own machinery failed: not the student's fault, no points lost or won."""
    return Outcome(SKIPPED, f"error of the grading run (not your fault; tell your instructor): {message}",
                   dict(data), error=True)


@dataclass(frozen=True)
class CheckResult:
    """One check of one student, with points (a row of report.json's ``checks``)."""
    id: str
    status: Status
    score: float
    max_score: float
    message: str = ""
    blocked_by: str | None = None
    error: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "status": self.status, "score": self.score,
                             "max_score": self.max_score, "message": self.message}
        if self.blocked_by:
            d["blocked_by"] = self.blocked_by
        if self.error:
            d["error"] = True
        if self.data:
            d["data"] = dict(self.data)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckResult:
        return cls(id=str(d["id"]), status=d["status"], score=float(d["score"]),
                   max_score=float(d["max_score"]), message=str(d.get("message") or ""),
                   blocked_by=d.get("blocked_by"), error=bool(d.get("error", False)),
                   data=dict(d.get("data") or {}))


@dataclass(frozen=True)
class StudentResult:
    """One student's graded result (a row of report.json's ``students``)."""
    student: str
    repo: str
    platform: str | None
    score: float
    max_score: float
    checks: tuple[CheckResult, ...] = ()
    notes: tuple[str, ...] = ()
    # per platform graded: {"aws": {"score":, "max_score":}} when the repo had both
    platforms: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)   # roster ids, graded commit, late info...

    def check(self, cid: str) -> CheckResult | None:
        for c in self.checks:
            if c.id == cid:
                return c
        return None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"student": self.student, "repo": self.repo, "platform": self.platform,
                             "score": self.score, "max_score": self.max_score,
                             "checks": [c.to_json() for c in self.checks]}
        if self.platforms:
            d["platforms"] = {k: dict(v) for k, v in self.platforms.items()}
        if self.notes:
            d["notes"] = list(self.notes)
        d.update({k: v for k, v in self.extra.items() if k not in d})
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StudentResult:
        known = {"student", "repo", "platform", "score", "max_score", "checks", "platforms", "notes"}
        return cls(student=str(d["student"]), repo=str(d.get("repo") or ""), platform=d.get("platform"),
                   score=float(d["score"]), max_score=float(d["max_score"]),
                   checks=tuple(CheckResult.from_json(c) for c in d.get("checks") or ()),
                   notes=tuple(d.get("notes") or ()),
                   platforms={k: dict(v) for k, v in (d.get("platforms") or {}).items()},
                   extra={k: v for k, v in d.items() if k not in known})


@dataclass(frozen=True)
class CheckRecord:
    """One check's result for one (student, platform) as it travels from an xdist worker to the
    controller (the only place results are serialised in a run)."""
    student: str
    platform: str | None
    repo: str
    result: CheckResult
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"student": self.student, "platform": self.platform, "repo": self.repo,
                "result": self.result.to_json(), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckRecord:
        return cls(student=str(d["student"]), platform=d.get("platform"), repo=str(d.get("repo") or ""),
                   result=CheckResult.from_json(d["result"]), notes=tuple(d.get("notes") or ()))


@dataclass(frozen=True)
class Request:
    """An HTTP request body as sent to a serving endpoint."""
    body: bytes
    content_type: str = "application/json"
    accept: str = "application/json"


@dataclass(frozen=True)
class Prediction:
    """One prediction made against a model: by the local emulation, a cloud endpoint, or shown in
    a proof. The grader fills every field from what it sent and what it received; nothing here is
    taken from the student's process except the response status, content type and body."""
    mode: Literal["local", "cloud"]
    platform: str
    ok: bool                                  # the endpoint answered 2xx with a usable prediction
    request: Request
    status: int | None = None                 # HTTP status of the answer
    response: bytes = b""
    response_content_type: str | None = None
    latency_ms: float | None = None
    endpoint: str = ""                        # endpoint name / URL / "local emulation"
    runtime: str = ""                         # serving image the answer came from
    isolation: str = ""                       # sandbox isolation, as decided by the grader
    sample_source: str = ""                   # where the request came from (README line, input.json)
    n_rows: int | None = None
    n_predictions: int | None = None
    message: str = ""

    def with_(self, **changes: Any) -> Prediction:
        return replace(self, **changes)


def to_json(obj: Any) -> Any:
    """A JSON-ready copy of a record (bytes as latin-1-safe base64 is left to the callers)."""
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: to_json(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_json(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, bytes):
        import base64
        return base64.b64encode(obj).decode()
    return obj


__all__ = [n for n in dir() if not n.startswith("_") and n != "annotations"]
