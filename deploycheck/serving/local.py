"""The grader side of local serving: in which environment a deploy folder's image (THE image
decision, ``folder.facts.image``) runs, and what the container answered. Used by ``predict.local``
and ``deploycheck serve``.

    target = folder.facts.serving_plan.target                      # what to run (analysis.plan)
    run = local.run(target, [local.HttpRequest.invocation(req)])   # -> LocalRun (frozen)

The student's code runs only in the sandbox (``deploycheck.sandbox.run(job, args,
interpreter=env.interpreter(), folder=..., extract=..., limits=..., talk=...)``), under the declared
image's runtime environment (:mod:`deploycheck.runtimes.envs`), through the container's own request
path (``deploycheck/inside/sagemaker_job.py``, ``vertex_job.py``). The grader sends each request
itself and reads the container's answer from the connection, byte for byte
(:mod:`deploycheck.serving.exchange`): every value of a :class:`LocalRun` (statuses, bodies, runtime
label and versions, timings) is computed here from those bytes and from what the grader started;
the job's own reports give only the student's error text and the loaded model's feature count.

Honest fallback: when no environment can be had for the declared image (unsupported image, no
usable Python), the run is *approximate*: SageMaker runs in the nearest SageMaker image's
environment (the grader's own environment lacks sagemaker-containers, whose pins conflict with
the grader's), Vertex / AI Platform in the grader's own environment; the runtime label says
"approximate (scikit-learn X instead of Y)", and a load failure that the version difference
explains becomes ``inconclusive`` (no points lost), never the student's failure. A failure of
deploycheck's own machinery (an environment that cannot be built, a sandbox that cannot start)
is ``machine_error``: an error of the run.

Remaining differences from the real containers (cannot be closed offline; see the report):
the container start ``pip install``s the code folder and its requirements.txt (no network in the
sandbox: the module is imported from its folder, requirements are not installed); the code
directory is what the SDK uploads (``folder.facts.shipped_code``: ``code/`` of the archive, the
entry-point file and its ``dependencies`` when no ``source_dir`` is declared, else the entry point's
folder); ``deploycheck serve`` starts a fresh container per request (the
model is loaded for each); gunicorn's worker timeout and nginx's 60 s proxy timeout are the
sandbox's timeout; the Vertex front end's own messages for malformed requests are modelled on
Google's API errors (status code and shape verified, text not).
"""
from __future__ import annotations

import functools
import io
import json
import os
import platform as _platform
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from deploycheck import model
from deploycheck.analysis.plan import Target, target_for  # noqa: F401 (target_for: serving's callers and tests)
from deploycheck.runtimes import catalog, envs
from deploycheck.runtimes.catalog import Image
from deploycheck.serving.exchange import (NO_ANSWER_STATUS, Conversation, Exchange, HttpRequest,
                                          Talk, n_features, read_answer)

if TYPE_CHECKING:
    from deploycheck.analysis.plan import ServingPlan
    from deploycheck.analysis.samples import SampleRequest
    from deploycheck.sandbox import Interpreter, JobResult, Limits
    from deploycheck.sandbox.records import Talk as TalkFn

JOB_SAGEMAKER = "sagemaker_job:serve"
JOB_VERTEX = "vertex_job:predict"
MAX_REQUEST = 6 * 1024 * 1024        # SageMaker InvokeEndpoint / Vertex online prediction payload limits
# errors that scikit-learn/numpy version skew produces when a pickle meets another release
SKEW_TYPES = {"AttributeError", "ModuleNotFoundError", "ImportError", "ValueError", "TypeError", "KeyError",
              "UnpicklingError", "EOFError", "IndexError", "PredictionError", "ClientError", "ImportModuleError"}


# ---------------------------------------------------------------------------- records

@dataclass(frozen=True)
class Failure:
    """The student's code (or model) failed: where and how (text already cleaned of sandbox paths)."""
    phase: str            # import | handlers | model_fn | load | request
    error_type: str
    error: str
    traceback: str = ""


@dataclass(frozen=True)
class Answer:
    """One request and the container's answer to it: status, Content-Type and body parsed by the
    grader from ``raw``, the bytes the container's server sent (status line and headers included);
    ``failure``: the student's error behind it (or why no complete answer came)."""
    request: HttpRequest
    status: int | None
    content_type: str | None
    body: bytes
    latency_ms: float | None = None
    failure: Failure | None = None
    raw: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()      # the answer's headers, as sent

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Runtime:
    """Where the job runs."""
    label: str
    image: Image | None               # the image whose environment runs the job
    env: envs.RuntimeEnv | None       # None: the grader's own environment
    approximate: bool = False
    note: str = ""                    # why approximate
    sklearn: str = ""                 # scikit-learn the run actually uses


@dataclass(frozen=True)
class LocalRun:
    target: Target
    runtime: Runtime | None
    isolation: str = ""
    startup: Failure | None = None            # the container would not start / the model would not deploy
    answers: tuple[Answer, ...] = ()
    model_info: Mapping[str, Any] = field(default_factory=dict)
    synthesized: model.Request | None = None  # request built from the model when none was documented
    versions: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    load_ms: float | None = None
    elapsed_ms: float | None = None
    sandbox_status: str = "ok"                # ok | error | timeout | memory | killed (student-caused)
    sandbox_detail: str = ""
    limit_s: float | None = None              # the wall-clock limit the sandbox applied
    stdout_tail: str = ""
    stderr_tail: str = ""
    machine_error: str = ""                   # deploycheck's own machinery failed: an error of the run
    inconclusive: str = ""                    # approximate run whose failure version skew explains

    @property
    def runtime_label(self) -> str:
        return self.runtime.label if self.runtime else ""

    def prediction(self, index: int = -1, sample_source: str = "", n_rows: int | None = None) -> model.Prediction | None:
        """The answer ``index`` as the shared :class:`deploycheck.model.Prediction` record."""
        if not self.answers:
            return None
        a = self.answers[index]
        req = model.Request(a.request.body, a.request.header("Content-Type") or "",
                            a.request.header("Accept") or "")
        n = count_predictions(a.body, a.content_type)[0] if a.ok else None
        return model.Prediction(mode="local", platform=self.target.platform, ok=a.ok, request=req, status=a.status,
                                response=a.body, response_content_type=a.content_type, latency_ms=a.latency_ms,
                                endpoint="local emulation", runtime=self.runtime_label, isolation=self.isolation,
                                sample_source=sample_source, n_rows=n_rows, n_predictions=n,
                                message=(a.failure.error if a.failure else ""))


class Runner(Protocol):
    """Runs a serving job for :func:`run` (the production one is :func:`sandbox_runner`)."""
    def __call__(self, job: str, args: Mapping[str, Any], *, runtime: Runtime, folder: Path, extract: Path | None,
                 limits: Limits | None = None, preload: tuple[str, ...] = (), talk: TalkFn | None = None
                 ) -> JobResult: ...


# ---------------------------------------------------------------------------- the target

# ---------------------------------------------------------------------------- choosing the environment

def runtime_for(image: Image, *, build: bool = True) -> Runtime:
    """The environment that runs ``image``: its own, else an approximate one (see module doc).
    Raises :class:`envs.EnvBuildError` when building it failed (deploycheck's failure)."""
    try:
        env = envs.ensure(image, build=build)
        return Runtime(env.label, image, env, sklearn=env.versions.get("sklearn", image.sklearn))
    except envs.EnvUnavailable as e:
        why = str(e)
    if image.kind == "sagemaker":
        others = sorted((im for im in catalog.images("sagemaker") if im is not image and im.supported),
                        key=lambda im: catalog.distance(im.sklearn, image.sklearn))
        for other in others[:3]:
            try:
                env = envs.ensure(other, build=build)
            except envs.EnvUnavailable:
                continue
            sk = env.versions.get("sklearn", other.sklearn)
            return Runtime(f"{image.title}: approximate (scikit-learn {sk} instead of {image.sklearn}, in the "
                           f"{other.title} environment)", other, env, approximate=True, note=why, sklearn=sk)
        raise envs.EnvBuildError(image, f"no SageMaker runtime environment can be had on this machine ({why})")
    import sklearn  # the grader's own
    sk = sklearn.__version__
    return Runtime(f"{image.title}: approximate (scikit-learn {sk} instead of {image.sklearn}, in the grader's "
                   "own environment)", None, None, approximate=True, note=why, sklearn=sk)


def interpreter_of(runtime: Runtime) -> Interpreter:
    from deploycheck import sandbox
    return runtime.env.interpreter() if runtime.env is not None else sandbox.Interpreter.grader()


def sandbox_runner(job: str, args: Mapping[str, Any], *, runtime: Runtime, folder: Path, extract: Path | None,
                   limits: Limits | None = None, preload: tuple[str, ...] = (), talk: TalkFn | None = None
                   ) -> JobResult:
    """Run ``job`` in the sandbox under ``runtime``'s interpreter (the production runner)."""
    from deploycheck import sandbox
    return sandbox.run(job, dict(args), interpreter=interpreter_of(runtime), folder=folder, extract=extract,
                       limits=limits, preload=preload, talk=talk)


# ---------------------------------------------------------------------------- running

def run(target: Target, requests: Sequence[HttpRequest] = (), *, synthesize: Mapping[str, Any] | None = None,
        limits: Limits | None = None, runner: Runner | None = None, runtime: Runtime | None = None,
        boot: bool = True) -> LocalRun:
    """Start the container for ``target`` in the sandbox and answer ``requests`` in order.

    ``synthesize``: ``{"content_type": ..., "accept": ...}`` appends a request built from the loaded
    model (``n_features_in_``) when the student documented none. Never raises for what the student's
    code does; deploycheck's own failures come back as ``machine_error``."""
    image = target.image
    if image is None:
        return LocalRun(target, None, machine_error="no serving image to run (the catalog has none for this platform)")
    if runtime is None:
        try:
            runtime = runtime_for(image)
        except envs.EnvBuildError as e:
            return LocalRun(target, None, machine_error=str(e))
    reqs = list(requests)
    if target.platform == "aws":
        job = JOB_SAGEMAKER
        args: dict[str, Any] = {"entry": target.entry or "inference.py", "transform_fn": image.transform_fn or "exclusive",
                                "model_rel": target.model_rel, "code_dir_rel": target.code_dir_rel, "boot": boot,
                                "code_files": [list(f) for f in target.code_files] if target.code_files is not None else None}
    else:
        job = JOB_VERTEX
        args = {"model_rel": target.model_rel}
    # the grader's side of the exchange: it sends every request and reads every answer itself
    talk = Talk(target.platform, reqs, synthesize, stop_on_startup_failure=target.platform != "aws")
    try:
        res = (runner or sandbox_runner)(job, args, runtime=runtime, folder=target.folder,
                                         extract=target.extract, limits=limits, preload=target.imports, talk=talk)
        if _starved(res):
            # a starved machine, not the model, may have run out the clock: once more with RETRY_WALL
            # times the wall clock but the same CPU time, so code that computes for too long still
            # meets the kernel's CPU limit (the model's fault however busy the machine is)
            from deploycheck.sandbox import Limits
            first = res
            lim = limits or Limits()
            longer = replace(lim, timeout=first.timeout * RETRY_WALL, cpu_s=lim.cpu_budget)
            res = (runner or sandbox_runner)(job, args, runtime=runtime, folder=target.folder,
                                             extract=target.extract, limits=longer, preload=target.imports,
                                             talk=talk)
            if res.cpu_exhausted:         # its CPU time was one timeout: "longer than <timeout> s"
                res = replace(res, timeout=first.timeout, cpu_s=None)
            still = _starved(res)
            if still:
                return LocalRun(target, runtime, isolation=res.isolation, limit_s=res.timeout, machine_error=(
                    f"the model did not answer within {first.timeout:g} s nor, retried, within {res.timeout:g} s, "
                    f"but this machine was too busy to tell whether that is the model's fault ({still}); "
                    "re-run deploycheck when the machine is less loaded, or give more time with --sandbox-timeout"))
    except Exception as e:  # noqa: BLE001 - IsolationUnavailable, a broken sandbox: never the student's
        return LocalRun(target, runtime, machine_error=f"the sandbox could not run the model: {type(e).__name__}: {e}")
    return _interpret(target, runtime, reqs, res)


# The retry's wall clock, in timeouts (its CPU time stays one timeout): a check takes at most
# (1 + RETRY_WALL) timeouts of wall clock, its one retry included.
RETRY_WALL = 2
BUSY_CPU_PRESSURE = 40.0      # % of the last 10 s in which runnable tasks waited for a CPU (Linux PSI)
BUSY_LOAD_PER_CPU = 2.0       # without PSI: 1-minute load average per CPU
# a job whose processes together got less CPU time than this share of its wall clock may have been kept
# waiting: one whole timeout of CPU (a fork bomb's many processes, a parallel loop) is the model's; less
# may be a correct but slow model that a busy machine starved (half, say: it needed more than it got,
# but maybe less than the timeout), so it gets its retry -- never failed for the machine's load
STARVED_SHARE = 1.0


def _starved(res: JobResult) -> str:
    """Why the job's wall-clock timeout may be the machine's doing ("" when it is the model's: the
    job finished, used up its CPU time, its processes together computed for as long as its wall clock
    -- a fork bomb is busy, however loaded the machine --, or the machine is not busy)."""
    if res.status != "timeout" or res.cpu_exhausted:
        return ""
    if res.cpu_used is not None and res.cpu_used >= STARVED_SHARE * res.timeout:
        return ""
    return machine_busy()


def machine_busy() -> str:
    """Why this machine is too busy for a wall-clock limit to mean anything ("" when it is not): CPU
    pressure from /proc/pressure/cpu where the kernel has it, else the load average."""
    try:
        with open("/proc/pressure/cpu") as fh:
            some = fh.readline().split()
        avg10 = float(dict(f.split("=", 1) for f in some[1:] if "=" in f)["avg10"])
        if avg10 >= BUSY_CPU_PRESSURE:
            return f"runnable tasks waited for a CPU {avg10:.0f}% of the last 10 s"
        return ""
    except (OSError, KeyError, ValueError, IndexError):
        pass
    try:
        load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    except OSError:
        return ""
    return f"load average {load:.1f} on {cpus} CPUs" if load >= BUSY_LOAD_PER_CPU * cpus else ""


def _failure(d: Mapping[str, Any] | None) -> Failure | None:
    if not d:
        return None
    return Failure(str(d.get("phase") or ""), str(d.get("error_type") or ""), str(d.get("error") or ""),
                   str(d.get("traceback") or ""))


def _interpret(target: Target, runtime: Runtime, reqs: list[HttpRequest], res: JobResult) -> LocalRun:
    base = LocalRun(target=target, runtime=runtime, isolation=res.isolation, limit_s=res.timeout,
                    elapsed_ms=res.elapsed_ms, stdout_tail=res.stdout_tail or "", stderr_tail=res.stderr_tail or "",
                    versions=runtime_versions(runtime))
    status = res.status
    if status == "machine":
        return replace(base, machine_error=f"the sandbox failed: {res.error}")
    if res.talk_error:
        return replace(base, machine_error=f"the exchange with the container failed: {res.talk_error}")
    if status != "ok" or not isinstance(res.data, dict):
        if status == "error" and res.error_type == "ExtractError":
            return replace(base, sandbox_status="error", sandbox_detail=res.error,
                           startup=Failure("extract", "ExtractError", res.error))
        detail = res.describe()
        if status == "error":       # the job itself raised: deploycheck's job code failed
            return replace(base, machine_error=f"the serving job failed: {res.error}\n{res.traceback[-1500:]}")
        return replace(base, sandbox_status=status, sandbox_detail=detail)
    conv = res.talk if isinstance(res.talk, Conversation) else Conversation(None, None)
    ready = conv.ready or {}
    startup = _failure(ready.get("startup"))
    answers = tuple(_answer(x) for x in conv.exchanges)
    info: Any = ready.get("model")
    for x in conv.exchanges:
        info = x.report.get("model") or info
    warnings = res.data.get("warnings")
    run_ = replace(base, startup=startup, answers=answers,
                   model_info=_model_info(info), synthesized=conv.synthesized,
                   warnings=tuple(str(w)[:600] for w in warnings[:8]) if isinstance(warnings, list) else (),
                   load_ms=(answers[0].latency_ms if answers else None) if target.platform == "aws" else conv.ready_ms)
    sent = len(reqs) + (conv.synthesized is not None)
    undeployed = startup is not None and target.platform != "aws"     # the grader asked nothing then
    if not undeployed and (len(answers) < sent or conv.ended):
        # the container stopped before it answered every request, yet the job ended as if it had
        return replace(run_, sandbox_status="killed", sandbox_detail=(
            f"{conv.ended or 'the container stopped answering'} ({len(answers)} of {sent} requests answered)"))
    if runtime.approximate:
        why = _skew(run_)
        if why:
            image = target.image
            return replace(run_, inconclusive=(
                f"inconclusive: {why} while running with scikit-learn {runtime.sklearn}; the declared image "
                f"{image.title if image else ''} uses scikit-learn {image.sklearn if image else '?'}, which deploycheck "
                f"could not provide on this machine ({runtime.note}). A pickle made for one release often does not "
                "load in another, so this is not counted against you."))
    return run_


def _answer(x: Exchange) -> Answer:
    """The grader's reading of one exchange: the answer parsed from the bytes the container sent;
    when they are not one complete HTTP answer, the front proxy's 502 (nginx: "upstream prematurely
    closed connection"), with the job's account of the student's error, else why, as the failure."""
    got = read_answer(x.raw, x.request.method, x.cut)
    failure = _failure(x.report.get("error"))
    if got.status is None:
        return Answer(x.request, NO_ANSWER_STATUS, None, b"", x.latency_ms,
                      failure or Failure("request", "NoAnswer", got.problem), x.raw)
    if got.problem and failure is None:
        failure = Failure("request", "IncompleteAnswer", got.problem)
    return Answer(x.request, got.status, got.content_type, got.body, x.latency_ms, failure, x.raw, got.headers)


def _model_info(info: Any) -> dict[str, Any]:
    """What the job said about the loaded model, kept only in the shapes messages use."""
    if not isinstance(info, Mapping):
        return {}
    out: dict[str, Any] = {}
    if isinstance(info.get("class"), str):
        out["class"] = info["class"][:300]
    n = n_features(info)
    if n is not None:
        out["n_features_in_"] = n
    names = info.get("feature_names_in_")
    if isinstance(names, list):
        out["feature_names_in_"] = [str(x)[:200] for x in names[:200]]
    if isinstance(info.get("first_step"), str):
        out["first_step"] = info["first_step"][:200]
    return out


VERSION_DISTRIBUTIONS = {"sklearn": "scikit-learn", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas",
                         "joblib": "joblib", "flask": "flask", "werkzeug": "werkzeug",
                         "sagemaker_containers": "sagemaker-containers", "gunicorn": "gunicorn"}


def runtime_versions(runtime: Runtime | None) -> dict[str, str]:
    """The versions the run used (Python and the serving libraries), read by the grader from the
    environment it started the job in (its installed distributions), never from the job."""
    if runtime is None:
        return {}
    if runtime.env is not None:
        return dict(_env_versions(runtime.env.python_version, tuple(runtime.env.site_dirs)))
    return dict(_env_versions(_platform.python_version(), ()))


@functools.lru_cache(maxsize=32)
def _env_versions(python: str, site_dirs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from importlib import metadata
    dists = metadata.distributions(path=list(site_dirs)) if site_dirs else metadata.distributions()
    installed: dict[str, str] = {}
    for d in dists:
        name = str(d.metadata["Name"] or "").lower().replace("_", "-")
        installed.setdefault(name, d.version)
    return (("python", python),) + tuple((k, installed[v]) for k, v in VERSION_DISTRIBUTIONS.items() if v in installed)


def _skew(r: LocalRun) -> str:
    """The failure of an approximate run that a scikit-learn/numpy version difference explains."""
    skew_warning = any("InconsistentVersionWarning" in w or "Trying to unpickle" in w for w in r.warnings)
    fails = ([r.startup] if r.startup else []) + [a.failure for a in r.answers if a.failure]
    for f in fails:
        loading = f.phase in ("model_fn", "load", "import")
        if (loading and (f.error_type in SKEW_TYPES or skew_warning)) or (f.error_type == "AttributeError" and skew_warning) \
                or (loading and re.search(r"sklearn|numpy|pickle|dtype", f.error + f.traceback)):
            return f"{'loading the model' if loading else 'the prediction'} failed ({f.error.splitlines()[0][:300]})"
    return ""


# ---------------------------------------------------------------------------- reading answers

def decode_body(body: bytes, content_type: str | None) -> Any:
    """A response (or request) body as plain Python data: .npy (never unpickled) as its list, JSON as
    parsed, CSV as its lines; raises ValueError when it is none of these."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    try:
        if ctype == "application/x-npy":
            import numpy as np
            return np.load(io.BytesIO(body), allow_pickle=False).tolist()      # never unpickles
        if ctype == "text/csv":
            return [ln for ln in body.decode("utf-8", "replace").splitlines() if ln.strip()]
        return json.loads(body)
    except Exception as e:  # noqa: BLE001 - not what its type says
        raise ValueError(str(e)) from e


def count_predictions(body: bytes, content_type: str | None) -> tuple[int | None, Any]:
    """(number of predictions, a short JSON-able preview) of a response body; (None, preview) when
    the body is valid but not a list of predictions (still a successful answer)."""
    try:
        obj = decode_body(body, content_type)
    except ValueError:
        return None, body[:200].decode("utf-8", "replace")
    if isinstance(obj, dict):
        for k in ("predictions", "prediction", "predicted", "result", "results", "outputs", "output"):
            if k in obj:
                obj = obj[k]
                break
        else:
            return None, obj
    if isinstance(obj, list):
        return len(obj), obj[:10]
    return 1, obj


def run_plan(plan: ServingPlan, sample: SampleRequest, limits: Limits | None = None) -> LocalRun:
    """Run a folder's :class:`~deploycheck.analysis.plan.ServingPlan` on its request
    (``folder.facts.sample``: the documented one, sent unchanged; or the recipe of one the job
    synthesizes from the loaded model): a ``/ping`` first on SageMaker, as the platform does before
    routing traffic."""
    plat = plan.target.platform
    reqs = [HttpRequest.ping()] if plat == "aws" else []
    synth = None
    if sample.synthesized:
        synth = {"content_type": sample.content_type or "application/json", "accept": sample.accept}
    elif not sample.client_error:
        reqs.append(HttpRequest.invocation(model.Request(sample.body, sample.content_type or "", sample.accept or ""),
                                           plat))
    return run(plan.target, reqs, synthesize=synth, limits=limits)
