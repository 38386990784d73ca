"""Vertex AI / AI Platform prebuilt scikit-learn prediction, run INSIDE the sandbox under the
image's Python. Job: ``vertex_job:predict`` (``fn(ctx, **args)``), run with a conversation channel
(``ctx.channel``): it loads the model, then answers each connection the grader hands over with the
standard library's HTTP server code (``http.server.BaseHTTPRequestHandler``: status line, headers,
body as bytes); the grader reads the answer from the connection itself. Python 3.7 compatible;
stdlib + the runtime environment (numpy, scikit-learn, joblib).

Google's prebuilt container server is not public. The closest public code is Google's Cloud ML
prediction library that the gcloud SDK ships (``lib/third_party/ml_sdk/cloud/ml/prediction``;
``prediction_utils.py`` and ``frameworks/sk_xg_prediction_lib.py``), which these steps follow:

* load: ``detect_framework``: more than one of model.joblib / model.pkl -> "Multiple model files
  are found in the model_path"; none -> "Could not find either model.joblib or model.pkl in ...";
  ``load_joblib_or_pickle_model``: joblib via ``from sklearn.externals import joblib`` (the
  vendored copy of scikit-learn < 0.23), else ``import joblib``; model.pkl via ``pickle.loads``;
  any exception -> "Could not load the model: <file>. <error>."; then the type check
  ``"sklearn" in type(model).__module__`` -> "Invalid model type detected: ...". Each is a
  ``PredictionError`` "Failed to load model: <detail> (Error code: 0)"; the version is never
  served (the deploy fails), which the job reports as ``startup``;
* predict: ``parse_instances`` pops "instances" from the request; the rest of the request object
  goes to the model as keyword arguments (``SklearnModel.predict(instances, **kwargs)`` ->
  ``SklearnClient.predict`` -> ``model.predict(inputs, **kwargs)``), so a "parameters" key reaches
  ``predict(..., parameters=...)`` and fails, as observed on Vertex (googleapis/python-aiplatform
  #2036/#2037: "Prediction failed: Exception during sklearn prediction: predict() got an
  unexpected keyword argument 'parameters'"); errors -> "Exception during sklearn prediction: <e>";
  ``postprocess``: ndarray -> ``.tolist()``, list kept, anything else -> "Bad output type returned.";
* the answer: ``{"predictions": [...]}``. Errors reach the caller as Google API errors: HTTP 400
  ``{"error": {"code": 400, "message": "\\"Prediction failed: ...\\"\\n", "status":
  "FAILED_PRECONDITION"}}`` (googleapis/python-aiplatform #514, the console's answer); a body that
  is not JSON, or has fields other than "instances"/"parameters", is rejected by the API front end
  with 400 INVALID_ARGUMENT before it reaches the container.
"""
import json
import os
import pickle
import sys
import traceback
import warnings

from job_util import Channel, cleaner, model_info  # deploycheck/inside

MODEL_PATH_LABEL = "/tmp/model/0001"    # where the service copies the artifacts (error messages show it)
JSON_UTF8 = "application/json; charset=UTF-8"
TRACEBACK_LINES = 12


class PredictionError(Exception):
    FAILED_TO_LOAD_MODEL = ("Failed to load model", 0)
    FAILED_TO_RUN_MODEL = ("Failed to run the provided model", 2)
    INVALID_OUTPUTS = ("There was a problem processing the outputs", 3)

    def __init__(self, kind, detail):
        Exception.__init__(self, kind, detail)
        self.kind, self.detail = kind, detail

    def __str__(self):
        return "%s: %s (Error code: %d)" % (self.kind[0], self.detail, self.kind[1])


def _count(model_dir):
    return [n for n in ("model.joblib", "model.pkl", "model.bst", "saved_model.pb", "saved_model.pbtxt")
            if os.path.exists(os.path.join(model_dir, n))]


def load_model(model_dir):
    """prediction_utils.detect_framework + load_joblib_or_pickle_model + the sklearn type check."""
    found = _count(model_dir)
    if len(found) > 1:
        raise PredictionError(PredictionError.FAILED_TO_LOAD_MODEL,
                              "Multiple model files are found in the model_path: %s" % MODEL_PATH_LABEL)
    joblib_file = os.path.join(model_dir, "model.joblib")
    pickle_file = os.path.join(model_dir, "model.pkl")
    name = None
    try:
        if os.path.exists(joblib_file):
            name = "model.joblib"
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    from sklearn.externals import joblib  # noqa: F811 (scikit-learn < 0.23)
            except Exception:  # noqa: BLE001 - as the library does
                import joblib
            model = joblib.load(joblib_file)
        elif os.path.exists(pickle_file):
            name = "model.pkl"
            with open(pickle_file, "rb") as f:
                model = pickle.loads(f.read())
        else:
            model = None
    except MemoryError:
        raise                              # the sandbox reports it, with its limit
    except Exception as e:  # noqa: BLE001
        detail = "Could not load the model: %s/%s. %s." % (MODEL_PATH_LABEL, name, e)
        if "unsupported pickle protocol" in str(e):
            detail = ("Could not load the model: %s/%s. %s. Please make sure the model was exported using "
                      "python %d. Otherwise, please specify the correct 'python_version' parameter when "
                      "deploying the model." % (MODEL_PATH_LABEL, name, e, sys.version_info[0]))
        raise PredictionError(PredictionError.FAILED_TO_LOAD_MODEL, detail)
    if model is None:
        raise PredictionError(PredictionError.FAILED_TO_LOAD_MODEL, "Could not find either model.joblib or "
                              "model.pkl in %s" % MODEL_PATH_LABEL)
    if "sklearn" not in type(model).__module__:
        raise PredictionError(PredictionError.FAILED_TO_LOAD_MODEL, (
            "Invalid model type detected: {}.{}. Please make sure the model file is an exported sklearn "
            "model or pipeline.").format(type(model).__module__, type(model).__name__))
    return model


def _api_error(code, status, message):
    return code, JSON_UTF8, json.dumps({"error": {"code": code, "message": message, "status": status}},
                                       indent=2).encode()


def answer(model, body):
    """(HTTP status, content type, body, student error or None) for one predict request body."""
    import numpy as np
    try:
        text = body.decode("utf-8")
        req = json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        return _api_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. %s" % e) + (
            {"error_type": "InvalidJSON", "error": str(e)},)
    if not isinstance(req, dict):
        return _api_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object, got "
                          "%s." % type(req).__name__) + ({"error_type": "InvalidRequest", "error": "not an object"},)
    unknown = [k for k in req if k not in ("instances", "parameters")]
    if unknown:
        return _api_error(400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "%s": Cannot '
                          'find field.' % unknown[0]) + ({"error_type": "InvalidRequest", "error": unknown[0]},)
    if "instances" in req and not isinstance(req["instances"], list):
        return _api_error(400, "INVALID_ARGUMENT", "Invalid value at 'instances' (type.googleapis.com/"
                          "google.protobuf.ListValue), %s" % json.dumps(req["instances"])[:100]) + (
            {"error_type": "InvalidRequest", "error": "instances is not a list"},)
    instances = req.pop("instances", [])        # parse_instances pops it; the rest become kwargs
    kwargs = req
    try:
        try:
            predictions = model.predict(instances, **kwargs)
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001
            raise PredictionError(PredictionError.FAILED_TO_RUN_MODEL, "Exception during sklearn prediction: "
                                  + str(e))
        if isinstance(predictions, np.ndarray):
            predictions = predictions.tolist()
        elif not isinstance(predictions, list):
            raise PredictionError(PredictionError.INVALID_OUTPUTS, "Bad output type returned.The predict "
                                  "function should return either a numpy ndarray or a list.")
        out = json.dumps({"predictions": predictions}).encode()
    except PredictionError as e:
        tb = traceback.format_exc().strip().splitlines()[-TRACEBACK_LINES:]
        return _api_error(400, "FAILED_PRECONDITION", json.dumps("Prediction failed: " + e.detail) + "\n") + (
            {"error_type": "PredictionError", "error": "Prediction failed: " + e.detail, "traceback": "\n".join(tb)},)
    return 200, JSON_UTF8, out, None


def _http_server(model, startup, errors):
    """The HTTP side of the container: POST -> :func:`answer`; GET (the health route) -> 200 once the
    model loaded, 500 otherwise. ``errors`` collects each request's student error."""
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def _reply(self, status, ctype, data):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            if model is None:
                self._reply(*_api_error(500, "INTERNAL", startup or "the model is not loaded"))
            else:
                self._reply(200, JSON_UTF8, b"{}")

        def do_POST(self):  # noqa: N802
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                n = 0
            body = self.rfile.read(n) if n > 0 else b""
            if model is None:
                status, ctype, data, err = _api_error(500, "INTERNAL", startup or "the model is not loaded") + (None,)
            else:
                status, ctype, data, err = answer(model, body)
            errors.append(err)
            self._reply(status, ctype, data)
    return Handler


def predict(ctx, model_rel="."):
    """Load the model like the service, report ``ready`` on ``ctx.channel`` (the load failure, or
    the model), then answer each connection the grader hands over, reporting ``done`` (the student's
    error) after each; returns the warnings."""
    import numpy as np
    folder = os.path.abspath(ctx.folder)
    model_dir = os.path.abspath(ctx.extracted) if ctx.extracted else os.path.join(folder, model_rel or ".")
    site = os.path.dirname(os.path.dirname(np.__file__))

    clean = cleaner(((model_dir, MODEL_PATH_LABEL), (folder + "/", ""), (site, "<site-packages>")))

    os.chdir(ctx.tmp)
    channel = Channel(ctx.channel)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        startup = None
        try:
            model = load_model(model_dir)
        except PredictionError as e:
            tb = traceback.format_exc().strip().splitlines()[-TRACEBACK_LINES:]
            startup = {"phase": "load", "error_type": "PredictionError", "error": clean(str(e)),
                       "traceback": clean("\n".join(tb))}
            model = None
        channel.report(op="ready", startup=startup, model=model_info(model) if model is not None else None)
        errors = []
        handler = _http_server(model, startup and startup["error"], errors)
        while True:
            client = channel.next_connection()
            if client is None:
                break
            del errors[:]
            try:
                handler(client, ("", 0), None)
            except OSError:
                pass                             # the grader went away (its deadline)
            finally:
                client.close()
            err = errors[-1] if errors else None
            if err:
                err = dict(err, phase="request", error=clean(err.get("error", "")),
                           traceback=clean(err.get("traceback", "")))
            channel.report(op="done", error=err)
    return {"warnings": [clean(("%s: %s" % (w.category.__name__, w.message))[:600]) for w in caught
                         if w.category.__name__ not in ("DeprecationWarning", "PendingDeprecationWarning",
                                                        "FutureWarning")][:8]}
