"""What an entry-point script imports, and whether the serving image or the folder provides it
(``ast`` only, never imported or executed): the image's own modules, the distributions a
``requirements.txt`` beside the script lists, the student's own modules, and APIs of the lab's
original text that current images no longer have.

Facts used (cited): aws/sagemaker-scikit-learn-container ``requirements.txt`` and
``docker/*/base/Dockerfile.cpu``: what the serving image ships (see ``IMAGE_MODULES``).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from deploycheck import files
from deploycheck.analysis.plan import archive_holds_entry

if TYPE_CHECKING:
    from deploycheck.analysis.entrypoint import EntryPointInfo
    from deploycheck.discovery import DeployFolder


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


@dataclass(frozen=True)
class Requirements:
    """A requirements.txt of the entry point's code, and whether the SageMaker SDK ships it: the
    container pip-installs the requirements.txt at the root of its code directory when it starts
    (sagemaker-containers ``_modules.install``). The SDK's code directory is ``source_dir`` (all of
    it), or the ``code/`` folder a model.tar.gz already holds, plus every ``dependencies=[...]``
    path copied into it; without ``source_dir`` only the entry-point file itself is uploaded."""
    where: str                  # "aws_deploy/src/requirements.txt", "aws_deploy/model.tar.gz: code/requirements.txt"
    names: frozenset[str]       # canonical distribution names
    shipped: bool | None        # True: installed at start; False: never reaches the endpoint; None: unknown
    how: str                    # "source_dir='src'", "code/ in model.tar.gz", "dependencies=[...]", ...

    def provides(self, module: str) -> bool:
        dists = IMPORT_TO_DIST.get(module, [module])
        return any(canon(d) in self.names for d in dists + [module])


def shipped_requirements(folder: DeployFolder, info: EntryPointInfo | None) -> tuple[Requirements, ...]:
    """The requirements.txt files of the entry point's code (use ``folder.facts.requirements``)."""
    if info is None:
        return ()
    out: list[Requirements] = []

    def add(rel: str, shipped: bool | None, how: str) -> None:
        if rel in folder.fileset and not any(r.where == f"{folder.rel}/{rel}" for r in out):
            tf = files.read_text(folder.path, rel, limit=200_000)
            if not tf.problem:
                out.append(Requirements(f"{folder.rel}/{rel}", frozenset(requirement_names(tf.text)), shipped, how))
    art = folder.facts.artifact
    if art is not None and art.code_requirements is not None:
        out.append(Requirements(f"{folder.rel}/{art.rel}: code/requirements.txt",
                                frozenset(requirement_names(art.code_requirements)), True, "code/ in the archive"))
    ep_dir = str(PurePosixPath(info.rel).parent)
    ep_dir = "" if ep_dir == "." else ep_dir
    if info.source_dir is not None:           # "" is the folder itself (source_dir=".")
        sd = info.source_dir
        add(f"{sd}/requirements.txt" if sd else "requirements.txt", True, f"source_dir='{sd or '.'}'")
    for dep in info.dependencies:
        d = dep.strip("/")
        for rel in ((d, f"{ep_dir}/{d}" if ep_dir else d) if d.endswith("requirements.txt") else
                    (f"{d}/requirements.txt",)):
            add(rel, True, "dependencies=[...]")
    # beside the entry point without source_dir: the SDK uploads the entry-point file only
    add(f"{ep_dir}/requirements.txt" if ep_dir else "requirements.txt", None if not info.declared else
        info.source_dir is not None, "beside the entry point")
    return tuple(out)


@dataclass(frozen=True)
class ShippedCode:
    """What the SageMaker SDK uploads as the entry point's code directory (``/opt/ml/code``, which the
    container puts on ``sys.path``). ``files``: (path in the deploy folder, name in the code directory)
    when it uploads a selection -- an entry point declared without ``source_dir``: the entry-point file
    and each ``dependencies=[...]`` path, all at the top of the code directory (sagemaker
    ``fw_utils.tar_and_upload_dir``: ``[script] + dependencies``, each under its base name). None when
    it uploads a whole folder: ``source_dir`` (the entry point's folder in it), or the upload is not
    known (no ``entry_point=`` found: the student may have deployed otherwise; the entry point's folder,
    the benefit of the doubt)."""
    files: tuple[tuple[str, str], ...] | None
    how: str


def shipped_code(folder: DeployFolder, info: EntryPointInfo | None) -> ShippedCode:
    """The entry point's code directory as the SDK ships it (use ``folder.facts.shipped_code``)."""
    if info is None or not info.declared:
        return ShippedCode(None, "the entry point's folder (no entry_point= found)")
    if info.source_dir is not None:
        return ShippedCode(None, f"source_dir='{info.source_dir or '.'}'")
    ep_dir = str(PurePosixPath(info.rel).parent)
    ep_dir = "" if ep_dir == "." else ep_dir
    files_: list[tuple[str, str]] = [(info.rel, PurePosixPath(info.rel).name)]
    for dep in info.dependencies:
        d = dep.strip().strip("/")
        if not d or d.startswith("..") or "/../" in f"/{d}/":
            continue
        for rel in dict.fromkeys((d, f"{ep_dir}/{d}" if ep_dir else d)):
            if rel in folder.fileset or any(f.startswith(rel + "/") for f in folder.files):
                name = PurePosixPath(rel).name
                if all(n != name for _r, n in files_):
                    files_.append((rel, name))
                break
    return ShippedCode(tuple(files_), "entry_point= without source_dir: the entry-point file"
                       + (" and dependencies=[...]" if len(files_) > 1 else "") + " only")


@dataclass(frozen=True)
class LeftBehind:
    """The student's own module beside the entry point that the SDK does not upload with it."""
    module: str                 # "features"
    rel: str                    # its file in the deploy folder: "features.py", "src/pkg/__init__.py"
    fix: str                    # what to pass: 'source_dir="src", entry_point="inference.py" (or dependencies=["src/features.py"])'
    entry_name: str             # the entry-point file the SDK uploads alone: "inference.py"


def left_behind(folder: DeployFolder, module: str) -> LeftBehind | None:
    """``module`` when it is the student's own module in the entry point's folder and never reaches the
    endpoint: the entry point is declared without ``source_dir`` (``folder.facts.shipped_code`` is a
    selection), the module is not among ``dependencies=[...]``, and the archive carries no ``code/``
    with the entry point. entry_point.imports and predict.local both ask this (one decision)."""
    info = folder.facts.entry_point
    if info is None or folder.facts.shipped_code.files is None:
        return None
    name = PurePosixPath(info.rel).name
    art = folder.facts.artifact
    if art is not None and archive_holds_entry(art.members, name):
        return None
    if module in shipped_modules(folder, info):
        return None
    ep_dir = str(PurePosixPath(info.rel).parent)
    prefix = "" if ep_dir == "." else f"{ep_dir}/"
    here = next((r for r in (f"{prefix}{module}.py", f"{prefix}{module}/__init__.py") if r in folder.fileset), None)
    if here is None:
        return None
    dep = here if here.endswith(f"{module}.py") else here.rsplit("/", 1)[0]
    kw = f'source_dir="{ep_dir}", entry_point="{name}"' if prefix else 'source_dir="."'
    return LeftBehind(module, here, f'{kw} (or dependencies=["{dep}"])', name)


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


# ---------------------------------------------------------------- the student's own shipped modules

MAX_OWN_MODULES = 50


def _module_name(rel: str) -> str | None:
    """``features.py`` -> features, ``pkg/__init__.py`` -> pkg, ``pkg/mod.py`` -> pkg.mod."""
    if not rel.endswith(".py"):
        return None
    parts = rel[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _top_level_defs(text: str) -> frozenset[str]:
    from deploycheck.analysis.sources import python_tree
    tree, _err = python_tree(text)
    if tree is None:
        return frozenset()
    return frozenset(n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)))


def shipped_modules(folder: DeployFolder, info: EntryPointInfo | None,
                    archive_code: dict[str, str] | None = None) -> dict[str, tuple[str, frozenset[str]]]:
    """The student's own modules the SageMaker SDK ships with the entry point, importable on the
    endpoint (the code directory is on sys.path): module name -> (where, the classes and functions
    it defines at top level). The code directory is ``source_dir`` when declared, else the ``code/``
    folder of model.tar.gz, else what ``folder.facts.shipped_code`` says the SDK uploads (the
    entry-point file and its ``dependencies=[...]``; the entry point's folder when no entry_point=
    was found, as predict.local serves it)."""
    out: dict[str, tuple[str, frozenset[str]]] = {}
    if archive_code:
        for rel, text in list(archive_code.items())[:MAX_OWN_MODULES]:
            name = _module_name(rel)
            if name:
                out[name] = (f"{folder.rel}/model.tar.gz: code/{rel}", _top_level_defs(text))
    if info is None or info.tree is None:
        return out
    # (path in the folder, path in the code directory) of each .py file the SDK uploads
    selection = folder.facts.shipped_code.files
    if info.source_dir is not None:
        base = info.source_dir
        pairs = [(f, f[len(base) + 1:] if base else f) for f in folder.files
                 if f.endswith(".py") and (not base or f.startswith(base + "/"))]
    elif selection is not None:               # the entry-point file and dependencies=[...], each at the top
        pairs = []
        for rel, top in selection:
            if rel in folder.fileset:
                pairs.append((rel, top))
            else:
                pairs.extend((f, top + f[len(rel):]) for f in folder.files if f.startswith(rel + "/"))
    else:                                     # no entry_point= found: the entry point's folder, as predict.local
        ep_dir = str(PurePosixPath(info.rel).parent)     # serves it (shipped_code: the benefit of the doubt)
        pre = "" if ep_dir == "." else ep_dir + "/"
        pairs = [(f, f[len(pre):]) for f in folder.files if f.endswith(".py") and f.startswith(pre)]
    for rel, inner in sorted(pairs, key=lambda p: (p[1].count("/"), p[1]))[:MAX_OWN_MODULES]:
        name = _module_name(inner)
        if not name or name in out:
            continue
        tf = files.read_text(folder.path, rel, limit=400_000)
        if not tf.problem:
            out[name] = (f"{folder.rel}/{rel}", _top_level_defs(tf.text))
    return out
