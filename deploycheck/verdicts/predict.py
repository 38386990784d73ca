"""predict.local: the student's own serving code and model, run in the declared image's runtime
environment through the container's own request path, in the sandbox, answer the sample request as
the cloud endpoint would (facts: ``folder.facts.serving_plan`` and ``folder.facts.local_run``).

Only the response's status, content type and body come from the student's process; every label,
count and verdict is the grader's. deploycheck's own failures (an environment that cannot be built,
a sandbox that cannot start) are errors of the run, never the student's failure.
"""
from __future__ import annotations

import base64
from dataclasses import replace
import json
import re
from typing import TYPE_CHECKING, Any

from deploycheck import model
from deploycheck.analysis.image_fit import explain_load_failure
from deploycheck.analysis.plan import ServingPlan, Unservable
from deploycheck.discovery import DeployFolder, Target
from deploycheck.model import Outcome, blocked, failed, passed, review, run_error, skipped
from deploycheck.settings import Settings
from deploycheck.verdicts import folder_of, no_folder

if TYPE_CHECKING:
    from deploycheck.analysis.samples import SampleRequest
    from deploycheck.sandbox import Limits
    from deploycheck.serving.local import LocalRun

CHECK = "predict.local"
TEXT_LIMIT = 2000


def limits_of(dc: Settings | None) -> Limits:
    from deploycheck import sandbox
    if dc is None:
        return sandbox.Limits(timeout=sandbox.DEFAULT_TIMEOUT, memory_mb=sandbox.DEFAULT_MEMORY_MB)
    return sandbox.Limits(timeout=dc.sandbox_timeout, memory_mb=dc.sandbox_memory_mb)


def predict_local(t: Target, dc: Settings | None = None) -> Outcome:
    if (o := no_folder(t)) is not None:
        return o
    f = folder_of(t)
    plan = f.facts.serving_plan
    if isinstance(plan, Unservable):
        return blocked(plan.blocked_by, plan.message)
    try:
        run = f.facts.local_run(limits_of(dc))
    except Exception as e:  # noqa: BLE001 - the sandbox or an environment: the grader's own failure
        from deploycheck import sandbox
        if isinstance(e, sandbox.IsolationUnavailable):
            return run_error(f"{CHECK} did not run student code: {e}")
        raise
    assert not isinstance(run, Unservable)
    o = _interpret(t, f, plan, f.facts.sample, run)
    # a run in an approximate environment is not the declared image's verdict: never cached
    return replace(o, provisional=True) if run.runtime is not None and run.runtime.approximate else o


def local_prediction(t: Target, dc: Settings | None = None) -> model.Prediction | None:
    """The local emulation's answer for the target (the one predict.local judged), or None."""
    f = t.folder
    if f is None or isinstance(f.facts.serving_plan, Unservable):
        return None
    try:
        run = f.facts.local_run(limits_of(dc))
    except Exception:  # noqa: BLE001
        return None
    if isinstance(run, Unservable) or run.machine_error or not run.answers:
        return None
    sample = f.facts.sample
    if sample.client_error or (sample.synthesized and run.synthesized is None):
        return None               # nothing was sent but the health check
    source, n_rows = _source_and_rows(f, sample, run)
    return run.prediction(-1, source, n_rows)


def _printable(raw: bytes, ctype: str | None) -> str:
    c = (ctype or "").split(";")[0].strip().lower()
    if c == "application/x-npy":
        try:
            import io

            import numpy as np
            arr = np.load(io.BytesIO(raw), allow_pickle=False)  # never unpickles
            return f"NumPy .npy {arr.dtype} {list(arr.shape)}: " + _trunc(str(arr.tolist()))
        except Exception:  # noqa: BLE001
            return f"<{len(raw)} bytes of {ctype}>"
    return _trunc(raw.decode("utf-8", "replace"))


def _trunc(s: str, n: int = TEXT_LIMIT) -> str:
    return s if len(s) <= n else s[:n] + f"... [{len(s) - n} more characters]"


def _source_and_rows(f: DeployFolder, sample: SampleRequest, run: LocalRun) -> tuple[str, int | None]:
    """(where the request comes from, its rows) for the record and the proof card."""
    from deploycheck.analysis.samples import SYNTH_ROWS
    if sample.synthesized:
        n = run.model_info.get("n_features_in_")
        return (f"synthesized from the model (n_features_in_={n}): {sample.source}", SYNTH_ROWS) \
            if run.synthesized is not None else (sample.source, None)
    return sample.source, sample.n_rows


def _where(f: DeployFolder, plan: ServingPlan) -> str:
    return f"{f.rel}/{plan.entry_rel}" if plan.entry_rel else f"{f.rel}/"


def _interpret(t: Target, f: DeployFolder, plan: ServingPlan, sample: SampleRequest, run: LocalRun) -> Outcome:
    from deploycheck.serving import local
    plat = f.platform
    art = plan.artifact
    if sample.synthesized:
        answer = run.answers[-1] if run.answers and run.synthesized is not None else None
    else:
        answer = run.answers[-1] if run.answers and not sample.client_error else None
    req = answer.request if answer else None
    source, n_rows = _source_and_rows(f, sample, run)
    n_pred, preview = local.count_predictions(answer.body, answer.content_type) if answer and answer.ok else (None, None)
    ctype = req.header("Content-Type") if req else None
    request_text = _printable(req.body[:65536], ctype) if req else ""
    response_text = _printable(answer.body[:65536], answer.content_type) if answer else ""
    data: dict[str, Any] = {
        "request": request_text, "response": response_text, "content_type": ctype,
        "accept": req.header("Accept") if req else None, "http_status": answer.status if answer else None,
        "latency_ms": answer.latency_ms if answer else None, "load_ms": run.load_ms, "isolation": run.isolation,
        "sample_source": source, "n_rows": n_rows, "n_predictions": n_pred, "artifact": art.rel,
        "runtime": run.runtime_label, "approximate": bool(run.runtime and run.runtime.approximate),
        "request_b64": base64.b64encode(req.body[:65536]).decode() if req else "",
        "request_form": sample.form, "request_documented": sample.decides, "request_synthesized": sample.synthesized}
    if sample.inferred:
        data["request_inferred"] = sample.inferred
    if sample.notes:
        data["request_notes"] = list(sample.notes)
    if run.target.assumed:
        data["runtime_note"] = run.target.assumed
    if run.isolation.startswith("UNSANDBOXED"):
        data["isolation_note"] = "student code ran WITHOUT isolation (--allow-unsandboxed)"
    stdout = (run.stdout_tail or "")[-600:].strip()
    runtime = run.runtime_label or "the serving image"
    if run.target.image_note:            # several declarations: which one the image came from
        data["image_note"] = run.target.image_note
        runtime = f"{runtime} [{run.target.image_note}]"

    def fail(msg: str, **extra: Any) -> Outcome:
        if stdout and run.sandbox_status != "ok":
            data["stdout_tail"] = stdout
        data.update(extra)
        return failed(msg, **data)

    where = _where(f, plan)
    serving = "the SageMaker scikit-learn container" if plat == "aws" else "Vertex AI's prebuilt scikit-learn container"
    # ---- deploycheck's own machinery failed, or an approximate run that version skew explains
    if run.machine_error:
        return run_error(f"{CHECK} could not run {where}: {run.machine_error}", **data)
    if run.inconclusive:
        return skipped(f"{run.inconclusive} ({where})", inconclusive=True, provisional=True, **data)
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
                top = mod.split(".")[0]
                own = _own_module_left_behind(f, plan, top)
                if own:
                    return fail(f"importing {where} failed as on the endpoint: {err}. {own}")
                listed = [r for r in f.facts.requirements if r.provides(top)]
                installed = [r for r in listed if r.shipped is not False]
                if installed:
                    r = installed[0]
                    return skipped(f"inconclusive: importing {where} needs '{mod}', which {r.where} lists ({r.how}); "
                                   "the container pip-installs it when it starts, but deploycheck runs offline and "
                                   f"cannot install it into {runtime}, so this is not counted against you.",
                                   inconclusive=True, provisional=True, requirements=r.where, **data)
                if listed:
                    return fail(f"importing {where} failed: {err}. {listed[0].where} lists '{top}', but it never "
                                "reaches the endpoint: without source_dir= the SDK uploads only the entry-point "
                                "file; pass source_dir= (the folder holding the entry point and requirements.txt).")
                ep = f.facts.entry_point
                sd = "" if ep is not None and ep.source_dir is not None else " and pass source_dir= so it is uploaded"
                return fail(f"importing {where} failed: {err}. The serving image ({runtime}) lacks the module "
                            f"'{mod}': remove the import or add it to requirements.txt beside "
                            f"{(plan.entry_rel or 'inference.py').rsplit('/', 1)[-1]}{sd}.")
            return fail(f"importing {where} failed as the container would ({runtime}), so the endpoint would "
                        f"never start: {err}. {_last_lines(tb)}")
        if plat == "aws" and "Please provide a model_fn implementation" in err:
            return fail(f"{where} has no model_fn, and {serving} then fails with 'Please provide a model_fn "
                        "implementation': define model_fn(model_dir) that loads and returns your model.")
        if (load.error_type == "FileNotFoundError" or "No such file" in err) and "/opt/ml/code/" in err:
            m = re.search(r"/opt/ml/code/([^'\"\s]+)", err)
            name = m.group(1) if m else "the file"
            uploaded = ", ".join(n for _r, n in f.facts.shipped_code.files or ()) or "the entry point"
            ctor = (f.facts.entry_point.constructor if f.facts.entry_point is not None else "") or "SKLearnModel"
            return fail(f"model_fn in {where} could not find its file: {err}. On the endpoint the code directory "
                        f"/opt/ml/code holds only what the SDK uploaded: without source_dir= that is {uploaded}. "
                        f"Pass source_dir= (the folder holding {name}) to {ctor}, or put the file in model.tar.gz "
                        "and open it from model_dir.")
        if load.error_type == "FileNotFoundError" or "No such file" in err:
            listing = ", ".join(getattr(art, "members", None) or [art.rel]) if plat == "aws" else art.rel
            if plat == "aws":
                return fail(f"model_fn in {where} could not find its file: {err}. model_dir holds what "
                            f"{f.rel}/{art.rel} contains: {listing}. Load that file name in model_fn (from "
                            "model_dir, not a relative path), or re-pack the archive with the model at its root "
                            "(tar -czf model.tar.gz model.joblib).", model_dir_files=getattr(art, "members", []))
            return fail(f"loading the model failed: {err}; the model folder holds {listing}.")
        # the pickle's own format facts against the image (facts.image_fit, as artifact.version reports
        # them) explain a failed load better than the container's text alone
        fit = f.facts.image_fit
        explained = explain_load_failure(fit, f"{err}\n{tb}") if fit is not None \
            and load.phase in ("model_fn", "load") and run.target.image is fit.image else None
        if explained is not None and fit is not None:
            cause, certain = explained
            what = f"model_fn in {where}" if plat == "aws" else serving
            first = err.strip().splitlines()[0][:300] if err.strip() else load.error_type
            if not certain:
                # the local run used a value the vendor never published: the instructor decides
                return review(f"inconclusive: {what} could not load the model in {runtime} ({first}); {fit.doubt}",
                              inconclusive=True, **data)
            return fail(f"{what} could not load the model in {runtime} ({first}) because {cause}. Fix: "
                        f"{fit.fixes()} (see artifact.version).")
        if plat == "gcp":
            return fail(f"{serving} ({runtime}) could not load {f.rel}/{art.rel}, so the model version would not "
                        f"deploy: {err}. {warn}{_last_lines(tb)} Save the model with joblib.dump(model, "
                        "'model.joblib') using the scikit-learn version of your runtime.")
        return fail(f"model_fn in {where} raised {err} in {runtime}. {warn}{_last_lines(tb)} Fix model_fn so that "
                    "it only loads and returns your model from model_dir.")
    if sample.client_error:
        return fail(f"the documented request ({sample.source}: {sample.form}) fails before anything is sent: "
                    f"{sample.client_error}. {_client_fix(sample)}")
    if answer is None:
        return review(f"{sample.source}, and the model has no n_features_in_, so deploycheck could not build a "
                      f"request: add the command or code you used to predict to {f.rel}/README.md (e.g. "
                      f"{_EXAMPLE[plat]}) so it can be checked.", **data)
    req_desc = sample.describe(source if sample.synthesized else None)
    status = answer.status
    if not answer.ok:
        err = answer.failure.error if answer.failure else ""
        tb = answer.failure.traceback if answer.failure else ""
        hint = _request_hint(f, plan, sample, err, where)
        body_err = err or response_text
        said = f"{serving} ({runtime}) answered HTTP {status} to {req_desc}: {_trunc(body_err, 600)}."
        if not sample.decides:
            why = sample.inferred or "no request you documented could be reproduced"
            return review(f"{said}{hint} This is not a request you documented ({why}), so it is not counted "
                          f"against you: add the exact command or code you used to predict to {f.rel}/README.md "
                          f"(e.g. {_EXAMPLE[plat]}) so it can be checked.", **data)
        return fail(f"{said}{hint} {_last_lines(tb)}")
    cut = answer.failure if answer.failure and answer.failure.error_type == "IncompleteAnswer" else None
    if not answer.body or cut:
        # what the container's server really sent: gunicorn writes the status line and headers, then
        # fails on a body item that is not bytes and closes the connection (the client gets no predictions)
        err = answer.failure.error if answer.failure else ""
        hint = (f" output_fn in {where} must return a str/bytes body (with its content type) or a worker Response; "
                "an array (or a list) as the body is iterated item by item, and gunicorn cannot send numbers."
                if "is not a byte" in err else "")
        said = (f"{serving} ({runtime}) answered HTTP {status} with {'an incomplete' if cut else 'an empty'} body to "
                f"{req_desc}" + (f": its server failed while sending it ({_trunc(err, 300)})" if err else "")
                + f"; the client gets no predictions.{hint}")
        if not sample.decides:
            return review(f"{said} This is not a request you documented, so it is not counted against you: add the "
                          f"exact command or code you used to predict to {f.rel}/README.md (e.g. {_EXAMPLE[plat]}) so "
                          "it can be checked.", **data)
        return fail(f"{said} {_last_lines(answer.failure.traceback if answer.failure else '')}")
    if n_pred is not None and n_rows is not None and n_pred != n_rows and sample.decides:
        return fail(f"{req_desc} had {n_rows} row(s) but the response holds {n_pred} prediction(s) "
                    f"({_trunc(response_text, 200)}): return one prediction per input row.")
    shown = _trunc(str(preview), 160) if n_pred is not None else _trunc(response_text, 160)
    what = f"{n_pred} prediction(s) {shown}" if n_pred is not None else f"HTTP {status} {shown}"
    msg = (f"{runtime} answered {what} to {req_desc} in {answer.latency_ms} ms (model load {run.load_ms} ms)")
    for note in sample.notes:
        msg += f"; note: {note}"
    if sample.inferred:
        msg += f"; note: {sample.inferred}"
    if warn:
        msg += f"; note: {warn.strip()}"
    if run.target.assumed:
        msg += f"; note: {run.target.assumed}"
    data["warnings"] = list(run.warnings)
    return passed(msg, **data)


_EXAMPLE = {
    "aws": "`aws sagemaker-runtime invoke-endpoint --endpoint-name NAME --content-type text/csv --body fileb://sample.csv "
           "out.json`, or `predictor.predict([[...]])` with its values",
    "gcp": "`gcloud ai endpoints predict ENDPOINT_ID --region=REGION --json-request=request.json` with "
           "request.json holding {\"instances\": [[...]]}",
}


def _client_fix(sample: SampleRequest) -> str:
    """What to change so the documented command sends a request."""
    e, form = sample.client_error, sample.form
    if "--json-instances" in form:
        return ("Put one JSON instance per line in that file (e.g. [5.1, 3.5, 1.4, 0.2]), or keep the request "
                "object and pass it with --json-request instead.")
    if "--json-request" in form:
        return 'The file must be a JSON object with an "instances" list: {"instances": [[...], [...]]}.'
    if "botocore refuses the body" in e:
        return "Pass the body as text or bytes, e.g. Body=json.dumps(rows) with ContentType=\"application/json\"."
    return "Fix the data you pass so the call runs, and keep the README's example the one you ran."


def _request_hint(f: DeployFolder, plan: ServingPlan, sample: SampleRequest, err: str, where: str) -> str:
    """One sentence on why the container refused this request, when the request itself explains it."""
    plat = f.platform
    obj: Any = None
    if (sample.content_type or "application/json").split(";")[0].strip() == "application/json":
        try:
            obj = json.loads(sample.body) if sample.body else None
        except ValueError:
            obj = None
    custom = set()
    ep = f.facts.entry_point if plat == "aws" else None
    if ep is not None and ep.tree is not None:
        custom = {n for n in ("input_fn", "transform_fn") if n in ep.defs}
    if plat == "aws" and isinstance(obj, dict) and "instances" in obj and not custom:
        return (" The SageMaker scikit-learn container's default input_fn reads a JSON list of rows, not "
                "{\"instances\": [...]} (Vertex AI's format): send the rows themselves ([[...], ...]) or write "
                f"an input_fn in {where} that reads \"instances\".")
    if plat == "gcp" and isinstance(obj, dict) and "parameters" in obj and "parameters" in err:
        return (" Vertex AI's prebuilt scikit-learn container passes \"parameters\" to model.predict() as a keyword "
                f"argument, which scikit-learn models do not take: remove \"parameters\" from what "
                f"{sample.form or sample.source} sends.")
    if "is not supported by this framework" in err:
        return (" The default input_fn/output_fn read and write only application/json, text/csv and "
                f"application/x-npy (exact, without parameters); send one of those or write an input_fn/output_fn in {where}.")
    if "Expected 2D array" in err or "Reshape your data" in err:
        return (" The request decoded to a single row as a 1-D array; send a list of rows "
                "([[...]]) or reshape in input_fn.")
    if "features" in err and "expecting" in err:
        return " The request has a different number of features than your model expects; fix the example in your README."
    if "view function did not return a valid response" in err or "not JSON serializable" in err:
        return (f" output_fn in {where} must return a str/bytes body (with its content type) or a worker "
                "Response; the container cannot send a list, an array or a dict holding an array.")
    return ""


def _own_module_left_behind(f: DeployFolder, plan: ServingPlan, top: str) -> str:
    """When ``top`` is the student's own module that the SDK did not upload with the entry point
    (analysis.imports.left_behind), what to pass; else ""."""
    from deploycheck.analysis.imports import left_behind
    lb = left_behind(f, top) if plan.target.code_files is not None else None
    if lb is None:
        return ""
    ep = f.facts.entry_point
    ctor = (ep.constructor if ep is not None else "") or "SKLearnModel"
    return (f"{top} is your own module {f.rel}/{lb.rel}, but without source_dir= the SDK uploads only "
            f"{lb.entry_name} to the endpoint: pass {lb.fix} to {ctor}.")


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


def _last_lines(tb: str, n: int = 3) -> str:
    lines = [l.strip() for l in (tb or "").splitlines() if l.strip() and not l.startswith("Traceback")]
    # drop deploycheck's own frames
    keep = [l for l in lines if "deploycheck/" not in l]
    if not keep:
        return ""
    return "Traceback (last lines): " + _trunc(" | ".join(keep[-n:]), 600)
