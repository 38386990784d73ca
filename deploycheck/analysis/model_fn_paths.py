"""The files ``model_fn`` loads, relative to ``model_dir`` (``ast`` only, never imported or executed):
paths built from ``model_dir`` with ``os.path.join``, ``/``, ``+``, ``%``, ``format`` and f-strings,
through local aliases, module-level string constants and module-level helpers it calls (string
literals only; anything computed at run time is not followed).
"""
from __future__ import annotations

import ast
import re
from typing import Mapping, Sequence

from deploycheck.analysis.handlers import module_defs


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

    def _joined(self, first: ast.AST, rest: Sequence[ast.AST]) -> list[str] | None:
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
                lits = [x for x in (self.lit(o) for o in ops) if x is not None]
                if len(lits) != len(ops):
                    return None
                tail = "".join(lits)
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


_Def = ast.FunctionDef | ast.AsyncFunctionDef


def _paths_in_function(fn: _Def, aliases: dict[str, list[str]], consts: dict[str, str],
                       funcs: Mapping[str, _Def], depth: int, out: list[list[str]]) -> None:
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
            params = _fn_params(helper)
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


def loaded_model_files(tree: ast.Module) -> tuple[str, ...]:
    """File names (relative to model_dir, posix) that model_fn loads, from string literals only."""
    defs = module_defs(tree)
    fn = defs.get("model_fn")
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ()
    params = _fn_params(fn)
    if not params:
        return ()
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
    return tuple(n for n in names if not any(o != n and o.startswith(n + "/") for o in names))
