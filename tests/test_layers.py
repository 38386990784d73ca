"""The import directions of docs/architecture.md, enforced.

Each unit of deploycheck (a subpackage, or a top-level module) has a rank in :data:`LAYERS`; a unit
imports only units of a lower rank. Every import counts: at module level, inside a function (a lazy
import is still a dependency) and under ``if TYPE_CHECKING:`` (a type is a dependency too). The
violations that exist today are listed in :data:`KNOWN_VIOLATIONS`, each with why it is wrong:
the test fails on any other, and also when a listed one has gone (remove it from the list and from
docs/architecture.md, so the list only shrinks). The same for import circles between modules
(:data:`KNOWN_CIRCLES`), counted without ``TYPE_CHECKING`` imports (those never run).
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# docs/architecture.md "Layers", lowest first: a unit imports only units above it in this list
LAYERS: tuple[tuple[str, ...], ...] = (
    ("deploycheck",),                     # the package itself: __version__ only
    ("model",),                           # typed records
    ("errors",),                          # the exception policy
    ("rubric",),                          # check ids, points, order
    ("overrides",),                       # instructor overrides
    ("settings",),                        # the run's Settings, the DEPLOYCHECK_* variables
    ("optional",),                        # which extras are installed
    ("files",),                           # the only reader of student bytes
    ("discovery",),                       # repos -> submissions -> deploy folders -> targets
    ("sandbox",),                         # runs untrusted code
    ("runtimes",),                        # the serving images and their environments
    ("analysis",),                        # facts, computed once per folder
    ("cache",),                           # the results cache (keys from facts and machine facts)
    ("serving",),                         # runs a serving plan in the sandbox
    ("cloud",),                           # real and offline clouds
    ("proof",),                           # deploycheck's own proof artefacts
    ("verdicts",),                        # facts -> outcomes
    ("classroom",),                       # rosters, clones, integrity signals
    ("report",),                          # records -> students -> gradebook files
    ("machine", "prefetch", "schedule"),  # run-wide helpers of the plugin
    ("plugin",),                          # pytest hooks and options
    ("gradecmd", "gradeinfo"),            # `deploycheck grade`, `python -m deploycheck.gradeinfo`
    ("cli",),                             # the `deploycheck` command
)
RANK = {unit: i for i, tier in enumerate(LAYERS) for unit in tier}

# (importing module, imported unit): each one wrong, each to be removed (issue 20)
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    ("deploycheck.discovery", "analysis"):
        "DeployFolder.facts / Submission.facts build the facts cache on the folder (an import circle)",
    ("deploycheck.analysis", "serving"):
        "Facts.local_run runs the serving plan in the sandbox from analysis",
    ("deploycheck.proof", "verdicts"):
        "proof.render_artefacts asks verdicts for the prediction record instead of being given it",
    ("deploycheck.verdicts.cloud", "report"):
        "cloud verdicts escape messages with report.escape.terminal",
    ("deploycheck.cache", "proof"):
        "the results cache renders and finds proof images through proof",
}

# import circles between modules (sets of modules), each to be broken (issue 20)
KNOWN_CIRCLES: dict[frozenset[str], str] = {
}


@dataclass(frozen=True)
class Import:
    importer: str        # dotted module name
    target: str          # dotted name of the deploycheck module it resolves to
    line: int
    type_only: bool


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(root: Path) -> list[Import]:
    """Every import of a deploycheck module by a module of ``root/deploycheck`` (not ``inside/``)."""
    paths = {_module_name(root, p): p for p in sorted((root / "deploycheck").rglob("*.py"))}

    def resolve(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    out: list[Import] = []
    for mod, path in paths.items():
        if mod.startswith("deploycheck.inside"):
            continue
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_bytes(), str(path))
        type_only: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                type_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                names = [f"{base}.{a.name}" for a in node.names]
            for name in names:
                target = resolve(name) if name.split(".")[0] == "deploycheck" else None
                if target and target != mod:
                    out.append(Import(mod, target, node.lineno, id(node) in type_only))
    return out


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def violations(imports: list[Import]) -> dict[tuple[str, str], list[str]]:
    """(importing module, imported unit) -> where, for every import against the layers."""
    found: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for i in imports:
        src, dst = unit_of(i.importer), unit_of(i.target)
        if src == dst:
            continue
        if src not in RANK or dst not in RANK:
            found[(i.importer, dst)].append(f"line {i.line}: {src if src not in RANK else dst} has no layer")
        elif RANK[dst] >= RANK[src]:
            found[(i.importer, dst)].append(f"line {i.line}: imports {i.target}")
    return dict(found)


def circles(imports: list[Import]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (imports that run only)."""
    graph: defaultdict[str, set[str]] = defaultdict(set)
    for i in imports:
        if not i.type_only:
            graph[i.importer].add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:          # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_unit_of_deploycheck_has_a_layer() -> None:
    units = {p.stem for p in (ROOT / "deploycheck").glob("*.py") if p.stem != "__init__"}
    units |= {p.name for p in (ROOT / "deploycheck").iterdir() if (p / "__init__.py").is_file()}
    units -= {"inside"}             # runs under the serving images' Pythons: imports no deploycheck
    assert units - set(RANK) == set(), "add these to LAYERS and to docs/architecture.md"
    assert set(RANK) - units - {"deploycheck"} == set(), "gone: remove them from LAYERS"


def test_imports_follow_the_documented_direction() -> None:
    found = violations(imports_of(ROOT))
    new = {k: v for k, v in found.items() if k not in KNOWN_VIOLATIONS}
    assert not new, "imports against docs/architecture.md's layers (a lower layer imports a higher one): " + \
        "; ".join(f"{mod} -> {unit} ({', '.join(where)})" for (mod, unit), where in sorted(new.items()))
    gone = sorted(set(KNOWN_VIOLATIONS) - set(found))
    assert not gone, f"fixed: remove these from KNOWN_VIOLATIONS and docs/architecture.md: {gone}"


def test_no_new_import_circle() -> None:
    found = set(circles(imports_of(ROOT)))
    new = [sorted(c) for c in found if c not in KNOWN_CIRCLES]
    assert not new, f"import circles between modules: {new}"
    gone = [sorted(c) for c in KNOWN_CIRCLES if c not in found]
    assert not gone, f"broken (or changed): update KNOWN_CIRCLES and docs/architecture.md: {gone}"


def test_the_documented_layers_are_the_tested_ones() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    table = re.search(r"<!-- layers -->\n(.*?)<!-- /layers -->", doc, re.S)
    assert table, "docs/architecture.md lost its layer table"
    rows = [r for r in table.group(1).splitlines() if r.startswith("| ") and not r.startswith("| rank")]
    documented = tuple(tuple(re.findall(r"`([a-z_]+)`", r.split("|")[2])) for r in rows)
    assert documented == LAYERS
    for (mod, unit) in KNOWN_VIOLATIONS:
        assert f"`{mod}` → `{unit}`" in doc, f"docs/architecture.md does not list {mod} -> {unit}"


def test_checks_and_inside_import_only_what_they_may() -> None:
    # checks/ is the rubric as thin pytest tests: verdicts only; inside/ runs under the serving
    # images' Pythons, where deploycheck is not installed
    bad = []
    for p in sorted((ROOT / "checks").glob("*.py")) + sorted((ROOT / "deploycheck" / "inside").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_bytes(), str(p))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for n in names:
                allowed = "deploycheck.verdicts" if p.parent.name == "checks" else None
                if n.split(".")[0] == "deploycheck" and not (allowed and (n == allowed or n.startswith(allowed + "."))):
                    bad.append(f"{p.relative_to(ROOT)} line {node.lineno}: {n}")
    assert not bad, bad


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = tmp_path / "deploycheck" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_a_lower_layer_importing_a_higher_one_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "__init__.py": "",
        "model.py": "",
        "analysis/__init__.py": "from deploycheck.model import x\n",
        "analysis/facts.py": "def f():\n    from deploycheck.report import escape\n",        # lazy: still counts
        "analysis/types.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..verdicts import v\n",
        "report/__init__.py": "from deploycheck.analysis import facts\n",
        "verdicts/__init__.py": "",
    })
    found = violations(imports_of(root))
    assert set(found) == {("deploycheck.analysis.facts", "report"), ("deploycheck.analysis.types", "verdicts")}
    assert found[("deploycheck.analysis.facts", "report")] == ["line 2: imports deploycheck.report"]


def test_an_import_circle_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "__init__.py": "",
        "sandbox/__init__.py": "",
        "sandbox/a.py": "import deploycheck.sandbox.b\n",
        "sandbox/b.py": "def f():\n    from deploycheck.sandbox import c\n",
        "sandbox/c.py": "from deploycheck.sandbox.a import x\n",
        "sandbox/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from deploycheck.sandbox.e import T\n",
        "sandbox/e.py": "from deploycheck.sandbox import d\n",                             # type-only: no circle
    })
    assert circles(imports_of(root)) == [frozenset({"deploycheck.sandbox.a", "deploycheck.sandbox.b",
                                                    "deploycheck.sandbox.c"})]


def _environment_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, variable) of each read of a ``DEPLOYCHECK_*`` variable named by a literal:
    ``os.environ.get("DEPLOYCHECK_X")``, ``os.getenv(...)``, ``os.environ["DEPLOYCHECK_X"]`` (a read),
    ``"DEPLOYCHECK_PYTHON_" + minor``."""
    def named(node: ast.AST | None) -> str | None:
        while isinstance(node, ast.BinOp):
            node = node.left
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("DEPLOYCHECK_"):
            return node.value
        return None

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and ast.unparse(node.func) in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
            name = named(node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and ast.unparse(node.value) in ("os.environ", "environ"):
            name = named(node.slice)
        else:
            continue
        if name:
            found.append((node.lineno, name))
    return sorted(found)


def test_deploycheck_variables_are_read_only_in_settings() -> None:
    # settings.env / env_flag / cache_dir are the one reader (docs/architecture.md); writing one for
    # child processes (the run id for xdist workers) is not a read
    reads = [f"{p.relative_to(ROOT)} line {line}: {name}"
             for p in sorted((ROOT / "deploycheck").rglob("*.py"))
             if p.name != "settings.py" and "inside" not in p.relative_to(ROOT).parts
             for line, name in _environment_reads(ast.parse(p.read_bytes(), str(p)))]
    assert not reads, f"read DEPLOYCHECK_* through deploycheck.settings.env: {reads}"


def test_an_environment_read_outside_settings_is_found() -> None:
    code = ('import os\nx = os.environ.get("DEPLOYCHECK_LEDGER") or ""\ny = os.environ["DEPLOYCHECK_RUN_ID"]\n'
            'z = os.getenv("DEPLOYCHECK_PYTHON_" + "3_9")\nos.environ["DEPLOYCHECK_RUN_ID"] = "w"\n'
            'h = os.environ.get("HOME")\n')
    assert _environment_reads(ast.parse(code)) == [(2, "DEPLOYCHECK_LEDGER"), (3, "DEPLOYCHECK_RUN_ID"),
                                                   (4, "DEPLOYCHECK_PYTHON_")]
