"""The sample request ``predict.local`` sends: the one the student documents, else one synthesized
from the model.

Documented requests, in this order: a literal passed to ``predict(`` / ``predictor.predict(`` /
``endpoint.predict(instances=...)`` / ``invoke_endpoint(Body=..., ContentType=...)`` in the README's
code blocks or the folder's ``.py`` files (a variable assigned a literal in the same code counts);
``--json-instances``/``--json-request`` files and ``curl -d`` bodies in the README; ``input.json``,
``instances.json``, ``request.json``, ``sample*.json|csv`` in the folder. Each is matched to the
content type it would be sent with: the SageMaker SDK's ``SKLearnPredictor`` serializes with NumPy
(``application/x-npy``) unless a ``CSVSerializer``/``JSONSerializer`` is set; ``invoke_endpoint``
uses its ``ContentType``; GCP sends ``{"instances": [...]}``.

Literals are parsed with ``ast.literal_eval`` / ``json.loads`` only — student text is never
evaluated.
"""
from __future__ import annotations

import ast
import io
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from deploycheck import files
from deploycheck.analysis.sources import python_tree

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

NPY = "application/x-npy"
JSON = "application/json"
CSV = "text/csv"
MAX_TEXT = 400_000
REQUEST_FILES = ("input.json", "instances.json", "request.json", "sample_request.json", "payload.json")


@dataclass(frozen=True)
class SampleRequest:
    body: bytes
    content_type: str
    accept: str | None
    source: str                 # "aws_deploy/README.md line 40" or "synthesized from n_features_in_=4"
    n_rows: int | None
    rows: Any = None            # the decoded instances (JSON-able), for the report
    synthesized: bool = False
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------- serializers

def npy_bytes(rows: Any) -> bytes:
    import numpy as np
    buf = io.BytesIO()
    np.save(buf, np.asarray(rows))
    return buf.getvalue()


def csv_bytes(rows: Any) -> bytes:
    if rows and not isinstance(rows[0], (list, tuple)):
        rows = [rows]
    return ("\n".join(",".join(str(v) for v in r) for r in rows) + "\n").encode()


def n_rows_of(rows: Any) -> int | None:
    if isinstance(rows, dict) and "instances" in rows:
        rows = rows["instances"]
    if isinstance(rows, (list, tuple)):
        if rows and isinstance(rows[0], (list, tuple, dict)):
            return len(rows)
        return 1
    return None


def encode_for(rows: Any, platform: str, content_type: str) -> bytes:
    if platform == "gcp":
        inst = rows["instances"] if isinstance(rows, dict) and "instances" in rows else rows
        return json.dumps({"instances": inst}).encode()
    if content_type == NPY:
        return npy_bytes(rows)
    if content_type == CSV:
        return csv_bytes(rows)
    return json.dumps(rows).encode()


# ---------------------------------------------------------------- finding documented requests

def _literal(node: ast.AST, names: dict[str, ast.AST]) -> Any:
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    # np.array([...]) / pd.DataFrame([...]) / json.dumps([...]) wrappers
    if isinstance(node, ast.Call) and node.args and isinstance(node.func, (ast.Attribute, ast.Name)):
        fname = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        if fname in ("array", "asarray", "DataFrame", "dumps", "list"):
            inner = _literal(node.args[0], names)
            if fname == "dumps" and inner is not None:
                return ("__json__", inner)
            return inner
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _serializer(code: str) -> str | None:
    if re.search(r"CSVSerializer\s*\(", code):
        return CSV
    if re.search(r"JSONSerializer\s*\(", code):
        return JSON
    if re.search(r"NumpySerializer\s*\(", code):
        return NPY
    return None


def _from_python(code: str, platform: str, default_ctype: str) -> tuple[Any, str, int] | None:
    """(rows or raw body, content type, line) of the first predict()/invoke_endpoint() literal."""
    tree, _err = python_tree(code)
    if tree is None:
        return None
    names: dict[str, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names.setdefault(node.targets[0].id, node.value)
    ctype_default = _serializer(code) or default_ctype
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr = node.func.attr
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if attr == "invoke_endpoint" and "Body" in kw:
            val = _literal(kw["Body"], names)
            ctype = _literal(kw["ContentType"], names) if "ContentType" in kw else JSON
            if val is None or not isinstance(ctype, str):
                continue
            if isinstance(val, tuple) and val and val[0] == "__json__":
                return val[1], "json-literal:" + ctype, node.lineno
            if isinstance(val, (str, bytes)):
                return ("__raw__", val if isinstance(val, bytes) else val.encode()), ctype, node.lineno
            return val, ctype, node.lineno
        if attr in ("predict", "raw_predict"):
            arg = kw.get("instances") or (node.args[0] if node.args else kw.get("data"))
            if arg is None:
                continue
            val = _literal(arg, names)
            if isinstance(val, tuple) and val and val[0] == "__json__":
                val = val[1]
            if isinstance(val, (list, dict)) and val:
                return val, (JSON if platform == "gcp" else ctype_default), node.lineno
    return None


def _read(folder: DeployFolder, rel: str) -> str | None:
    tf = files.read_text(folder.path, rel, MAX_TEXT)
    return tf.text if tf.ok else None


def documented(folder: DeployFolder, platform: str | None = None) -> SampleRequest | None:
    platform = platform or folder.platform
    default_ctype = NPY if platform == "aws" else JSON
    where = folder.rel

    def make(rows: Any, ctype: str, source: str) -> SampleRequest | None:
        if isinstance(rows, tuple) and rows and rows[0] == "__raw__":
            body = rows[1]
            n = None
            if ctype == CSV:
                n = len([l for l in body.decode("utf-8", "replace").splitlines() if l.strip()])
            elif ctype == JSON:
                try:
                    n = n_rows_of(json.loads(body))
                except ValueError:
                    n = None
            return SampleRequest(body, ctype, None, source, n)
        if ctype.startswith("json-literal:"):
            ctype = ctype.split(":", 1)[1]
        try:
            body = encode_for(rows, platform, ctype)
        except Exception:  # noqa: BLE001 - ragged lists etc.
            return None
        if platform == "gcp":
            ctype = JSON
        return SampleRequest(body, ctype, None, source, n_rows_of(rows), rows=rows)

    def from_python(code: str, rel: str, first_line: int = 1) -> SampleRequest | None:
        """The request found in Python ``code`` that starts at line ``first_line`` of ``rel``."""
        found = _from_python(code, platform, default_ctype)
        if not found:
            return None
        rows, ctype, ln = found
        return make(rows, ctype, f"{where}/{rel} line {first_line + ln - 1}")

    # 1. code in the README, then the folder's scripts
    doc = folder.facts.readme
    for doc in ([doc] if doc is not None and doc.readable else []):
        rel, text = doc.rel, doc.text
        for block in doc.code_blocks:
            if block.lang in ("", "python", "py", "python3", "ipython", "pycon"):
                s = from_python(block.content, rel, block.line)
                if s:
                    return s
        for m in re.finditer(r"--json-(?:instances|request)[= ]+['\"]?([\w./-]+)", text):
            s = _from_file(folder, m.group(1).lstrip("./"), platform, make)
            if s:
                return s
        data = re.search(r"(?:-d|--data(?:-raw)?)\s+'(\{\s*\"instances\".*?\})'", text, re.S)
        if data:
            try:
                rows = json.loads(data.group(1))
                line = text[:data.start()].count("\n") + 1
                s = make(rows, JSON, f"{where}/{rel} line {line}")
                if s:
                    return s
            except ValueError:
                pass
    for src in folder.facts.scripts:
        if src.lang == "python" and ("predict(" in src.text or "invoke_endpoint" in src.text):
            found = _from_python(src.text, platform, default_ctype)
            if found:
                rows, ctype, ln = found
                s = make(rows, ctype, src.where(where, ln))
                if s:
                    return s
    # 2. request files
    for rel in folder.files:
        base = rel.rsplit("/", 1)[-1].lower()
        if base in REQUEST_FILES or re.match(r"sample.*\.(json|csv)$", base):
            s = _from_file(folder, rel, platform, make)
            if s:
                return s
    return None


def _from_file(folder: DeployFolder, rel: str, platform: str, make: Callable[[Any, str, str], SampleRequest | None]) -> SampleRequest | None:
    text = _read(folder, rel)
    if text is None:
        return None
    src = f"{folder.rel}/{rel}"
    if rel.lower().endswith(".csv"):
        rows = []
        for line in text.splitlines()[:100]:
            cells = [c.strip() for c in line.split(",")]
            try:
                rows.append([float(c) for c in cells])
            except ValueError:
                continue  # header
        if not rows:
            return None
        return make(rows, CSV if platform == "aws" else JSON, src)
    try:
        obj = json.loads(text)
    except ValueError:
        # newline-delimited instances (gcloud --json-instances)
        try:
            obj = {"instances": [json.loads(l) for l in text.splitlines() if l.strip()]}
        except ValueError:
            return None
    if platform == "aws":
        if isinstance(obj, dict) and "instances" in obj:
            obj = obj["instances"]
        return make(obj, JSON, src)
    return make(obj, JSON, src)


def sample_request(folder: DeployFolder, platform: str | None = None) -> SampleRequest | None:
    """The request the student documents, else None (the sandboxed job then synthesizes one from
    the loaded model's ``n_features_in_``; see deploycheck/inside/job_util.py)."""
    try:
        return documented(folder, platform)
    except Exception:  # noqa: BLE001 - a hostile README: no documented request
        return None
