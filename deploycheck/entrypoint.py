"""Static analysis (``ast`` only, never import/exec) of the SageMaker entry-point script.

Checks: ``entry_point.model_fn`` and ``entry_point.imports`` (AWS only).

Facts used (cited):
- aws/sagemaker-inference-toolkit ``src/sagemaker_inference/transformer.py``: the user module's
  ``model_fn``/``input_fn``/``predict_fn``/``output_fn``/``transform_fn`` are looked up by name
  (``getattr(user_module, ...)``, so only module-level names count); ``transform_fn`` together with
  any of input/predict/output_fn raises "Cannot use transform_fn implementation in conjunction
  with input_fn, predict_fn, and/or output_fn implementation"; ``_run_handler_function`` counts
  *all* parameters of a handler (``len(signature(func).parameters)``) and accepts exactly the
  expected number or one more (the request ``context``), anything else is a TypeError.
- aws/sagemaker-scikit-learn-container ``src/sagemaker_sklearn_container/handler_service.py``:
  the default ``model_fn`` raises NotImplementedError ("Please provide a model_fn implementation").
- aws/sagemaker-scikit-learn-container ``requirements.txt`` and ``docker/*/base/Dockerfile.cpu``:
  what the serving image ships (see ``IMAGE_MODULES``).
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

from deploycheck.outcome import Outcome, failed, guarded, passed, skipped
from deploycheck.readme import (NOTEBOOK_LIMIT, folder_label, is_local_name, notebook_cells, readme_info,
                                script_sources, split_cell)
from deploycheck.structure import needs_folder
from deploycheck.textfile import FolderKey, read_text

SOURCE_LIMIT = 1_000_000
MAX_PY = 200
ENTRY_NAMES = ("inference.py", "predict.py", "serve.py", "entry_point.py", "serving.py", "handler.py")

# handler name -> number of parameters the toolkit passes (one more is allowed: the context)
HANDLERS = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2, "transform_fn": 4}
HANDLER_SIGS = {"model_fn": "model_fn(model_dir)", "input_fn": "input_fn(request_body, request_content_type)",
                "predict_fn": "predict_fn(input_data, model)", "output_fn": "output_fn(prediction, accept)",
                "transform_fn": "transform_fn(model, request_body, content_type, accept)"}


@dataclass
class EntryPointInfo:
    rel: str                               # relative to the deploy folder (notebook path for notebooks)
    source: str = ""
    tree: ast.Module | None = None
    syntax_error: tuple[str, int] | None = None
    how: str = ""                          # 'entry_point= in README line N' | 'only .py defining model_fn' | ...
    source_dir: str | None = None          # relative to the folder, when declared
    notebook: bool = False
    declared_missing: str | None = None    # entry_point= names a file that is not there
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ discovery

_EP_RX = re.compile(r"\bentry_point\s*=\s*[\"']([^\"'\n]+)[\"']")
_SD_RX = re.compile(r"\bsource_dir\s*=\s*[\"']([^\"'\n]+)[\"']")
_DEF_MODEL_FN_RX = re.compile(r"^\s*(?:async\s+)?def\s+model_fn\s*\(", re.M)


def _declared_entry_points(folder: Any) -> list[tuple[str, str | None, str]]:
    """(entry_point, source_dir, where) declared in the README, scripts or notebooks."""
    out: list[tuple[str, str | None, str]] = []
    info = readme_info(folder)
    texts: list[tuple[str, Any]] = []
    if info is not None and not info.problem:
        texts.append((info.text, lambda ln, info=info: f"README line {ln}"))
    for src in script_sources(folder):
        if src.lang == "python":
            texts.append((src.text, lambda ln, s=src: s.where(folder.rel, ln).removeprefix(f"{folder.rel}/")))
    for text, where in texts:
        for m in _EP_RX.finditer(text):
            # source_dir in the same call: look a few lines around the entry_point= keyword
            window = text[max(0, m.start() - 600): m.end() + 600]
            sd = _SD_RX.search(window)
            out.append((m.group(1).strip(), sd.group(1).strip() if sd else None,
                        where(text.count("\n", 0, m.start()) + 1)))
    return out


def _norm(rel: str) -> str:
    parts: list[str] = []
    for p in PurePosixPath(rel.replace("\\", "/")).parts:
        if p in (".", ""):
            continue
        if p == "..":
            if parts:
                parts.pop()
            continue
        parts.append(p)
    return "/".join(parts)


def _parse(folder: Any, rel: str, how: str, source_dir: str | None = None) -> EntryPointInfo:
    info = EntryPointInfo(rel=rel, how=how, source_dir=source_dir)
    tf = read_text(folder, rel, limit=SOURCE_LIMIT)
    if tf.problem:
        info.syntax_error = (f"cannot be read: {tf.problem}", 1)
        return info
    info.source = tf.text
    try:
        info.tree = ast.parse(tf.text, filename=rel)
    except SyntaxError as e:
        info.syntax_error = (f"{type(e).__name__}: {e.msg}", e.lineno or 1)
    except (ValueError, RecursionError, MemoryError) as e:
        info.syntax_error = (f"cannot be parsed ({type(e).__name__})", 1)
    return info


def _module_defs(tree: ast.Module) -> dict[str, ast.AST]:
    """Module-level names bound by def / assignment / import (through if/try blocks, not __main__)."""
    out: dict[str, ast.AST] = {}

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[node.name] = node
            elif isinstance(node, ast.Assign):
                for tgt in node.targets:
                    if isinstance(tgt, ast.Name):
                        out.setdefault(tgt.id, node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    out.setdefault((a.asname or a.name).split(".")[0], node)
            elif isinstance(node, ast.If) and not _is_main_guard(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)
    visit(tree.body)
    return out


def _is_main_guard(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in t.comparators))


def _hidden_defs(tree: ast.Module, name: str) -> list[str]:
    """Where ``name`` is defined but not at module level ('inside if __name__ == "__main__": (line 9)')."""
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name == name:
                    out.append(f'inside `if __name__ == "__main__":` (line {sub.lineno})')
        elif isinstance(node, ast.ClassDef):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name == name:
                    out.append(f"inside class {node.name} (line {sub.lineno})")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if sub is not node and isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name == name:
                    out.append(f"inside function {node.name} (line {sub.lineno})")
    return out


def _defines_model_fn(folder: Any, rel: str) -> tuple[bool, EntryPointInfo]:
    info = _parse(folder, rel, "")
    if info.tree is not None:
        return "model_fn" in _module_defs(info.tree), info
    return bool(_DEF_MODEL_FN_RX.search(info.source)), info


def entry_point(folder: Any) -> EntryPointInfo | None:
    """The SageMaker entry-point script of a deploy folder (cached per folder path), or None."""
    return _entry_point(FolderKey(folder))


@lru_cache(maxsize=64)
def _entry_point(key: FolderKey) -> EntryPointInfo | None:
    folder = key.obj
    files = set(folder.files)
    declared_missing: str | None = None
    # 1. entry_point="..." (+ source_dir="...") in the README, scripts, notebooks
    for ep, sd, where in _declared_entry_points(folder):
        if not is_local_name(ep):
            continue          # placeholders (<your_script.py>), absolute paths, URLs
        cands = [_norm(f"{sd}/{ep}")] if sd and not sd.startswith(("/", "s3:", "~")) else []
        cands += [_norm(ep), _norm(ep).rsplit("/", 1)[-1]]
        for c in cands:
            if c in files:
                info = _parse(folder, c, f"entry_point= in {where}", _norm(sd) if sd else None)
                return info
        if declared_missing is None:
            declared_missing = f"{ep} (entry_point= in {where})"
    py = [f for f in sorted(folder.files, key=lambda f: (f.count("/"), f)) if f.lower().endswith(".py")][:MAX_PY]
    # 2. the .py files defining model_fn at module level
    defining: list[EntryPointInfo] = []
    for rel in py:
        ok, info = _defines_model_fn(folder, rel)
        if ok:
            defining.append(info)
    if defining:
        named = [i for i in defining if i.rel.rsplit("/", 1)[-1].lower() in ENTRY_NAMES]
        chosen = (named or defining)[0]
        chosen.how = "only .py defining model_fn" if len(defining) == 1 else \
            f"one of {len(defining)} .py files defining model_fn ({', '.join(i.rel for i in defining[:4])})"
        chosen.declared_missing = declared_missing
        return chosen
    # 3. conventional names
    for rel in py:
        if rel.rsplit("/", 1)[-1].lower() in ENTRY_NAMES:
            info = _parse(folder, rel, f"named {rel.rsplit('/', 1)[-1]}")
            info.declared_missing = declared_missing
            return info
    # 4. notebooks that define model_fn
    for rel in [f for f in folder.files if f.lower().endswith(".ipynb")][:50]:
        tf = read_text(folder, rel, limit=NOTEBOOK_LIMIT)
        if tf.problem:
            continue
        cells = [split_cell(src)[0] for _, src in notebook_cells(tf.text)]
        for code in cells:
            if _DEF_MODEL_FN_RX.search(code):
                info = EntryPointInfo(rel=rel, source="\n\n".join(cells), how="notebook", notebook=True,
                                      declared_missing=declared_missing)
                try:
                    info.tree = ast.parse(info.source)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    info.tree = None
                return info
    if declared_missing:
        return EntryPointInfo(rel=_norm(declared_missing.split(" (", 1)[0]), how="declared",
                              declared_missing=declared_missing)
    return None


# ------------------------------------------------------------------ files model_fn loads

def _const_strings(tree: ast.Module) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = node.value.value
    return out


def _is_sep(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in ("sep", "altsep")
            and isinstance(node.value, ast.Name) and node.value.id in ("os", "path"))


class _PathEval:
    """Evaluates expressions to 'path below model_dir' (list of parts) or None."""

    def __init__(self, aliases: dict[str, list[str]], consts: dict[str, str]):
        self.aliases = aliases
        self.consts = consts

    def lit(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in self.consts:
            return self.consts[node.id]
        if _is_sep(node):
            return "/"
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                elif isinstance(v, ast.FormattedValue):
                    inner = self.lit(v.value)
                    if inner is None:
                        return None
                    parts.append(inner)
            return "".join(parts)
        return None

    @staticmethod
    def _split(s: str) -> list[str]:
        return [p for p in s.replace("\\", "/").split("/") if p and p != "."]

    def _joined(self, first: ast.AST, rest: list[ast.AST]) -> list[str] | None:
        """The path of ``first`` followed by each literal of ``rest``; None when any part is not known."""
        base = self.path(first)
        if base is None:
            return None
        for a in rest:
            s = self.lit(a)
            if s is None:
                return None
            base = base + self._split(s)
        return base

    def path(self, node: ast.AST) -> list[str] | None:
        if isinstance(node, ast.Name):
            return list(self.aliases[node.id]) if node.id in self.aliases else None
        if isinstance(node, ast.Call):
            fname = node.func.attr if isinstance(node.func, ast.Attribute) else (
                node.func.id if isinstance(node.func, ast.Name) else "")
            if fname in ("Path", "PurePath", "PosixPath", "str", "fspath", "abspath", "realpath", "normpath",
                         "expanduser", "resolve", "absolute") and node.args:
                return self.path(node.args[0])
            if fname in ("resolve", "absolute", "expanduser") and isinstance(node.func, ast.Attribute) and not node.args:
                return self.path(node.func.value)
            if fname == "join" and node.args and isinstance(node.func, ast.Attribute) and \
                    not (isinstance(node.func.value, ast.Constant)):
                return self._joined(node.args[0], node.args[1:])
            if fname == "join" and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Constant) \
                    and node.func.value.value in ("/", "\\") and len(node.args) == 1 \
                    and isinstance(node.args[0], (ast.List, ast.Tuple)) and node.args[0].elts:
                elts = node.args[0].elts
                return self._joined(elts[0], elts[1:])
            if fname == "joinpath" and isinstance(node.func, ast.Attribute):
                return self._joined(node.func.value, node.args)
            if fname == "format" and isinstance(node.func, ast.Attribute):
                fmt = self.lit(node.func.value)
                if fmt is not None and node.args:
                    m = re.match(r"^\{0?\}(.*)$", fmt)
                    base = self.path(node.args[0])
                    if m and base is not None and "{" not in m.group(1):
                        return base + self._split(m.group(1))
            return None
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Div):
                base = self.path(node.left)
                s = self.lit(node.right)
                if base is not None and s is not None:
                    return base + self._split(s)
                return None
            if isinstance(node.op, ast.Add):
                # model_dir + "/model.pkl", model_dir + os.sep + "model.pkl", (model_dir + "/") + "m.pkl"
                ops: list[ast.AST] = []
                cur: ast.AST = node
                while isinstance(cur, ast.BinOp) and isinstance(cur.op, ast.Add):
                    ops.insert(0, cur.right)
                    cur = cur.left
                base = self.path(cur)
                if base is None:
                    return None
                lits = [self.lit(o) for o in ops]
                if any(x is None for x in lits):
                    return None
                tail = "".join(lits)  # type: ignore[arg-type]
                if tail and not tail.startswith(("/", "\\")):
                    return None
                return base + self._split(tail)
            if isinstance(node.op, ast.Mod):
                fmt = self.lit(node.left)
                if fmt is not None:
                    m = re.match(r"^%s(.*)$", fmt)
                    arg = node.right.elts[0] if isinstance(node.right, ast.Tuple) and node.right.elts else node.right
                    base = self.path(arg)
                    if m and base is not None and "%" not in m.group(1):
                        return base + self._split(m.group(1))
            return None
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.FormattedValue):
                base = self.path(first.value)
                if base is None:
                    return None
                rest = ast.JoinedStr(values=node.values[1:])
                s = self.lit(rest) if node.values[1:] else ""
                if s is None or (s and not s.startswith(("/", "\\"))):
                    return None
                return base + self._split(s)
        return None


def _fn_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in fn.args.posonlyargs + fn.args.args]


def _paths_in_function(fn: ast.AST, aliases: dict[str, list[str]], consts: dict[str, str],
                       funcs: dict[str, ast.AST], depth: int, out: list[list[str]]) -> None:
    ev = _PathEval(dict(aliases), consts)
    body_nodes = list(ast.walk(fn))
    # settle assignments (two passes handle simple chains in any order)
    for _ in range(2):
        for node in body_nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                p = ev.path(node.value)
                if p is not None:
                    ev.aliases[node.targets[0].id] = p
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                p = ev.path(node.value)
                if p is not None:
                    ev.aliases[node.target.id] = p
    skip: set[int] = set()
    for node in body_nodes:
        if id(node) in skip or not isinstance(node, ast.expr):
            continue
        p = ev.path(node)
        if p is not None:
            for sub in ast.walk(node):
                skip.add(id(sub))
            if p:
                out.append(p)
            continue
        # helpers defined at module level, called with a path below model_dir
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in funcs and depth < 3:
            helper = funcs[node.func.id]
            params = _fn_params(helper)  # type: ignore[arg-type]
            sub_alias: dict[str, list[str]] = {}
            for i, a in enumerate(node.args[: len(params)]):
                ap = ev.path(a)
                if ap is not None:
                    sub_alias[params[i]] = ap
            for kw in node.keywords:
                if kw.arg in params:
                    ap = ev.path(kw.value)
                    if ap is not None:
                        sub_alias[kw.arg] = ap
            if sub_alias:
                _paths_in_function(helper, sub_alias, consts, funcs, depth + 1, out)


def loaded_model_files(folder: Any) -> list[str]:
    """File names (relative to model_dir, posix) that model_fn loads, from string literals only."""
    info = entry_point(folder)
    if info is None or info.tree is None:
        return []
    return _loaded(info.tree)


def _loaded(tree: ast.Module) -> list[str]:
    defs = _module_defs(tree)
    fn = defs.get("model_fn")
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    params = _fn_params(fn)
    if not params:
        return []
    consts = _const_strings(tree)
    funcs = {n: d for n, d in defs.items() if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) and n != "model_fn"}
    out: list[list[str]] = []
    _paths_in_function(fn, {params[0]: []}, consts, funcs, 0, out)
    names = []
    for p in out:
        s = "/".join(p)
        if s and s not in names:
            names.append(s)
    # keep leaves only: 'sub' is dropped when 'sub/m.pkl' is there
    return [n for n in names if not any(o != n and o.startswith(n + "/") for o in names)]


# ----------------------------------------------------------------------------- checks

def _aws_only(t: Any, check: str) -> Outcome | None:
    if t.platform == "gcp":
        return skipped(f"does not apply to GCP: {check} checks the SageMaker entry-point script; GCP's prebuilt "
                       "scikit-learn containers load model.joblib/model.pkl themselves")
    return needs_folder(t)


def _count_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    return len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + (1 if a.vararg else 0) + (1 if a.kwarg else 0)


def _sig_problem(name: str, fn: ast.AST) -> str | None:
    want = HANDLERS[name]
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None   # bound by import/assignment: cannot tell statically
    if isinstance(fn, ast.AsyncFunctionDef):
        return f"{name} (line {fn.lineno}) is `async def`: the container calls it synchronously, use plain `def`"
    n = _count_params(fn)
    a = fn.args
    if n in (want, want + 1):
        if n == want + 1:
            last = (a.posonlyargs + a.args + a.kwonlyargs)[-1:] if not (a.vararg or a.kwarg) else []
            # the toolkit passes the context as the extra argument; old sagemaker-containers do not,
            # so the extra parameter must be named context or have a default
            required = len(a.posonlyargs + a.args) - len(a.defaults)
            if last and last[0].arg != "context" and required > want:
                return (f"{name} (line {fn.lineno}) takes {n} parameters: the container calls "
                        f"{HANDLER_SIGS[name]} (plus an optional `context`); remove the extra parameter or give it a default")
        return None
    return (f"{name} (line {fn.lineno}) takes {n} parameters but the container calls {HANDLER_SIGS[name]}"
            f" (optionally with one more, `context`): change it to `def {HANDLER_SIGS[name]}:`")


@guarded
def entry_point_model_fn(t: Any) -> Outcome:
    o = _aws_only(t, "entry_point.model_fn")
    if o:
        return o
    folder = t.folder
    info = entry_point(folder)
    lbl = folder_label(t)
    if info is None:
        return failed(f"no entry-point script in {lbl}: add {lbl}inference.py defining `def model_fn(model_dir):` "
                      "(load and return your model) and pass entry_point=\"inference.py\" to SKLearnModel")
    path = f"{folder.rel}/{info.rel}"
    if info.how == "declared":
        return failed(f"{info.declared_missing} but {lbl} has no such file: add the script (with "
                      "`def model_fn(model_dir):`) or fix the entry_point name")
    if info.notebook:
        return failed(f"model_fn is only defined in the notebook {path}: SageMaker needs a .py entry point; copy "
                      f"model_fn (and any input_fn/predict_fn/output_fn) into {lbl}inference.py and pass "
                      "entry_point=\"inference.py\"", entry_point=info.rel, how=info.how)
    if info.syntax_error:
        msg, line = info.syntax_error
        return failed(f"{path} line {line}: {msg}; fix it: the container imports this file before serving "
                      "(run `python -m py_compile` on it to check)", entry_point=info.rel, line=line)
    assert info.tree is not None
    defs = _module_defs(info.tree)
    via = f" (found via {info.how})" if info.how else ""
    note = ""
    if info.declared_missing:
        note = f"; note: {info.declared_missing} does not exist in {lbl}"
    if "model_fn" not in defs:
        hidden = _hidden_defs(info.tree, "model_fn")
        where = f" (it is defined {hidden[0]}, where the container cannot see it: move it to module level)" if hidden else ""
        return failed(f"{path} has no model_fn(model_dir){where}: the SageMaker scikit-learn container needs it to "
                      "load your model — add `def model_fn(model_dir): return joblib.load(os.path.join(model_dir, "
                      f"\"model.joblib\"))`{note}", entry_point=info.rel)
    problems = []
    for name in HANDLERS:
        if name in defs:
            p = _sig_problem(name, defs[name])
            if p:
                problems.append(p)
    present = [n for n in ("input_fn", "predict_fn", "output_fn") if n in defs]
    if "transform_fn" in defs and present:
        problems.append(f"transform_fn is defined together with {', '.join(present)}: the container rejects this "
                        "(\"Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn\"); "
                        "keep either transform_fn or the input_fn/predict_fn/output_fn trio")
    if problems:
        return failed(f"{path}: " + "; ".join(problems) + note, entry_point=info.rel)
    fn = defs["model_fn"]
    line = getattr(fn, "lineno", None)
    extra = [n for n in ("input_fn", "predict_fn", "output_fn", "transform_fn") if n in defs]
    tail = f"; {'/'.join(extra)} signatures OK" if extra else ""
    return passed(f"{path} defines model_fn(model_dir) (line {line}){tail}{via}{note}",
                  entry_point=info.rel, handlers=["model_fn"] + extra, how=info.how)


# ------------------------------------------------------------------------------ imports

# Import names available in the SageMaker scikit-learn serving image, from
# aws/sagemaker-scikit-learn-container requirements.txt (boto3, botocore, cryptography, Flask,
# itsdangerous, gunicorn, model-archiver, multi-model-server, numpy, pandas, protobuf, psutil,
# python-dateutil, retrying, sagemaker-containers, sagemaker-inference, sagemaker-training,
# scikit-learn, scipy, six, jinja2, MarkupSafe, Werkzeug) and docker/<ver>/base/Dockerfile.cpu
# (conda python with pyarrow and mlio; scikit-learn pulls joblib and threadpoolctl; the conda base
# brings requests/urllib3/certifi/idna/setuptools/packaging/tqdm).
IMAGE_MODULES = {
    "sklearn", "numpy", "scipy", "pandas", "joblib", "threadpoolctl", "boto3", "botocore", "s3transfer",
    "jmespath", "sagemaker_containers", "sagemaker_inference", "sagemaker_training", "sagemaker_sklearn_container",
    "flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "gunicorn", "six", "dateutil", "pytz",
    "psutil", "retrying", "google", "cryptography", "mlio", "pyarrow", "urllib3", "requests", "certifi", "idna",
    "charset_normalizer", "chardet", "setuptools", "pkg_resources", "packaging", "tqdm", "pip", "wheel",
    "mms", "model_archiver", "typing_extensions", "tzdata",
}

# import name -> distribution names that provide it (for requirements.txt matching)
IMPORT_TO_DIST = {
    "sklearn": ["scikit-learn", "sklearn"], "cv2": ["opencv-python", "opencv-python-headless",
    "opencv-contrib-python", "opencv-contrib-python-headless"], "PIL": ["pillow"], "yaml": ["pyyaml"],
    "skimage": ["scikit-image"], "bs4": ["beautifulsoup4"], "dateutil": ["python-dateutil"],
    "dotenv": ["python-dotenv"], "imblearn": ["imbalanced-learn"], "category_encoders": ["category-encoders"],
    "xgboost": ["xgboost"], "lightgbm": ["lightgbm"], "catboost": ["catboost"], "tensorflow": ["tensorflow",
    "tensorflow-cpu"], "torch": ["torch"], "keras": ["keras", "tensorflow"], "statsmodels": ["statsmodels"],
    "sagemaker": ["sagemaker"], "attr": ["attrs"], "Crypto": ["pycryptodome"], "jwt": ["pyjwt"],
    "google": ["protobuf", "google-cloud-storage", "google-auth"], "nltk": ["nltk"], "gensim": ["gensim"],
    "sentence_transformers": ["sentence-transformers"], "transformers": ["transformers"],
    "mlflow": ["mlflow"], "shap": ["shap"], "matplotlib": ["matplotlib"], "seaborn": ["seaborn"],
    "pydantic": ["pydantic"], "fastapi": ["fastapi"], "sqlalchemy": ["sqlalchemy"], "tabulate": ["tabulate"],
    "umap": ["umap-learn"], "hdbscan": ["hdbscan"], "Levenshtein": ["python-levenshtein", "levenshtein"],
    "fitz": ["pymupdf"], "docx": ["python-docx"], "magic": ["python-magic"], "serial": ["pyserial"],
}


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(text: str) -> set[str]:
    """Canonical distribution names listed in a requirements.txt (options, URLs, comments skipped)."""
    from packaging.requirements import InvalidRequirement, Requirement
    names: set[str] = set()
    for raw in text.split("\n"):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http:", "https:", "file:")):
            m = re.search(r"#egg=([\w.-]+)", raw)
            if m:
                names.add(_canon(m.group(1)))
            continue
        try:
            names.add(_canon(Requirement(line).name))
        except InvalidRequirement:
            m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if m:
                names.add(_canon(m.group(0)))
    return names


@dataclass
class ImportUse:
    module: str        # top-level module
    full: str          # dotted name as written
    line: int


def imports_of(tree: ast.AST) -> list[ImportUse]:
    out: list[ImportUse] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append(ImportUse(a.name.split(".")[0], a.name, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                out.append(ImportUse(node.module.split(".")[0], f"{node.module}.{a.name}", node.lineno))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            name = node.args[0].value
            out.append(ImportUse(name.split(".")[0], name, node.lineno))
    return out


def _local_modules(folder: Any, info: EntryPointInfo) -> set[str]:
    mods: set[str] = set()
    for f in folder.files:
        p = PurePosixPath(f)
        if p.suffix == ".py":
            mods.add(p.stem)
            if p.name == "__init__.py" and len(p.parts) >= 2:
                mods.add(p.parts[-2])
        for part in p.parts[:-1]:
            mods.add(part)           # namespace packages / folders of modules
    return mods


def _requirements(folder: Any, info: EntryPointInfo) -> tuple[str | None, set[str]]:
    ep_dir = str(PurePosixPath(info.rel).parent)
    dirs = []
    if info.source_dir:
        dirs.append(info.source_dir)
    dirs.append("" if ep_dir == "." else ep_dir)
    for d in dirs:
        rel = f"{d}/requirements.txt" if d else "requirements.txt"
        if rel in set(folder.files):
            tf = read_text(folder, rel, limit=200_000)
            if not tf.problem:
                return rel, requirement_names(tf.text)
    return None, set()


# APIs the lab's original text used that current images no longer have (reported as notes).
REMOVED_APIS = {
    "as_matrix": "DataFrame.as_matrix() was removed in pandas 1.0: use .to_numpy()",
    "get_value": "DataFrame.get_value() was removed in pandas 1.0: use .at[...]",
    "ix": None,   # attribute, handled below
}


def removed_api_notes(tree: ast.AST, path: str) -> list[str]:
    notes: list[str] = []
    seen: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            msg = REMOVED_APIS.get(name)
            if msg and name not in seen:
                seen.add(name)
                notes.append(f"{path} line {node.lineno}: {msg}")
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "ix" \
                and "ix" not in seen:
            seen.add("ix")
            notes.append(f"{path} line {node.lineno}: DataFrame.ix was removed in pandas 1.0: use .loc/.iloc")
    return notes


@guarded
def entry_point_imports(t: Any) -> Outcome:
    o = _aws_only(t, "entry_point.imports")
    if o:
        return o
    folder = t.folder
    info = entry_point(folder)
    if info is None or info.how == "declared":
        return failed("entry_point.imports needs an entry-point script (entry_point.model_fn failed): add "
                      f"{folder_label(t)}inference.py")
    path = f"{folder.rel}/{info.rel}"
    if info.tree is None:
        if info.syntax_error:
            return failed(f"cannot check the imports of {path}: line {info.syntax_error[1]}: {info.syntax_error[0]}; "
                          "fix the syntax error first", entry_point=info.rel)
        return failed(f"cannot parse {path}; fix it so Python can import it", entry_point=info.rel)
    uses = imports_of(info.tree)
    problems: list[str] = []
    for u in uses:
        if u.full.startswith("sklearn.externals.joblib") or u.full == "sklearn.externals.joblib" or \
                (u.full.startswith("sklearn.externals") and u.full.endswith(".joblib")):
            problems.append(f"{path} line {u.line} imports joblib from sklearn.externals, which was removed in "
                            "scikit-learn 0.23: use `import joblib` instead")
    req_rel, req = _requirements(folder, info)
    local = _local_modules(folder, info)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    missing: dict[str, ImportUse] = {}
    for u in uses:
        m = u.module
        if m in stdlib or m in IMAGE_MODULES or m in local or m.startswith("_"):
            continue
        dists = IMPORT_TO_DIST.get(m, [m])
        if req and any(_canon(d) in req for d in dists + [m]):
            continue
        missing.setdefault(m, u)
    if missing:
        ep_dir = str(PurePosixPath(path).parent)
        target = f"{ep_dir}/requirements.txt" if not req_rel else f"{folder.rel}/{req_rel}"
        names = ", ".join(f"{m} (line {u.line})" for m, u in missing.items())
        dist_list = " ".join(IMPORT_TO_DIST.get(m, [m])[0] for m in missing)
        sd = "" if info.source_dir else " and pass source_dir= to SKLearnModel so it is uploaded"
        problems.append(f"{path} imports {names}, which the SageMaker scikit-learn image does not have: add "
                        f"`{dist_list}` to {target}{sd}")
    notes = removed_api_notes(info.tree, path)
    if problems:
        return failed("; ".join(problems + notes), entry_point=info.rel, missing=sorted(missing))
    extra = "".join(f"; note: {n}" for n in notes)
    local_used = sorted({u.module for u in uses if u.module in local and u.module not in stdlib
                         and u.module not in IMAGE_MODULES})
    if not info.source_dir and (req_rel or local_used):
        what = [f"{folder.rel}/{req_rel}"] if req_rel else []
        what += [f"your module {m}" for m in local_used]
        extra += (f" (note: {' and '.join(what)} only reach the endpoint when you pass source_dir= to "
                  "SKLearnModel; without it only the entry-point file is uploaded)")
    third = sorted({u.module for u in uses if u.module not in stdlib and u.module not in local})
    provider = "the SageMaker scikit-learn image" + (f" or {folder.rel}/{req_rel}" if req_rel else "")
    return passed(f"{path} imports only what {provider} provides"
                  + (f" ({', '.join(third)})" if third else "") + extra, entry_point=info.rel, imports=third)
