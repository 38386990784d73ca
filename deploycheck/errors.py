"""The exception policy of deploycheck, written once.

1. A bounded problem with the student's input that a fact cannot express (a file that cannot be
   read, is too large, or is hostile: an archive bomb, a parser-killing nesting) is raised as
   :class:`StudentInputError`, whose message says what is wrong and what to change: **the check
   fails with that message**.
2. deploycheck's own machinery failing in a way it knows (a runtime environment that cannot be
   built, a cloud permission, a sandbox that cannot start) may be raised as :class:`RunError`, whose
   message says what to fix on the machine: **an error of the run** with that message.
3. **Anything else is a bug of deploycheck: an error of the run**, never the student's failure. The
   student sees "error of the grading run (not your fault; tell your instructor)"; the traceback is
   kept for the instructor in report.json and on the class page (never in the terminal, summary.md
   or Gradescope, which students read).

An error of the run earns no points and keeps the check in the maximum (an error never raises a
score), marks the student incomplete and makes the run exit 1, so the class is re-graded once the
machine or deploycheck is fixed.

:func:`outcome_of` is the policy. It is applied in one place, around every check of a run
(:mod:`deploycheck.plugin`); verdict and analysis code never catch ``Exception`` to make a verdict.
"""
from __future__ import annotations

import traceback as tb

from deploycheck.model import Outcome, failed, run_error

TRACEBACK_LIMIT = 8000


class StudentInputError(Exception):
    """The student's input is unreadable, oversized or hostile; ``str(e)`` is one or two sentences
    saying what is wrong and what to change. The check fails with it."""


class RunError(Exception):
    """deploycheck's own machinery failed in a known way; ``str(e)`` is one line saying what to fix
    on the grading machine. The check is an error of the run."""


def traceback_of(exc: BaseException) -> str:
    """The exception's traceback (the innermost frames when it is long), for the instructor."""
    text = "".join(tb.format_exception(exc))
    return text if len(text) <= TRACEBACK_LIMIT else "...\n" + text[-TRACEBACK_LIMIT:]


def outcome_of(check: str, exc: BaseException) -> Outcome:
    """THE policy: the outcome of ``check`` when judging it raised ``exc``."""
    if isinstance(exc, StudentInputError):
        return failed(str(exc))
    if isinstance(exc, RunError):
        return run_error(f"{check}: {exc}", traceback=traceback_of(exc))
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return run_error(f"deploycheck's own code failed while grading {check} ({what[:300]}); the traceback is in "
                     "the report for your instructor", traceback=traceback_of(exc))


__all__ = ["RunError", "StudentInputError", "outcome_of", "traceback_of"]
