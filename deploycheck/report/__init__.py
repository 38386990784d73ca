"""The gradebook: typed StudentResults (results.py) and one writer per format.

    report.json (json.py)  grades.csv, review.csv (csv.py)  results/<student>.json (gradescope.py)
    summary.md (markdown.py)  index.html (html.py)  canvas.csv (canvas.py)
    github-classroom.csv (github.py)  and the terminal section (terminal.py)

The plugin calls :func:`results.build_students` then :func:`write_all`; ``deploycheck merge``
(merge.py) reads shard reports back and calls :func:`write_all` again.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from deploycheck import model
from deploycheck.report.results import build_students, roster_of, triage

__all__ = ["clear_previous", "ReportError", "ReportOptions", "RunMeta", "write_all", "build_students", "triage"]


class ReportError(Exception):
    """Some files of the report could not be written (the others were); the message names each."""


@dataclass(frozen=True)
class ReportOptions:
    """What to write besides report.json, grades.csv, results/, summary.md."""
    canvas: bool = False                    # canvas.csv
    canvas_assignment: str | None = None    # "Name (ID)" column of canvas.csv (implies canvas)
    github_csv: bool | None = None          # github-classroom.csv; None: when the roster was GitHub Classroom's
    html: bool = True                       # index.html

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> ReportOptions:
        assignment = getattr(options, "canvas_assignment", None)
        return cls(canvas=bool(getattr(options, "canvas", False) or assignment), canvas_assignment=assignment)


@dataclass(frozen=True)
class RunMeta:
    """What report.json's ``meta`` says about the run."""
    started: float | None = None
    finished: float | None = None
    shard: str | None = None                # "K/N"
    class_students: tuple[str, ...] = ()    # every student id of the class before sharding (for merge)
    run_id: str = ""
    cloud: str | None = None
    deadline: str | None = None
    isolation: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)   # merge: merged_from, shards, missing_students

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"started": self.started, "finished": self.finished, "shard": self.shard,
                             "run_id": self.run_id, "cloud": self.cloud}
        if self.class_students:
            d["class_students"] = list(self.class_students)
        if self.deadline:
            d["deadline"] = self.deadline
        if self.isolation:
            d["isolation"] = self.isolation
        d.update(self.extra)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunMeta:
        known = {"started", "finished", "shard", "class_students", "run_id", "cloud", "deadline", "isolation"}
        return cls(started=d.get("started"), finished=d.get("finished"), shard=d.get("shard"),
                   class_students=tuple(d.get("class_students") or ()), run_id=str(d.get("run_id") or ""),
                   cloud=d.get("cloud"), deadline=d.get("deadline"), isolation=str(d.get("isolation") or ""),
                   extra={k: v for k, v in d.items() if k not in known})


# the files of a report folder that only deploycheck writes (a re-used --report folder loses them
# before a new run, so that nothing of the previous run sits beside the new gradebook)
OWN_FILES = ("report.json", "grades.csv", "review.csv", "summary.md", "index.html", "canvas.csv",
             "github-classroom.csv", "fingerprints.json")


def clear_previous(outdir: Path | str) -> list[str]:
    """Remove what an earlier run wrote into ``outdir``: its top-level files and, for each student its
    report.json names, ``results/<student>.json`` and ``proof/<student>/``. Nothing else is touched
    (a --report folder may be any folder). Returns what was removed."""
    import json as _json
    import shutil
    out = Path(outdir)
    try:
        doc = _json.loads((out / "report.json").read_text(encoding="utf-8"))
        students = [str(s["student"]) for s in doc["students"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []                                   # no report of deploycheck's here
    removed = []
    for name in OWN_FILES:
        if (out / name).is_file() and not (out / name).is_symlink():
            (out / name).unlink()
            removed.append(name)
    for sid in students:
        if not sid or "/" in sid or sid in (".", ".."):
            continue
        r = out / "results" / f"{sid}.json"
        if r.is_file() and not r.is_symlink():
            r.unlink()
            removed.append(f"results/{sid}.json")
        d = out / "proof" / sid
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
            removed.append(f"proof/{sid}/")
    return removed


def warnings(students: list[model.StudentResult], options: ReportOptions) -> list[str]:
    """What the run says about the report files it writes (rows an LMS can only guess at)."""
    from deploycheck.report import canvas
    out = []
    if options.canvas or options.canvas_assignment:
        w = canvas.warning(students)
        if w:
            out.append(w)
    return out


def write_all(students: list[model.StudentResult], outdir: Path | str, meta: RunMeta,
              options: ReportOptions = ReportOptions()) -> Path:
    """Every file of the report; one writer that fails never keeps the others (report.json first)
    from writing every student: :class:`ReportError` names what failed, after the rest is written."""
    from deploycheck.report import canvas, csv, github, gradescope, html, json, markdown   # Jinja2: only when writing
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    m = meta.to_json()
    failed: list[str] = []

    def write(name: str, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - reported below, after every other file is written
            failed.append(f"{name}: {type(e).__name__}: {e}")
    write("report.json", json.write, students, out, m)
    write("grades.csv", csv.write, students, out)
    write("review.csv", csv.write_review, students, out)
    write("results/", gradescope.write, students, out)
    write("summary.md", markdown.write, students, out)
    if options.canvas or options.canvas_assignment:
        write("canvas.csv", canvas.write, students, out, options.canvas_assignment)
    gh = options.github_csv
    if gh is None:
        gh = any(roster_of(s).get("github_username") for s in students)
    if gh:
        write("github-classroom.csv", github.write, students, out)
    if options.html:
        write("index.html", html.write, students, out, m)
    if failed:
        raise ReportError(f"could not write part of the report in {out}: " + "; ".join(failed))
    return out
