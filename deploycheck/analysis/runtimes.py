"""Which serving runtime a deploy folder declares: ``framework_version``, ``image_uris.retrieve(
"sklearn", ...)``, ``--runtime-version``, ``runtimeVersion``, a Vertex ``sklearn-cpu.X-Y`` container
URI, found by regex in its README, scripts, notebook code cells and configs (use
``folder.facts.runtimes``). Values are resolved against THE image catalog
(:mod:`deploycheck.runtimes.catalog`). When the folder declares nothing, the repo's own top-level
README, notebooks and scripts are read too (a student often deploys from a notebook at the root).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from deploycheck import files
from deploycheck.runtimes.catalog import resolve

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder


@dataclass(frozen=True)
class DeclaredRuntime:
    kind: str                 # "sagemaker" | "ai_platform" | "vertex"
    value: str                # "1.2-1", "2.11", "sklearn-cpu.1-2"
    sklearn: str | None       # resolved scikit-learn version, None when the value is unknown
    file: str                 # relative to the repo root, posix
    line: int                 # 1-based (within the cell for a notebook)
    cell: int | None = None   # 1-based notebook cell

    @property
    def where(self) -> str:
        return f"{self.file} cell {self.cell} line {self.line}" if self.cell else f"{self.file}:{self.line}"


MAX_SCAN_BYTES = 2 * 1024 * 1024
_SCAN_SUFFIXES = (".py", ".ipynb", ".sh", ".bash", ".txt", ".yaml", ".yml", ".json", ".md", ".rst", ".cfg",
                  ".toml", ".env")
_Q = r"\\?[\"']"           # a quote, possibly JSON-escaped (raw notebook text)

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # SKLearnModel(..., framework_version="1.2-1") / FRAMEWORK_VERSION = "1.2-1" / "framework_version": "1.2-1"
    ("sagemaker", re.compile(rf"\b\w*framework_version{_Q}?\s*[=:]\s*{_Q}([\w.\-]+){_Q}", re.I)),
    # sagemaker.image_uris.retrieve("sklearn", region, "1.2-1") / version="1.2-1"
    ("sagemaker", re.compile(rf"image_uris\.retrieve\(\s*(?:framework\s*=\s*)?{_Q}sklearn{_Q}[^)]*?"
                             rf"(?:version\s*=\s*)?{_Q}(\d+\.\d+(?:[.\-]\d+)?){_Q}\s*[,)]", re.I)),
    # .../sagemaker-scikit-learn:1.2-1-cpu-py3
    ("sagemaker", re.compile(r"sagemaker-scikit-learn:([\d.]+(?:-\d+)?)-cpu")),
    # gcloud ai-platform versions create --runtime-version 2.11 / --runtime-version=2.11 / "2.11"
    ("ai_platform", re.compile(rf"--runtime-version(?:\s*=\s*|\s+){_Q}?(\d+\.\d+(?:\.\d+)?)")),
    # runtimeVersion: "2.11" / "runtimeVersion": "2.11" / runtime_version="2.11" / RUNTIME_VERSION=2.11
    ("ai_platform", re.compile(rf"\b\w*runtime_?version{_Q}?\s*[=:]\s*{_Q}?(\d+\.\d+(?:\.\d+)?)", re.I)),
    # serving_container_image_uri=".../sklearn-cpu.1-2:latest", --container-image-uri=..., bare tag
    ("vertex", re.compile(r"(sklearn-cpu\.\d+-\d+)")),
]
# lines about another framework's container (an XGBoostModel's framework_version is not scikit-learn's)
_OTHER_FRAMEWORK = re.compile(r"xgboost|pytorch|tensorflow|huggingface|mxnet", re.I)




def _scan(lines: Iterable[tuple[int, str]], file: str, found: list[DeclaredRuntime], cell: int | None = None) -> None:
    for lineno, line in lines:
        line = line[:20000]
        for kind, pat in _PATTERNS:
            for m in pat.finditer(line):
                value = m.group(1)
                if kind == "sagemaker" and _OTHER_FRAMEWORK.search(line) and "scikit" not in line.lower() \
                        and "sklearn" not in line.lower():
                    continue
                d = DeclaredRuntime(kind, value, resolve(kind, value), file, lineno, cell)
                if d not in found:
                    found.append(d)


def _wanted(rel: str) -> bool:
    base = rel.rsplit("/", 1)[-1].lower()
    return base.endswith(_SCAN_SUFFIXES) or base in ("dockerfile", "makefile")


def _scan_files(base: Path, prefix: str, rels: Iterable[str], readme_rel: str | None, readme_text: str | None,
                notebooks: dict[str, list[tuple[int, int, str]]]) -> tuple[DeclaredRuntime, ...]:
    found: list[DeclaredRuntime] = []

    def name(rel: str) -> str:
        return f"{prefix}/{rel}" if prefix else rel

    if readme_rel is not None and readme_text is not None:      # the README first: the lab's instructions
        _scan(enumerate(readme_text.splitlines(), 1), name(readme_rel), found)
    for rel in sorted((r for r in rels if r != readme_rel and _wanted(r)), key=lambda r: (r.count("/"), r)):
        if rel.lower().endswith(".ipynb") and rel in notebooks:
            for cell, first, text in notebooks[rel]:
                _scan(((first + i, ln) for i, ln in enumerate(text.splitlines())), name(rel), found, cell)
            continue
        tf = files.read_text(base, rel, MAX_SCAN_BYTES + 1)
        if not tf.ok or tf.truncated:
            continue
        text = tf.text
        if rel.lower().endswith(".ipynb"):              # a notebook whose JSON is broken: its raw text
            text = text.replace('\\"', '"')
        _scan(enumerate(text.splitlines(), 1), name(rel), found)
    return tuple(found)


def _notebook_cells(scripts: Iterable[object]) -> dict[str, list[tuple[int, int, str]]]:
    """rel -> [(cell, first line, python code)] from the folder's parsed scripts (one notebook parser)."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    for s in scripts:
        rel, cell = getattr(s, "rel"), getattr(s, "cell")
        if cell is not None and getattr(s, "lang") == "python":
            out.setdefault(rel, []).append((cell, getattr(s, "first_line"), getattr(s, "text")))
    return out


def declared_runtimes(folder: DeployFolder) -> tuple[DeclaredRuntime, ...]:
    """Every runtime declaration in the folder's README, scripts, notebooks and configs (file order,
    README first)."""
    doc = folder.facts.readme
    return _scan_files(folder.path, folder.rel, folder.files, doc.rel if doc else None,
                       doc.text if doc is not None and doc.readable else None, _notebook_cells(folder.facts.scripts))


def repo_declared_runtimes(repo: Path) -> tuple[DeclaredRuntime, ...]:
    """Declarations in the repo's own top-level README, notebooks and scripts (outside deploy folders)."""
    from deploycheck.analysis.readme import find_readme, parse_readme
    from deploycheck.analysis.sources import script_sources
    from deploycheck.discovery import DeployFolder
    top = tuple(files.top_level_files(repo))
    rel = find_readme(top)
    doc = parse_readme(repo, rel, rel) if rel else None
    # the top-level notebooks, parsed with the same reader as a deploy folder's
    nbs = _notebook_cells(script_sources(DeployFolder("aws", repo, "", repo, top)))
    return _scan_files(repo, "", top, rel, doc.text if doc is not None and doc.readable else None, nbs)
