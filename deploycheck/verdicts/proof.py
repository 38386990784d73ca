"""proof.screenshot: the deploy folder holds (or its README embeds) a screenshot whose text shows a
prediction from the deployed model.

A thin verdict over the facts of :mod:`deploycheck.analysis.screenshot` (candidates, OCR in the sandbox,
classification). Policies (issues 12, 21, 23):

* **prediction** (a call or cloud context, and an output with predicted values) -> passed; the message
  quotes the call and the output, names the cloud context, and says whether the values shown are what
  the student's model predicts locally (or among its classes) and whether the endpoint shown is the one
  the README names. Evidence, never a requirement: an OCR slip or another request must not cost a
  correct student the point.
* **uncertain** (a call whose output is cut off or unreadable, a photo read only in part) -> review: no
  points lost until an instructor decides; the message says what was seen and what is uncertain.
* **not read** (no OCR engine, OCR turned off, the OCR sandbox unavailable, a read that timed out or ran
  out of its limits; a remote image that could not be fetched) -> review, never a pass: the message says
  why. Today's image checks (readable, not tiny, not blank, not noise) still apply.
* **deploycheck's own image** (its proof card or README snapshot, recognised by its mark) -> failed.
* **cloud context without a prediction** (an endpoint list, a console page, a predict call without its
  output) -> failed: the message says what was seen and what to capture.
* **unrelated** (chart, logo, photo, empty page, text without a prediction) -> failed, saying what the
  image looks like and what to capture instead.
"""
from __future__ import annotations

import re
from typing import Any

from deploycheck.analysis import screenshot as ss
from deploycheck.analysis import ocr
from deploycheck.analysis import screenshot_text as st
from deploycheck.discovery import Target
from deploycheck.model import Outcome, Screenshot, failed, passed, review
from deploycheck.settings import Settings
from deploycheck.verdicts import folder_of, no_folder

CHECK = "proof.screenshot"
CANDIDATES_IN_DATA = 10

WHAT = {
    "aws": ("a screenshot of a prediction from your SageMaker endpoint: the notebook cell running "
            "predictor.predict(...) with its output, or `aws sagemaker-runtime invoke-endpoint ...` followed by "
            "`cat` of the output file, or the console's Test inference response"),
    "gcp": ("a screenshot of a prediction from your Vertex AI / AI Platform endpoint: `gcloud ai endpoints predict "
            "...` (or `gcloud ai-platform predict ...`) with the predictions it printed, a `curl ...:predict` "
            "request with its JSON answer, or the console's Deploy & test response"),
}

FIXES = {
    "too_small": "add a real screenshot (at least {w}×{h}) of a prediction from your endpoint",
    "blank": "replace it with a screenshot that shows a prediction from your deployed endpoint",
    "bomb": "save a normal screen-sized screenshot",
    "too_large": "save a normal screen-sized screenshot",
    "unreadable": "save it again as PNG or JPG",
    "symlink": "commit the image itself",
    "big": "save a smaller PNG/JPG",
}


def _fix(problem: str) -> str:
    if "too small" in problem:
        return FIXES["too_small"].format(w=ocr.MIN_W, h=ocr.MIN_H)
    if "blank" in problem:
        return FIXES["blank"]
    if "bomb" in problem:
        return FIXES["bomb"]
    if "too large" in problem:
        return FIXES["too_large"]
    if "symlink" in problem:
        return FIXES["symlink"]
    if "larger than" in problem:
        return FIXES["big"]
    return FIXES["unreadable"]


def _size(fi: ss.ImageFacts) -> str:
    return f" ({fi.stats.width}×{fi.stats.height})" if fi.stats and fi.stats.width else ""


def _q(s: str) -> str:
    return f"“{s}”"


_CONTEXT_ORDER = ("endpoint", "SageMaker ARN", "InService", "AWS region", "GCP region", "instance type", "SageMaker",
                  "Vertex AI", "AI Platform", "Google API endpoint", "deployedModelId", "invocation answer",
                  "console page", "Google Cloud console", "notebook cell", "gcloud")


def _context(facts: st.TextFacts, n: int = 5) -> str:
    """'endpoint sklearn-iris-endpoint, InService, us-east-1, SageMaker' from the cloud evidence."""
    strong = any(e.label not in st.WEAK_CLOUD for e in facts.cloud)
    evs = sorted((e for e in facts.cloud if not (strong and e.label in st.WEAK_CLOUD)),
                 key=lambda e: _CONTEXT_ORDER.index(e.label) if e.label in _CONTEXT_ORDER else 99)
    out: list[str] = []
    for e in evs:
        shown = e.shown or e.label
        if shown.lower() not in (o.lower() for o in out):
            out.append(shown)
    return ", ".join(out[:n])


def _best_call(facts: st.TextFacts) -> st.Evidence | None:
    return min(facts.calls, key=lambda e: st.CALL_ORDER.index(e.label) if e.label in st.CALL_ORDER else 99,
               default=None)


def _data(facts: ss.ScreenshotFacts, fi: ss.ImageFacts | None, known: st.KnownOutputs | None,
          plaus: st.Plausibility | None = None, named: st.Plausibility | None = None) -> dict[str, Any]:
    eng = facts.engine
    d: dict[str, Any] = {
        "screenshot": Screenshot(fi.candidate.path, fi.text or "", fi.candidate.remote) if fi is not None else None,
        "classification": fi.classification if fi is not None else "missing",
        "engine": eng.label,
    }
    if not eng.available:
        d["engine_detail"] = eng.detail
    if fi is not None:
        if fi.candidate.remote:
            d["screenshot_url"] = fi.candidate.path
        else:
            d["file"] = fi.candidate.path
        if fi.stats:
            d["width"], d["height"] = fi.stats.width, fi.stats.height
        if fi.facts:
            d["evidence"] = [{"kind": e.kind, "label": e.label, "text": e.snippet,
                              **({"shown": e.shown} if e.shown else {})}
                             for e in (fi.facts.calls + fi.facts.outputs + fi.facts.cloud)][:12]
            if fi.facts.values:
                d["values"] = list(fi.facts.values[:20])
            if fi.facts.platform:
                d["cloud"] = fi.facts.platform
        if fi.seems:
            d["seems"] = fi.seems
        d["cached"] = fi.cached
    if plaus is not None and plaus.plausible is not None:
        d["plausible"] = plaus.plausible
    if named is not None and named.plausible is not None:
        d["endpoint_matches"] = named.plausible
    if facts.endpoints:
        d["readme_endpoints"] = list(facts.endpoints[:5])
    if fi is not None and fi.confidence is not None:
        d["ocr_confidence"] = fi.confidence
    if fi is not None and fi.variant:
        d["ocr_variant"] = fi.variant
    if known is not None and known.source:
        d["known_outputs"] = known.source
    d["candidates"] = [{"path": i.candidate.path, "classification": i.classification,
                        **({"problem": i.problem} if i.problem else {})} for i in facts.images[:CANDIDATES_IN_DATA]]
    if facts.cache_note:
        d["cache_note"] = facts.cache_note
    return d


def verdict(facts: ss.ScreenshotFacts, known: st.KnownOutputs | None = None) -> Outcome:
    """The Outcome of proof.screenshot from the folder's screenshot facts."""
    folder = f"{facts.folder}/" if facts.folder else "the deploy folder"
    what = WHAT.get(facts.platform, WHAT["aws"])
    best = facts.best
    if best is None:
        ignored = [i for i in facts.images if i.classification == "excluded"]
        parts = [f"{i.candidate.path} is {i.problem}" for i in ignored[:3]]
        parts += [f"{p} is a symlink (not followed)" for p in facts.symlinks[:3]]
        if not parts:
            return failed(f"no screenshot in {folder}: add {what}, and embed it in the folder's README",
                          **_data(facts, None, known))
        more = f" (and {len(ignored) + len(facts.symlinks) - len(parts)} more)" \
            if len(ignored) + len(facts.symlinks) > len(parts) else ""
        link_hint = "; commit the image itself" if facts.symlinks and not ignored else ""
        return failed(f"no screenshot of a prediction in {folder}: {'; '.join(parts)}{more}, so none counts"
                      f"{link_hint}. Add {what}", **_data(facts, None, known))
    path = best.candidate.path if not best.candidate.remote else _url(best.candidate.path)
    cls = best.classification
    if cls == "prediction" and best.facts is not None:
        tf = best.facts
        plaus = st.plausibility(tf.values, known)
        named = st.endpoint_match(_shown_endpoints(tf), facts.endpoints)
        best_call = _best_call(tf)
        call = best_call.snippet if best_call else ""
        # the output the values came from (the last one read), rather than invoke-endpoint's metadata
        shown = [e for e in tf.outputs if not e.label.startswith("invoke-endpoint answer")] or list(tf.outputs)
        out = shown[-1].snippet if shown else ""
        quote = f"{_q(call)} → {_q(out)}" if call and call != out else _q(out)
        ctx = _context(tf)
        msg = f"{_where(best)}{_size(best)} shows a prediction from your deployed model: {quote}"
        if ctx:
            msg += f" ({ctx})"
        for sentence in (plaus.sentence, named.sentence, tf.note):
            if sentence:
                msg += f"; {sentence}"
        return passed(msg, **_data(facts, best, known, plaus, named))
    if cls == "uncertain" and best.facts is not None:
        tf = best.facts
        call_ev = _best_call(tf)
        ctx = _context(tf)
        seen = f"the call {_q(call_ev.snippet)}" if call_ev is not None else f"your endpoint ({ctx})"
        return review(f"{_where(best)}{_size(best)} shows {seen}, but {tf.note}: your instructor will look at it "
                      f"(no points lost meanwhile). To be sure next time, capture {_short(what)} so that the output "
                      "is sharp and whole", **_data(facts, best, known))
    if cls == "not_read":
        return review(f"{_where(best)}{_size(best)} could not be read ({_clause(best.problem)}), so whether it shows "
                      "a prediction is for your instructor to decide (no points lost meanwhile)",
                      provisional=best.transient, **_data(facts, best, known))
    if cls == "remote":
        # (provisional: the next run, with a network, may read it; never kept in the results cache)
        return review(f"{_where(best)} could not be read ({_clause(best.problem)}): your instructor will look at it "
                      f"(no points lost meanwhile); commit the image into {folder} to have it checked",
                      provisional=True, **_data(facts, best, known))
    if cls == "deploycheck":
        return failed(f"{_where(best)} is {best.problem}, not a screenshot of your deployed endpoint: deploycheck "
                      f"draws those itself, they are no proof of a deployment. Add {what}",
                      **_data(facts, best, known))
    if cls == "cloud" and best.facts is not None:
        tf = best.facts
        ctx = _context(tf)
        call_ev = _best_call(tf)
        if call_ev is not None and (call_ev.label == "predict( call" or not ctx):
            seen = f"the call {_q(call_ev.snippet)} but not its output"
            fix = "run it and capture the output with it"
        else:
            where = {"aws": "SageMaker", "gcp": "Vertex AI / AI Platform"}.get(tf.platform or "", "cloud")
            kind = "console" if any(e.label in ("console page", "Google Cloud console") for e in tf.cloud) else \
                "endpoint" if any(e.label in ("endpoint", "SageMaker ARN", "InService") for e in tf.cloud) else "context"
            seen = f"your {where} {kind} ({ctx}) but no prediction"
            fix = "the lab asks for a prediction"
        return failed(f"{_where(best)} shows {seen}: {fix}. Add {what}", **_data(facts, best, known))
    if cls == "unrelated":
        reads = ""
        lines = st.normalise(best.text)
        if lines and best.seems != "an almost empty page":
            # the first line with words (a chart's title, a page's heading), else the longest
            wordy = [ln for ln in lines[:20] if len(re.findall(r"[A-Za-z]{3,}", ln)) >= 2]
            quote = wordy[0] if wordy else max(lines[:20], key=len)
            reads = f" (it reads {_q(st.sanitise(quote, 60))})" if len(quote) >= 4 else ""
        return failed(f"{_where(best)}{_size(best)} looks like {best.seems or 'something else'}{reads}, not a "
                      f"prediction from your endpoint: replace it with {what}", **_data(facts, best, known))
    # unusable (today's image checks)
    bad = [i for i in facts.images if i.classification == "unusable"]
    more = f" ({len(bad) - 1} other images have problems too)" if len(bad) > 1 else ""
    return failed(f"{_where(best)} {best.problem}: {_fix(best.problem)}{more}",
                  problems=[f"{i.candidate.path} {i.problem}" for i in bad[:10]], **_data(facts, best, known))


def _url(u: str) -> str:
    return u if len(u) <= 90 else u[:87] + "…"


def _where(fi: ss.ImageFacts) -> str:
    """How the message names the image: its path, or "the image at URL (README line N)"."""
    if not fi.candidate.remote:
        return fi.candidate.path
    line = f", README line {fi.candidate.readme_line}" if fi.candidate.readme_line else ""
    return f"the image {_url(fi.candidate.path)}{line}"


def _clause(problem: str) -> str:
    return problem[0].lower() + problem[1:] if problem[:1].isupper() and not problem[:4].isupper() else problem


def _short(what: str) -> str:
    """The first alternative of WHAT ("the notebook cell running predictor.predict(...) with its output")."""
    return what.split(": ", 1)[-1].split(", or ")[0]


def _shown_endpoints(tf: st.TextFacts) -> list[str]:
    return [e.shown[len("endpoint "):] for e in tf.cloud if e.shown.startswith("endpoint ")]


def proof_screenshot(t: Target, dc: Settings | None = None, known: st.KnownOutputs | None = None) -> Outcome:
    """proof.screenshot for one target. ``known``: the model's classes / the local prediction's values;
    by default the values predict.local's run answered (when predict.local ran in this process)."""
    o = no_folder(t)
    if o:
        return o
    folder = folder_of(t)
    facts = folder.facts.screenshot
    if known is None:
        known = ss.model_outputs(folder) or _local_outputs(t, dc)
    return verdict(facts, known)


def _local_outputs(t: Target, dc: Settings | None) -> st.KnownOutputs | None:
    """The values predict.local's run answered, when that run already exists (never started here)."""
    from deploycheck.verdicts.predict import limits_of
    run = t.folder.facts.finished_local_run(limits_of(dc)) if t.folder is not None else None
    if run is None or not run.answers or not run.answers[-1].ok:
        return None
    from deploycheck.serving.local import decode_body
    answer = run.answers[-1]
    body = answer.body.decode("utf-8", "replace")
    try:
        doc = decode_body(answer.body, answer.content_type if "npy" in (answer.content_type or "") else None)
    except ValueError:
        values = st.parse_values(body)
    else:
        doc = doc.get("predictions", doc) if isinstance(doc, dict) else doc
        flat: list[int | float | str] = []
        stack = [doc]
        while stack and len(flat) < 1000:
            x = stack.pop(0)
            if isinstance(x, list):
                stack[:0] = x
            elif isinstance(x, (int, float, str)) and not isinstance(x, bool):
                flat.append(x)
        values = tuple(flat)
    return st.KnownOutputs(local_values=tuple(values), source="the local emulation's answer") if values else None
