"""The verdict of one check on one deploy folder.

Library functions return an :class:`Outcome`; the thin tests in ``checks/`` hand it to the
``record`` fixture, which stores it for the gradebook and turns it into a pytest verdict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class Outcome:
    status: str
    message: str = ""
    # JSON-serialisable extras kept in report.json (request/response, notes, where found...)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == PASSED


def passed(message: str = "", **data: Any) -> Outcome:
    return Outcome(PASSED, message, dict(data))


def failed(message: str, **data: Any) -> Outcome:
    return Outcome(FAILED, message, dict(data))


def skipped(message: str, **data: Any) -> Outcome:
    return Outcome(SKIPPED, message, dict(data))
