"""The request ``predict.local`` sends: exactly the bytes and headers the student's documented
command or call would send, computed once per folder (``folder.facts.sample``); predict.local,
``deploycheck serve``'s start-up hint, the proof card and ``cloud.predict`` all use this one.

Where a request is documented, in reading order: the README (its Python and shell code blocks in
order), the scripts and notebooks it names, the folder's other scripts and notebooks; the first
request deploycheck can reproduce wins. The forms, each as its client sends it (cited):

* SageMaker Python SDK ``predictor.predict(data, initial_args=...)``: the predictor's serializer
  turns ``data`` into the body and sets Content-Type, its deserializer sets Accept
  (aws/sagemaker-python-sdk v2 ``base_serializers.py`` / ``base_deserializers.py`` /
  ``base_predictor.py _create_request_args``; v1 ``predictor.py`` ``npy_serializer`` and
  friends). ``model.deploy()`` of an SKLearnModel returns an ``SKLearnPredictor``:
  ``NumpySerializer`` (``np.save(np.array(data))``, application/x-npy) and ``NumpyDeserializer``
  (Accept: application/x-npy); ``Predictor(...)`` defaults to ``IdentitySerializer``
  (application/octet-stream). ``serializer=``/``deserializer=`` given to ``deploy``/the constructor,
  or assigned later (``predictor.serializer = CSVSerializer()``), and ``content_type``/``accept``
  are followed in reading order.
* boto3 ``invoke_endpoint(Body=..., ContentType=..., Accept=...)``: a str body is sent as UTF-8;
  without ContentType botocore sends no Content-Type header (checked with botocore 1.44: the
  container then reads the body as JSON, sagemaker-containers ``_worker.Request.content_type``); a
  list or dict body is refused by botocore's parameter validation before anything is sent.
* AWS CLI ``aws sagemaker-runtime invoke-endpoint --body B --content-type T [--accept A]``:
  ``fileb://F`` sends F's bytes; an inline body or ``file://F`` is sent as its text (AWS CLI v1,
  or v2 with ``--cli-binary-format raw-in-base64-out``; plain v2 expects base64 there: a note says so).
* curl to ``.../invocations`` or ``...:predict``: ``-d``/``--data``/``--data-ascii`` (``@F``:
  F without its CR and LF characters), ``--data-binary`` (``@F``: F unchanged), ``--data-raw``,
  ``--json`` (also Content-Type and Accept application/json), several joined with ``&``;
  Content-Type application/x-www-form-urlencoded unless a ``-H`` sets it; Accept ``*/*``.
* gcloud: ``ai endpoints predict --json-request=F`` sends F's ``instances`` and, when present,
  ``parameters`` (googlecloudsdk ``api_lib/ai/endpoints/client.py Predict``; F must be an object with
  an ``instances`` list, ``command_lib/ai/endpoints_util.ReadRequest``); ``ai-platform|ml-engine
  predict --json-instances=F`` sends one instance per line of F, ``--text-instances`` each line as a
  string, ``--json-request=F`` F's ``instances`` only (``command_lib/ml_engine/predict_utilities``).
  A file gcloud would refuse is reported as the documented command's failure (``client_error``).
* Vertex AI SDK ``endpoint.predict(instances=..., parameters=...)``; the AI Platform REST client
  ``projects().predict(name=..., body={...})``; ``requests.post(url, json=...|data=...)`` to a
  ``:predict`` or ``/invocations`` URL.

Then request files the folder holds (``input.json``, ``request.json``, ``sample*.json|csv``...),
sent unchanged with the content type their name implies: how they were sent is not documented, so
the request says what was ``inferred``. Nothing documented (or only a call whose data deploycheck
cannot compute, ``predictor.predict(X_test[:2])``): the request is ``synthesized`` in the sandbox
from the loaded model's ``n_features_in_``, in the documented form's content type when there is
one. A synthesized or inferred request never decides between pass and fail (predict.local says
what it sent and asks for the command instead).

Student text is never evaluated: literals are read with ``ast``/``json`` only, files through
:mod:`deploycheck.files`.
"""
from __future__ import annotations

import ast
import csv
import functools
import io
import json
import os
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from deploycheck import files
from deploycheck.analysis.refs import call_name, in_cwd, shell_commands
from deploycheck.analysis.sources import Source, python_tree, split_cell

if TYPE_CHECKING:
    from deploycheck.analysis.readme import ReadmeDoc
    from deploycheck.discovery import DeployFolder

NPY = "application/x-npy"
JSON = "application/json"
CSV = "text/csv"
OCTET = "application/octet-stream"
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 6 * 1024 * 1024            # SageMaker InvokeEndpoint / Vertex online prediction payload limit
MAX_CANDIDATES = 50
REQUEST_FILES = ("input.json", "instances.json", "request.json", "sample_request.json", "payload.json",
                 "input.csv", "request.csv", "payload.csv", "input.npy")
SYNTH_ROWS = 2                        # rows a synthesized request holds (see serving/local.py SYNTH_VALUES)


@dataclass(frozen=True)
class SampleRequest:
    body: bytes
    content_type: str | None    # None: no Content-Type header (the SageMaker container then assumes JSON)
    accept: str | None          # None: no Accept header
    source: str                 # where it is documented ("aws_deploy/README.md line 40"), or why it was synthesized
    form: str = ""              # how it is sent ("aws sagemaker-runtime invoke-endpoint", "SKLearnPredictor.predict")
    n_rows: int | None = None
    rows: Any = None            # the decoded data (JSON-able), for the report
    synthesized: bool = False   # built in the sandbox from the loaded model (``body`` empty here)
    inferred: str = ""          # what deploycheck had to assume about how it is sent ("" when documented)
    client_error: str = ""      # the documented command fails before sending anything, and why
    notes: tuple[str, ...] = ()

    @property
    def decides(self) -> bool:
        """Only a request sent exactly as documented decides between pass and fail."""
        return not self.synthesized and not self.inferred

    def describe(self, source: str | None = None) -> str:
        """"the documented request (README.md line 4: aws ... invoke-endpoint, text/csv)" for messages
        (``source``: what to say instead of ``self.source``, e.g. with the model's size)."""
        ctype = self.content_type or "no Content-Type"
        if self.synthesized:
            return f"the synthesized request ({ctype}; {source or self.source})"
        what = "the request file" if self.inferred else "the documented request"
        form = f": {self.form}" if self.form else ""
        return f"{what} ({self.source}{form}, {ctype})"


@dataclass(frozen=True)
class Unreproducible:
    """A documented request whose data deploycheck cannot compute (``predictor.predict(X_test)``):
    its form still says how a synthesized request must be sent."""
    source: str
    form: str
    content_type: str | None
    accept: str | None
    what: str                   # "X_test[:2]"


Found = SampleRequest | Unreproducible


# ---------------------------------------------------------------- reading files named by a request

@dataclass
class _Ctx:
    folder: DeployFolder
    platform: str

    def read(self, name: str, src_rel: str, cwd: str = "") -> tuple[bytes | None, str]:
        """(bytes, repo-relative path) of a file a command names, looked for relative to the
        referencing file's folder, the deploy folder and the repo root (as files.referenced does);
        (None, why) when it cannot be read."""
        name = in_cwd(cwd, name.strip().strip("'\""))
        if not name or name.startswith(("/", "~", "$")) or name == "-":
            return None, f"{name or 'stdin'} cannot be read by deploycheck"
        src_dir = os.path.dirname(src_rel)
        cands = []
        for base in (os.path.join(self.folder.rel, src_dir), self.folder.rel, ""):
            rel = os.path.normpath(os.path.join(base, name)).replace(os.sep, "/")
            if not rel.startswith("../") and rel != ".." and rel not in cands:
                cands.append(rel)
        for rel in cands:
            got = files.read_bytes(self.folder.repo, rel, MAX_BODY + 1)
            if got.data is not None:
                if len(got.data) > MAX_BODY:
                    return None, f"{rel} is larger than the {MAX_BODY // (1024 * 1024)} MB a request may be"
                return got.data, rel
        return None, f"{name} is not in the repository"


# ---------------------------------------------------------------- values of Python expressions

class _Unknown:
    """What deploycheck cannot compute statically."""


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class _FileRef:
    name: str
    binary: bool                # open(name, "rb") (a file object) vs open(name).read() (text)


def _dtype(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy"):
        return node.attr
    if isinstance(node, ast.Name) and node.id in ("float", "int", "str"):
        return node.id
    return None


class _Values:
    """Values of expressions in one piece of code, from literals and the variables assigned to
    literals before (``ast`` only; never executed)."""

    def __init__(self) -> None:
        self.names: dict[str, ast.AST] = {}

    def assign(self, name: str, node: ast.AST) -> None:
        self.names[name] = node

    def eval(self, node: ast.AST | None, depth: int = 0) -> Any:
        if node is None or depth > 12:
            return UNKNOWN
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
        if isinstance(node, ast.Name):
            return self.eval(self.names.get(node.id), depth + 1)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.eval(e, depth + 1) for e in node.elts]
            if any(i is UNKNOWN for i in items):
                return UNKNOWN
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            keys = [self.eval(k, depth + 1) if k is not None else UNKNOWN for k in node.keys]
            vals = [self.eval(v, depth + 1) for v in node.values]
            if any(x is UNKNOWN for x in keys + vals) or not all(isinstance(k, (str, int, float)) for k in keys):
                return UNKNOWN
            return dict(zip(keys, vals))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            a, b = self.eval(node.left, depth + 1), self.eval(node.right, depth + 1)
            if isinstance(a, str) and isinstance(b, str):
                return a + b
            if isinstance(a, bytes) and isinstance(b, bytes):
                return a + b
            return UNKNOWN
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value, depth + 1)
            if isinstance(base, (list, tuple, str)) or _is_ndarray(base):
                sl = node.slice
                try:
                    if isinstance(sl, ast.Slice):
                        lo, hi = (self.eval(x, depth + 1) if x is not None else None for x in (sl.lower, sl.upper))
                        if all(x is None or isinstance(x, int) for x in (lo, hi)) and sl.step is None:
                            return base[lo:hi]
                    else:
                        i = self.eval(sl, depth + 1)
                        if isinstance(i, int):
                            return base[i]
                except (IndexError, TypeError):
                    return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        return UNKNOWN

    def _call(self, node: ast.Call, depth: int) -> Any:
        fname = call_name(node.func)
        recv = node.func.value if isinstance(node.func, ast.Attribute) else None
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        arg0 = node.args[0] if node.args else None
        if fname in ("array", "asarray") and arg0 is not None:
            data = self.eval(arg0, depth + 1)
            if data is UNKNOWN or isinstance(data, _FileRef):
                return UNKNOWN
            import numpy as np
            try:
                return np.array(data, dtype=_dtype(kw.get("dtype") or (node.args[1] if len(node.args) > 1 else None)))
            except (ValueError, TypeError):
                return UNKNOWN
        if fname == "DataFrame" and arg0 is not None:
            data = self.eval(arg0, depth + 1)
            cols = self.eval(kw["columns"], depth + 1) if "columns" in kw else None
            if data is UNKNOWN or cols is UNKNOWN:
                return UNKNOWN
            import pandas as pd  # type: ignore[import-untyped]
            try:
                return pd.DataFrame(data, columns=cols)
            except (ValueError, TypeError):
                return UNKNOWN
        if recv is not None and fname in ("reshape", "tolist", "astype", "encode", "read", "join"):
            if fname == "join":
                sep = self.eval(recv, depth + 1)
                items = self._items(arg0, depth)
                if isinstance(sep, str) and items is not UNKNOWN and all(isinstance(i, str) for i in items):
                    return sep.join(items)
                return UNKNOWN
            if fname == "read" and isinstance(recv, ast.Call) and call_name(recv.func) == "open":
                ref = self._open(recv, depth)
                return _FileRef(ref.name, False) if isinstance(ref, _FileRef) else UNKNOWN
            base = self.eval(recv, depth + 1)
            if base is UNKNOWN:
                return UNKNOWN
            if fname == "encode":
                return base.encode() if isinstance(base, str) else UNKNOWN
            import numpy as np
            try:
                arr = np.asarray(base)
                if fname == "tolist":
                    return arr.tolist()
                if fname == "astype":
                    dt = _dtype(arg0)
                    return arr.astype(dt) if dt else UNKNOWN
                shape = [self.eval(a, depth + 1) for a in node.args]
                if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
                    shape = list(shape[0])
                if shape and all(isinstance(x, int) for x in shape):
                    return arr.reshape(shape)
            except (ValueError, TypeError):
                return UNKNOWN
            return UNKNOWN
        if fname == "dumps" and arg0 is not None and (recv is None or call_name(recv) == "json"):
            data = self.eval(arg0, depth + 1)
            if data is UNKNOWN or isinstance(data, _FileRef):
                return UNKNOWN
            try:
                return json.dumps(_plain(data))
            except (TypeError, ValueError):
                return UNKNOWN
        if fname in ("list", "str", "bytes") and arg0 is not None and recv is None:
            data = self.eval(arg0, depth + 1)
            if data is UNKNOWN or isinstance(data, _FileRef):
                return UNKNOWN
            try:
                if fname == "list":
                    return list(data)
                if fname == "str":
                    return str(data)
                return data.encode() if isinstance(data, str) else bytes(data)
            except (TypeError, ValueError):
                return UNKNOWN
        if fname == "open":
            return self._open(node, depth)
        return UNKNOWN

    def _items(self, node: ast.AST | None, depth: int) -> Any:
        if isinstance(node, ast.Call) and call_name(node.func) == "map" and len(node.args) == 2 \
                and isinstance(node.args[0], ast.Name) and node.args[0].id == "str":
            items = self.eval(node.args[1], depth + 1)
            return [str(i) for i in items] if isinstance(items, (list, tuple)) else UNKNOWN
        items = self.eval(node, depth + 1)
        return list(items) if isinstance(items, (list, tuple)) else UNKNOWN

    def _open(self, node: ast.Call, depth: int) -> Any:
        name = self.eval(node.args[0], depth + 1) if node.args else UNKNOWN
        mode = self.eval(node.args[1], depth + 1) if len(node.args) > 1 else \
            self.eval(next((k.value for k in node.keywords if k.arg == "mode"), None), depth + 1)
        if not isinstance(name, str):
            return UNKNOWN
        return _FileRef(name, isinstance(mode, str) and "b" in mode)


def _is_ndarray(v: Any) -> bool:
    return type(v).__name__ == "ndarray" and type(v).__module__ == "numpy"


def _is_frame(v: Any) -> bool:
    return type(v).__name__ == "DataFrame" and type(v).__module__.startswith("pandas")


def _plain(v: Any) -> Any:
    """JSON-able form (tuples kept as lists by json; arrays as their lists)."""
    if _is_ndarray(v):
        return v.tolist()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def n_rows_of(data: Any) -> int | None:
    """Rows of the data a request carries (2-D: its length; one flat row: 1)."""
    if _is_frame(data):
        return len(data)
    if _is_ndarray(data):
        return int(data.shape[0]) if data.ndim >= 2 else 1
    if isinstance(data, dict) and "instances" in data:
        data = data["instances"]
        return len(data) if isinstance(data, list) else None
    if isinstance(data, (list, tuple)):
        if data and isinstance(data[0], (list, tuple, dict)):
            return len(data)
        return 1 if data else None
    return None


def _rows_of_body(body: bytes, ctype: str | None) -> tuple[int | None, Any]:
    """(rows, decoded data) of a request body, for the report and the row count."""
    c = (ctype or JSON).split(";")[0].strip().lower()
    try:
        if c == CSV:
            lines = [ln for ln in body.decode("utf-8").splitlines() if ln.strip()]
            return len(lines), lines[:20]
        if c == NPY:
            import numpy as np
            arr = np.load(io.BytesIO(body), allow_pickle=False)
            return n_rows_of(arr), arr.tolist() if arr.size <= 2000 else None
        obj = json.loads(body)
    except Exception:  # noqa: BLE001 - not decodable: no count
        return None, None
    return n_rows_of(obj), obj


# ---------------------------------------------------------------- the SageMaker SDK's serializers

SERIALIZERS = {  # class or v1 module-level name -> (kind, Content-Type)
    "NumpySerializer": ("numpy", NPY), "npy_serializer": ("numpy", NPY),
    "CSVSerializer": ("csv", CSV), "csv_serializer": ("csv", CSV),
    "JSONSerializer": ("json", JSON), "json_serializer": ("json", JSON),
    "IdentitySerializer": ("identity", OCTET),
}
DESERIALIZERS = {  # class or v1 name -> Accept
    "NumpyDeserializer": NPY, "numpy_deserializer": NPY, "JSONDeserializer": JSON, "json_deserializer": JSON,
    "CSVDeserializer": CSV, "csv_deserializer": CSV, "BytesDeserializer": "*/*", "StreamDeserializer": "*/*",
    "StringDeserializer": JSON, "PandasDeserializer": "text/csv, application/json",
}


@dataclass
class _Predictor:
    serializer: str | None      # kind, or None for an unknown (custom) serializer
    content_type: str | None
    accept: str | None
    dtype: str | None = None
    label: str = "SKLearnPredictor.predict"


def _sklearn_predictor() -> _Predictor:
    return _Predictor("numpy", NPY, NPY)


def _serializer_of(node: ast.AST, vals: _Values) -> tuple[str | None, str | None, str | None]:
    """(kind, content type, dtype) of a serializer expression; kind None when unknown."""
    if isinstance(node, ast.Constant) and node.value is None:
        return "identity", None, None
    call = node if isinstance(node, ast.Call) else None
    name = call_name(call.func if call else node)
    kind, ctype = SERIALIZERS.get(name, (None, None))
    dtype = None
    if call is not None:
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        ct = vals.eval(kw.get("content_type")) if "content_type" in kw else None
        if isinstance(ct, str):
            ctype = ct
        if "dtype" in kw:
            dtype = _dtype(kw["dtype"])
    return kind, ctype, dtype


def _accept_of(node: ast.AST, vals: _Values) -> str | None:
    call = node if isinstance(node, ast.Call) else None
    accept = DESERIALIZERS.get(call_name(call.func if call else node))
    if call is not None:
        for k in call.keywords:
            if k.arg == "accept":
                v = vals.eval(k.value)
                if isinstance(v, str):
                    accept = v
                elif isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
                    accept = ", ".join(v)
    return accept


def sdk_body(kind: str | None, data: Any, dtype: str | None, read: Callable[[_FileRef], bytes | None]) -> bytes | str:
    """The body the SDK's serializer makes of ``data`` (aws/sagemaker-python-sdk v2.257
    ``base_serializers.py``), or the error the SDK would raise (a str)."""
    import numpy as np
    if isinstance(data, _FileRef):
        got = read(data)
        return got if got is not None else f"cannot read {data.name}"
    try:
        if kind == "numpy":
            if _is_ndarray(data):
                if data.size == 0:
                    return "ValueError: Cannot serialize empty array."
                arr = data
            elif isinstance(data, list):
                if not data:
                    return "ValueError: Cannot serialize empty array."
                arr = np.array(data, dtype)
            else:
                arr = np.array(data)
            buf = io.BytesIO()
            np.save(buf, arr)
            return buf.getvalue()
        if kind == "json":
            if isinstance(data, dict):
                text = json.dumps({k: v.tolist() if _is_ndarray(v) else v for k, v in data.items()})
            elif _is_ndarray(data):
                text = json.dumps(data.tolist())
            else:
                text = json.dumps(data)
            return text.encode()
        if kind == "csv":
            return _csv_serialize(data).encode()
        if kind == "identity":
            if isinstance(data, str):
                return data.encode()
            if isinstance(data, bytes):
                return data
            return (f"botocore refuses the body (Invalid type for parameter Body, type: {type(data).__name__}, "
                    "valid types: bytes, bytearray, file-like object)")
    except Exception as e:  # noqa: BLE001 - what the SDK itself would raise
        return f"{type(e).__name__}: {e}"
    return "unknown serializer"


def _csv_serialize(data: Any) -> str:
    """sagemaker.serializers.CSVSerializer.serialize."""
    if isinstance(data, str):
        return data
    if _is_frame(data):
        return str(data.to_csv(header=False, index=False))

    def seq(d: Any) -> bool:
        return hasattr(d, "__iter__") and hasattr(d, "__getitem__")

    def row(d: Any) -> str:
        if isinstance(d, str):
            return d
        if _is_ndarray(d):
            d = d.flatten()
        if hasattr(d, "__len__"):
            if len(d) == 0:
                raise ValueError("Cannot serialize empty array")
            buf = io.StringIO()
            csv.writer(buf, delimiter=",").writerow(d)
            return buf.getvalue().rstrip("\r\n")
        raise ValueError("Unable to handle input format: %s" % type(d))
    if seq(data) and hasattr(data, "__setitem__") and len(data) > 0 and seq(data[0]):
        return "\n".join(row(r) for r in data)
    return row(data)


# ---------------------------------------------------------------- Python: SDK, boto3, Vertex, REST

_LOCAL_URL = re.compile(r"/invocations\b|:predict\b|/predict\b")


class _PyScanner:
    """Python in reading order; variables and predictors carry from one piece to the next of the
    same document (README blocks, notebook cells)."""

    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.vals = _Values()
        self.preds: dict[str, _Predictor | str] = {}       # name -> SageMaker predictor | "vertex"

    def scan(self, code: str, src_rel: str, where: Callable[[int], str]) -> list[Found]:
        tree, _err = python_tree(code)
        if tree is None:
            return []
        out: list[Found] = []
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AnnAssign, ast.Call))]
        nodes.sort(key=lambda n: (n.lineno, n.col_offset, 0 if not isinstance(n, ast.Call) else 1))
        for node in nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                self._assign(node)
                continue
            try:
                found = self._call(node, src_rel, where)
            except RecursionError:
                found = None
            if found is not None:
                out.append(found)
                if len(out) >= MAX_CANDIDATES:
                    break
        return out

    # ---- state
    def _assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        if value is None or len(targets) != 1:
            return
        tgt = targets[0]
        if isinstance(tgt, ast.Name):
            self.vals.assign(tgt.id, value)
            pred = self._predictor_made_by(value)
            if pred is not None:
                self.preds[tgt.id] = pred
            return
        if isinstance(tgt, ast.Attribute) and isinstance(tgt.value, ast.Name) and \
                tgt.attr in ("serializer", "deserializer", "content_type", "accept"):
            cur = self.preds.get(tgt.value.id)
            if cur is None or cur == "vertex":
                if self.ctx.platform != "aws":
                    return
                cur = self.preds[tgt.value.id] = _sklearn_predictor()
            assert isinstance(cur, _Predictor)
            if tgt.attr == "serializer":
                kind, ctype, dtype = _serializer_of(value, self.vals)
                cur.serializer, cur.dtype = kind, dtype
                cur.content_type = ctype
            elif tgt.attr == "deserializer":
                cur.accept = _accept_of(value, self.vals)
            else:
                v = self.vals.eval(value)
                if isinstance(v, str):
                    setattr(cur, tgt.attr, v)

    def _predictor_made_by(self, value: ast.AST) -> _Predictor | str | None:
        if not isinstance(value, ast.Call):
            return None
        name = call_name(value.func)
        kw = {k.arg: k.value for k in value.keywords if k.arg}
        if self.ctx.platform != "aws":
            owner = call_name(value.func.value) if isinstance(value.func, ast.Attribute) else ""
            if name in ("deploy", "Endpoint") or (name == "create" and owner == "Endpoint"):
                return "vertex"
            return None
        if name == "deploy" or name == "SKLearnPredictor":
            pred = _sklearn_predictor()
        elif name == "Predictor":
            pred = _Predictor("identity", OCTET, "*/*", label="Predictor.predict")
        elif name == "RealTimePredictor":
            pred = _Predictor("identity", None, None, label="RealTimePredictor.predict")
        else:
            return None
        if name != "deploy":
            pred.label = f"{name}.predict"
        if "serializer" in kw:
            pred.serializer, pred.content_type, pred.dtype = _serializer_of(kw["serializer"], self.vals)
        if "deserializer" in kw:
            pred.accept = _accept_of(kw["deserializer"], self.vals)
        for key in ("content_type", "accept"):
            v = self.vals.eval(kw.get(key)) if key in kw else None
            if isinstance(v, str):
                setattr(pred, key, v)
        return pred

    # ---- requests
    def _call(self, node: ast.Call, src_rel: str, where: Callable[[int], str]) -> Found | None:
        name = call_name(node.func)
        recv = node.func.value if isinstance(node.func, ast.Attribute) else None
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        at = where(node.lineno)
        if name == "invoke_endpoint" and self.ctx.platform == "aws":
            return self._invoke_endpoint(kw, src_rel, at)
        if name == "predict" and "body" in kw and "name" in kw:          # AI Platform REST client
            body = self.vals.eval(kw["body"])
            if body is UNKNOWN:
                return Unreproducible(at, "projects().predict(body=...)", JSON, None, ast.unparse(kw["body"])[:80])
            return self._json_request(_plain(body), at, "projects().predict(body=...)")
        if name == "predict" and isinstance(recv, ast.Name):
            pred = self.preds.get(recv.id)
            if pred is None:
                low = recv.id.lower()
                if self.ctx.platform == "aws" and "predictor" in low:
                    pred = _sklearn_predictor()
                elif self.ctx.platform != "aws" and ("endpoint" in low or "instances" in kw):
                    pred = "vertex"
            if pred == "vertex":
                return self._vertex_predict(node, kw, at)
            if isinstance(pred, _Predictor):
                return self._sdk_predict(pred, node, kw, src_rel, at)
            return None
        if name in ("post", "request") and recv is not None:
            return self._http_post(node, kw, src_rel, at)
        return None

    def _read(self, src_rel: str) -> Callable[[_FileRef], bytes | None]:
        def read(ref: _FileRef) -> bytes | None:
            data, _why = self.ctx.read(ref.name, src_rel)
            if data is None or ref.binary:
                return data
            return data.decode("utf-8", "replace").replace("\r\n", "\n").encode()   # text mode read()
        return read

    def _sdk_predict(self, pred: _Predictor, node: ast.Call, kw: dict[str, ast.expr], src_rel: str,
                     at: str) -> Found:
        data_node = node.args[0] if node.args else kw.get("data")
        initial = self.vals.eval(kw["initial_args"]) if "initial_args" in kw else {}
        ctype, accept = pred.content_type, pred.accept
        if isinstance(initial, dict):
            ctype = initial.get("ContentType", ctype) if isinstance(initial.get("ContentType", ctype), str) else ctype
            accept = initial.get("Accept", accept) if isinstance(initial.get("Accept", accept), str) else accept
        form = pred.label + (f" ({pred.serializer} serializer)" if pred.serializer not in (None, "numpy") else "")
        data = self.vals.eval(data_node)
        if data is UNKNOWN or pred.serializer is None:
            what = "a serializer deploycheck does not know" if pred.serializer is None else \
                (ast.unparse(data_node)[:80] if data_node is not None else "nothing")
            return Unreproducible(at, form, ctype, accept, what)
        body = sdk_body(pred.serializer, data, pred.dtype, self._read(src_rel))
        if isinstance(body, str):
            return SampleRequest(b"", ctype, accept, at, form, client_error=(
                f"the SageMaker SDK's {pred.serializer} serializer cannot send this data ({body})"))
        n, rows = (n_rows_of(data), _plain(data)) if not isinstance(data, (_FileRef, str, bytes)) else \
            _rows_of_body(body, ctype)
        return SampleRequest(body, ctype, accept, at, form, n, _jsonable(rows))

    def _invoke_endpoint(self, kw: dict[str, ast.expr], src_rel: str, at: str) -> Found:
        form = "boto3 invoke_endpoint"
        ctype = self.vals.eval(kw["ContentType"]) if "ContentType" in kw else None
        accept = self.vals.eval(kw["Accept"]) if "Accept" in kw else None
        if ctype is UNKNOWN or accept is UNKNOWN or "Body" not in kw:
            return Unreproducible(at, form, None if ctype is UNKNOWN else ctype, None if accept is UNKNOWN else accept,
                                  "its ContentType/Accept/Body")
        body_v = self.vals.eval(kw["Body"])
        if body_v is UNKNOWN:
            return Unreproducible(at, form, ctype, accept, ast.unparse(kw["Body"])[:80])
        body = sdk_body("identity", body_v, None, self._read(src_rel))
        if isinstance(body, str):
            return SampleRequest(b"", ctype, accept, at, form, client_error=body)
        n, rows = _rows_of_body(body, ctype)
        return SampleRequest(body, ctype, accept, at, form, n, _jsonable(rows))

    def _vertex_predict(self, node: ast.Call, kw: dict[str, ast.expr], at: str) -> Found:
        inst_node = kw.get("instances") or (node.args[0] if node.args else None)
        par_node = kw.get("parameters") or (node.args[1] if len(node.args) > 1 else None)
        form = "Vertex AI SDK endpoint.predict"
        inst = self.vals.eval(inst_node)
        params = self.vals.eval(par_node) if par_node is not None else None
        if inst is UNKNOWN or params is UNKNOWN or isinstance(inst, _FileRef):
            return Unreproducible(at, form, JSON, None, ast.unparse(inst_node)[:80] if inst_node is not None else "instances")
        req: dict[str, Any] = {"instances": _plain(inst)}
        if params is not None:
            req["parameters"] = _plain(params)
        return self._json_request(req, at, form)

    def _json_request(self, obj: Any, at: str, form: str) -> SampleRequest:
        body = json.dumps(obj).encode()
        return SampleRequest(body, JSON, None, at, form, n_rows_of(obj), _jsonable(obj))

    def _http_post(self, node: ast.Call, kw: dict[str, ast.expr], src_rel: str, at: str) -> Found | None:
        args = list(node.args)
        if call_name(node.func) == "request":
            method = self.vals.eval(args[0]) if args else None
            if not (isinstance(method, str) and method.upper() == "POST"):
                return None
            args = args[1:]
        url_node = kw.get("url") or (args[0] if args else None)
        url = self._url_text(url_node)
        if url is None or not _LOCAL_URL.search(url):
            return None
        form = "requests.post"
        headers = self.vals.eval(kw["headers"]) if "headers" in kw else {}
        hdr = {str(k).lower(): v for k, v in headers.items()} if isinstance(headers, dict) else {}
        if "json" in kw:
            data = self.vals.eval(kw["json"])
            if data is UNKNOWN:
                return Unreproducible(at, form, JSON, None, ast.unparse(kw["json"])[:80])
            body = json.dumps(_plain(data), allow_nan=False).encode()
            ctype = hdr.get("content-type", JSON)
        elif "data" in kw:
            data = self.vals.eval(kw["data"])
            if not isinstance(data, (str, bytes, _FileRef)):
                return Unreproducible(at, form, hdr.get("content-type"), None, ast.unparse(kw["data"])[:80])
            got = sdk_body("identity", data, None, self._read(src_rel))
            if isinstance(got, str):
                return None
            body, ctype = got, hdr.get("content-type")
        else:
            return None
        accept = hdr.get("accept", "*/*")
        n, rows = _rows_of_body(body, ctype)
        return SampleRequest(body, ctype if isinstance(ctype, str) else None, accept if isinstance(accept, str) else None,
                             at, form, n, _jsonable(rows))

    def _url_text(self, node: ast.AST | None) -> str | None:
        v = self.vals.eval(node)
        if isinstance(v, str):
            return v
        if isinstance(node, ast.JoinedStr):
            return "".join(str(p.value) if isinstance(p, ast.Constant) else "{}" for p in node.values)
        return None


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- shell: AWS CLI, curl, gcloud

_CURL_DATA = {"-d": "ascii", "--data": "ascii", "--data-ascii": "ascii", "--data-binary": "binary",
              "--data-raw": "raw", "--json": "json", "--data-urlencode": "urlencode"}
_CURL_VALUED = {"-H", "--header", "-X", "--request", "-o", "--output", "-u", "--user", "--aws-sigv4", "-A",
                "--user-agent", "-e", "--referer", "-b", "--cookie", "-c", "--cookie-jar", "--url", "-m",
                "--max-time", "--connect-timeout", "--retry", "--retry-delay", "-w", "--write-out", "--cacert",
                "--cert", "--key", "-x", "--proxy", "-F", "--form", "-T", "--upload-file", "--resolve"}


def _unresolved(v: str) -> bool:
    return "$" in v or "`" in v


class _ShScanner:
    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx

    def scan(self, code: str, src_rel: str, where: Callable[[int], str]) -> list[Found]:
        out: list[Found] = []
        for sc in shell_commands(code):
            argv = list(sc.argv)
            prog = argv[0].rsplit("/", 1)[-1]
            at = where(sc.line)
            found: Found | None = None
            if prog == "aws" and "invoke-endpoint" in argv and self.ctx.platform == "aws":
                found = self._aws_cli(argv, src_rel, sc.cwd, at)
            elif prog == "curl":
                found = self._curl(argv, src_rel, sc.cwd, at)
            elif prog == "gcloud" and "predict" in " ".join(argv[1:5]) and self.ctx.platform != "aws":
                found = self._gcloud(argv, src_rel, sc.cwd, at)
            if found is not None:
                out.append(found)
                if len(out) >= MAX_CANDIDATES:
                    break
        return out

    @staticmethod
    def _opts(args: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        i = 0
        while i < len(args):
            a = args[i]
            if a.startswith("--"):
                k, eq, v = a.partition("=")
                if eq:
                    out.setdefault(k, v)
                elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                    out.setdefault(k, args[i + 1])
                    i += 1
                else:
                    out.setdefault(k, "")
            i += 1
        return out

    def _aws_cli(self, argv: list[str], src_rel: str, cwd: str, at: str) -> Found:
        form = "aws sagemaker-runtime invoke-endpoint"
        o = self._opts(argv[argv.index("invoke-endpoint") + 1:])
        ctype = o.get("--content-type") or None
        accept = o.get("--accept") or None
        raw = o.get("--body")
        if raw is None or _unresolved(raw) or (ctype and _unresolved(ctype)):
            return Unreproducible(at, form, ctype, accept, raw or "no --body")
        notes: list[str] = []
        if raw.startswith(("fileb://", "file://")):
            form += f" --body {raw}"
        if raw.startswith("fileb://"):
            data, why = self.ctx.read(raw[len("fileb://"):], src_rel, cwd)
        elif raw.startswith("file://"):
            data, why = self.ctx.read(raw[len("file://"):], src_rel, cwd)
            data = data.decode("utf-8", "replace").encode() if data is not None else None
        else:
            data, why = raw.encode(), ""
        if data is None:
            return Unreproducible(at, form, ctype, accept, why)
        if not raw.startswith("fileb://") and o.get("--cli-binary-format") != "raw-in-base64-out":
            notes.append("AWS CLI v2 reads an inline --body (and file://) as base64: add --cli-binary-format "
                         "raw-in-base64-out (or use fileb://) so v2 sends these bytes too")
        n, rows = _rows_of_body(data, ctype)
        return SampleRequest(data, ctype, accept, at, form, n, _jsonable(rows), notes=tuple(notes))

    def _curl(self, argv: list[str], src_rel: str, cwd: str, at: str) -> Found | None:
        url = None
        headers: dict[str, str] = {}
        parts: list[bytes] = []
        json_mode = False
        unknown = ""
        i = 1
        while i < len(argv):
            a = argv[i]
            key, val = a, None
            if a.startswith("--") and "=" in a and a.split("=", 1)[0] in _CURL_DATA:
                key, val = a.split("=", 1)
            elif len(a) > 2 and a[:2] in ("-d", "-H") and not a.startswith("--"):
                key, val = a[:2], a[2:]
            if key in _CURL_DATA:
                if val is None:
                    val = argv[i + 1] if i + 1 < len(argv) else ""
                    i += 1
                mode = _CURL_DATA[key]
                if mode == "urlencode" or _unresolved(val):
                    unknown = unknown or val
                elif val.startswith("@") and mode != "raw":
                    data, why = self.ctx.read(val[1:], src_rel, cwd)
                    if data is None:
                        unknown = unknown or why
                    else:
                        parts.append(data.replace(b"\r", b"").replace(b"\n", b"") if mode == "ascii" else data)
                else:
                    parts.append(val.encode())
                json_mode = json_mode or mode == "json"
            elif key in ("-H", "--header"):
                if val is None:
                    val = argv[i + 1] if i + 1 < len(argv) else ""
                    i += 1
                name, _, hv = val.partition(":")
                headers[name.strip().lower()] = hv.strip()
            elif a in _CURL_VALUED:
                i += 1
            elif not a.startswith("-") and url is None:
                url = a
            i += 1
        if url is None or not _LOCAL_URL.search(url) or (not parts and not unknown):
            return None
        want = "/invocations" if self.ctx.platform == "aws" else "predict"
        if want not in url:
            return None
        ctype = headers.get("content-type", JSON if json_mode else FORM)
        accept = headers.get("accept", JSON if json_mode else "*/*")
        if unknown:
            return Unreproducible(at, "curl", ctype, accept, unknown)
        body = b"&".join(parts)
        n, rows = _rows_of_body(body, ctype)
        return SampleRequest(body, ctype or None, accept or None, at, "curl", n, _jsonable(rows))

    def _gcloud(self, argv: list[str], src_rel: str, cwd: str, at: str) -> Found | None:
        words = [a for a in argv[1:] if not a.startswith("-")][:4]
        o = self._opts(argv[1:])
        vertex = words[:3] == ["ai", "endpoints", "predict"] or words[1:4] == ["ai", "endpoints", "predict"]
        legacy = "predict" in words[:3] and any(w in ("ai-platform", "ml-engine") for w in words[:2])
        raw_predict = "raw-predict" in words
        if not (vertex or legacy or raw_predict):
            return None
        if raw_predict:
            raw = o.get("--request", "")
            form = "gcloud ai endpoints raw-predict"
            if raw.startswith("@"):
                data, why = self.ctx.read(raw[1:], src_rel, cwd)
            else:
                data, why = (raw.encode(), "") if raw and not _unresolved(raw) else (None, raw or "no --request")
            if data is None:
                return Unreproducible(at, form, JSON, None, why)
            n, rows = _rows_of_body(data, JSON)
            return SampleRequest(data, JSON, None, at, form, n, _jsonable(rows))
        form = "gcloud ai endpoints predict" if vertex else f"gcloud {words[0]} predict"
        flag = next((f for f in ("--json-request", "--json-instances", "--text-instances") if f in o), None)
        if flag is None or not o[flag] or _unresolved(o[flag]):
            return Unreproducible(at, form, JSON, None, o.get(flag or "--json-request", "") or "no request file")
        form += f" {flag}={o[flag]}"
        data, why = self.ctx.read(o[flag], src_rel, cwd)
        if data is None:
            return Unreproducible(at, form, JSON, None, why)
        req, refused = gcloud_request(data, flag, vertex)
        if refused and vertex and flag == "--json-request" and "not in JSON format" in refused:
            # `gcloud ai endpoints predict` reads the file as YAML (a superset of JSON;
            # command_lib/ai/endpoints_util.ReadRequest): not JSON is not refused there
            return Unreproducible(at, form, JSON, None, f"{o[flag]} (read as YAML by gcloud)")
        if refused:
            return SampleRequest(b"", JSON, None, at, form, client_error=f"gcloud refuses {o[flag]}: {refused}")
        return SampleRequest(json.dumps(req).encode(), JSON, None, at, form, n_rows_of(req), _jsonable(req))


def gcloud_request(data: bytes, flag: str, vertex: bool) -> tuple[dict[str, Any], str]:
    """(the request gcloud sends for a file given with ``flag``, or {} and gcloud's error)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return {}, "it is not UTF-8 text"
    if flag == "--json-request":
        try:
            req = json.loads(text)
        except ValueError:
            return {}, "Input instances are not in JSON format."
        if not isinstance(req, dict) or "instances" not in req:
            return {}, ('Invalid JSON request: missing "instances" attribute' if isinstance(req, dict)
                        else "Input instances are not in JSON format.")
        if not isinstance(req["instances"], list):
            return {}, 'Invalid JSON request: "instances" must be a list'
        out: dict[str, Any] = {"instances": req["instances"]}
        if vertex and "parameters" in req:       # the legacy service gets the instances only
            out["parameters"] = req["parameters"]
        return out, ""
    instances: list[Any] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        content = line.rstrip("\r")
        if not content:
            if i == len(lines) - 1:
                continue          # the newline that ends the last line
            return {}, "Empty line is not allowed in the instances file."
        if flag == "--text-instances":
            instances.append(content)
            continue
        try:
            instances.append(json.loads(content))
        except ValueError:
            return {}, ("Input instances are not in JSON format (--json-instances reads one JSON instance per "
                        "line; for a whole request object use --json-request)")
    if not instances:
        return {}, "No valid instance was found in input file."
    return {"instances": instances}, ""


# ---------------------------------------------------------------- reading order

def _readme_pieces(folder: DeployFolder) -> list[tuple[str, str, str, Callable[[int], str]]]:
    """(lang, code, rel, where) of the README's code blocks, in order."""
    doc = folder.facts.readme
    if doc is None or not doc.readable:
        return []
    out: list[tuple[str, str, str, Callable[[int], str]]] = []
    for block in doc.code_blocks:
        first = block.line

        def where(ln: int, first: int = first) -> str:
            return doc.where(first + ln - 1)
        lang = block.lang
        if lang in ("python", "py", "python3", "ipython", "ipython3", "pycon", "jupyter"):
            py, sh = split_cell(block.content)
            out.append(("python", py, doc.rel, where))
            if sh.strip():
                out.append(("shell", sh, doc.rel, where))
        elif lang in ("bash", "sh", "shell", "console", "zsh", "shell-session", "cmd", "powershell", "ps1", "bat"):
            out.append(("shell", block.content, doc.rel, where))
        elif lang in ("", "text", "none", "plaintext"):
            out.append(("python", block.content, doc.rel, where))
            out.append(("shell", block.content, doc.rel, where))
    for code, line in doc.inline_code:           # `aws sagemaker-runtime invoke-endpoint ...` in a sentence
        if re.search(r"\b(?:curl|aws|gcloud)\b", code):
            out.append(("shell", code, doc.rel, functools.partial(_at_line, doc, line)))
    return out


def _at_line(doc: ReadmeDoc, line: int, _ln: int) -> str:
    return doc.where(line)


def _ordered_scripts(folder: DeployFolder) -> list[list[Source]]:
    """The folder's scripts and notebooks, those the README names first, each file's pieces in order."""
    from deploycheck.analysis.commands import _referenced_scripts
    doc = folder.facts.readme
    named = _referenced_scripts(doc, folder) if doc is not None and doc.readable else set()
    by_file: dict[str, list[Source]] = {}
    for src in folder.facts.scripts:
        if doc is None or src.rel != doc.rel:          # a notebook README is read as the README
            by_file.setdefault(src.rel, []).append(src)
    order = sorted(by_file, key=lambda r: (r not in named, r.count("/"), r))
    return [by_file[r] for r in order]


def documented_requests(folder: DeployFolder, platform: str | None = None) -> list[Found]:
    """Every request the folder documents, in reading order (see the module doc)."""
    ctx = _Ctx(folder, platform or folder.platform)
    out: list[Found] = []
    py, sh = _PyScanner(ctx), _ShScanner(ctx)
    for lang, code, rel, where in _readme_pieces(folder):
        out.extend((py if lang == "python" else sh).scan(code, rel, where))
    for srcs in _ordered_scripts(folder):
        py = _PyScanner(ctx)                          # each file its own variables
        for src in srcs:
            where = _where_in(src, folder.rel)
            out.extend((py if src.lang == "python" else sh).scan(src.text, src.rel, where))
        if len(out) >= MAX_CANDIDATES:
            break
    return _dedupe(out)[:MAX_CANDIDATES]


def _where_in(src: Source, folder_rel: str) -> Callable[[int], str]:
    return lambda ln: src.where(folder_rel, ln)


def _dedupe(found: Iterable[Found]) -> list[Found]:
    seen: set[tuple[str, str]] = set()
    out: list[Found] = []
    for f in found:
        key = (f.source, f.form)
        if key not in seen:          # a README block read both as Python and as shell
            seen.add(key)
            out.append(f)
    return out


# ---------------------------------------------------------------- request files, synthesis

def _request_files(folder: DeployFolder) -> list[str]:
    named = [r for r in folder.files if r.rsplit("/", 1)[-1].lower() in REQUEST_FILES or
             re.match(r"(?:sample|test|example)[\w-]*\.(?:json|csv)$", r.rsplit("/", 1)[-1].lower())]
    return sorted(named, key=lambda r: (r.count("/"), r))[:10]


def _from_file(folder: DeployFolder, rel: str, platform: str) -> SampleRequest | None:
    got = files.read_bytes(folder.path, rel, MAX_BODY + 1)
    if got.data is None or len(got.data) > MAX_BODY or not got.data.strip():
        return None
    data, src = got.data, f"{folder.rel}/{rel}"
    low = rel.lower()
    if platform == "aws":
        ctype = CSV if low.endswith(".csv") else NPY if low.endswith(".npy") else JSON
        n, rows = _rows_of_body(data, ctype)
        return SampleRequest(data, ctype, None, src, "request file", n, _jsonable(rows), inferred=(
            f"the README does not show how {rel} is sent: deploycheck sent its bytes as {ctype}"))
    # Vertex / AI Platform: a request object as it is; rows or newline-delimited instances wrapped
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    req: Any
    if low.endswith(".csv"):
        rows = []
        for line in text.splitlines()[:1000]:
            try:
                rows.append([float(c) for c in line.split(",")])
            except ValueError:
                continue          # a header
        if not rows:
            return None
        req, body, how = {"instances": rows}, b"", "its rows as {\"instances\": [...]}"
    else:
        try:
            obj = json.loads(text)
        except ValueError:
            obj, err = gcloud_request(data, "--json-instances", True)
            if err:
                return None
            req, body, how = obj, b"", "its lines as {\"instances\": [...]}"
        else:
            if isinstance(obj, dict):
                req, body, how = obj, data, "it unchanged as the request body"
            else:
                req, body, how = {"instances": obj}, b"", "it as {\"instances\": ...}"
    body = body or json.dumps(req).encode()
    return SampleRequest(body, JSON, None, src, "request file", n_rows_of(req), _jsonable(req), inferred=(
        f"the README does not show how {rel} is sent: deploycheck sent {how}"))


def synthesized(folder: DeployFolder, platform: str, form: Unreproducible | None = None) -> SampleRequest:
    """The recipe of a request built in the sandbox from the loaded model (``n_features_in_``):
    in the documented form's content type when there is one, else JSON."""
    if form is not None:
        why = (f"{form.source} sends {form.what} with {form.form}, which deploycheck cannot compute: it sent "
               f"{SYNTH_ROWS} rows of the model's size in the same form instead")
        ctype = form.content_type if platform == "aws" else JSON
        return SampleRequest(b"", ctype, form.accept if platform == "aws" else None, why, form.form,
                             synthesized=True)
    doc = folder.facts.readme
    where = doc.path if doc is not None else f"{folder.rel}/"
    why = (f"no request is documented in {where} or the folder's scripts: deploycheck sent {SYNTH_ROWS} rows of "
           "the model's size")
    return SampleRequest(b"", JSON, None, why, "", synthesized=True)


def sample_request(folder: DeployFolder, platform: str | None = None) -> SampleRequest:
    """THE request for ``folder`` (use ``folder.facts.sample``): the first documented request
    deploycheck can reproduce, else a request file, else a synthesized one (see the module doc)."""
    plat = platform or folder.platform
    try:
        found = documented_requests(folder, plat)
    except Exception:  # noqa: BLE001 - a hostile README: nothing documented
        found = []
    complete = next((f for f in found if isinstance(f, SampleRequest)), None)
    first_form = next((f for f in found if isinstance(f, Unreproducible)), None)
    if complete is not None:
        skipped = [f for f in found if isinstance(f, Unreproducible) and found.index(f) < found.index(complete)]
        if skipped:
            complete = replace(complete, notes=complete.notes + (
                f"{skipped[0].source} ({skipped[0].form}) sends {skipped[0].what}, which deploycheck cannot compute",))
        return complete
    if first_form is None:
        for rel in _request_files(folder):
            s = _from_file(folder, rel, plat)
            if s is not None:
                return s
    return synthesized(folder, plat, first_form)
