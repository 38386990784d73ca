"""Local emulation of Google's prebuilt scikit-learn prediction container (Vertex AI; the legacy
AI Platform Prediction service uses the same request and response bodies).

Behaviour, from google-cloud-aiplatform's ``google/cloud/aiplatform/prediction/sklearn/predictor.py``
(the SklearnPredictor that mirrors the prebuilt image) and ``prediction/serializer.py``:

* the model directory must hold ``model.joblib`` (loaded with ``joblib.load``), else ``model.pkl``
  (``pickle.load``); otherwise "One of the following model files must be provided ...";
* the request body is JSON ``{"instances": [...]}``; instances go through ``np.asarray`` (no dtype
  cast) to ``model.predict``; the answer is ``{"predictions": prediction.tolist()}``;
* a body that is not JSON or has no ``instances`` list is a client error (400); failures of
  the model are 500.

Error bodies are shaped ``{"error": "<message>"}`` as the prediction service returns them to the
caller (e.g. ``{"error": "Prediction failed: ..."}``).

Runs INSIDE the sandbox child (it unpickles the student's model).
"""
from __future__ import annotations

import json
import os
import pickle
import traceback
from typing import Any

from deploycheck.serving.sagemaker import Response

MODEL_FILES = ("model.joblib", "model.pkl")
JSON = "application/json"


class ModelLoadError(Exception):
    pass


def find_model_file(model_dir: str) -> str | None:
    for name in MODEL_FILES:
        p = os.path.join(model_dir, name)
        if os.path.isfile(p):
            return p
    return None


def load_model(model_dir: str) -> Any:
    path = find_model_file(model_dir)
    if path is None:
        raise ModelLoadError(f"One of the following model files must be provided: {list(MODEL_FILES)}.")
    if path.endswith(".joblib"):
        import joblib
        return joblib.load(path)
    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - inside the sandbox, as the prebuilt container does


def error(status: int, message: str, **extra: Any) -> Response:
    return Response(status, json.dumps({"error": message}).encode(), JSON, phase="request",
                    error=message, **extra)


def parse_instances(body: bytes, content_type: str | None = JSON) -> tuple[list | None, Response | None]:
    # The prediction front end reads the body as JSON whatever the Content-Type says.
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        return None, error(400, f"Failed to parse the request body as JSON ({e}); send "
                                '{"instances": [[...], ...]}.')
    if not isinstance(req, dict) or "instances" not in req:
        return None, error(400, 'Invalid request: the JSON body must be an object with an "instances" '
                                'list, e.g. {"instances": [[1.0, 2.0]]}.')
    inst = req["instances"]
    if not isinstance(inst, list):
        return None, error(400, 'Invalid request: "instances" must be a list.')
    return inst, None


def predict(model: Any, body: bytes, content_type: str | None = JSON) -> Response:
    import numpy as np
    inst, err = parse_instances(body, content_type)
    if err is not None:
        return err
    try:
        preds = model.predict(np.asarray(inst))
        out = {"predictions": preds.tolist() if hasattr(preds, "tolist") else list(preds)}
        return Response(200, json.dumps(out).encode(), JSON)
    except Exception as e:  # noqa: BLE001
        tb = "\n".join("".join(traceback.format_exception(e)).rstrip().splitlines()[-8:])
        return error(500, f"Prediction failed: Exception during sklearn prediction: {e}",
                     error_type=type(e).__name__, traceback=tb)


def invoke(model_dir: str, body: bytes, content_type: str | None = JSON) -> Response:
    try:
        model = load_model(model_dir)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, MemoryError):
            raise
        tb = "\n".join("".join(traceback.format_exception(e)).rstrip().splitlines()[-8:])
        r = error(500, f"Failed to load model: {type(e).__name__}: {e}", error_type=type(e).__name__,
                  traceback=tb)
        r.phase = "model_fn"
        return r
    return predict(model, body, content_type)
