"""The handlers the SageMaker container calls in an entry-point script (``ast`` and pyflakes only,
never imported or executed): which names the script binds at module level, where a handler hides
where the container cannot see it, and which names it uses without defining them.

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
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

# handler name -> number of parameters the toolkit passes (one more is allowed: the context)
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
