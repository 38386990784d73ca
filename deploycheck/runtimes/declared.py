"""The runtime a deploy folder declares (found by regex in its README, scripts, notebooks and
configs): ``framework_version``, ``image_uris.retrieve("sklearn", ...)``, ``--runtime-version``,
``runtimeVersion``, a Vertex ``sklearn-cpu.X-Y`` container URI.

Moved unchanged (except imports) from the former ``deploycheck/runtimes.py``; the version tables it
resolves values against live in :mod:`deploycheck.runtimes.catalog`.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from deploycheck.runtimes.catalog import resolve
from deploycheck.submission import DeployFolder

# --------------------------------------------------------------------------- declared runtimes

@dataclass(frozen=True)
class DeclaredRuntime:
    kind: str                 # "sagemaker" | "ai_platform" | "vertex"
    value: str                # "1.2-1", "2.11", "sklearn-cpu.1-2"
    sklearn: str | None       # resolved scikit-learn version, None when the value is unknown
    file: str                 # relative to the repo root, posix
    line: int                 # 1-based

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


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


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _candidates(folder: DeployFolder) -> list[str]:
    out = []
    for rel in folder.files:
        base = rel.rsplit("/", 1)[-1].lower()
        if base.startswith("readme") or base.endswith(_SCAN_SUFFIXES) or base in ("dockerfile", "makefile"):
            out.append(rel)
    return out


def _notebook_lines(text: str) -> list[tuple[int, str]]:
    """(raw line number, source line) for code+markdown cells; raw text lines if the JSON is broken."""
    raw_lines = text.splitlines()
    try:
        nb = json.loads(text)
        cells = nb.get("cells") if isinstance(nb, dict) else None
        if not isinstance(cells, list):
            raise ValueError
    except ValueError:
        return [(i, ln.replace('\\"', '"')) for i, ln in enumerate(raw_lines, 1)]
    out: list[tuple[int, str]] = []
    cursor = 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown"):
            continue
        src = cell.get("source", "")
        lines = src if isinstance(src, list) else str(src).splitlines(True)
        for ln in lines:
            if not isinstance(ln, str):
                continue
            enc = json.dumps(ln.rstrip("\n"))[1:-1]
            lineno = 0
            for j in range(cursor, len(raw_lines)):
                if enc and enc in raw_lines[j]:
                    lineno, cursor = j + 1, j + 1
                    break
            for part in ln.splitlines() or [""]:
                out.append((lineno, part))
    return out


def _scan_text(lines, rel_repo: str, found: list[DeclaredRuntime], seen: set) -> None:
    for lineno, line in lines:
        if len(line) > 20000:
            line = line[:20000]
        for kind, pat in _PATTERNS:
            for m in pat.finditer(line):
                value = m.group(1)
                if kind == "sagemaker" and _OTHER_FRAMEWORK.search(line) and "scikit" not in line.lower() \
                        and "sklearn" not in line.lower():
                    continue
                key = (kind, value, rel_repo, lineno)
                if key in seen:
                    continue
                seen.add(key)
                found.append(DeclaredRuntime(kind, value, resolve(kind, value), rel_repo, lineno))


def _stat_key(folder: DeployFolder, rels: list[str]) -> tuple:
    key = []
    for rel in rels:
        try:
            st = os.lstat(folder.path / rel)
            key.append((rel, st.st_mtime_ns, st.st_size))
        except OSError:
            key.append((rel, 0, -1))
    return tuple(key)


def declared_runtimes(folder: DeployFolder) -> list[DeclaredRuntime]:
    """Every runtime declaration in the folder's README/scripts/notebooks/configs, in file order."""
    rels = _candidates(folder)
    ck = (str(folder.path), folder.rel, _stat_key(folder, rels))
    hit = _CACHE.get(ck)
    if hit is None:
        hit = _declared(folder, ck[2])
        if len(_CACHE) > 2048:
            _CACHE.clear()
        _CACHE[ck] = hit
    return list(hit)


_CACHE: dict[tuple, tuple[DeclaredRuntime, ...]] = {}


def _declared(folder: DeployFolder, key: tuple) -> tuple[DeclaredRuntime, ...]:
    found: list[DeclaredRuntime] = []
    seen: set = set()
    # README first: it is where the lab asks for the instructions
    rels = sorted((r for r, _m, size in key if 0 <= size <= MAX_SCAN_BYTES),
                  key=lambda r: (not r.rsplit("/", 1)[-1].lower().startswith("readme"), r.count("/"), r))
    for rel in rels:
        raw = folder.read_bytes(rel, MAX_SCAN_BYTES + 1)
        if raw is None or len(raw) > MAX_SCAN_BYTES:
            continue
        text = _decode(raw)
        rel_repo = f"{folder.rel}/{rel}" if folder.rel not in ("", ".") else rel
        if rel.lower().endswith(".ipynb"):
            lines = _notebook_lines(text)
        else:
            lines = list(enumerate(text.splitlines(), 1))
        _scan_text(lines, rel_repo, found, seen)
    return tuple(found)
