"""Local emulation of the real serving stacks (no Docker): SageMaker's scikit-learn container
(:mod:`deploycheck.serving.sagemaker`) and Google's prebuilt scikit-learn container
(:mod:`deploycheck.serving.vertex`).

:func:`job_predict` is the sandbox job (``deploycheck.sandbox.run("deploycheck.serving:job_predict",
...)``) used by ``predict.local`` and ``deploycheck serve``: it runs inside the sandbox child, loads
the student's model the way the platform would, answers one request and returns plain JSON data.
"""
from __future__ import annotations

import base64
import io
import json
import os
import time
import warnings
from typing import Any

PREVIEW = 64 * 1024


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def list_files(root: str, limit: int = 60) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            out.append(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/"))
            if len(out) >= limit:
                return out
    return out


def count_predictions(body: bytes, content_type: str) -> tuple[int | None, Any]:
    """(number of predictions, a short JSON-able preview) of a response body."""
    import numpy as np
    ctype = (content_type or "").split(";")[0].strip().lower()
    try:
        if ctype == "application/x-npy":
            arr = np.load(io.BytesIO(body), allow_pickle=False)
            n = 1 if arr.ndim == 0 else int(arr.shape[0])
            return n, arr.reshape(-1)[:10].tolist() if arr.ndim else arr.tolist()
        if ctype == "text/csv":
            lines = [l for l in body.decode("utf-8", "replace").splitlines() if l.strip()]
            return len(lines), lines[:10]
        obj = json.loads(body)
    except Exception:  # noqa: BLE001
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


def model_info(model: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"class": f"{type(model).__module__}.{type(model).__name__}"}
    n = getattr(model, "n_features_in_", None)
    if n is not None:
        try:
            info["n_features_in_"] = int(n)
        except (TypeError, ValueError):
            pass
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        info["feature_names_in_"] = [str(x) for x in list(names)[:200]]
    steps = getattr(model, "steps", None)
    if steps:
        info["first_step"] = type(steps[0][1]).__name__
    return info


def job_predict(ctx: Any, platform: str, body_b64: str | None = None, content_type: str | None = None,
                accept: str | None = None, n_rows: int | None = None, entry_rel: str | None = None,
                model_rel: str | None = None, code_in_tar: bool = True, full_body: bool = False) -> dict[str, Any]:
    """Sandbox job: load like the platform, answer one request, return data (never raises for
    the student's errors)."""
    from deploycheck import samples
    from deploycheck.serving import sagemaker, vertex
    import sklearn

    out: dict[str, Any] = {"platform": platform, "sklearn_installed": sklearn.__version__}
    work = ctx.work or ctx.root
    if platform == "aws":
        model_dir = ctx.model_dir or os.path.join(work, model_rel or ".")
    else:
        model_dir = os.path.join(work, model_rel or ".")
    out["model_dir_files"] = list_files(model_dir)
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if platform == "aws":
            code_dir, rel = sagemaker.code_location(ctx.model_dir if code_in_tar else None, work, entry_rel or "inference.py")
            out["code_dir"] = os.path.relpath(code_dir, ctx.root)
            tr, err = sagemaker.load(model_dir, code_dir, rel)
            model = tr.model if tr else None
        else:
            tr = None
            try:
                model = vertex.load_model(model_dir)
                err = None
            except MemoryError:
                raise
            except BaseException as e:  # noqa: BLE001
                import traceback
                err = sagemaker.Response(500, b"", "text/plain", phase="model_fn",
                                         error=f"{type(e).__name__}: {e}"[:2000], error_type=type(e).__name__,
                                         traceback="\n".join(traceback.format_exc().rstrip().splitlines()[-8:]))
                model = None
    out["load_ms"] = round((time.perf_counter() - t) * 1000, 2)
    out["warnings"] = [f"{w.category.__name__}: {w.message}"[:600] for w in caught
                       if w.category.__name__ in ("InconsistentVersionWarning", "UserWarning", "FutureWarning")][:5]
    if err is not None:
        out.update(phase=err.phase, status=err.status, error=err.error, error_type=err.error_type,
                   traceback=err.traceback)
        return _clean_paths(out, ctx, model_dir, platform)
    if model is not None:
        out["model_info"] = model_info(model)
    if body_b64 is None:
        syn = samples.synthesize(model, platform, custom_input_fn=bool(tr and "input_fn" in tr.custom
                                                                        or tr and "transform_fn" in tr.custom))
        if syn is None:
            out.update(phase="sample", status=0, error="could not build a sample request from the model "
                       "(it has no n_features_in_); add an example request to your README")
            return out
        body, content_type, accept, n_rows = syn.body, syn.content_type, syn.accept, syn.n_rows
        out["sample_source"] = syn.source
    else:
        body = base64.b64decode(body_b64)
    out.update(request_b64=_b64(body[:PREVIEW]), request_len=len(body), request_content_type=content_type,
               accept=accept, n_rows=n_rows)
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught2:
        warnings.simplefilter("always")
        if platform == "aws":
            resp = tr.transform(body, content_type, accept)  # type: ignore[union-attr]
        else:
            resp = vertex.predict(model, body, content_type)
    out["latency_ms"] = round((time.perf_counter() - t) * 1000, 2)
    out["warnings"] += [f"{w.category.__name__}: {w.message}"[:600] for w in caught2
                        if w.category.__name__ in ("UserWarning", "DataConversionWarning")][:3]
    out.update(phase=resp.phase, status=resp.status, content_type=resp.content_type,
               response_b64=_b64(resp.body if full_body else resp.body[:PREVIEW]), response_len=len(resp.body),
               error=resp.error, error_type=resp.error_type, traceback=resp.traceback)
    if resp.status == 200:
        n, preview = count_predictions(resp.body, resp.content_type)
        out.update(n_predictions=n, preview=preview)
    return _clean_paths(out, ctx, model_dir, platform)


def _clean_paths(out: dict[str, Any], ctx: Any, model_dir: str, platform: str) -> dict[str, Any]:
    """Temp paths in messages become what the student knows: /opt/ml/model, their folder."""
    subs = [(model_dir.rstrip("/"), "/opt/ml/model" if platform == "aws" else "<model folder>")]
    if ctx.work:
        subs.append((ctx.work.rstrip("/") + "/", ""))
    subs.append((ctx.root.rstrip("/"), "<sandbox>"))
    import sklearn
    site = os.path.dirname(os.path.dirname(sklearn.__file__))
    subs.append((site, "<site-packages>"))
    for k in ("error", "traceback"):
        v = out.get(k)
        if isinstance(v, str):
            for a, b in subs:
                v = v.replace(a, b)
            out[k] = v
    return out
