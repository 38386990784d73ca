"""The verdict of one check on one deploy folder.

Library functions return an :class:`Outcome`; the thin tests in ``checks/`` hand it to the
``record`` fixture, which stores it for the gradebook and turns it into a pytest verdict.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

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


def guarded(fn: Callable[..., Outcome]) -> Callable[..., Outcome]:
    """Decorator for check functions: any exception becomes a failed Outcome (hostile input must
    never raise out of a check and stop the run)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Outcome:
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the safety net for one broken repo
            return failed(f"{fn.__name__.replace('_', ' ')}: could not analyse this repo ({type(e).__name__}: {e}); "
                          "check that the deploy folder holds ordinary files")
    return wrapper
