"""The handlers the SageMaker container calls in an entry-point script (``ast`` and pyflakes only,
never imported or executed): which names the script binds at module level, where a handler hides
where the container cannot see it, whether each handler can be called the way the serving code calls
it (:func:`signature_problem`), and which names it uses without defining them.

Facts used (cited):
- sagemaker-containers 2.8.6.post2 (what every scikit-learn image serves single-model endpoints
  with), ``sagemaker_containers/_transformer.py``: the user module's handlers are looked up by name
  (so only module-level names count) and called by position, with no ``context``:
  ``model_fn(model_dir)``, ``input_fn(content, content_type)``, ``predict_fn(data, model)``,
  ``output_fn(prediction, accept)``, ``transform_fn(model, content, content_type, accept)``;
  ``transform_fn`` together with any of input/predict/output_fn raises "Cannot use transform_fn
  implementation with input_fn, predict_fn, and/or output_fn".
- aws/sagemaker-inference-toolkit ``transformer.py`` (multi-model endpoints only) passes one more
  argument, the request ``context``, to a handler that takes one more parameter: a ``context``
  parameter is fine when it has a default (``context=None``), and a TypeError on the lab's
  single-model endpoints when it has none.
- aws/sagemaker-scikit-learn-container ``serving.py``: the default ``model_fn`` raises
  ("Please provide a model_fn implementation").
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable

# handler name -> number of arguments the serving code passes, by position
HANDLERS = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2, "transform_fn": 4}
HANDLER_SIGS = {"model_fn": "model_fn(model_dir)", "input_fn": "input_fn(request_body, request_content_type)",
                "predict_fn": "predict_fn(input_data, model)", "output_fn": "output_fn(prediction, accept)",
                "transform_fn": "transform_fn(model, request_body, content_type, accept)"}


def module_defs(tree: ast.Module) -> dict[str, ast.AST]:
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


def hidden_defs(tree: ast.Module, name: str) -> list[str]:
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


@dataclass(frozen=True)
class Undefined:
    name: str
    line: int
    scope: str              # "module" | "<function name>"
    runs_at_serving: bool   # module level, a handler, or a function a handler calls by name


def undefined_names(tree: ast.Module, filename: str = "entry point") -> tuple[Undefined, ...]:
    """Names the script uses but never defines or imports (pyflakes), each with where it is used and
    whether the serving container would reach it (module level runs at import; handlers run)."""
    from pyflakes import checker as pyflakes_checker
    from pyflakes.messages import UndefinedName
    try:
        msgs = [m for m in pyflakes_checker.Checker(tree, filename=filename).messages if isinstance(m, UndefinedName)]
    except (RecursionError, MemoryError, ValueError):
        return ()
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    reached = {f.name for f in funcs if f.name in HANDLERS}
    for f in funcs:
        if f.name in HANDLERS:
            reached |= {c.func.id for c in ast.walk(f) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    out: list[Undefined] = []
    for m in msgs:
        owner = next((f.name for f in funcs if f.lineno <= m.lineno <= (f.end_lineno or f.lineno)), None)
        out.append(Undefined(str(m.message_args[0]), m.lineno, owner or "module", owner is None or owner in reached))
    return tuple(out)


# ---------------------------------------------------------------------------- signatures

def _is_model(n: str) -> bool:
    return n in ("clf", "estimator", "classifier", "regressor", "pipeline", "pipe", "predictor", "mdl", "m",
                 "reg", "knn", "svm", "rf", "xgb", "lr", "forest", "booster") or \
        ("model" in n and not any(w in n for w in ("dir", "path", "file", "name", "input", "data")))


def _is_type(n: str) -> bool:
    return "content_type" in n or "contenttype" in n or "accept" in n or "mime" in n or \
        n in ("ctype", "media_type", "request_type", "response_type", "format", "fmt")


def _is_accept(n: str) -> bool:
    return "accept" in n or n in ("response_content_type", "response_type", "output_content_type")


def _is_content_type(n: str) -> bool:
    return _is_type(n) and not _is_accept(n)


def _is_data(n: str) -> bool:
    return n in ("x", "data", "input", "inputs", "input_data", "request_body", "body", "payload", "request",
                 "content", "features", "instances", "input_object", "serialized_input_data", "request_data",
                 "prediction", "predictions", "pred", "preds", "y_pred", "output", "result", "results") or \
        (("data" in n or "body" in n or "input" in n) and not _is_type(n) and not _is_model(n))


# per handler: (what the serving code passes at each position, the test a parameter name for it passes)
_POSITIONS: dict[str, tuple[tuple[str, Callable[[str], bool]], ...]] = {
    "input_fn": (("the request body", _is_data), ("the content type", _is_content_type)),
    "predict_fn": (("the input data", _is_data), ("the model", _is_model)),
    "output_fn": (("the prediction", _is_data), ("the Accept type", _is_type)),
    "transform_fn": (("the model", _is_model), ("the request body", _is_data), ("the content type", _is_content_type),
                     ("the Accept type", _is_accept)),
}


def _swapped(name: str, params: list[str]) -> str | None:
    """The first parameter whose name says it expects what the serving code passes at another
    position (``predict_fn(model, input_data)``: ``model`` receives the input data)."""
    positions = _POSITIONS.get(name)
    if not positions:
        return None
    for i, p in enumerate(params[: len(positions)]):
        low = p.lower().lstrip("_")
        what, own = positions[i]
        if own(low):
            continue
        if any(test(low) for j, (_other, test) in enumerate(positions) if j != i):
            return (f"the container calls {HANDLER_SIGS[name]} by position, so `{p}` (parameter {i + 1}) "
                    f"receives {what}")
    return None


def signature_problem(name: str, fn: ast.AST) -> str | None:
    """Why the serving code cannot call handler ``name`` as defined by ``fn`` (its call is
    positional, see the module doc), or None. Handlers bound by assignment or import: None (not
    known statically)."""
    want = HANDLERS[name]
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    line = f"{name} (line {fn.lineno})"
    if isinstance(fn, ast.AsyncFunctionDef):
        return f"{line} is `async def`: the container calls it synchronously, use plain `def`"
    a = fn.args
    positional = [x.arg for x in a.posonlyargs + a.args]
    required = len(positional) - len(a.defaults)
    kw_required = [x.arg for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
    fix = f"change it to `def {HANDLER_SIGS[name]}:`"
    total = len(positional) + len(a.kwonlyargs) + (1 if a.vararg else 0) + (1 if a.kwarg else 0)
    if kw_required:
        return (f"{line} has the keyword-only parameter `{kw_required[0]}`, which the container never passes: "
                f"{fix}")
    if required > want:
        extra = positional[want:required]
        if extra == ["context"] or (len(extra) == 1 and required == want + 1 and extra[0].lower() == "context"):
            return (f"{line} requires `context`, which the SageMaker scikit-learn container does not pass "
                    f"(it calls {HANDLER_SIGS[name]}): give it a default, `context=None`, or remove it")
        return (f"{line} takes {total} parameters but the container calls {HANDLER_SIGS[name]}"
                f" (a further parameter needs a default): {fix}")
    if len(positional) < want and not a.vararg:
        return f"{line} takes {total} parameters but the container calls {HANDLER_SIGS[name]}: {fix}"
    swapped = _swapped(name, positional)
    if swapped:
        return f"{line}: {swapped}; put the parameters in the container's order, `def {HANDLER_SIGS[name]}:`"
    return None
