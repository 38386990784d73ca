"""Typed records shared by every part of deploycheck.

Everything that crosses a module boundary is one of these frozen dataclasses; they are turned
into JSON only at the xdist boundary (worker -> controller) and in the report files
(:func:`to_json` / ``from_json``). Nothing here imports another deploycheck module.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Mapping

Status = Literal["passed", "failed", "skipped", "review"]
PASSED: Status = "passed"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"
REVIEW: Status = "review"
STATUSES: tuple[Status, ...] = (PASSED, FAILED, SKIPPED, REVIEW)

Platform = Literal["aws", "gcp"]
AWS: Platform = "aws"
GCP: Platform = "gcp"
PLATFORMS: tuple[Platform, ...] = (AWS, GCP)


@dataclass(frozen=True)
class Screenshot:
    """The student's own image a verdict judged, for the instructor: its path in the repo (or its URL
    when ``remote``) and the text OCR read from it. The class page shows both beside every review item."""
    path: str
    ocr_text: str = ""
    remote: bool = False

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "ocr_text": self.ocr_text}
        if self.remote:
            d["remote"] = True
        return d

    @classmethod
    def from_json(cls, d: Any) -> Screenshot | None:
        if not isinstance(d, Mapping) or not isinstance(d.get("path"), str):
            return None
        return cls(d["path"], str(d.get("ocr_text") or ""), bool(d.get("remote", False)))


@dataclass(frozen=True)
class Outcome:
    """The verdict of one check on one deploy folder, before points are attached (points are
    attached once, in :mod:`deploycheck.report.results`).

    ``status`` ``review``: the evidence is genuinely uncertain; no points are lost until an instructor
    decides, and no output shows it to the student as a failure. ``blocked_by`` names the
    prerequisite check whose failure makes this one fail (the student is told to fix that one first).
    ``error`` marks a failure of deploycheck's own machinery (an environment, the sandbox, the
    browser, a bug): an error of the run, never the student's failure; ``traceback`` then says where
    (report.json and the class page only). ``provisional``: the verdict depends on something this
    machine may do better later (an approximate runtime, an inconclusive run, a timeout): reported as
    is, never stored in the results cache. ``file``: the file the student should change. ``screenshot``:
    the student's image the verdict judged. ``proof``: deploycheck's own images of this check (kind ->
    path relative to the report folder). ``data`` holds JSON-serialisable extras kept in report.json;
    nothing in the reports reads it."""
    status: Status
    message: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    blocked_by: str | None = None
    error: bool = False
    traceback: str = ""
    provisional: bool = False
    file: str | None = None
    screenshot: Screenshot | None = None
    proof: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == PASSED

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.provisional:
            d["provisional"] = True
        return _verdict_json(self, d)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Outcome:
        status = d.get("status")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return cls(status=status, provisional=bool(d.get("provisional", False)), **_verdict_fields(d))


def _verdict_json(v: Outcome | CheckResult, d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with the fields an Outcome and a CheckResult share, where they are set."""
    if v.blocked_by:
        d["blocked_by"] = v.blocked_by
    if v.error:
        d["error"] = True
    if v.traceback:
        d["traceback"] = v.traceback
    if v.file:
        d["file"] = v.file
    if v.screenshot is not None:
        d["screenshot"] = v.screenshot.to_json()
    if v.proof:
        d["proof"] = dict(v.proof)
    if v.data:
        d["data"] = dict(v.data)
    return d


def _verdict_fields(d: Mapping[str, Any]) -> dict[str, Any]:
    """The shared fields of :func:`_verdict_json`'s JSON, as constructor keywords."""
    proof = d.get("proof")
    return dict(message=str(d.get("message") or ""), data=dict(d.get("data") or {}),
                blocked_by=d.get("blocked_by") or None, error=bool(d.get("error", False)),
                traceback=str(d.get("traceback") or ""), file=d.get("file") or None,
                screenshot=Screenshot.from_json(d.get("screenshot")),
                proof={str(k): str(v) for k, v in proof.items()} if isinstance(proof, Mapping) else {})


# The constructors' typed keywords are declared ``Any`` so that a verdict may pass one dict of
# extras (``**data``) that holds them; :func:`_outcome` checks their types.
def _outcome(status: Status, message: str, data: Mapping[str, Any], *, file: Any = None, screenshot: Any = None,
             provisional: Any = False, blocked_by: str | None = None, error: bool = False,
             traceback: str = "") -> Outcome:
    if file is not None and not isinstance(file, str):
        raise TypeError(f"file must be a str, not {type(file).__name__}")
    if screenshot is not None and not isinstance(screenshot, Screenshot):
        raise TypeError(f"screenshot must be a model.Screenshot, not {type(screenshot).__name__}")
    return Outcome(status, message, dict(data), blocked_by=blocked_by, error=error, traceback=traceback,
                   provisional=bool(provisional), file=file or None, screenshot=screenshot)


def passed(message: str = "", *, file: Any = None, screenshot: Any = None, provisional: Any = False,
           **data: Any) -> Outcome:
    return _outcome(PASSED, message, data, file=file, screenshot=screenshot, provisional=provisional)


def failed(message: str, *, file: Any = None, screenshot: Any = None, provisional: Any = False,
           **data: Any) -> Outcome:
    return _outcome(FAILED, message, data, file=file, screenshot=screenshot, provisional=provisional)


def review(message: str, *, file: Any = None, screenshot: Any = None, provisional: Any = False,
           **data: Any) -> Outcome:
    """The evidence is genuinely uncertain (a screenshot OCR cannot read with confidence, a partial
    output): the check keeps its points until an instructor decides (``--overrides``), is listed apart
    in every output and never shown to the student as a failure. ``message`` says what was seen and
    what is uncertain, for the instructor and the student. Keep it rare: decide whenever the
    evidence allows."""
    return _outcome(REVIEW, message, data, file=file, screenshot=screenshot, provisional=provisional)


def skipped(message: str, *, provisional: Any = False, **data: Any) -> Outcome:
    return _outcome(SKIPPED, message, data, provisional=provisional)


def blocked(by: str, message: str, *, file: Any = None, **data: Any) -> Outcome:
    """Failed because the prerequisite ``by`` failed; the message says the one thing to fix."""
    return _outcome(FAILED, f"blocked by {by}: {message}", data, file=file, blocked_by=by)


RUN_ERROR_PREFIX = "error of the grading run (not your fault; tell your instructor): "


def run_error(message: str, *, traceback: Any = "", **data: Any) -> Outcome:
    """deploycheck's own machinery failed: not the student's fault, no points lost or won.
    ``traceback`` (for the instructor) is kept in report.json and on the class page only."""
    return _outcome(SKIPPED, RUN_ERROR_PREFIX + message, data, error=True, traceback=str(traceback or ""))


@dataclass(frozen=True)
class Override:
    """An instructor's decision (``--overrides FILE.toml``) that replaced the machine's verdict of one
    check: the machine's status and message are kept beside the reason."""
    reason: str
    machine_status: Status
    machine_message: str

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "machine": {"status": self.machine_status, "message": self.machine_message}}

    @classmethod
    def from_json(cls, d: Any) -> Override | None:
        if not isinstance(d, Mapping):
            return None
        m = d.get("machine")
        m = m if isinstance(m, Mapping) else {}
        st: Status = m["status"] if m.get("status") in STATUSES else FAILED
        return cls(str(d.get("reason") or ""), st, str(m.get("message") or ""))


@dataclass(frozen=True)
class CheckResult:
    """One check of one student, with points (a row of report.json's ``checks``). Built only by
    :func:`deploycheck.report.results.score` (points come from the rubric there and nowhere else)."""
    id: str
    status: Status
    score: float
    max_score: float
    message: str = ""
    blocked_by: str | None = None
    error: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)
    traceback: str = ""
    file: str | None = None
    screenshot: Screenshot | None = None
    proof: Mapping[str, str] = field(default_factory=dict)
    override: Override | None = None

    @property
    def needs_review(self) -> bool:
        return self.status == REVIEW

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "status": self.status, "score": self.score,
                             "max_score": self.max_score, "message": self.message}
        if self.override is not None:
            d["override"] = self.override.to_json()
        return _verdict_json(self, d)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckResult:
        return cls(id=str(d["id"]), status=d["status"], score=float(d["score"]), max_score=float(d["max_score"]),
                   override=Override.from_json(d.get("override")), **_verdict_fields(d))


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
    # the checks of each platform graded but not counted (a repo with both deploy folders)
    other_checks: Mapping[str, tuple[CheckResult, ...]] = field(default_factory=dict)
    name: str = ""                         # display name (roster), else the student id is shown
    source: str | None = None              # where the repo came from (a clone's URL), when not ``repo``
    error: str | None = None               # not graded, and why (no checks then)
    raw_score: float | None = None         # before scaling to the common maximum
    raw_max_score: float | None = None
    incomplete: tuple[str, ...] = ()       # checks that were errors of the run: grade again

    @property
    def display_name(self) -> str:
        return self.name or self.student

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
            for k, cs in self.other_checks.items():
                d["platforms"].setdefault(k, {})["checks"] = [c.to_json() for c in cs]
        if self.notes:
            d["notes"] = list(self.notes)
        if self.raw_score is not None:
            d["raw_score"], d["raw_max_score"] = self.raw_score, self.raw_max_score
        if self.name:
            d["name"] = self.name
        if self.source:
            d["source"] = self.source
        if self.error:
            d["error"] = self.error
        if self.incomplete:
            d["incomplete"] = list(self.incomplete)
        d.update({k: v for k, v in self.extra.items() if k not in d})
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StudentResult:
        known = {"student", "repo", "platform", "score", "max_score", "checks", "platforms", "notes", "name", "source",
                 "error", "raw_score", "raw_max_score", "incomplete"}
        raw, raw_max = d.get("raw_score"), d.get("raw_max_score")
        return cls(student=str(d["student"]), repo=str(d.get("repo") or ""), platform=d.get("platform"),
                   score=float(d["score"]), max_score=float(d["max_score"]),
                   checks=tuple(CheckResult.from_json(c) for c in d.get("checks") or ()),
                   notes=tuple(d.get("notes") or ()),
                   platforms={k: {n: x for n, x in v.items() if n != "checks"}
                              for k, v in (d.get("platforms") or {}).items()},
                   extra={k: v for k, v in d.items() if k not in known},
                   other_checks={k: tuple(CheckResult.from_json(c) for c in v.get("checks") or ())
                                 for k, v in (d.get("platforms") or {}).items() if v.get("checks")},
                   name=str(d.get("name") or ""), source=d.get("source") or None, error=d.get("error") or None,
                   raw_score=float(raw) if raw is not None else None,
                   raw_max_score=float(raw_max) if raw_max is not None else None,
                   incomplete=tuple(d.get("incomplete") or ()))


@dataclass(frozen=True)
class CheckRecord:
    """One check's outcome for one (student, platform) as it travels from an xdist worker to the
    controller (the only place results are serialised in a run). It carries no points: scoring
    happens once, on the controller (:func:`deploycheck.report.results.build_students`)."""
    student: str
    platform: str | None
    repo: str
    check: str
    outcome: Outcome
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"student": self.student, "platform": self.platform, "repo": self.repo, "check": self.check,
                "outcome": self.outcome.to_json(), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckRecord:
        return cls(student=str(d["student"]), platform=d.get("platform"), repo=str(d.get("repo") or ""),
                   check=str(d["check"]), outcome=Outcome.from_json(d["outcome"]), notes=tuple(d.get("notes") or ()))


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


__all__ = [
    "AWS", "FAILED", "GCP", "PASSED", "PLATFORMS", "REVIEW", "RUN_ERROR_PREFIX", "SKIPPED", "STATUSES",
    "CheckRecord", "CheckResult", "Outcome", "Override", "Platform", "Prediction", "Request", "Screenshot",
    "Status", "StudentResult", "blocked", "failed", "passed", "review", "run_error", "skipped", "to_json",
]
