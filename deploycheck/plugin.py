"""The deploycheck pytest plugin: hooks and options only.

Options become a frozen :class:`~deploycheck.settings.Settings`; ``@pytest.mark.check("<id>")``
markers are validated against :mod:`deploycheck.rubric` (which holds every point and prerequisite);
check tests are parametrized over targets (test id = student id); each check's
:class:`~deploycheck.model.CheckRecord` travels to the controller on the test report (xdist-safe),
where the gradebook is written. Tests in ``checks/`` look like::

    @pytest.mark.check("readme.present")
    def test_readme_present(target, record):
        record(readme.readme_present(target))
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import linecache
from dataclasses import replace
import os
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator, Mapping

import pluggy
import pytest

from deploycheck import errors, files
from deploycheck import overrides as ov
from deploycheck import rubric as rb
from deploycheck.discovery import Target, targets_for
from deploycheck.model import (FAILED, PLATFORMS, REVIEW, SKIPPED, CheckRecord, Outcome, StudentResult, failed, passed,
                               run_error, skipped)
from deploycheck import classroom
from deploycheck.report import escape
from deploycheck.settings import Settings, default_aws_region, env, env_flag

if TYPE_CHECKING:
    from deploycheck.cache import ResultsCache
    from deploycheck.prefetch import Prefetcher

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"
# the rubric in a checkout (checks/) and in an installed wheel (deploycheck/checks/)
CHECKS_DIRS = (CHECKS_DIR, Path(__file__).resolve().parent / "checks")
_PROP = "deploycheck"
_CACHED_PROP = "deploycheck-cached"
_REVIEW_PROP = "deploycheck-review"
_PRINT_PROP = "deploycheck-fingerprint"      # a student's integrity fingerprint, worker -> controller
_PRINT_ID = "integrity.fingerprint"          # its key in the results cache (not a check)
_OUTCOME_KEY = pytest.StashKey[Outcome]()
_CACHED_KEY = pytest.StashKey[bool]()
_PLUGIN_KEY = pytest.StashKey["DeploycheckPlugin"]()
MESSAGE_LIMIT = 2000                     # characters of a check's message in pytest's own output


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("deploycheck", "deploycheck: grade the deploy-your-model lab")
    classroom.add_options(g)   # --repo --classroom --roster --clone-dir --deadline --canvas --canvas-assignment ...
    g.addoption("--platform", choices=["auto", "aws", "gcp"], default="auto",
                help="grade only this platform's deploy folder (default: every one found, best score kept)")
    g.addoption("--rubric", metavar="FILE.toml", help="points and enabled flag per check id (see README)")
    g.addoption("--overrides", metavar="FILE.toml",
                help="instructors' decisions ([[override]] student, check, status, reason), applied after grading")
    g.addoption("--report", metavar="DIR", help="write report.json, grades.csv, results/, summary.md, index.html here")
    g.addoption("--shard", metavar="K/N", help="grade only the K-th of N deterministic slices of the class")
    g.addoption("--no-proof", action="store_true", help="do not render proof screenshots")
    g.addoption("--no-cache", action="store_true",
                help="grade every check afresh (default: reuse the outcomes of repos unchanged since the last run)")
    g.addoption("--sandbox-timeout", type=float, default=20.0, metavar="SECONDS",
                help="time limit for running one student's model: SECONDS of CPU time, and SECONDS of wall "
                     "clock (three times that once when the machine is overloaded) (default 20)")
    g.addoption("--sandbox-memory", type=int, default=2048, metavar="MB",
                help="memory the student's model process may use on top of the libraries (default 2048 MB)")
    g.addoption("--allow-unsandboxed", action="store_true",
                help="run student code even where no isolation works (every output then says UNSANDBOXED)")
    c = parser.getgroup("deploycheck-cloud", "deploycheck: real (or moto) cloud deployments")
    c.addoption("--cloud", choices=["moto", "aws", "gcp"], help="deploy for real (aws/gcp) or against moto; off by default")
    c.addoption("--cloud-assets", choices=["reference", "student"],
                help="what to deploy (default: reference for reference_deploys/, student otherwise)")
    c.addoption("--aws-region", default=default_aws_region())
    c.addoption("--aws-role-arn", help="SageMaker execution role ARN")
    c.addoption("--aws-bucket", help="S3 bucket for model artifacts (default: deploycheck-<account>-<region>)")
    c.addoption("--gcp-project")
    c.addoption("--gcp-region", default="us-central1")
    c.addoption("--gcp-bucket")
    c.addoption("--instance-type", help="default ml.t2.medium (AWS) / e2-standard-2 (Vertex)")
    c.addoption("--allow-instance-type", action="store_true", help="allow an instance type outside the cost allowlist")
    c.addoption("--max-deployments", type=int, default=3, help="refuse to create more endpoints than this in one run")
    c.addoption("--run-id", default="", help="tag for every cloud resource of this run (default: generated)")
    c.addoption("--audit-account", action="store_true", help="list billable leftovers anywhere in the account (cloud.account_clean)")
    c.addoption("--audit-trail", action="store_true",
                help="prove the deployment and its clean-up from the account's own audit trail (cloud.trail: "
                     "CloudTrail / GCP Admin Activity logs)")
    c.addoption("--trail-since", metavar="TIME", help="start of the lab window for --audit-trail (ISO 8601, e.g. "
                                                      "2024-04-15 or 2024-04-15T09:00:00+02:00; default 90 days ago)")
    c.addoption("--trail-until", metavar="TIME", help="end of the lab window for --audit-trail (default: now)")


def _wants_checks(config: pytest.Config) -> bool:
    """True when this run collects the rubric in checks/ (so a repo source is mandatory)."""
    for a in config.args:
        a = a.split("::")[0]
        if a in ("deploycheck.checks",) or a.startswith("deploycheck.checks."):
            return True
        try:
            p = Path(a).resolve()
        except OSError:
            continue
        if any(p == d or d in p.parents for d in CHECKS_DIRS):
            return True
    return False


def _run_id(o: argparse.Namespace) -> str:
    """One run id for the whole session: xdist workers inherit it through the environment."""
    if o.run_id:
        return str(o.run_id)
    if not (o.cloud or o.audit_account):
        return ""
    from deploycheck.cloud.base import new_run_id
    return os.environ.setdefault("DEPLOYCHECK_RUN_ID", env("RUN_ID") or new_run_id())


def _parse_shard(s: str | None) -> tuple[int, int] | None:
    try:
        return classroom.parse_shard(s)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None


def settings_from(o: argparse.Namespace) -> Settings:
    try:
        rubric = rb.load(o.rubric)
        decisions = ov.load(o.overrides)
    except (rb.RubricError, ov.OverrideError) as e:
        raise pytest.UsageError(str(e)) from None
    return Settings(
        platform=o.platform, report=Path(o.report) if o.report else None,
        sandbox_timeout=o.sandbox_timeout, sandbox_memory_mb=o.sandbox_memory,
        allow_unsandboxed=bool(o.allow_unsandboxed), proof=not o.no_proof, cloud=o.cloud,
        cloud_assets=o.cloud_assets, aws_region=o.aws_region, aws_role_arn=o.aws_role_arn,
        aws_bucket=o.aws_bucket, gcp_project=o.gcp_project, gcp_region=o.gcp_region, gcp_bucket=o.gcp_bucket,
        instance_type=o.instance_type, allow_instance_type=o.allow_instance_type,
        max_deployments=o.max_deployments, run_id=_run_id(o), audit_account=o.audit_account,
        audit_trail=bool(o.audit_trail), trail_since=o.trail_since, trail_until=o.trail_until,
        rubric=rubric, overrides=decisions, canvas=bool(o.canvas or o.canvas_assignment), cache=not (o.no_cache or env_flag("NO_CACHE")),
        as_of=_as_of(rubric, getattr(o, "deadline", None)))


def _as_of(rubric: rb.Rubric, deadline: str | None) -> str:
    """The date the serving images are taken as of: the rubric's ``as_of``, else ``--deadline``'s
    date (in its own time zone), else "" (today's images)."""
    if rubric.as_of:
        return rubric.as_of
    if not deadline:
        return ""
    from deploycheck.classroom.git import parse_deadline
    try:
        return parse_deadline(deadline).date().isoformat()
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None


def check_id_of(item: pytest.Item) -> str | None:
    m = item.get_closest_marker("check")
    if m is None:
        return None
    return rb.validate_marker(m.args, m.kwargs, item.nodeid.split("[")[0])


def target_of(item: Any) -> Target | None:
    """The student target a (check) item is parametrized with, if any."""
    t = item.callspec.params.get("target") if hasattr(item, "callspec") else None
    return t if isinstance(t, Target) else None


def _function_name(cid: str) -> str:
    return "test_" + cid.replace(".", "_")


# test function name -> check id (the naming rule lets the controller name a crashed test's check)
_BY_FUNCTION = {_function_name(cid): cid for cid in rb.CHECK_IDS}


class DeploycheckPlugin:
    def __init__(self, config: pytest.Config):
        self.config = config
        o = config.option
        self.settings = settings_from(o)
        if self.settings.allow_unsandboxed:
            from deploycheck import sandbox
            sandbox.set_allow_unsandboxed(True)
        self.shard = _parse_shard(o.shard)
        try:
            resolved = classroom.resolve(o, self.shard)   # the whole class listed, only this shard cloned
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        self.class_students = resolved.class_students
        self.refs = resolved.refs
        self.shadows = classroom.shadow_refs(self.refs)   # latest commits of late students
        self.records: list[CheckRecord] = []
        self.started = time.time()
        self._targets: list[Target] | None = None
        self._by_test_id: dict[str, Target] = {}
        self._targets_lock = threading.Lock()
        self._crashed: set[str] = set()
        self._expected: dict[str, None] = {}     # node ids of the checks this run selected (in order)
        self._recorded: set[str] = set()         # node ids that brought a record
        self.students: list[StudentResult] = []
        self.override_warnings: list[str] = []
        self.report_error: str | None = None
        self.report_warnings: list[str] = []
        if self.settings.report and not hasattr(config, "workerinput") and not config.option.collectonly:
            # a re-used --report folder: nothing of the previous run stays beside the new gradebook
            from deploycheck.report import clear_previous
            clear_previous(self.settings.report)
        from deploycheck.cache import ResultsCache
        self.cache = ResultsCache(self.settings, enabled=self.settings.cache)
        self.reused = 0
        self.prefetch: Prefetcher | None = None
        # class runs compare the students' hand-ins (deploycheck.classroom.integrity): every process
        # fingerprints the students it grades, the controller compares them
        self.starter = getattr(o, "starter", None)
        if self.starter and not Path(self.starter).is_dir():
            raise pytest.UsageError(f"--starter {self.starter}: not a folder; give the folder of the course's "
                                    "starter files")
        self.integrity = bool(o.classroom or o.roster or len(self.refs) > 1 or self.starter)
        self.fingerprinted: set[str] = set()
        self.fingerprints: dict[str, dict[str, Any]] = {}

    @property
    def targets(self) -> list[Target]:
        with self._targets_lock:           # the controller's scheduler thread asks too
            if self._targets is None:
                ts: list[Target] = []
                for r in [*self.refs, *self.shadows]:
                    if not r.error:
                        ts.extend(targets_for(r.student, r.path, self.settings.platform, self.settings.as_of,
                                              r.problem))
                self._by_test_id = {t.test_id: t for t in ts}
                self._targets = ts
            return self._targets

    def target_by_test_id(self, test_id: str) -> Target | None:
        self.targets                      # computed once
        return self._by_test_id.get(test_id)

    # ---------------------------------------------------------------- collection
    @pytest.hookimpl
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "target" in metafunc.fixturenames:
            metafunc.parametrize("target", self.targets, ids=[t.test_id for t in self.targets])

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for it in items:
            try:
                cid = check_id_of(it)
            except rb.RubricError as e:
                raise pytest.UsageError(str(e)) from None
            if cid is None:
                keep.append(it)
                continue
            fn = getattr(it, "originalname", it.name.split("[")[0])
            if fn != _function_name(cid):
                raise pytest.UsageError(f"{it.nodeid.split('[')[0]}: the test of check {cid} must be named "
                                        f"{_function_name(cid)} (the report names crashed tests by it)")
            spec = self.settings.rubric.spec(cid)
            if not spec.enabled or not self.settings.option_on(spec.option):
                drop.append(it)
                continue
            keep.append(it)
        if drop:
            config.hook.pytest_deselected(items=drop)
        # all checks of a student together, in rubric order: per-process facts stay warm
        order = {t.test_id: n for n, t in enumerate(self.targets)}

        def key(it: pytest.Item) -> tuple[int, tuple[int, str]]:
            t = target_of(it)
            cid = check_id_of(it) or ""
            return (order.get(t.test_id, -1) if t is not None else -1, rb.order_key(cid))
        keep.sort(key=key)
        items[:] = keep
        self._expected.update((it.nodeid, None) for it in keep if check_id_of(it) and target_of(it) is not None)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The controller of a class run learns what each worker selected (the same for all)."""
        self._expected.update((i, None) for i in ids if _check_of_nodeid(i) is not None)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Build, in this terminal and before any check waits for it, each runtime environment the
        repos declare that this machine has not built yet: a first run on a new image takes minutes,
        and a check's own output is not shown while it runs (nor at all in an xdist worker)."""
        c = self.config
        if hasattr(c, "workerinput") or c.option.collectonly or c.option.keyword or c.option.markexpr \
                or "predict.local" not in self.settings.active_checks():
            return
        tr = c.pluginmanager.get_plugin("terminalreporter")
        if tr is None:
            return
        from deploycheck.runtimes import catalog, envs
        from deploycheck.schedule import declared_images
        images: dict[str, frozenset[str]] = {}
        declared_images(self.targets, images)
        keys = sorted({k for ks in images.values() for k in ks})
        missing = [im for im in map(catalog.scheduled, keys) if im.supported and envs.existing(im) is None]
        for im in missing:
            lock = threading.Lock()

            def say(message: str) -> None:
                with lock:
                    tr.write_line(f"deploycheck: {message}")
            try:
                env = envs.ensure(im, log=say)
                say(f"ready: {env.label}")
            except (envs.EnvUnavailable, envs.EnvBuildError) as e:
                say(f"no runtime environment for {im.label()}: {str(e).splitlines()[0]} (predict.local reports it)")

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Start what the selected checks will wait for, in the background (:mod:`deploycheck.prefetch`):
        the sandbox server of the first repo to predict and the browser now, each student's OCR as
        its checks begin. Nothing starts for checks that are not selected."""
        if not hasattr(self.config, "workerinput") and getattr(self.config.option, "numprocesses", None):
            return                                          # the xdist controller runs no checks
        selected: dict[str, set[str]] = {}
        first = None
        try:
            for it in session.items:
                t = target_of(it)
                cid = check_id_of(it)
                if t is not None and cid is not None:
                    selected.setdefault(t.test_id, set()).add(cid)
                    if first is None and cid == "predict.local" and t.folder is not None:
                        first = t
        except rb.RubricError:
            return                                          # already a usage error of the collection
        from deploycheck.prefetch import Prefetcher
        self.prefetch = Prefetcher(self.settings, self.cache, selected)
        if first is not None:
            self.prefetch.start(first)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        if self.prefetch is not None:
            self.prefetch.before(target_of(item), target_of(nextitem))

    # ---------------------------------------------------------------- running a check
    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """The results cache: a check whose repo, grader, options and machine are unchanged since a
        stored run reuses that outcome instead of running (and renders nothing again)."""
        cid = check_id_of(pyfuncitem)
        t = target_of(pyfuncitem)
        if cid is None or t is None:
            return None
        o = self.cache.get(t, cid)
        if o is None:
            return None
        pyfuncitem.stash[_OUTCOME_KEY] = o
        pyfuncitem.stash[_CACHED_KEY] = True
        return True

    # ---------------------------------------------------------------- results
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
        rep = (yield).get_result()
        cid = check_id_of(item)
        t = target_of(item)
        if cid is None or t is None:
            return
        # what the check's process printed reaches pytest's report sections escaped, as its messages do,
        # and so does what pytest shows of a failure it reports itself (a fixture's error or skip: -rA, --tb, -l)
        rep.sections = [(title, escape.terminal_block(text)) for title, text in rep.sections]
        rep.longrepr = escaped_longrepr(rep.longrepr)
        if not (rep.when == "call" or (rep.when == "setup" and rep.outcome != "passed")):
            return
        stored = item.stash.get(_OUTCOME_KEY, None)
        if stored is None:                      # the check never ran: its setup was skipped or failed
            if rep.outcome == "skipped":
                stored = skipped(_short(rep))
            else:
                stored = run_error(f"{cid} could not start (a fixture failed: {_short(rep)})",
                                   traceback=rep.longreprtext[-errors.TRACEBACK_LIMIT:])
            stored = printable(stored)
        rec = CheckRecord(t.student, t.platform, str(t.submission.repo), cid, stored, tuple(t.submission.notes))
        rep.user_properties.append((_PROP, json.dumps(rec.to_json(), default=str)))
        if stored.status == REVIEW:
            rep.user_properties.append((_REVIEW_PROP, "1"))
        if self.integrity and t.student not in self.fingerprinted and not t.student.endswith(classroom.SHADOW_SUFFIX):
            self.fingerprinted.add(t.student)
            rep.user_properties.append((_PRINT_PROP, json.dumps(self._fingerprint(t))))
        if item.stash.get(_CACHED_KEY, False):
            rep.user_properties.append((_CACHED_PROP, "1"))
        elif item.stash.get(_OUTCOME_KEY, None) is not None:
            self.cache.put(t, cid, stored)

    def _fingerprint(self, t: Target) -> dict[str, Any]:
        """The student's integrity fingerprint (from the facts grading gathered; kept in the results
        cache). Never fails a check: what cannot be fingerprinted is a note on it."""
        o = self.cache.get(t, _PRINT_ID)
        if o is not None and isinstance(o.data.get("fingerprint"), dict):
            return dict(o.data["fingerprint"])
        from deploycheck.analysis import fingerprint
        try:
            doc = fingerprint.of_submission(t.submission).to_json()
        except Exception as e:  # noqa: BLE001 - integrity signals never cost a student a grade
            return fingerprint.Fingerprint(t.student, problems=(f"{type(e).__name__}: {e}",)).to_json()
        self.cache.put(t, _PRINT_ID, passed(fingerprint=doc))
        return doc

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        got = False
        for name, value in report.user_properties:
            if name == _PROP:
                self.records.append(CheckRecord.from_json(json.loads(str(value))))
                self._recorded.add(report.nodeid)
                got = True
            elif name == _PRINT_PROP:
                doc = json.loads(str(value))
                self.fingerprints[str(doc.get("student"))] = doc
            elif name == _CACHED_PROP:
                self.reused += 1
        if not got and report.outcome == "failed" and report.nodeid in self._crashed:
            self._record_crash(report.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config
                                 ) -> tuple[str, str, tuple[str, Mapping[str, bool]]] | None:
        """A check awaiting an instructor's review passes as far as pytest is concerned (no points lost,
        not a failure, exit status unchanged) and is counted apart: ``R`` / ``REVIEW``, "N review"."""
        if report.when == "call" and report.outcome == "passed" and \
                any(name == _REVIEW_PROP for name, _value in report.user_properties):
            return "review", "R", ("REVIEW", {"yellow": True})
        return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        """An xdist worker died running ``crashitem`` (memory, a native crash): retry it once in a
        fresh worker; a second death is recorded as an error of the run, never dropped."""
        if crashitem not in self._crashed:
            self._crashed.add(crashitem)
            try:
                sched.mark_test_pending(crashitem)
                report.outcome = "rerun"  # type: ignore[assignment]
                return
            except NotImplementedError:
                pass

    def _record_crash(self, nodeid: str) -> None:
        self._record_error(nodeid, "the grader's worker process died twice while running {cid} on this repo (out of "
                                   "memory or a crash); the check was not graded")

    def _record_error(self, nodeid: str, message: str) -> None:
        """An error of the run for the check ``nodeid`` that brought no verdict (``{cid}`` in ``message``)."""
        cid, test_id = _check_of_nodeid(nodeid) or (None, "")
        t = self.target_by_test_id(test_id)
        if cid is None or t is None:
            return
        self.records.append(CheckRecord(t.student, t.platform, str(t.submission.repo), cid,
                                        run_error(message.format(cid=cid)), tuple(t.submission.notes)))
        self._recorded.add(nodeid)

    def _record_missing(self) -> None:
        """Every check this run selected has a record: one that brought none (the run stopped, a worker
        died and was not replaced) is an error of the run, so its student is never scored on a partial
        set (the check stays in the maximum, the student is incomplete, the run exits 1)."""
        for nodeid in self._expected:
            if nodeid not in self._recorded:
                self._record_error(nodeid, "{cid} did not run: the grading run stopped before it (interrupted, or "
                                           "its worker process died); grade again")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput") or self.config.option.collectonly \
                or not (self.records or self._expected or any(r.error for r in self.refs)):
            return              # --collect-only lists the checks: nothing ran, nothing is graded or written
        from deploycheck import machine
        from deploycheck import report as rp
        s = self.settings
        self._record_missing()
        # the scale comes from the rubric's points of the checks this run selected, never from the
        # records that exist
        selected = {c for c in (_check_of_nodeid(n) for n in self._expected) if c is not None}
        self.students = rp.build_students(self.records, [*self.refs, *self.shadows], s.rubric,
                                          {cid for cid, _t in selected} | {r.check for r in self.records}, s.overrides)
        graded: dict[str, set[str]] = {}
        for r in self.records:
            graded.setdefault(r.student, set()).add(r.check)
        self.override_warnings = s.overrides.warnings(self.class_students, graded)
        extra: dict[str, Any] = {}
        if self.override_warnings:
            extra["override_warnings"] = self.override_warnings
        if self.integrity:
            # the class's integrity signals: no points, only evidence side by side (classroom.integrity)
            from deploycheck.classroom import integrity
            prints, starter = integrity.from_json(self.fingerprints.values()), integrity.starter_print(self.starter)
            self.students, extra["integrity"] = integrity.apply(self.students, prints, starter)
            if self.shard:
                extra["integrity"]["scope"] = "this shard only: deploycheck merge compares the whole class"
        if s.report:
            meta = rp.RunMeta(started=self.started, finished=time.time(),
                              shard=f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
                              class_students=self.class_students, run_id=s.run_id, cloud=s.cloud,
                              deadline=self.config.option.deadline,
                              extra={**extra, "machine": machine.facts(self.records, self.cache.enabled)})
            try:
                options = rp.ReportOptions.from_options(self.config.option)
                self.report_warnings = rp.warnings(self.students, options)
                rp.write_all(self.students, s.report, meta, options)
                if self.integrity:
                    integrity.write_prints(s.report, prints, starter)
            except rp.ReportError as e:          # the rest of the report is written; the run is not OK
                self.report_error = str(e)
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
                return
        # exit status: 0 when every enabled check of each student's graded platform passed and every
        # student could be graded
        all_ok = all(not (c.status == FAILED or c.error) for st in self.students for c in st.checks) and \
            not any(st.error for st in self.students)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.OK if all_ok else pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter, exitstatus: int,
                                config: pytest.Config) -> None:
        if self.report_error:
            terminalreporter.write_line(f"deploycheck: error: {self.report_error}", red=True)
        if not self.students:
            return
        from deploycheck.report import terminal
        terminalreporter.section("deploycheck grades")
        for line in terminal.lines(self.students):
            terminalreporter.write_line(line)
        for w in [*self.override_warnings, *self.report_warnings]:
            terminalreporter.write_line(f"deploycheck: warning: {escape.terminal(w, 400)}", yellow=True)
        if self.reused:
            terminalreporter.write_line(f"reused {self.reused} of {len(self.records)} check results from the cache "
                                        "(repos unchanged since the last run; --no-cache grades everything afresh)")
        if self.settings.report:
            terminalreporter.write_line(f"report: {self.settings.report.resolve()}/report.json "
                                        f"(index.html, grades.csv, summary.md, results/)")


def _check_of_nodeid(nodeid: str) -> tuple[str, str] | None:
    """(check id, test id) of a check's node id ``checks/test_x.py::test_<id>[<test id>]``, else None
    (the naming rule lets the controller name a check it never ran)."""
    fn, _, rest = nodeid.partition("::")[2].partition("[")
    cid = _BY_FUNCTION.get(fn)
    return (cid, rest[:-1] if rest.endswith("]") else rest) if cid is not None and rest else None


def _short(rep: pytest.TestReport) -> str:
    if rep.outcome == "skipped" and isinstance(rep.longrepr, tuple):
        return str(rep.longrepr[2]).removeprefix("Skipped: ")
    text = getattr(rep, "longreprtext", "") or str(rep.longrepr or "")
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "unknown error")[:500]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(id): a rubric check of deploycheck (points live in deploycheck/rubric.py)")
    if _wants_checks(config) and not (config.option.repo or config.option.classroom or config.option.roster):
        raise pytest.UsageError(
            "deploycheck needs something to grade: pass --repo PATH (your repository, e.g. --repo .), "
            "--classroom DIR (one sub-folder per student) or --roster FILE.csv (columns student,repo).")
    plugin = DeploycheckPlugin(config)
    if plugin.settings.cloud in ("aws", "gcp") and not hasattr(config, "workerinput") \
            and not config.option.collectonly:
        # a real run: check credentials and settings once; ONE line says what is needed (exit 4)
        from deploycheck.cloud.base import options_from
        from deploycheck.cloud.session import preflight
        problem = preflight(options_from(plugin.settings))
        if problem:
            raise pytest.UsageError(problem)
    config.pluginmanager.register(plugin, "deploycheck-session")
    config.stash[_PLUGIN_KEY] = plugin
    grading = config.option.repo or config.option.classroom or config.option.roster
    if grading and getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput") \
            and not config.option.collectonly:
        # the xdist workers use the controller's sandbox servers, one per runtime (deploycheck.sandbox.broker)
        from deploycheck.sandbox import client as sandbox_client
        sandbox_client.share_servers()
        config.add_cleanup(sandbox_client.stop_sharing)
        if config.option.maxworkerrestart is None:
            # xdist gives up after 4 crashed workers per process and leaves the rest of the class
            # ungraded; deploycheck's scheduler runs a check at most twice, so the crashes a class
            # can cause are bounded by its checks: replace every crashed worker up to that bound
            n = len(plugin.refs) + len(plugin.shadows)
            config.option.maxworkerrestart = str(2 * len(PLATFORMS) * n * len(rb.CHECK_IDS)
                                                 + 4 * (config.option.numprocesses if isinstance(
                                                     config.option.numprocesses, int) else 1))
    # A class run prints one line per student in "deploycheck grades" (and every message is in the
    # report); pytest's per-failure section would repeat hundreds of messages and its teardown
    # lookup is quadratic in the number of reports. A single repo keeps the full messages.
    if len(plugin.refs) > 1 and getattr(config.option, "tbstyle", "auto") == "auto":
        config.option.tbstyle = "no"


def _dist_given(config: pytest.Config) -> bool:
    return any(a.startswith(("--dist", "-d")) or a == "--loadscope-reorder" for a in config.invocation_params.args)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With -n, one student's checks all run in one worker (:mod:`deploycheck.schedule`), unless
    ``--dist`` chooses another of xdist's schedules."""
    grading = config.option.repo or config.option.classroom or config.option.roster
    if not grading or _dist_given(config) or config.getvalue("dist") != "load":
        return None                             # (deploycheck's own test suite keeps xdist's load)
    from deploycheck.schedule import StudentScheduling, declared_images, prestart_servers
    from deploycheck.sandbox import broker
    plugin = get_plugin(config)
    images: dict[str, frozenset[str]] = {}

    def while_workers_start() -> None:
        # the class's targets and their images (the scheduler never waits for them), and, when every
        # predict.local will run (no results cache, no -k/-m that may deselect it), the shared sandbox
        # servers of those images; otherwise each is started when a worker first needs it
        declared_images(plugin.targets, images)
        if os.environ.get(broker.ENV) and not (plugin.cache.enabled or config.option.keyword or config.option.markexpr):
            prestart_servers(images)
    threading.Thread(target=while_workers_start, name="deploycheck-images", daemon=True).start()

    def student_of(test_id: str) -> str | None:
        t = plugin.target_by_test_id(test_id)
        return t.student if t is not None else None
    return StudentScheduling(config, log, student_of, lambda student: images.get(student, frozenset()))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """Around every check (run, or reused from the results cache by the session plugin): the
    exception policy (:func:`deploycheck.errors.outcome_of`, its one application), then the outcome
    becomes the test's pytest status. Messages reach pytest's own output (-v, --tb, -r) escaped like
    every terminal sink."""
    cid = check_id_of(pyfuncitem)
    if cid is None or target_of(pyfuncitem) is None:
        return (yield)
    try:
        yield
    except Exception as e:  # noqa: BLE001 - the exception policy, applied here and nowhere else
        pyfuncitem.stash[_OUTCOME_KEY] = printable(errors.outcome_of(cid, e))
    o = pyfuncitem.stash.get(_OUTCOME_KEY, None)
    if o is None:
        o = run_error(f"the test of {cid} recorded no verdict (it must call record(outcome)): a bug in the rubric")
        pyfuncitem.stash[_OUTCOME_KEY] = o
    _conclude(o)
    return True


def _conclude(o: Outcome) -> None:
    """The outcome as the test's pytest status (failed, skipped; passed and review return), its
    message escaped for pytest's own output."""
    if o.status == FAILED:
        pytest.fail(escape.terminal(o.message, MESSAGE_LIMIT), pytrace=False)
    if o.status == SKIPPED:
        pytest.skip(escape.terminal(o.message, MESSAGE_LIMIT))


def escaped_longrepr(longrepr: Any) -> Any:
    """pytest's account of a failure or skip (a skip's (path, line, reason), a string, an exception's
    traceback with its source lines, locals and message) with every string escaped like every terminal
    sink; kept as pytest's own objects, so that --tb, -l and -r show what they would."""
    if longrepr is None:
        return None
    if isinstance(longrepr, (str, tuple, list)) or dataclasses.is_dataclass(longrepr):
        return _escaped_strings(longrepr)
    return escape.terminal_block(str(longrepr))       # another kind of pytest report: its text


def _escaped_strings(x: Any) -> Any:
    if isinstance(x, str):
        return escape.terminal_block(x)
    if isinstance(x, tuple):
        return tuple(_escaped_strings(v) for v in x)
    if isinstance(x, list):
        return [_escaped_strings(v) for v in x]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            setattr(x, f.name, _escaped_strings(getattr(x, f.name)))
    return x


@pytest.hookimpl(tryfirst=True)
def pytest_warning_recorded(warning_message: warnings.WarningMessage, when: str, nodeid: str,
                            location: tuple[str, int, str] | None) -> None:
    """A warning raised while grading (the grader parsing a student's file warns about it, with its
    name and line) reaches pytest's warnings summary escaped; before pytest (and xdist) read it."""
    w = warning_message
    line = w.line if w.line is not None else linecache.getline(w.filename, w.lineno)
    text = str(w.message)
    clean = escape.terminal_block(text)
    if clean != text:
        try:
            w.message = w.category(clean)
        except Exception:  # noqa: BLE001 - a warning class with another signature: its text is enough
            w.message = clean
    w.filename = escape.terminal(w.filename, 1000)
    w.line = escape.terminal(line, MESSAGE_LIMIT)


def printable(o: Outcome) -> Outcome:
    """``o`` with every string of its message and data printable: a student's file name that is not
    UTF-8 reaches a verdict as surrogate escapes, which no terminal, cache or report can encode;
    from here on it is its display form (files.printable). The one boundary every outcome crosses
    on its way to pytest, the results cache and the gradebook."""
    shot = o.screenshot
    changed = dict(message=files.printable(o.message), data=files.printable_data(dict(o.data)),
                   traceback=files.printable(o.traceback), file=files.printable(o.file) if o.file else o.file,
                   screenshot=replace(shot, path=files.printable(shot.path), ocr_text=files.printable(shot.ocr_text))
                   if shot is not None else None)
    if all(v == getattr(o, k) for k, v in changed.items()):
        return o
    return replace(o, **changed)


def get_plugin(config: pytest.Config) -> DeploycheckPlugin:
    return config.stash[_PLUGIN_KEY]


@pytest.fixture(scope="session")
def dc(request: pytest.FixtureRequest) -> Settings:
    """The run's Settings."""
    return get_plugin(request.config).settings


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[[Outcome], Outcome]:
    """``record(outcome)``: keep the outcome for the gradebook and make it the test's verdict."""
    def _record(outcome: Outcome) -> Outcome:
        cid = check_id_of(request.node)
        if cid in ("predict.local", "cloud.predict") and outcome.ok:
            outcome = _with_proof(request, outcome, "local" if cid == "predict.local" else "cloud")
        outcome = printable(outcome)
        request.node.stash[_OUTCOME_KEY] = outcome
        _conclude(outcome)                              # the first verdict recorded is the check's
        return outcome
    return _record


def _with_proof(request: pytest.FixtureRequest, outcome: Outcome, mode: str) -> Outcome:
    """deploycheck's own proof artefacts (card, README snapshot) for a passed prediction: kept on
    predict.local's record; they carry no points and their failure is only a note."""
    settings = get_plugin(request.config).settings
    target = target_of(request.node)
    if not settings.proof or target is None:
        return outcome

    from deploycheck import proof
    extra = proof.render_artefacts(target, settings, mode)
    if not extra:
        return outcome
    images = extra.pop("proof", None) or {}
    return replace(outcome, proof={**outcome.proof, **images}, data={**outcome.data, **extra})


__all__ = ["DeploycheckPlugin", "Settings", "failed", "passed", "skipped"]
