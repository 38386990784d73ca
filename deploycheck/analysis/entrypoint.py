"""Which file is the SageMaker entry-point script of a deploy folder (``ast`` only, never imported or
executed): the serving model's ``entry_point=`` (and the SDK class it is a keyword of), else the
``.py`` defining ``model_fn``, else a training estimator's script, a conventional name or a notebook.
:class:`EntryPointInfo` carries the script's source and tree for the facts about it:
:mod:`deploycheck.analysis.handlers` (the handlers the container calls),
:mod:`deploycheck.analysis.model_fn_paths` (the files ``model_fn`` loads) and
:mod:`deploycheck.analysis.imports` (its imports and requirements).
"""
from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Callable

from deploycheck import files
from deploycheck.analysis.handlers import module_defs
from deploycheck.analysis.refs import is_local_name
from deploycheck.analysis.sources import python_tree

if TYPE_CHECKING:
    from deploycheck.analysis.imports import ImportUse
    from deploycheck.discovery import DeployFolder

SOURCE_LIMIT = 1_000_000
MAX_PY = 200
ENTRY_NAMES = ("inference.py", "predict.py", "serve.py", "entry_point.py", "serving.py", "handler.py")


@dataclass(frozen=True)
class EntryPointInfo:
    rel: str                               # relative to the deploy folder (notebook path for notebooks)
    source: str = ""
    tree: ast.Module | None = None
    syntax_error: tuple[str, int] | None = None
    how: str = ""                          # 'entry_point= in README line N' | 'only .py defining model_fn' | ...
    source_dir: str | None = None          # relative to the folder, when declared
    notebook: bool = False
    declared_missing: str | None = None    # entry_point= of the serving model names a file that is not there
    constructor: str = ""                  # the SDK class whose entry_point= named it ("SKLearnModel")
    framework: str = "sklearn"             # serving image family: sklearn | pytorch | tensorflow | xgboost | ...
    dependencies: tuple[str, ...] = ()     # dependencies=[...] of that call (copied into the code directory)

    @property
    def declared(self) -> bool:
        """Found through an ``entry_point=`` keyword (so its source_dir/dependencies are known)."""
        return self.how.startswith("entry_point=")

    @property
    def defs(self) -> dict[str, ast.AST]:
        return module_defs(self.tree) if self.tree is not None else {}

    @functools.cached_property
    def imports(self) -> tuple[ImportUse, ...]:
        """What the script imports (``ast`` only), found once: entry_point.imports and the serving
        job's on-demand preloads both read it."""
        from deploycheck.analysis.imports import imports_of
        return tuple(imports_of(self.tree)) if self.tree is not None else ()


# ------------------------------------------------------------------------------ discovery

_EP_RX = re.compile(r"\bentry_point\s*=\s*[\"']([^\"'\n]+)[\"']")
_SD_RX = re.compile(r"\bsource_dir\s*=\s*[\"']([^\"'\n]+)[\"']")
_DEPS_RX = re.compile(r"\bdependencies\s*=\s*\[([^\]]{0,1000})\]")
_DEF_MODEL_FN_RX = re.compile(r"^\s*(?:async\s+)?def\s+model_fn\s*\(", re.M)


@dataclass(frozen=True)
class Declared:
    """One ``entry_point=`` keyword in the README, a script or a notebook."""
    name: str
    source_dir: str | None
    where: str
    constructor: str            # "SKLearnModel", "SKLearn", "PyTorchModel", "" when not found
    dependencies: tuple[str, ...] = ()

    @property
    def serving(self) -> bool:
        """A model class (serves) rather than an estimator (trains; serves only via estimator.deploy())."""
        return self.constructor.endswith("Model") or self.constructor == ""

    @property
    def framework(self) -> str:
        return framework_of(self.constructor)


FRAMEWORKS = {"sklearn": "sklearn", "pytorch": "pytorch", "tensorflow": "tensorflow", "xgboost": "xgboost",
              "huggingface": "huggingface", "mxnet": "mxnet", "chainer": "chainer"}


def framework_of(constructor: str) -> str:
    low = constructor.lower()
    for key, fw in FRAMEWORKS.items():
        if low.startswith(key):
            return fw
    return "sklearn" if low in ("", "model", "estimator") else "other"


def _constructor_before(text: str, pos: int) -> str:
    """The class whose call contains the keyword at ``pos`` (the innermost ``Name(`` still open)."""
    window = text[max(0, pos - 1500):pos]
    depth = 0
    for i in range(len(window) - 1, -1, -1):
        ch = window[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                m = re.search(r"([A-Za-z_][A-Za-z0-9_.]*)\s*$", window[:i])
                return m.group(1).rsplit(".", 1)[-1] if m else ""
            depth -= 1
    return ""


def declared_entry_points(folder: DeployFolder) -> list[Declared]:
    """Every ``entry_point=`` declared in the README, scripts or notebooks, in reading order."""
    out: list[Declared] = []
    info = folder.facts.readme
    texts: list[tuple[str, Callable[[int], str]]] = []
    if info is not None and not info.problem:
        texts.append((info.text, info.where))
    for src in folder.facts.scripts:
        if src.lang == "python":
            texts.append((src.text, functools.partial(src.where, folder.rel)))
    for text, where in texts:
        for m in _EP_RX.finditer(text):
            # source_dir in the same call: look a few lines around the entry_point= keyword
            window = text[max(0, m.start() - 600): m.end() + 600]
            sd = _SD_RX.search(window)
            deps = _DEPS_RX.search(window)
            listed = tuple(x for x in re.findall(r"[\"']([^\"'\n]+)[\"']", deps.group(1))) if deps else ()
            out.append(Declared(m.group(1).strip(), sd.group(1).strip() if sd else None,
                                where(text.count("\n", 0, m.start()) + 1), _constructor_before(text, m.start()),
                                listed))
    return out


def norm_path(rel: str) -> str:
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


def _parse(folder: DeployFolder, rel: str, how: str = "", source_dir: str | None = None) -> EntryPointInfo:
    tf = files.read_text(folder.path, rel, limit=SOURCE_LIMIT)
    if tf.problem:
        return EntryPointInfo(rel, how=how, source_dir=source_dir, syntax_error=(f"cannot be read: {tf.problem}", 1))
    tree, err = python_tree(tf.text, rel)
    return EntryPointInfo(rel, tf.text, tree, err, how, source_dir)


def _resolve(folder: DeployFolder, d: Declared) -> str | None:
    """The listed file a declaration names (source_dir-relative first), or None."""
    if not is_local_name(d.name):
        return None
    sd = d.source_dir
    cands = [norm_path(f"{sd}/{d.name}")] if sd and not sd.startswith(("/", "s3:", "~")) else []
    cands += [norm_path(d.name), norm_path(d.name).rsplit("/", 1)[-1]]
    return next((c for c in cands if c in folder.fileset), None)


def find_entry_point(folder: DeployFolder) -> EntryPointInfo | None:
    """The SageMaker entry-point script of a deploy folder (use ``folder.facts.entry_point``).

    The serving model's ``entry_point=`` (``SKLearnModel(...)``, ``Model(...)``) wins over a training
    estimator's (``SKLearn(entry_point="train.py")``); a serving declaration naming a file that is not
    there is recorded as ``declared_missing`` (entry_point.model_fn fails on it)."""
    declared = [d for d in declared_entry_points(folder) if is_local_name(d.name)]
    serving = [d for d in declared if d.serving]
    for d in serving:
        rel = _resolve(folder, d)
        if rel is not None:
            return replace(_parse(folder, rel, f"entry_point= of {d.constructor or 'the model'} in {d.where}",
                                  norm_path(d.source_dir) if d.source_dir else None),
                           constructor=d.constructor, framework=d.framework, dependencies=d.dependencies)
    missing = serving[0] if serving else None
    declared_missing = f"{missing.name} (entry_point= of {missing.constructor or 'the model'} in {missing.where})" \
        if missing else None
    framework = missing.framework if missing else (declared[0].framework if declared else "sklearn")
    py = [f for f in sorted(folder.files, key=lambda f: (f.count("/"), f)) if f.lower().endswith(".py")][:MAX_PY]
    # the .py files defining model_fn at module level (a regex first: most files are never parsed)
    defining: list[EntryPointInfo] = []
    for rel in py:
        raw = folder.read_bytes(rel, SOURCE_LIMIT) or b""
        if not _DEF_MODEL_FN_RX.search(raw.decode("utf-8", "replace")):
            continue
        info = _parse(folder, rel)
        if info.tree is None or "model_fn" in module_defs(info.tree):
            defining.append(info)
    training = {r for d in declared if not d.serving and (r := _resolve(folder, d)) is not None}
    if defining:
        named = [i for i in defining if i.rel in training] or \
            [i for i in defining if i.rel.rsplit("/", 1)[-1].lower() in ENTRY_NAMES]
        how = ("only .py defining model_fn" if len(defining) == 1 else
               f"one of {len(defining)} .py files defining model_fn ({', '.join(i.rel for i in defining[:4])})")
        return replace((named or defining)[0], how=how, declared_missing=declared_missing, framework=framework)
    # an estimator's script serves too when the student deploys the estimator itself
    for d in declared:
        rel = _resolve(folder, d)
        if rel is not None and not d.serving and missing is None:
            return replace(_parse(folder, rel, f"entry_point= of {d.constructor} in {d.where}",
                                  norm_path(d.source_dir) if d.source_dir else None),
                           constructor=d.constructor, framework=d.framework)
    # conventional names
    for rel in py:
        if rel.rsplit("/", 1)[-1].lower() in ENTRY_NAMES:
            return replace(_parse(folder, rel, f"named {rel.rsplit('/', 1)[-1]}"), declared_missing=declared_missing,
                           framework=framework)
    # notebooks that define model_fn
    cells: dict[str, list[str]] = {}
    for src in folder.facts.scripts:
        if src.lang == "python" and src.rel.lower().endswith(".ipynb"):
            cells.setdefault(src.rel, []).append(src.text)
    for rel, codes in cells.items():
        if any(_DEF_MODEL_FN_RX.search(code) for code in codes):
            source = "\n\n".join(codes)
            tree, _err = python_tree(source, rel)
            return EntryPointInfo(rel, source, tree, None, "notebook", notebook=True, declared_missing=declared_missing,
                                  framework=framework)
    if missing is not None:
        return EntryPointInfo(rel=norm_path(missing.name), how="declared", declared_missing=declared_missing,
                              constructor=missing.constructor, framework=framework)
    return None
