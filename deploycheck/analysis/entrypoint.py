"""Facts about the SageMaker entry-point script (``ast`` only, never imported or executed): which
file it is, its module-level handlers, the files ``model_fn`` loads, its imports and requirements.

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
import functools
import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from deploycheck import files
from deploycheck.analysis.refs import is_local_name
from deploycheck.analysis.sources import python_tree

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

SOURCE_LIMIT = 1_000_000
MAX_PY = 200
ENTRY_NAMES = ("inference.py", "predict.py", "serve.py", "entry_point.py", "serving.py", "handler.py")

# handler name -> number of parameters the toolkit passes (one more is allowed: the context)
HANDLERS = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2, "transform_fn": 4}
HANDLER_SIGS = {"model_fn": "model_fn(model_dir)", "input_fn": "input_fn(request_body, request_content_type)",
                "predict_fn": "predict_fn(input_data, model)", "output_fn": "output_fn(prediction, accept)",
                "transform_fn": "transform_fn(model, request_body, content_type, accept)"}


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

    @property
    def defs(self) -> dict[str, ast.AST]:
        return module_defs(self.tree) if self.tree is not None else {}


# ------------------------------------------------------------------------------ discovery

_EP_RX = re.compile(r"\bentry_point\s*=\s*[\"']([^\"'\n]+)[\"']")
_SD_RX = re.compile(r"\bsource_dir\s*=\s*[\"']([^\"'\n]+)[\"']")
_DEF_MODEL_FN_RX = re.compile(r"^\s*(?:async\s+)?def\s+model_fn\s*\(", re.M)


@dataclass(frozen=True)
class Declared:
    """One ``entry_point=`` keyword in the README, a script or a notebook."""
    name: str
    source_dir: str | None
    where: str
    constructor: str            # "SKLearnModel", "SKLearn", "PyTorchModel", "" when not found

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
        texts.append((info.text, lambda ln: f"{info.path} line {ln}"))
    for src in folder.facts.scripts:
        if src.lang == "python":
            texts.append((src.text, functools.partial(src.where, folder.rel)))
    for text, where in texts:
        for m in _EP_RX.finditer(text):
            # source_dir in the same call: look a few lines around the entry_point= keyword
            window = text[max(0, m.start() - 600): m.end() + 600]
            sd = _SD_RX.search(window)
            out.append(Declared(m.group(1).strip(), sd.group(1).strip() if sd else None,
                                where(text.count("\n", 0, m.start()) + 1), _constructor_before(text, m.start())))
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
                           constructor=d.constructor, framework=d.framework)
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

# Other SageMaker framework images add their framework (sagemaker-pytorch-inference-toolkit,
# sagemaker-tensorflow-serving-container, sagemaker-xgboost-container, huggingface DLCs).
_FRAMEWORK_MODULES = {
    "pytorch": ("the SageMaker PyTorch image", {"torch", "torchvision", "torchaudio", "sagemaker_pytorch_serving_container"}),
    "tensorflow": ("the SageMaker TensorFlow image", {"tensorflow", "keras", "tensorflow_serving", "tensorboard"}),
    "xgboost": ("the SageMaker XGBoost image", {"xgboost", "sagemaker_xgboost_container"}),
    "huggingface": ("the SageMaker Hugging Face image", {"transformers", "torch", "datasets", "tokenizers",
                                                         "accelerate", "sagemaker_huggingface_inference_toolkit"}),
}


def image_of(framework: str) -> tuple[str, frozenset[str]]:
    """(name, import names available) of the serving image a folder deploys with."""
    name, extra = _FRAMEWORK_MODULES.get(framework, ("the SageMaker scikit-learn image", set()))
    return name, frozenset(IMAGE_MODULES | extra)


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


def canon(name: str) -> str:
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
                names.add(canon(m.group(1)))
            continue
        try:
            names.add(canon(Requirement(line).name))
        except InvalidRequirement:
            m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if m:
                names.add(canon(m.group(0)))
    return names


@dataclass(frozen=True)
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


def local_modules(folder: DeployFolder) -> set[str]:
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


def requirements(folder: DeployFolder, info: EntryPointInfo) -> tuple[str | None, set[str]]:
    ep_dir = str(PurePosixPath(info.rel).parent)
    dirs = []
    if info.source_dir:
        dirs.append(info.source_dir)
    dirs.append("" if ep_dir == "." else ep_dir)
    for d in dirs:
        rel = f"{d}/requirements.txt" if d else "requirements.txt"
        if rel in folder.fileset:
            tf = files.read_text(folder.path, rel, limit=200_000)
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




# ------------------------------------------------------------------------- undefined names

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
