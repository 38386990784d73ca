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

from deploycheck import artifacts, entrypoint
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
    from deploycheck import sandbox, samples
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
    if sample is not None:
        args.update(full_body=True)   # the grader counts the predictions in the whole body
        args.update(body_b64=base64.b64encode(sample.body).decode(), content_type=sample.content_type,
                    accept=sample.accept, n_rows=sample.n_rows)
    timeout = getattr(dc, "sandbox_timeout", None) or sandbox.DEFAULT_TIMEOUT
    memory = getattr(dc, "sandbox_memory_mb", None) or sandbox.DEFAULT_MEMORY_MB
    res = sandbox.run("deploycheck.serving:job_predict", args, interpreter=sandbox.Interpreter.grader(),
                      folder=f.path, extract=extract, limits=sandbox.Limits(timeout=timeout, memory_mb=memory))
    return _interpret(t, f, art, args, sample, res)


def _grader_counts(d: dict[str, Any], sample: Any) -> dict[str, Any]:
    """The job's answer is the student's: only its response (status, content type, body) is
    taken from it; the rows sent and the predictions in the body are counted here, in the grader."""
    from deploycheck.serving import count_predictions
    d = dict(d)
    if sample is not None:
        d["n_rows"] = sample.n_rows
    d["n_predictions"] = d["preview"] = None
    if d.get("status") == 200:
        try:
            body = base64.b64decode(d.get("response_b64") or "")
        except ValueError:
            body = b""
        d["n_predictions"], d["preview"] = count_predictions(body, str(d.get("content_type") or ""))
    return d


def _where(f: Any, args: dict[str, Any]) -> str:
    return f"{f.rel}/{args['entry_rel']}" if args.get("entry_rel") else f"{f.rel}/"


def _interpret(t: Any, f: Any, art: Any, args: dict[str, Any], sample: Any, res: Any) -> tuple[Outcome, PredictionRecord | None]:
    plat = f.platform
    d: dict[str, Any] = res.data if res.ok and isinstance(res.data, dict) else {}
    if d:
        d = _grader_counts(d, sample)
    source = (sample.source if sample is not None else d.get("sample_source", "")) or ""
    rec = PredictionRecord(
        student=t.student, platform=plat, status="failed", message="",
        request=_printable(d.get("request_b64", ""), d.get("request_content_type")),
        response=_printable(d.get("response_b64", ""), d.get("content_type")),
        content_type=d.get("request_content_type"), accept=d.get("accept"),
        response_content_type=d.get("content_type"), http_status=d.get("status"),
        latency_ms=d.get("latency_ms"), load_ms=d.get("load_ms"), isolation=res.isolation,
        sample_source=source, n_rows=d.get("n_rows"), n_predictions=d.get("n_predictions"),
        preview=d.get("preview"), request_b64=d.get("request_b64", ""), response_b64=d.get("response_b64", ""),
        warnings=list(d.get("warnings") or []))
    data = {"request": rec.request, "response": rec.response, "content_type": rec.content_type,
            "accept": rec.accept, "http_status": rec.http_status, "latency_ms": rec.latency_ms,
            "load_ms": rec.load_ms, "isolation": res.isolation, "sample_source": source,
            "n_rows": rec.n_rows, "n_predictions": rec.n_predictions, "artifact": art.rel}
    if res.isolation.startswith("UNSANDBOXED"):
        data["isolation_note"] = "student code ran WITHOUT isolation (--allow-unsandboxed)"
    stdout = (res.stdout_tail or "")[-600:].strip()

    def fail(msg: str, **extra: Any) -> tuple[Outcome, PredictionRecord]:
        rec.status, rec.message = "failed", msg
        if stdout and res.status != "ok":
            data["stdout_tail"] = stdout
        data.update(extra)
        return failed(msg, **data), rec

    where = _where(f, args)
    serving = "the SageMaker scikit-learn container" if plat == "aws" else "Vertex AI's prebuilt scikit-learn container"
    # ---- the sandbox itself stopped the code
    if res.status == "timeout":
        what = "model_fn" if plat == "aws" else "loading your model"
        return fail(f"{what} (or the prediction) took longer than {res.timeout:g} s in the local run of "
                    f"{where} and was stopped: look for an endless loop, a download or training at load "
                    "time; model_fn should only load the saved model.")
    if res.status == "memory":
        return fail(f"the local run of {where} ran out of memory (limit {res.memory_mb} MB): "
                    "your model or code allocates too much; make the model smaller or fix the allocation. "
                    + _last_line(res.traceback))
    if res.status == "killed":
        return fail(f"the local run of {where} crashed ({res.describe()}) before answering: something in "
                    "your serving code or model ended the process (os._exit, a crash in native code, "
                    "too much output); run it locally with python and fix the crash."
                    + (f" Last output: {_trunc(res.stderr_tail.strip()[-300:], 300)}" if res.stderr_tail.strip() else ""))
    if res.status == "machine":
        return fail(f"internal error in deploycheck's sandbox (not your fault; tell your instructor): {res.error}")
    if res.status == "error" and not d:
        if res.error_type == "ExtractError":
            return fail(f"{f.rel}/{art.rel} could not be extracted ({res.error}): rebuild it with "
                        "tar -czf model.tar.gz model.joblib (see artifact.valid).")
        if res.status == "machine" or res.error_type == "SandboxError":
            return fail(f"internal error in deploycheck's sandbox (not your fault; tell your instructor): {res.error}")
        return fail(f"the local run of {where} failed: {res.error}. {_last_lines(res.traceback)}")
    warn = _version_warning(d)
    phase, status = d.get("phase"), d.get("status")
    err = d.get("error") or ""
    tb = d.get("traceback") or ""
    if phase == "import":
        if "transform_fn" in err and "input_fn" in err:
            return fail(f"{where} defines transform_fn together with input_fn/predict_fn/output_fn, which "
                        f"{serving} rejects ('{err}'): keep either transform_fn alone or the other three.")
        mod = _missing_module(err)
        if mod:
            if "externals" in err:
                return fail(f"importing {where} failed: {err}. sklearn.externals.joblib was removed from "
                            "scikit-learn (0.23): write `import joblib` instead.")
            hint = ""
            return fail(f"importing {where} failed: {err}{hint}. The serving image lacks the module "
                        f"'{mod}': remove the import or add it to requirements.txt beside "
                        f"{args.get('entry_rel', 'inference.py').rsplit('/', 1)[-1]}.")
        return fail(f"importing {where} failed as the container would: {err}. {_last_lines(tb)}")
    if phase == "model_fn":
        if plat == "aws" and "Please provide a model_fn implementation" in err:
            return fail(f"{where} has no model_fn, and {serving} then fails with 'Please provide a model_fn "
                        "implementation': define model_fn(model_dir) that loads and returns your model.")
        if d.get("error_type") == "FileNotFoundError" or "No such file" in err:
            files = d.get("model_dir_files") or []
            listing = ", ".join(files[:20]) or "nothing"
            if plat == "aws":
                return fail(f"model_fn in {where} could not find its file: {err}. model_dir holds what "
                            f"{f.rel}/{art.rel} contains: {listing}. Load that file name in model_fn, or "
                            "re-pack the archive with the model at its root (tar -czf model.tar.gz "
                            "model.joblib).", model_dir_files=files)
            return fail(f"loading the model failed: {err}; the model folder holds {listing}.", model_dir_files=files)
        if plat == "gcp":
            return fail(f"{serving} could not load {f.rel}/{art.rel}: {err}. {warn}{_last_lines(tb)} "
                        "Save the model with joblib.dump(model, 'model.joblib') using the scikit-learn "
                        "version of your runtime.")
        return fail(f"model_fn in {where} raised {err}. {warn}{_last_lines(tb)} Fix model_fn so that it "
                    "only loads and returns your model from model_dir.")
    if phase == "sample":
        return fail(f"no sample request could be built: {err}.")
    req_desc = f"the sample request ({source}, {d.get('request_content_type')})"
    if status != 200:
        if status == 415:
            return fail(f"{serving} answered 415 Unsupported Media Type to {req_desc}: the default input_fn "
                        "reads only application/json, text/csv and application/x-npy; send one of those or "
                        f"write an input_fn in {where} for your format.")
        if status == 406:
            return fail(f"{serving} answered 406 Not Acceptable for Accept {d.get('accept')}: the default "
                        f"output_fn writes application/json, text/csv or application/x-npy; write an output_fn in {where}.")
        hint = ""
        if "Expected 2D array" in err or "Reshape your data" in err:
            hint = (" The request decoded to a single row as a 1-D array; send a list of rows "
                    "([[...]]) or reshape in input_fn.")
        if "features" in err and "expecting" in err:
            hint = " The sample has a different number of features than your model expects; fix the example in your README."
        body_err = err or _printable(d.get("response_b64", ""), d.get("content_type"))
        return fail(f"{serving} answered HTTP {status} to {req_desc}: {body_err}.{hint} {_last_lines(tb)}")
    n_rows, n_pred = d.get("n_rows"), d.get("n_predictions")
    if n_pred is None:
        return fail(f"the response to {req_desc} is not a list of predictions ({_trunc(rec.response, 200)}): "
                    f"return model.predict(...) results (output_fn in {where}).")
    if n_rows is not None and n_pred != n_rows:
        return fail(f"{req_desc} had {n_rows} row(s) but the response holds {n_pred} prediction(s) "
                    f"({_trunc(rec.response, 200)}): return one prediction per input row.")
    preview = d.get("preview")
    msg = (f"{serving} emulation answered {n_pred} prediction(s) {_trunc(str(preview), 160)} to "
           f"{req_desc} in {d.get('latency_ms')} ms (model load {d.get('load_ms')} ms)")
    if warn:
        msg += f"; note: {warn.strip()}"
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
        if w.startswith("InconsistentVersionWarning"):
            m = re.search(r"from version (\S+) when using version (\S+)", w)
            if m:
                return (f"the pickle was made with scikit-learn {m.group(1)} and the local run used "
                        f"scikit-learn {m.group(2).rstrip('.')} (InconsistentVersionWarning); the real "
                        "endpoint uses its runtime's version (see artifact.version). ")
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
