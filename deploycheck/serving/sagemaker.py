"""Local emulation of the SageMaker scikit-learn serving container (no Docker, no account).

Reproduces, from their source, the request path of aws/sagemaker-scikit-learn-container in its
default single-model mode:

* ``src/sagemaker_sklearn_container/serving.py``: ``_user_module_transformer`` takes ``model_fn``,
  ``input_fn``, ``predict_fn``, ``output_fn``, ``transform_fn`` from the user module; a
  ``transform_fn`` together with any of input/predict/output_fn is a ``UserError`` ("Cannot use
  transform_fn implementation with input_fn, predict_fn, and/or output_fn"); ``default_input_fn``
  decodes with the toolkit's encoders and casts to ``float32`` when the content type is a UTF-8 one
  (JSON, CSV); ``default_predict_fn`` is ``model.predict(data)``; ``default_output_fn`` encodes the
  prediction in the ``Accept`` type. There is no default ``model_fn``: the toolkit's default raises
  ``NotImplementedError("Please provide a model_fn implementation. ...")``.
* aws/sagemaker-containers ``src/sagemaker_containers/_encoders.py``: JSON -> ``np.array(json.loads())``;
  CSV -> ``csv.reader`` rows -> ``np.array(...).squeeze()`` (so a single CSV row becomes a 1-D
  array, which ``model.predict`` rejects — as on the real endpoint); NPY -> ``np.load``; encoders
  for JSON (``tolist``), CSV (1-D -> column) and NPY. Unknown types raise
  ``UnsupportedFormatError`` ("Content type X is not supported by this framework. ...").
* ``src/sagemaker_containers/_transformer.py``: ``_default_transform_fn`` answers 415 when
  ``input_fn`` raises ``UnsupportedFormatError`` and 406 when ``output_fn`` does, with a JSON body
  ``{"error", "error-message", "stack-trace"}``; any other exception in a user function is wrapped
  in ``ClientError`` and becomes a 500 from Flask. A tuple from ``transform_fn`` is ``(body, mimetype)``.
* ``src/sagemaker_containers/_worker.py``: the request's content type is the ``ContentType`` or
  ``Content-Type`` header, else ``application/json``; ``Accept`` missing or ``*/*`` means the
  default accept ``application/json`` (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``); the body is
  decoded as UTF-8 text for the UTF-8 types, raw bytes otherwise.

We re-implement these few functions instead of depending on AWS's packages: the container's own
single-model path uses ``sagemaker_containers`` (archived, pins Flask/gunicorn), and the newer
``sagemaker-inference`` toolkit (sdist only; pulls psutil/retrying/six) decodes CSV differently
(``np.genfromtxt``), so depending on it would emulate the wrong behaviour.

Everything here runs INSIDE the sandbox child (it imports the student's module and unpickles).
"""
from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
import os
import sys
import textwrap
import traceback
from dataclasses import dataclass
from typing import Any, Callable

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
OCTET_STREAM = "application/octet-stream"
ANY = "*/*"
UTF8_TYPES = [JSON, CSV]
DEFAULT_ACCEPT = JSON
MAX_REQUEST = 6 * 1024 * 1024  # serving_mms.DEFAULT_MAX_CONTENT_LEN

MODEL_FN_MISSING = textwrap.dedent("""
    Please provide a model_fn implementation.
    See documentation for model_fn at https://github.com/aws/sagemaker-python-sdk
    """)
TRANSFORM_FN_CONFLICT = "Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn"


class UnsupportedFormatError(Exception):
    def __init__(self, content_type: str):
        self.message = textwrap.dedent(
            """Content type %s is not supported by this framework.

            Please implement input_fn to to deserialize the request data or an output_fn to
            serialize the response. For more information, see the SageMaker Python SDK README."""
            % content_type)
        super().__init__(self.message)


class ClientError(Exception):
    """A user function raised (the toolkit's ``error_wrapper``)."""


class UserError(Exception):
    """The user module is unusable (e.g. transform_fn together with input_fn)."""


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str
    phase: str = "done"          # import | model_fn | request | done
    error: str = ""
    error_type: str = ""
    traceback: str = ""


# ---------------------------------------------------------------- encoders (sagemaker_containers)

def decode(data: Any, content_type: str):
    import numpy as np
    if content_type == JSON:
        return np.array(json.loads(data))
    if content_type == CSV:
        return _csv_to_numpy(data)
    if content_type == NPY:
        return np.load(io.BytesIO(data if isinstance(data, bytes) else data.encode()), allow_pickle=True)
    raise UnsupportedFormatError(content_type)


def _csv_to_numpy(text: str, dtype=None):
    import numpy as np
    try:
        reader = csv.reader(io.StringIO(text), delimiter=",", quotechar='"', doublequote=True, strict=True)
        array = np.array([row for row in reader]).squeeze()
        array = array.astype(dtype)
    except ValueError as e:
        if dtype is not None:
            raise ClientError(f"Error while writing numpy array: {e}. dtype is: {dtype}")
    except Exception as e:  # noqa: BLE001
        raise ClientError(f"Error while decoding csv: {e}")
    return array


def encode(obj: Any, accept: str) -> bytes:
    import numpy as np
    if accept == JSON:
        def default(o: Any) -> Any:
            if hasattr(o, "tolist"):
                return o.tolist()
            return json.JSONEncoder().default(o)
        return json.dumps(obj, default=default).encode()
    if accept == CSV:
        array = np.array(obj)
        if len(array.shape) == 1:
            array = np.reshape(array, (array.shape[0], 1))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True,
                   strict=True).writerows(array)
        return out.getvalue().encode()
    if accept == NPY:
        buf = io.BytesIO()
        np.save(buf, obj)
        return buf.getvalue()
    raise UnsupportedFormatError(accept)


# ---------------------------------------------------------------- default handlers (serving.py)

def default_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(MODEL_FN_MISSING)


def default_input_fn(input_data: Any, content_type: str) -> Any:
    import numpy as np
    arr = decode(input_data, content_type)
    return arr.astype(np.float32) if content_type in UTF8_TYPES else arr


def default_predict_fn(input_data: Any, model: Any) -> Any:
    return model.predict(input_data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    return encode(prediction, accept), accept


def _wrap(fn: Callable) -> Callable:
    def wrapper(*a: Any, **k: Any) -> Any:
        try:
            return fn(*a, **k)
        except Exception as e:  # noqa: BLE001 - the toolkit wraps user errors in ClientError
            raise ClientError(e) from e
    return wrapper


class Transformer:
    def __init__(self, module: Any):
        model_fn = getattr(module, "model_fn", None)
        input_fn = getattr(module, "input_fn", None)
        predict_fn = getattr(module, "predict_fn", None)
        output_fn = getattr(module, "output_fn", None)
        transform_fn = getattr(module, "transform_fn", None)
        if transform_fn and (input_fn or predict_fn or output_fn):
            raise UserError(TRANSFORM_FN_CONFLICT)
        self.has_model_fn = model_fn is not None
        self.custom = sorted(n for n, f in [("input_fn", input_fn), ("predict_fn", predict_fn),
                                            ("output_fn", output_fn), ("transform_fn", transform_fn)] if f)
        self.model_fn = _wrap(model_fn) if model_fn else default_model_fn
        self.transform_fn = _wrap(transform_fn) if transform_fn else None
        self.input_fn = _wrap(input_fn) if input_fn else default_input_fn
        self.predict_fn = _wrap(predict_fn) if predict_fn else default_predict_fn
        self.output_fn = _wrap(output_fn) if output_fn else default_output_fn
        self.model: Any = None

    def initialize(self, model_dir: str) -> None:
        self.model = self.model_fn(model_dir)

    def transform(self, body: bytes, content_type: str | None, accept: str | None) -> Response:
        content_type = content_type or JSON
        accept = DEFAULT_ACCEPT if not accept or accept == ANY else accept
        content: Any = body.decode("utf-8", "replace") if content_type in UTF8_TYPES else body
        try:
            if self.transform_fn is not None:
                result = self.transform_fn(self.model, content, content_type, accept)
            else:
                try:
                    data = self.input_fn(content, content_type)
                except UnsupportedFormatError as e:  # only the default input_fn (user fns are wrapped)
                    return _error_response(e, 415)
                prediction = self.predict_fn(data, self.model)
                try:
                    result = self.output_fn(prediction, accept)
                except UnsupportedFormatError as e:
                    return _error_response(e, 406)
        except Exception as e:  # noqa: BLE001 - Flask turns it into a 500
            cause = e.__cause__ if isinstance(e, ClientError) and e.__cause__ else e
            return Response(500, b"Internal Server Error", "text/html", phase="request",
                            error=f"{type(cause).__name__}: {cause}"[:2000], error_type=type(cause).__name__,
                            traceback=_tb(cause))
        return _as_response(result, accept)


def _error_response(e: Exception, status: int) -> Response:
    body = json.dumps({"error": type(e).__name__, "error-message": str(e),
                       "stack-trace": "".join(traceback.format_exception(e))[-4000:]})
    return Response(status, body.encode(), JSON, phase="request", error=str(e).strip().splitlines()[0],
                    error_type=type(e).__name__)


def _as_response(result: Any, accept: str) -> Response:
    """output_fn/transform_fn may return bytes/str, a (body, mimetype) tuple, or a Response-like."""
    ctype = accept
    if isinstance(result, tuple) and len(result) == 2:
        result, ctype = result
    elif hasattr(result, "get_data") and hasattr(result, "mimetype"):  # a flask Response
        ctype = result.mimetype or accept
        result = result.get_data()
    if isinstance(result, str):
        result = result.encode()
    if not isinstance(result, (bytes, bytearray)):
        try:
            result = encode(result, JSON)
        except Exception:  # noqa: BLE001
            result = str(result).encode()
    return Response(200, bytes(result), str(ctype or accept))


def _tb(e: BaseException, n: int = 8) -> str:
    lines = "".join(traceback.format_exception(e)).rstrip().splitlines()
    return "\n".join(lines[-n:])


# ---------------------------------------------------------------- the user module

def import_user_module(code_dir: str, entry_rel: str) -> Any:
    """Import the entry point as the container does: its folder on sys.path, module name = file stem."""
    path = os.path.join(code_dir, entry_rel)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.splitext(os.path.basename(path))[0]
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def code_location(model_dir: str | None, work_dir: str, entry_rel: str) -> tuple[str, str]:
    """(code_dir, entry file relative to it): ``code/<entry>`` inside the archive when present
    (what the SageMaker SDK's repacking puts there), else the entry point in the deploy folder."""
    base = os.path.basename(entry_rel)
    if model_dir and os.path.isfile(os.path.join(model_dir, "code", base)):
        return os.path.join(model_dir, "code"), base
    return work_dir, entry_rel


def load(model_dir: str, code_dir: str, entry_rel: str) -> tuple[Transformer | None, Response | None]:
    """Import the entry point and run model_fn; (transformer, None) or (None, error Response)."""
    try:
        module = import_user_module(code_dir, entry_rel)
    except BaseException as e:  # noqa: BLE001 - SyntaxError, ImportError, SystemExit...
        if isinstance(e, MemoryError):
            raise
        return None, Response(500, b"", "text/plain", phase="import", error=f"{type(e).__name__}: {e}"[:2000],
                              error_type=type(e).__name__, traceback=_tb(e))
    try:
        tr = Transformer(module)
    except UserError as e:
        return None, Response(500, b"", "text/plain", phase="import", error=str(e), error_type="UserError")
    try:
        tr.initialize(model_dir)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, MemoryError) or isinstance(getattr(e, "__cause__", None), MemoryError):
            raise MemoryError(str(e))
        cause = e.__cause__ if isinstance(e, ClientError) and e.__cause__ else e
        return None, Response(500, b"", "text/plain", phase="model_fn",
                              error=f"{type(cause).__name__}: {cause}"[:2000], error_type=type(cause).__name__,
                              traceback=_tb(cause))
    return tr, None


def invoke(model_dir: str, code_dir: str, entry_rel: str, body: bytes, content_type: str | None,
           accept: str | None) -> Response:
    """The whole container path for one request: import, model_fn, then the handler chain."""
    tr, err = load(model_dir, code_dir, entry_rel)
    if err is not None:
        return err
    assert tr is not None
    return tr.transform(body, content_type, accept)
