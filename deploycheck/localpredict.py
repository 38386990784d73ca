"""predict.local: run the student's own serving code and model, in the sandbox, the way the
platform would, and check that it answers a sample request with a well-formed prediction.

``prediction(t, dc)`` is the cached record (per student and platform) that later stages reuse (the
proof page, the comparison with the real cloud endpoint).
"""
from __future__ import annotations

import base64
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import json

from deploycheck import artifacts, entrypoint, model
from deploycheck.outcome import Outcome, failed, passed, skipped

CHECK = "predict.local"
TEXT_LIMIT = 2000


@dataclass
class PredictionRecord:
    student: str
    platform: str
    status: str                       # passed | failed
    message: str
    request: str = ""                 # printable request (truncated)
    response: str = ""                # printable response (truncated)
    content_type: str | None = None   # of the request
    accept: str | None = None
    response_content_type: str | None = None
    http_status: int | None = None
    latency_ms: float | None = None
    load_ms: float | None = None
    isolation: str = ""
    sample_source: str = ""
    n_rows: int | None = None
    n_predictions: int | None = None
    preview: Any = None
    request_b64: str = ""             # exact bytes sent (first 64 KB)
    response_b64: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_CACHE: dict[tuple[str, str], tuple[Outcome, PredictionRecord | None]] = {}


def _printable(b64: str, ctype: str | None) -> str:
    try:
        raw = base64.b64decode(b64 or "")
    except ValueError:
        return ""
    c = (ctype or "").split(";")[0].strip().lower()
    if c == "application/x-npy":
        try:
            import io
            import numpy as np
            arr = np.load(io.BytesIO(raw), allow_pickle=False)  # never unpickles
            return f"NumPy .npy {arr.dtype} {list(arr.shape)}: " + _trunc(str(arr.tolist()))
        except Exception:  # noqa: BLE001
            return f"<{len(raw)} bytes of {ctype}>"
    text = raw.decode("utf-8", "replace")
    return _trunc(text)


def _trunc(s: str, n: int = TEXT_LIMIT) -> str:
    return s if len(s) <= n else s[:n] + f"... [{len(s) - n} more characters]"


# ---------------------------------------------------------------- finding what to run

def _entry(folder: Any) -> tuple[str | None, str]:
    """(entry point rel, how found); notebooks are not importable."""
    info = entrypoint.entry_point(folder)
    if info is None:
        return None, ""
    if info.notebook:
        return None, "notebook"
    return info.rel, info.how


# ---------------------------------------------------------------- the check

def predict_local(t: Any, dc: Any = None) -> Outcome:
    try:
        return _cached(t, dc)[0]
    except Exception as e:  # noqa: BLE001 - a broken repo never stops the run
        return failed(f"internal error in deploycheck while running {CHECK} (not your fault; please "
                      f"tell your instructor): {type(e).__name__}: {e}")


def prediction(t: Any, dc: Any = None) -> PredictionRecord | None:
    """The local prediction record for (student, platform), computed once per process."""
    try:
        return _cached(t, dc)[1]
    except Exception:  # noqa: BLE001
        return None


def _cached(t: Any, dc: Any) -> tuple[Outcome, PredictionRecord | None]:
    key = (t.student, t.platform or "")
    if key not in _CACHE:
        _CACHE[key] = _run(t, dc)
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()


def serving_plan(f: Any) -> Outcome | tuple[Any, dict[str, Any], str | None]:
    """What to run for a deploy folder: (artifact, job args, tar to extract) or a failed Outcome."""
    plat = f.platform
    art = artifacts.model_artifact(f)
    if art is None:
        what = "model.tar.gz" if plat == "aws" else "model.joblib (or model.pkl)"
        return failed(f"no model artifact to run in {f.rel}/ (see artifact.present): add the {what} "
                      "you deployed to the folder.")
    if artifacts.is_unsafe(f):
        return failed(f"{f.rel}/{art.rel} was not loaded because artifact.safe flagged it (a pickle "
                      "that references non-scikit-learn code, or that could not be scanned): re-save "
                      "your model with joblib.dump(model, ...) from a clean training script.",
                      artifact=art.rel)
    args: dict[str, Any] = {"platform": plat}
    extract = None
    if plat == "aws":
        entry, how = _entry(f)
        if entry is None:
            msg = ("your entry point is a notebook; SageMaker needs a .py script: move model_fn into "
                   f"{f.rel}/inference.py" if how == "notebook" else
                   f"no entry-point script defining model_fn(model_dir) found in {f.rel}/ (see "
                   "entry_point.model_fn): add inference.py with model_fn and pass entry_point=\"inference.py\".")
            return failed(msg)
        args["entry_rel"] = entry
        if art.kind == "tar":
            extract = str(f.path / art.rel)
        else:  # a model file the SDK would pack: model_dir = its folder
            args["model_rel"] = art.rel.rsplit("/", 1)[0] if "/" in art.rel else "."
    else:
        if art.kind == "tar":
            return failed(f"{f.rel}/{art.rel} is an archive, but Vertex AI / AI Platform load "
                          "model.joblib or model.pkl directly from the model folder: upload the model "
                          "file itself (see artifact.valid).")
        args["model_rel"] = art.rel.rsplit("/", 1)[0] if "/" in art.rel else "."
    return art, args, extract


def _run(t: Any, dc: Any) -> tuple[Outcome, PredictionRecord | None]:
    from pathlib import Path
    from deploycheck import sandbox, samples
    from deploycheck.serving import local
    from deploycheck.structure import needs_folder
    if (o := needs_folder(t, CHECK)) is not None:
        return o, None
    f = t.folder
    plat = f.platform
    if plat not in ("aws", "gcp"):
        return skipped(f"{CHECK} does not apply to this platform"), None
    plan = serving_plan(f)
    if isinstance(plan, Outcome):
        return plan, None
    art, args, extract = plan
    sample = samples.sample_request(f, platform=plat)
    target = local.target_for(f, art, args.get("entry_rel"), args.get("model_rel") or ".",
                              Path(extract) if extract else None)
    reqs = [local.HttpRequest.ping()] if plat == "aws" else []
    synth = None
    if sample is not None:
        reqs.append(local.HttpRequest.invocation(model.Request(sample.body, sample.content_type, sample.accept or ""), plat))
    else:
        synth = {"content_type": "application/json"}
    timeout = getattr(dc, "sandbox_timeout", None) or sandbox.DEFAULT_TIMEOUT
    memory = getattr(dc, "sandbox_memory_mb", None) or sandbox.DEFAULT_MEMORY_MB
    run = local.run(target, reqs, synthesize=synth, limits=sandbox.Limits(timeout=timeout, memory_mb=memory))
    return _interpret(t, f, art, args, sample, run)


def _where(f: Any, args: dict[str, Any]) -> str:
    return f"{f.rel}/{args['entry_rel']}" if args.get("entry_rel") else f"{f.rel}/"


def _interpret(t: Any, f: Any, art: Any, args: dict[str, Any], sample: Any, run: Any) -> tuple[Outcome, PredictionRecord | None]:
    from deploycheck.serving import local
    plat = f.platform
    answer = run.answers[-1] if run.answers and (sample is not None or run.synthesized is not None) else None
    req = answer.request if answer else None
    source = (sample.source if sample is not None else
              (f"synthesized from the model (n_features_in_={run.model_info.get('n_features_in_')}); no example "
               "request found in the README or folder" if run.synthesized is not None else "")) or ""
    n_rows = sample.n_rows if sample is not None else (len(json.loads(run.synthesized.body)) if run.synthesized
                                                      and plat == "aws" else 2 if run.synthesized else None)
    n_pred, preview = local.count_predictions(answer.body, answer.content_type) if answer and answer.ok else (None, None)
    ctype = req.header("Content-Type") if req else None
    rec = PredictionRecord(
        student=t.student, platform=plat, status="failed", message="",
        request=_printable(base64.b64encode(req.body[:65536]).decode(), ctype) if req else "",
        response=_printable(base64.b64encode(answer.body[:65536]).decode(), answer.content_type) if answer else "",
        content_type=ctype, accept=req.header("Accept") if req else None,
        response_content_type=answer.content_type if answer else None, http_status=answer.status if answer else None,
        latency_ms=answer.latency_ms if answer else None, load_ms=run.load_ms, isolation=run.isolation,
        sample_source=source, n_rows=n_rows, n_predictions=n_pred, preview=preview,
        request_b64=base64.b64encode(req.body[:65536]).decode() if req else "",
        response_b64=base64.b64encode(answer.body[:65536]).decode() if answer else "",
        warnings=list(run.warnings))
    data = {"request": rec.request, "response": rec.response, "content_type": rec.content_type,
            "accept": rec.accept, "http_status": rec.http_status, "latency_ms": rec.latency_ms,
            "load_ms": rec.load_ms, "isolation": run.isolation, "sample_source": source,
            "n_rows": rec.n_rows, "n_predictions": rec.n_predictions, "artifact": art.rel,
            "runtime": run.runtime_label, "approximate": bool(run.runtime and run.runtime.approximate)}
    if run.target.assumed:
        data["runtime_note"] = run.target.assumed
    if run.isolation.startswith("UNSANDBOXED"):
        data["isolation_note"] = "student code ran WITHOUT isolation (--allow-unsandboxed)"
    stdout = (run.stdout_tail or "")[-600:].strip()
    runtime = run.runtime_label or "the serving image"

    def fail(msg: str, **extra: Any) -> tuple[Outcome, PredictionRecord]:
        rec.status, rec.message = "failed", msg
        if stdout and run.sandbox_status != "ok":
            data["stdout_tail"] = stdout
        data.update(extra)
        return failed(msg, **data), rec

    where = _where(f, args)
    serving = "the SageMaker scikit-learn container" if plat == "aws" else "Vertex AI's prebuilt scikit-learn container"
    # ---- deploycheck's own machinery failed, or an approximate run that version skew explains
    if run.machine_error:
        # model.run_error once the plugin reads deploycheck.model.Outcome (lead): skipped, never the student's
        return skipped(f"error of the grading run (not your fault; tell your instructor): {CHECK} could not run "
                       f"{where}: {run.machine_error}", run_error=True, **data), None
    if run.inconclusive:
        return skipped(f"{run.inconclusive} ({where})", inconclusive=True, **data), rec
    # ---- the sandbox itself stopped the code
    if run.sandbox_status == "timeout":
        what = "model_fn" if plat == "aws" else "loading your model"
        return fail(f"{what} (or the prediction) took longer than {run.limit_s or 0:g} s in the local run of {where} "
                    "and was stopped: look for an "
                    "endless loop, a download or training at load time; model_fn should only load the saved model.")
    if run.sandbox_status == "memory":
        return fail(f"the local run of {where} ran out of memory ({run.sandbox_detail}): your model or code "
                    "allocates too much; make the model smaller or fix the allocation.")
    if run.sandbox_status == "killed":
        return fail(f"the local run of {where} crashed ({run.sandbox_detail}) before answering: something in "
                    "your serving code or model ended the process (os._exit, a crash in native code, "
                    "too much output); run it locally with python and fix the crash."
                    + (f" Last output: {_trunc(run.stderr_tail.strip()[-300:], 300)}" if run.stderr_tail.strip() else ""))
    if run.sandbox_status == "error":
        return fail(f"{f.rel}/{art.rel} could not be extracted ({run.sandbox_detail}): rebuild it with "
                    "tar -czf model.tar.gz model.joblib (see artifact.valid).")
    warn = _version_warning({"warnings": list(run.warnings)})
    load = run.startup or next((a.failure for a in run.answers if a.failure and a.failure.phase in
                                ("import", "handlers", "model_fn")), None)
    if load is not None:
        err, tb = load.error, load.traceback
        if load.phase == "handlers":
            return fail(f"{where} defines transform_fn together with input_fn/predict_fn/output_fn, which "
                        f"{serving} ({runtime}) rejects ('{err}'): keep either transform_fn alone or the other three.")
        if load.phase == "import":
            mod = _missing_module(err)
            if mod and "externals" in err:
                return fail(f"importing {where} failed: {err}. sklearn.externals.joblib was removed from "
                            "scikit-learn (0.23): write `import joblib` instead.")
            if mod:
                return fail(f"importing {where} failed: {err}. The serving image ({runtime}) lacks the module "
                            f"'{mod}': remove the import or add it to requirements.txt beside "
                            f"{args.get('entry_rel', 'inference.py').rsplit('/', 1)[-1]}.")
            return fail(f"importing {where} failed as the container would ({runtime}), so the endpoint would "
                        f"never start: {err}. {_last_lines(tb)}")
        if plat == "aws" and "Please provide a model_fn implementation" in err:
            return fail(f"{where} has no model_fn, and {serving} then fails with 'Please provide a model_fn "
                        "implementation': define model_fn(model_dir) that loads and returns your model.")
        if load.error_type == "FileNotFoundError" or "No such file" in err:
            listing = ", ".join(getattr(art, "members", None) or [art.rel]) if plat == "aws" else art.rel
            if plat == "aws":
                return fail(f"model_fn in {where} could not find its file: {err}. model_dir holds what "
                            f"{f.rel}/{art.rel} contains: {listing}. Load that file name in model_fn (from "
                            "model_dir, not a relative path), or re-pack the archive with the model at its root "
                            "(tar -czf model.tar.gz model.joblib).", model_dir_files=getattr(art, "members", []))
            return fail(f"loading the model failed: {err}; the model folder holds {listing}.")
        if "numpy._core" in err or "numpy.core._multiarray_umath" in err:
            np_ = run.versions.get("numpy", "?")
            sk = run.versions.get("sklearn", "?")
            return fail(f"{'model_fn in ' + where if plat == 'aws' else serving} could not unpickle the model: {err}. "
                        f"The model was saved with numpy 2, and {runtime} has numpy {np_}, which cannot read it: "
                        f"re-save it with the image's versions (pip install numpy=={np_} scikit-learn=={sk}).")
        if plat == "gcp":
            return fail(f"{serving} ({runtime}) could not load {f.rel}/{art.rel}, so the model version would not "
                        f"deploy: {err}. {warn}{_last_lines(tb)} Save the model with joblib.dump(model, "
                        "'model.joblib') using the scikit-learn version of your runtime.")
        return fail(f"model_fn in {where} raised {err} in {runtime}. {warn}{_last_lines(tb)} Fix model_fn so that "
                    "it only loads and returns your model from model_dir.")
    if answer is None:
        return fail(f"no sample request could be built: the model has no n_features_in_; add an example "
                    f"request to {f.rel}/README.md (e.g. predictor.predict([[...]])).")
    req_desc = f"the sample request ({source}, {ctype})"
    status = answer.status
    if not answer.ok:
        err = answer.failure.error if answer.failure else ""
        tb = answer.failure.traceback if answer.failure else ""
        hint = ""
        if "is not supported by this framework" in err:
            hint = (" The default input_fn/output_fn read and write only application/json, text/csv and "
                    f"application/x-npy (exact, without parameters); send one of those or write an input_fn/output_fn in {where}.")
        elif "Expected 2D array" in err or "Reshape your data" in err:
            hint = (" The request decoded to a single row as a 1-D array; send a list of rows "
                    "([[...]]) or reshape in input_fn.")
        elif "features" in err and "expecting" in err:
            hint = " The sample has a different number of features than your model expects; fix the example in your README."
        elif "view function did not return a valid response" in err or "not JSON serializable" in err:
            hint = (f" output_fn in {where} must return a str/bytes body (with its content type) or a worker "
                    "Response; the container cannot send a list, an array or a dict holding an array.")
        body_err = err or rec.response
        return fail(f"{serving} ({runtime}) answered HTTP {status} to {req_desc}: {_trunc(body_err, 600)}.{hint} "
                    f"{_last_lines(tb)}")
    if n_pred is not None and n_rows is not None and n_pred != n_rows:
        return fail(f"{req_desc} had {n_rows} row(s) but the response holds {n_pred} prediction(s) "
                    f"({_trunc(rec.response, 200)}): return one prediction per input row.")
    shown = _trunc(str(preview), 160) if n_pred is not None else _trunc(rec.response, 160)
    what = f"{n_pred} prediction(s) {shown}" if n_pred is not None else f"HTTP {status} {shown}"
    msg = (f"{runtime} answered {what} to {req_desc} in {answer.latency_ms} ms (model load {run.load_ms} ms)")
    if warn:
        msg += f"; note: {warn.strip()}"
    if run.target.assumed:
        msg += f"; note: {run.target.assumed}"
    rec.status, rec.message = "passed", msg
    data["warnings"] = rec.warnings
    return passed(msg, **data), rec


def _missing_module(err: str) -> str | None:
    m = re.search(r"No module named '([\w.]+)'", err)
    if m:
        return m.group(1)
    m = re.search(r"cannot import name '(\w+)' from '([\w.]+)'", err)
    return m.group(2) if m else None


def _version_warning(d: dict[str, Any]) -> str:
    for w in d.get("warnings") or []:
        if w.startswith("InconsistentVersionWarning") or "Trying to unpickle estimator" in w:
            m = re.search(r"from version (\S+) when using version (\S+)", w)
            if m:
                return (f"the pickle was made with scikit-learn {m.group(1)} and the local run used "
                        f"scikit-learn {m.group(2).rstrip('.')}, the declared image's; it loaded, but check the "
                        "predictions, or re-save the model with that version (see artifact.version). ")
            return f"{w[:300]}. "
    return ""


def _last_line(tb: str) -> str:
    lines = [l for l in (tb or "").splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def _last_lines(tb: str, n: int = 3) -> str:
    lines = [l.strip() for l in (tb or "").splitlines() if l.strip() and not l.startswith("Traceback")]
    # drop deploycheck's own frames
    keep = [l for l in lines if "deploycheck/" not in l]
    if not keep:
        return ""
    return "Traceback (last lines): " + _trunc(" | ".join(keep[-n:]), 600)
