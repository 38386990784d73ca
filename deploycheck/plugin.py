"""The deploycheck pytest plugin: options, the ``check`` marker, per-student parametrization,
result collection (xdist-safe: results travel on the reports to the controller) and the gradebook.

Tests in ``checks/`` look like::

    @pytest.mark.check("readme.present", points=1)
    def test_readme_present(target, record):
        record(static.readme_present(target))

``target`` is one (student, platform) pair; ``record`` stores the Outcome and turns it into the
pytest verdict (failed -> ``pytest.fail``, skipped -> ``pytest.skip``).
"""
from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploycheck import classroom
from deploycheck import outcome as oc
from deploycheck.classroom import RepoRef
from deploycheck.submission import PLATFORMS, Target, targets_for

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"
_PROP = "deploycheck"

# Checks that are off unless a rubric file (or an option) turns them on.
DEFAULT_DISABLED = {"extras.custom_image"}


@dataclass
class DCConfig:
    """Everything the checks need from the command line, as plain data."""
    platform: str = "auto"
    report: Path | None = None
    sandbox_timeout: float = 20.0
    sandbox_memory_mb: int = 2048
    proof: bool = True
    cloud: str | None = None
    cloud_assets: str | None = None
    aws_region: str = "us-east-1"
    aws_role_arn: str | None = None
    aws_bucket: str | None = None
    gcp_project: str | None = None
    gcp_region: str = "us-central1"
    gcp_bucket: str | None = None
    instance_type: str | None = None
    allow_instance_type: bool = False
    max_deployments: int = 3
    run_id: str = ""
    audit_account: bool = False
    rubric: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("deploycheck", "deploycheck: grade the deploy-your-model lab")
    classroom.add_options(g)   # --repo --classroom --roster --clone-dir --deadline --canvas --canvas-assignment ...
    g.addoption("--platform", choices=["auto", "aws", "gcp"], default="auto",
                help="grade only this platform's deploy folder (default: every one found, best score kept)")
    g.addoption("--rubric", metavar="FILE.toml", help="points and enabled flag per check id")
    g.addoption("--report", metavar="DIR", help="write report.json, grades.csv, results/, summary.md, index.html here")
    g.addoption("--shard", metavar="K/N", help="grade only the K-th of N deterministic slices of the class")
    g.addoption("--no-proof", action="store_true", help="do not render proof screenshots (proof.generated is skipped)")
    g.addoption("--sandbox-timeout", type=float, default=20.0, metavar="SECONDS",
                help="wall-clock limit for running one student's model (default 20)")
    g.addoption("--sandbox-memory", type=int, default=2048, metavar="MB",
                help="address-space limit for one student's model process (default 2048 MB)")
    c = parser.getgroup("deploycheck-cloud", "deploycheck: real (or moto) cloud deployments")
    c.addoption("--cloud", choices=["moto", "aws", "gcp"], help="deploy for real (aws/gcp) or against moto; off by default")
    c.addoption("--cloud-assets", choices=["reference", "student"],
                help="what to deploy (default: reference for reference_deploys/, student otherwise)")
    c.addoption("--aws-region", default=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
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
        if p == CHECKS_DIR or CHECKS_DIR in p.parents:
            return True
    return False


def _load_rubric(path: str | None) -> dict[str, dict[str, Any]]:
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise pytest.UsageError(f"--rubric {path}: file not found")
    except tomllib.TOMLDecodeError as e:
        raise pytest.UsageError(f"--rubric {path}: not valid TOML ({e})")
    table = data.get("checks", data)
    out: dict[str, dict[str, Any]] = {}
    for cid, spec in table.items():
        if isinstance(spec, dict):
            out[cid] = spec
        elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
            out[cid] = {"points": spec}
        elif isinstance(spec, bool):
            out[cid] = {"enabled": spec}
    return out


def _run_id(o) -> str:
    """One run id for the whole session: xdist workers inherit it through the environment."""
    if o.run_id:
        return o.run_id
    if not (o.cloud or o.audit_account):
        return ""
    from deploycheck.cloud.base import new_run_id
    return os.environ.setdefault("DEPLOYCHECK_RUN_ID", new_run_id())


def _parse_shard(s: str | None) -> tuple[int, int] | None:
    if not s:
        return None
    try:
        k, n = (int(x) for x in s.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard {s}: use K/N, e.g. --shard 2/3")
    if n < 1 or not 1 <= k <= n:
        raise pytest.UsageError(f"--shard {s}: K must be between 1 and N")
    return k, n


def shard_refs(refs: list[RepoRef], shard: tuple[int, int] | None) -> list[RepoRef]:
    """Deterministic slice: students sorted by id, every N-th one starting at K."""
    if not shard:
        return refs
    k, n = shard
    ordered = sorted(refs, key=lambda r: r.student)
    return [r for i, r in enumerate(ordered) if i % n == k - 1]


class DeploycheckPlugin:
    def __init__(self, config: pytest.Config):
        self.config = config
        o = config.option
        self.dc = DCConfig(
            platform=o.platform, report=Path(o.report) if o.report else None,
            sandbox_timeout=o.sandbox_timeout, sandbox_memory_mb=o.sandbox_memory,
            proof=not o.no_proof, cloud=o.cloud, cloud_assets=o.cloud_assets,
            aws_region=o.aws_region, aws_role_arn=o.aws_role_arn, aws_bucket=o.aws_bucket,
            gcp_project=o.gcp_project, gcp_region=o.gcp_region, gcp_bucket=o.gcp_bucket,
            instance_type=o.instance_type, allow_instance_type=o.allow_instance_type,
            max_deployments=o.max_deployments, run_id=_run_id(o), audit_account=o.audit_account,
            rubric=_load_rubric(o.rubric),
        )
        self.shard = _parse_shard(o.shard)
        try:
            refs = classroom.resolve(o)
            from deploycheck import rubric
            self.rubric = rubric.load(o.rubric)
        except ValueError as e:
            raise pytest.UsageError(str(e))
        self.class_students = tuple(sorted(r.student for r in refs))
        self.refs = shard_refs(refs, self.shard)
        self.shadows = classroom.shadow_refs(self.refs)   # latest commits of late students
        self.has_sources = bool(o.repo or o.classroom or o.roster)
        self.results: list[dict[str, Any]] = []
        self.started = time.time()
        self._targets: list[Target] | None = None

    # ---------------------------------------------------------------- collection
    @property
    def targets(self) -> list[Target]:
        if self._targets is None:
            ts: list[Target] = []
            for r in [*self.refs, *self.shadows]:
                if not r.error:
                    ts.extend(targets_for(r, self.dc.platform))
            self._targets = ts
        return self._targets

    def check_spec(self, item: pytest.Item) -> tuple[str, float, bool] | None:
        m = item.get_closest_marker("check")
        if m is None:
            return None
        cid = m.args[0] if m.args else m.kwargs["id"]
        points = float(m.kwargs.get("points", 1))
        enabled = bool(m.kwargs.get("default", True)) and cid not in DEFAULT_DISABLED
        requires = m.kwargs.get("requires")
        if requires and not getattr(self.dc, requires, None):
            enabled = False
        spec = self.dc.rubric.get(cid, {})
        if "points" in spec:
            points = float(spec["points"])
        if "enabled" in spec:
            enabled = bool(spec["enabled"]) and not (requires and not getattr(self.dc, requires, None))
        return cid, points, enabled

    @pytest.hookimpl
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "target" in metafunc.fixturenames:
            ts = self.targets
            metafunc.parametrize("target", ts, ids=[t.test_id for t in ts])

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        checks = [i for i in items if i.get_closest_marker("check")]
        if not checks:
            return
        keep, drop = [], []
        for it in items:
            spec = self.check_spec(it)
            if spec is not None and not spec[2]:
                drop.append(it)
                continue
            if spec is not None:
                t = it.callspec.params.get("target") if hasattr(it, "callspec") else None
                if t is not None:
                    it.add_marker(pytest.mark.xdist_group(t.student))
            keep.append(it)
        if drop:
            config.hook.pytest_deselected(items=drop)
        # all checks of a student together, in file order: per-process caches stay warm
        order = {t.test_id: n for n, t in enumerate(self.targets)}
        def key(it: pytest.Item):
            t = it.callspec.params.get("target") if hasattr(it, "callspec") else None
            return (order.get(t.test_id, -1) if t is not None else -1,)
        keep.sort(key=key)
        items[:] = keep

    # ---------------------------------------------------------------- results
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        rep = (yield).get_result()
        spec = self.check_spec(item)
        if spec is None:
            return
        cid, points, _ = spec
        t = item.callspec.params.get("target") if hasattr(item, "callspec") else None
        if t is None:
            return
        stored: oc.Outcome | None = item.stash.get(_OUTCOME_KEY, None)
        if rep.when == "call" or (rep.when == "setup" and rep.outcome != "passed"):
            if stored is None:
                if rep.outcome == "skipped":
                    stored = oc.skipped(_short(rep))
                elif rep.outcome == "failed":
                    stored = oc.failed(f"internal error in deploycheck while running {cid} "
                                       f"(not your fault; please tell your instructor): {_short(rep)}")
                else:
                    stored = oc.passed()
            payload = {
                "student": t.student, "platform": t.platform, "test_id": t.test_id,
                "repo": str(t.submission.repo), "check": cid,
                "status": stored.status, "message": stored.message,
                "score": points if stored.status == oc.PASSED else 0.0,
                "max_score": 0.0 if stored.status == oc.SKIPPED else points,
                "data": _jsonable(stored.data),
                "blocked_by": getattr(stored, "blocked_by", None), "error": bool(getattr(stored, "error", False)),
                "notes": list(t.submission.notes),
            }
            rep.user_properties.append((_PROP, json.dumps(payload, default=str)))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == _PROP:
                self.results.append(json.loads(value))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput") or not (self.results or any(r.error for r in self.refs)):
            return
        from deploycheck import model, report as rp
        records = [model.CheckRecord(
            student=r["student"], platform=r["platform"], repo=r["repo"], notes=tuple(r.get("notes") or ()),
            result=model.CheckResult(id=r["check"], status=r["status"], score=r["score"], max_score=r["max_score"],
                                     message=r["message"], blocked_by=r.get("blocked_by"),
                                     error=bool(r.get("error")), data=r.get("data") or {}))
            for r in self.results]
        students = rp.build_students(records, [*self.refs, *self.shadows], self.rubric,
                                     {r.result.id for r in records})
        self.students = students
        if self.dc.report:
            meta = rp.RunMeta(started=self.started, finished=time.time(),
                              shard=f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
                              class_students=self.class_students, run_id=self.dc.run_id, cloud=self.dc.cloud,
                              deadline=self.config.option.deadline)
            rp.write_all(students, self.dc.report, meta, rp.ReportOptions.from_options(self.config.option))
        # exit status: 0 when every enabled check of each student's graded platform passed
        all_ok = all(not (c.status == oc.FAILED and not c.error) for s in students for c in s.checks) and \
            not any(s.extra.get("error") for s in students)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.OK if all_ok else pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        students = getattr(self, "students", None)
        if not students:
            return
        from deploycheck.report import terminal
        terminalreporter.section("deploycheck grades")
        for line in terminal.lines(students):
            terminalreporter.write_line(line)
        if self.dc.report:
            terminalreporter.write_line(f"report: {self.dc.report.resolve()}/report.json "
                                        f"(index.html, grades.csv, summary.md, results/)")


_OUTCOME_KEY = pytest.StashKey[oc.Outcome]()


def _short(rep: pytest.TestReport) -> str:
    if rep.outcome == "skipped" and isinstance(rep.longrepr, tuple):
        return str(rep.longrepr[2]).removeprefix("Skipped: ")
    text = getattr(rep, "longreprtext", "") or str(rep.longrepr or "")
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return (lines[-1] if lines else "unknown error")[:500]


def _jsonable(data: Any) -> Any:
    try:
        return json.loads(json.dumps(data, default=str))
    except (TypeError, ValueError):
        return {"repr": repr(data)[:2000]}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(id, points=1, default=True, requires=None): a rubric check (deploycheck)")
    if _wants_checks(config) and not (config.option.repo or config.option.classroom or config.option.roster):
        raise pytest.UsageError(
            "deploycheck needs something to grade: pass --repo PATH (your repository, e.g. --repo .), "
            "--classroom DIR (one sub-folder per student) or --roster FILE.csv (columns student,repo).")
    plugin = DeploycheckPlugin(config)
    config.pluginmanager.register(plugin, "deploycheck-session")
    config.stash[_PLUGIN_KEY] = plugin
    # A class run prints one line per student in "deploycheck grades" (and every message is in the
    # report); pytest's per-failure section would repeat hundreds of messages and its teardown
    # lookup is quadratic in the number of reports. A single repo keeps the full messages.
    if len(plugin.refs) > 1 and getattr(config.option, "tbstyle", "auto") == "auto":
        config.option.tbstyle = "no"
    # With --cloud, all checks of one student must run on the same xdist worker (the deployment
    # lives in that process between cloud.deploy and cloud.teardown): schedule by student group.
    # Without it, plain `load` scheduling is faster (measured: 200 repos 9.4 s vs 12 s) and the
    # few per-process caches a split student misses are cheap to rebuild.
    if (config.option.cloud or config.option.audit_account) and getattr(config.option, "numprocesses", None) \
            and getattr(config.option, "dist", "no") in ("no", "load"):
        if "--dist" not in " ".join(config.invocation_params.args) and not any(
                a.startswith("--dist") or a == "-d" for a in config.invocation_params.args):
            config.option.dist = "loadgroup"


_PLUGIN_KEY = pytest.StashKey[DeploycheckPlugin]()


def get_plugin(config: pytest.Config) -> DeploycheckPlugin:
    return config.stash[_PLUGIN_KEY]


@pytest.fixture(scope="session")
def dc(request: pytest.FixtureRequest) -> DCConfig:
    """The deploycheck options as a plain dataclass."""
    return get_plugin(request.config).dc


@pytest.fixture
def record(request: pytest.FixtureRequest):
    """``record(outcome)``: keep the outcome for the gradebook and make it the test's verdict."""
    def _record(outcome: oc.Outcome) -> oc.Outcome:
        request.node.stash[_OUTCOME_KEY] = outcome
        if outcome.status == oc.FAILED:
            pytest.fail(outcome.message, pytrace=False)
        if outcome.status == oc.SKIPPED:
            pytest.skip(outcome.message)
        return outcome
    return _record
