"""CheckRecords -> StudentResults: the best platform of each repo, checks in rubric order, one
points scale for everyone, and the "fix this first" triage.

The scale rule (README, instructor section): a student's raw maximum is the sum of the rubric
points of the enabled checks that ran on the graded platform in this run, less the checks that
were skipped (does not apply). A check that deploycheck's own machinery could not grade (``error``)
earns nothing but stays in the maximum, so an error never raises a score; the student is marked
``incomplete`` (re-grade once the grader is fixed) and the run exits non-zero. The
common maximum is ``Rubric.scale_total(active ids)`` (the rubric file's ``total``, else the largest
platform maximum), and ``score = raw / raw_max * common_max`` rounded to 2 decimals. Points per
check come from the rubric table only (ids it does not know carry no points).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from deploycheck import model, overrides as ov, rubric as rb
from deploycheck.classroom.refs import SHADOW_SUFFIX, RepoRef

NOT_GRADED = "not graded"


def _points(r: rb.Rubric, cid: str) -> float:
    spec = r.specs.get(cid)
    return float(spec.points) if spec is not None and spec.enabled else 0.0


def score(cid: str, o: model.Outcome, r: rb.Rubric) -> model.CheckResult:
    """THE scoring rule, the only place points are attached to a verdict: passed and review (no points
    lost until an instructor decides) earn the rubric's points; failed and errors of the run count
    them in the maximum only; skipped (does not apply) counts nowhere."""
    pts = _points(r, cid)
    earns = o.status in (model.PASSED, model.REVIEW) and not o.error
    counts = o.status != model.SKIPPED or o.error
    return model.CheckResult(id=cid, status=o.status, score=pts if earns else 0.0, max_score=pts if counts else 0.0,
                             message=o.message, blocked_by=o.blocked_by, error=o.error, data=o.data,
                             traceback=o.traceback, file=o.file, screenshot=o.screenshot, proof=o.proof)


def scaled(raw: float, raw_max: float, common: float) -> float:
    return round(raw / raw_max * common, 2) if raw_max else 0.0


def _totals(checks: Iterable[model.CheckResult]) -> tuple[float, float, int]:
    cs = list(checks)
    return (sum(c.score for c in cs), sum(c.max_score for c in cs),
            sum(1 for c in cs if c.status == model.FAILED and not c.error))


def decided(cid: str, o: model.Outcome, entry: ov.Entry, r: rb.Rubric) -> model.CheckResult:
    """An instructor's override of the machine's verdict ``o``, scored by :func:`score`; the machine's
    status and message are kept beside the reason."""
    result = score(cid, model.Outcome(entry.status, f"decided by your instructor: {entry.reason}", o.data, file=o.file,
                                      screenshot=o.screenshot, proof=o.proof), r)
    return replace(result, override=model.Override(entry.reason, o.status, o.message))


def build_students(records: Iterable[model.CheckRecord], refs: Iterable[RepoRef], rubric: rb.Rubric,
                   active_ids: Iterable[str], overrides: ov.Overrides = ov.NONE) -> list[model.StudentResult]:
    """One StudentResult per ref (in ref order; students only seen in records follow, sorted).
    ``overrides`` (``--overrides``) replace the machine's verdict of their (student, check), also on
    the shadow run of a late student's latest commit.

    A repo graded on both platforms keeps the better one (higher fraction of its raw maximum, then
    fewer failures, then AWS); the other's scaled totals stay in ``platforms`` and its checks in
    ``other_checks`` (reported, not counted). Refs that could not
    be graded (``error``) get a row with no checks and ``extra.error``; shadow refs (the latest
    commit of a late student) add ``latest_score`` to their student's ``extra.late``."""
    refs = list(refs)
    common = float(rubric.scale_total(list(active_ids)))
    by: dict[str, dict[str | None, dict[str, model.CheckResult]]] = defaultdict(lambda: defaultdict(dict))
    repo_of: dict[str, str] = {}
    notes_of: dict[str, tuple[str, ...]] = {}
    owner = {r.student: r.shadow_of for r in refs if r.shadow_of}
    for rec in records:
        entry = overrides.get(owner.get(rec.student, rec.student), rec.check)
        by[rec.student][rec.platform][rec.check] = (score(rec.check, rec.outcome, rubric) if entry is None else
                                                    decided(rec.check, rec.outcome, entry, rubric))
        repo_of.setdefault(rec.student, rec.repo)
        if rec.notes:
            notes_of[rec.student] = tuple(rec.notes)
    ref_of = {r.student: r for r in refs}
    shadows = {r.shadow_of: r for r in refs if r.shadow_of}
    order = [r.student for r in refs if not r.shadow_of]
    order += sorted(s for s in by if s not in ref_of and not s.endswith(SHADOW_SUFFIX))
    out: list[model.StudentResult] = []
    for sid in order:
        ref = ref_of.get(sid)
        res = _one(sid, by.get(sid, {}), ref, repo_of.get(sid, ref.path if ref else ""), notes_of.get(sid, ()), common)
        if ref is not None and ref.late is not None:
            shadow = shadows.get(sid)
            late = dict(res.extra.get("late") or {})
            if shadow is not None and shadow.student in by:
                sh = _one(shadow.student, by[shadow.student], shadow, shadow.path, (), common)
                late.update(latest_score=sh.score, latest_max_score=sh.max_score, latest_platform=sh.platform)
            res = _with_extra(res, late=late)
        out.append(res)
    return out


def _with_extra(s: model.StudentResult, **extra: Any) -> model.StudentResult:
    from dataclasses import replace
    return replace(s, extra={**s.extra, **extra})


def _one(sid: str, plats: Mapping[str | None, Mapping[str, model.CheckResult]], ref: RepoRef | None, repo: str,
         notes: tuple[str, ...], common: float) -> model.StudentResult:
    extra: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    if ref is not None:
        typed["name"] = ref.display
        if ref.source and ref.source != repo:
            typed["source"] = ref.source
        roster = ref.roster.to_json()
        if roster:
            extra["roster"] = roster
        extra["commit"] = ref.commit.to_json() if ref.commit else None
        if ref.late is not None:
            extra["late"] = ref.late.to_json()
        if ref.dates:
            extra["dates"] = dict(ref.dates)         # GitHub's push time of the graded commit (classroom.pushes)
        notes = tuple(dict.fromkeys((*ref.notes, *notes)))
    if not plats or (ref is not None and ref.error):
        return model.StudentResult(student=sid, repo=repo, platform=None, score=0.0, max_score=common, checks=(),
                                   notes=notes, extra=extra, raw_score=0.0, raw_max_score=0.0,
                                   error=(ref.error if ref is not None else None) or f"{NOT_GRADED}: no check ran",
                                   **typed)
    totals = {p: _totals(cs.values()) for p, cs in plats.items()}
    best = max(plats, key=lambda p: ((totals[p][0] / totals[p][1]) if totals[p][1] else 0.0, -totals[p][2],
                                     p == model.AWS))
    checks = tuple(sorted(plats[best].values(), key=lambda c: rb.order_key(c.id)))
    raw, raw_max, _ = totals[best]
    platforms = {}
    if len(plats) > 1:
        platforms = {str(p): {"score": scaled(t[0], t[1], common), "max_score": common,
                              "raw_score": t[0], "raw_max_score": t[1]} for p, t in totals.items()}
    if raw_max == 0:
        notes = (*notes, "nothing could be graded on this platform (every check was skipped or an error of the run)")
    others = {str(p): tuple(sorted(cs.values(), key=lambda c: rb.order_key(c.id))) for p, cs in plats.items()
              if p != best and p is not None}
    return model.StudentResult(student=sid, repo=repo, platform=best, score=scaled(raw, raw_max, common),
                               max_score=common, checks=checks, notes=notes, platforms=platforms, extra=extra,
                               other_checks=others, raw_score=raw, raw_max_score=raw_max,
                               incomplete=tuple(c.id for c in checks if c.error), **typed)


# ---------------------------------------------------------------- "fix this first"

@dataclass(frozen=True)
class Group:
    """A failing check and the failing checks that wait for it: ``blocked`` holds those whose verdict
    says so (``blocked_by``) and those whose rubric prerequisite (``requires``, transitively) it is."""
    check: model.CheckResult
    blocked: tuple[model.CheckResult, ...] = ()


@dataclass(frozen=True)
class Triage:
    first: model.CheckResult | None          # the one thing to fix first
    groups: tuple[Group, ...]                # every failure, first group = `first`
    errors: tuple[model.CheckResult, ...]    # errors of the run (not the student's fault)
    passed: tuple[model.CheckResult, ...]
    skipped: tuple[model.CheckResult, ...]   # does not apply
    review: tuple[model.CheckResult, ...] = ()   # awaiting an instructor's decision (no points lost)

    @property
    def n_failed(self) -> int:
        return sum(1 + len(g.blocked) for g in self.groups)

    @property
    def n_graded(self) -> int:
        """Checks with a verdict: passed, failed and awaiting review (not errors, not "does not apply")."""
        return len(self.passed) + self.n_failed + len(self.review)


def prerequisites(cid: str) -> frozenset[str]:
    """Every check ``cid`` requires, directly or through another check (from the rubric table)."""
    seen: set[str] = set()
    todo = list(rb.RUBRIC[cid].requires) if cid in rb.RUBRIC else []
    while todo:
        r = todo.pop()
        if r not in seen:
            seen.add(r)
            todo.extend(rb.RUBRIC[r].requires if r in rb.RUBRIC else ())
    return frozenset(seen)


def triage(s: model.StudentResult) -> Triage:
    """Failures grouped under the check to fix first. A failing check waits for another failing check
    when its verdict says ``blocked_by`` it, else when that check is one of its rubric prerequisites
    (the earliest one in rubric order): e.g. predict.local fails because artifact.present failed. The
    root of each chain is a group; the first group is the earliest root that blocks others, else the
    earliest root."""
    checks = sorted(s.checks, key=lambda c: rb.order_key(c.id))
    errors = tuple(c for c in checks if c.error)
    fails = [c for c in checks if c.status == model.FAILED and not c.error]
    by_id = {c.id: c for c in fails}

    def parent(c: model.CheckResult) -> str | None:
        if c.blocked_by and c.blocked_by in by_id and c.blocked_by != c.id:
            return c.blocked_by
        deps = [f.id for f in fails if f.id in prerequisites(c.id)]
        return min(deps, key=rb.order_key) if deps else None

    def root(c: model.CheckResult) -> str:
        seen = {c.id}
        while (p := parent(c)) is not None and p not in seen:
            seen.add(p)
            c = by_id[p]
        return c.id

    roots = [c for c in fails if root(c) == c.id]
    blocked: dict[str, list[model.CheckResult]] = defaultdict(list)
    for c in fails:
        r = root(c)
        if r != c.id:
            blocked[r].append(c)
    first = next((c for c in roots if blocked.get(c.id)), None) or (roots[0] if roots else None)
    ordered = ([first] if first else []) + [c for c in roots if c is not first]
    groups = tuple(Group(c, tuple(blocked.get(c.id, ()))) for c in ordered)
    return Triage(first=first, groups=groups, errors=errors,
                  passed=tuple(c for c in checks if c.status == model.PASSED and not c.error),
                  skipped=tuple(c for c in checks if c.status == model.SKIPPED and not c.error),
                  review=tuple(c for c in checks if c.status == model.REVIEW and not c.error))


def waits_for(c: model.CheckResult, group: Group) -> str:
    """How ``c`` (in ``group.blocked``) depends on the group's check, in words."""
    return f"blocked by {c.blocked_by}" if c.blocked_by else f"needs {group.check.id}"


# a repo-relative path in a message: `aws_deploy/README.md`, `.env`, `gcp_deploy/model.joblib`
# (not a URL, not a dotted module name): a file (with an extension) wins over a folder
_PATH = re.compile(r"(?<![\w/.:@-])((?:[\w.-]+/)+[\w.-]*|\.[\w.-]+)")
def fix_file(c: model.CheckResult) -> str:
    """The file to change for a failing check: the one the verdict named (``file``), else the file
    its message names first (a file before a folder), else ""."""
    if c.file:
        return c.file
    found = [m.group(1).rstrip(".") for m in _PATH.finditer(c.message or "")]
    found = [f for f in found if f not in (".", "..") and not f.startswith("../") and "://" not in f]
    files = [f for f in found if not f.endswith("/") and "." in f.rsplit("/", 1)[-1]]
    best = (files or [f for f in found if f.endswith("/")] or [""])[0]
    if best and re.search(re.escape(best) + r"\S* or \S+/|\S+/ or " + re.escape(best), c.message or ""):
        return ""        # "no aws_deploy/ or gcp_deploy/ folder": no one file to name
    return best


# ---------------------------------------------------------------- typed views of StudentResult.extra

def name_of(s: model.StudentResult) -> str:
    return s.display_name


def roster_of(s: model.StudentResult) -> Mapping[str, str]:
    r = s.extra.get("roster")
    return {str(k): str(v) for k, v in r.items()} if isinstance(r, Mapping) else {}


def error_of(s: model.StudentResult) -> str | None:
    return s.error


def commit_of(s: model.StudentResult) -> Mapping[str, str] | None:
    c = s.extra.get("commit")
    return c if isinstance(c, Mapping) and c.get("sha") else None


def late_of(s: model.StudentResult) -> Mapping[str, Any] | None:
    lt = s.extra.get("late")
    return lt if isinstance(lt, Mapping) and lt.get("count") is not None else None


def dates_of(s: model.StudentResult) -> Mapping[str, Any] | None:
    """What the hosting service said of the graded commit's date (classroom.pushes ``DateCheck``), or None
    when the run had no deadline."""
    d = s.extra.get("dates")
    return d if isinstance(d, Mapping) else None


def dates_cell(s: model.StudentResult) -> str:
    """``pushed late <time>`` / ``on time`` / ``unverified`` (the dates of a run with a deadline), else ""."""
    d = dates_of(s)
    if d is None:
        return ""
    if d.get("pushed_late"):
        return f"pushed late {d.get('pushed_at') or ''}".rstrip()
    return "on time" if d.get("verified") else "unverified"


def similar_to(s: model.StudentResult) -> list[tuple[str, list[str]]]:
    """The students the class's integrity signals pair with ``s`` (report.json's ``integrity``), each with
    the kinds of evidence shared ("files", "names", ...), in order."""
    out: list[tuple[str, list[str]]] = []
    for item in s.extra.get("integrity") or ():
        if isinstance(item, Mapping) and item.get("with"):
            kinds = [str(e.get("kind")) for e in item.get("evidence") or () if isinstance(e, Mapping)]
            out.append((str(item["with"]), list(dict.fromkeys(kinds))))
    return out


def nothing_on_time(s: model.StudentResult) -> bool:
    """Every commit came after the deadline: the checks failed on what the repo held then (nothing),
    and no change the student makes now fixes them; the writers say so instead of "fix this first"."""
    return late_of(s) is not None and commit_of(s) is None and not error_of(s)


def platform_label(s: model.StudentResult) -> str:
    """The graded platform, or why there is none."""
    return s.platform or ("nothing by the deadline" if nothing_on_time(s) else "no deploy folder")


def check_ids(students: Iterable[model.StudentResult]) -> list[str]:
    seen: dict[str, None] = {}
    for s in students:
        for c in s.checks:
            seen.setdefault(c.id, None)
    return sorted(seen, key=rb.order_key)


def fmt(x: Any) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return str(int(f)) if f.is_integer() else f"{f:.2f}".rstrip("0").rstrip(".")
