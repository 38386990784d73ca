"""Serving runtimes and the scikit-learn each one loads models with (data, with sources), and the
runtime a deploy folder declares (found by regex in its README, scripts, notebooks and configs).

Sources
-------
* SageMaker scikit-learn framework versions and per-region registry accounts:
  aws/sagemaker-python-sdk ``src/sagemaker/image_uri_config/sklearn.json`` ("inference" section;
  commit ef7c5a006a09ad382183070ba8bf068d070c122d lists 0.20.0, 0.23-1, 1.0-1, 1.2-1; the registry
  account of a region is the same for every version).
* scikit-learn pinned in each SageMaker image: aws/sagemaker-scikit-learn-container
  ``docker/<version>/base/Dockerfile.cpu`` (``pip install scikit-learn==X``): 1.0-1 -> 1.0.2,
  1.2-1 -> 1.2.1, 1.4-2 -> 1.4.2 (``uv pip install ... scikit-learn==1.4.2``); 0.23-1 -> 0.23.2 and
  0.20.0 -> 0.20.0 per the same repository's history.  1.4-2 is in the container repository and is
  served under the same ``sagemaker-scikit-learn`` repository name.
* Vertex AI prebuilt prediction containers: googleapis/python-aiplatform
  ``google/cloud/aiplatform/constants/prediction.py`` (``SKLEARN_CONTAINER_URIS``:
  ``{us,europe,asia}-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.V:latest`` for V in 0-20, 0-22,
  0-23, 0-24, 1-0, 1-2, 1-3, 1-4, 1-5, 1-6; V is the scikit-learn major-minor).
* Legacy AI Platform Prediction runtime versions: "Runtime version list",
  https://cloud.google.com/ai-platform/training/docs/runtime-version-list (the scikit-learn row of
  each runtime).  That page was not in the reference corpus available while writing this module;
  the values below are the ones that page listed and should be re-checked against an archived copy
  (see ``AI_PLATFORM_VERIFIED``).  AI Platform Prediction is retired in favour of Vertex AI.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from deploycheck.submission import DeployFolder

# --------------------------------------------------------------------------- SageMaker

SAGEMAKER_SKLEARN: dict[str, str] = {
    "0.20.0": "0.20.0",
    "0.23-1": "0.23.2",
    "1.0-1": "1.0.2",
    "1.2-1": "1.2.1",
    "1.4-2": "1.4.2",
}

# region -> ECR registry account of `sagemaker-scikit-learn` (sklearn.json, "inference", every version)
SAGEMAKER_REGISTRIES: dict[str, str] = {
    "af-south-1": "510948584623", "ap-east-1": "651117190479", "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698", "ap-northeast-3": "867004704886", "ap-south-1": "720646828776",
    "ap-south-2": "628508329040", "ap-southeast-1": "121021644041", "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941", "ap-southeast-4": "106583098589", "ca-central-1": "341280168497",
    "ca-west-1": "190319476487", "cn-north-1": "450853457545", "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770", "eu-central-2": "680994064768", "eu-north-1": "662702820516",
    "eu-south-1": "978288397137", "eu-south-2": "104374241257", "eu-west-1": "141502667606",
    "eu-west-2": "764974769150", "eu-west-3": "659782779980", "il-central-1": "898809789911",
    "me-central-1": "272398656194", "me-south-1": "801668240914", "sa-east-1": "737474898029",
    "us-east-1": "683313688378", "us-east-2": "257758044811", "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902", "us-iso-east-1": "833128469047", "us-isob-east-1": "281123927165",
    "us-west-1": "746614075791", "us-west-2": "246618743249",
}
SAGEMAKER_REPOSITORY = "sagemaker-scikit-learn"

# --------------------------------------------------------------------------- AI Platform (legacy)

AI_PLATFORM_SKLEARN: dict[str, str] = {
    "1.4": "0.19.1", "1.5": "0.19.1", "1.6": "0.19.1", "1.7": "0.19.1", "1.8": "0.19.1",
    "1.9": "0.19.1", "1.10": "0.19.1", "1.11": "0.20.0", "1.12": "0.20.0", "1.13": "0.20.2",
    "1.14": "0.20.2", "1.15": "0.20.4",
    "2.1": "0.22.1", "2.2": "0.22.1", "2.3": "0.23.2", "2.4": "0.24.0", "2.5": "0.24.2",
    "2.6": "0.24.2", "2.7": "1.0.1", "2.8": "1.0.2", "2.9": "1.0.2", "2.10": "1.0.2", "2.11": "1.0.2",
}
AI_PLATFORM_VERIFIED = False   # see the module docstring

# --------------------------------------------------------------------------- Vertex AI

VERTEX_SKLEARN_TAGS: tuple[str, ...] = ("0-20", "0-22", "0-23", "0-24", "1-0", "1-2", "1-3", "1-4", "1-5", "1-6")
VERTEX_URI = "{prefix}-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.{tag}:latest"

KINDS = ("sagemaker", "ai_platform", "vertex")


def _mm(version: str | None) -> tuple[int, int] | None:
    """(major, minor) of "1.2.1", "1.2", "1.2-1", "1-2" ; None when unparseable."""
    if not version:
        return None
    m = re.match(r"^\s*v?(\d+)[.\-](\d+)", str(version))
    return (int(m.group(1)), int(m.group(2))) if m else None


def major_minor(version: str | None) -> str | None:
    mm = _mm(version)
    return f"{mm[0]}.{mm[1]}" if mm else None


def sagemaker_sklearn_version(framework_version: str) -> str | None:
    return SAGEMAKER_SKLEARN.get(str(framework_version).strip())


def ai_platform_sklearn_version(runtime: str) -> str | None:
    r = str(runtime).strip()
    if r in AI_PLATFORM_SKLEARN:
        return AI_PLATFORM_SKLEARN[r]
    mm = re.match(r"^(\d+)\.(\d+)(?:\.0)?$", r)      # "2.11.0" -> "2.11"
    return AI_PLATFORM_SKLEARN.get(f"{mm.group(1)}.{mm.group(2)}") if mm else None


_VERTEX_TAG = re.compile(r"sklearn-cpu\.(\d+-\d+)")


def vertex_sklearn_version(tag_or_uri: str) -> str | None:
    """``sklearn-cpu.1-2`` or a full container URI -> "1.2" (the containers pin major.minor only)."""
    m = _VERTEX_TAG.search(str(tag_or_uri))
    if not m or m.group(1) not in VERTEX_SKLEARN_TAGS:
        return None
    return m.group(1).replace("-", ".")


def valid_values(kind: str) -> list[str]:
    if kind == "sagemaker":
        return list(SAGEMAKER_SKLEARN)
    if kind == "ai_platform":
        return list(AI_PLATFORM_SKLEARN)
    if kind == "vertex":
        return [f"sklearn-cpu.{t}" for t in VERTEX_SKLEARN_TAGS]
    raise ValueError(f"unknown runtime kind {kind!r}; use one of {', '.join(KINDS)}")


def _ecr_domain(region: str) -> str:
    # sagemaker-python-sdk resolves the domain per partition (aws-cn, aws-iso, aws-iso-b)
    if region.startswith("cn-"):
        return "amazonaws.com.cn"
    if region.startswith("us-isob-"):
        return "sc2s.sgov.gov"
    if region.startswith("us-iso-"):
        return "c2s.ic.gov"
    return "amazonaws.com"


def sagemaker_image_uri(region: str, framework_version: str, py_version: str = "py3") -> str:
    """The inference image the SDK's ``image_uris.retrieve("sklearn", region, version)`` resolves to."""
    acct = SAGEMAKER_REGISTRIES.get(region)
    if acct is None:
        raise ValueError(f"no SageMaker scikit-learn registry known for region {region!r}")
    if framework_version not in SAGEMAKER_SKLEARN:
        raise ValueError(f"unknown SageMaker scikit-learn framework_version {framework_version!r}; "
                         f"use one of {', '.join(SAGEMAKER_SKLEARN)}")
    return (f"{acct}.dkr.ecr.{region}.{_ecr_domain(region)}/{SAGEMAKER_REPOSITORY}:"
            f"{framework_version}-cpu-{py_version}")


def _vertex_prefix(region: str) -> str:
    r = (region or "").lower()
    if r.startswith("europe"):
        return "europe"
    if r.startswith(("asia", "australia")):
        return "asia"
    return "us"


def vertex_container_uri(sklearn_version: str, region: str = "us-central1") -> str | None:
    """Prebuilt container for ``sklearn_version``: the same major-minor, else the nearest one."""
    mm = _mm(sklearn_version)
    if mm is None:
        return None
    tags = {tuple(int(x) for x in t.split("-")): t for t in VERTEX_SKLEARN_TAGS}
    if mm in tags:
        tag = tags[mm]
    else:
        def dist(k: tuple[int, int]) -> tuple[int, int]:
            return (abs((k[0] * 100 + k[1]) - (mm[0] * 100 + mm[1])), -k[0] * 100 - k[1])
        tag = tags[min(tags, key=dist)]
    return VERTEX_URI.format(prefix=_vertex_prefix(region), tag=tag)


def vertex_exact_tag(sklearn_version: str) -> str | None:
    mm = _mm(sklearn_version)
    if mm is None:
        return None
    t = f"{mm[0]}-{mm[1]}"
    return f"sklearn-cpu.{t}" if t in VERTEX_SKLEARN_TAGS else None


def best_sagemaker_framework_for(sklearn_version: str) -> str | None:
    mm = _mm(sklearn_version)
    if mm is None:
        return None
    for fv, sk in SAGEMAKER_SKLEARN.items():
        if _mm(sk) == mm:
            return fv
    return None


def best_ai_platform_runtime_for(sklearn_version: str) -> str | None:
    """The newest legacy runtime whose scikit-learn has the same major-minor."""
    mm = _mm(sklearn_version)
    best = None
    for rt, sk in AI_PLATFORM_SKLEARN.items():
        if _mm(sk) == mm:
            best = rt
    return best


def resolve(kind: str, value: str) -> str | None:
    if kind == "sagemaker":
        return sagemaker_sklearn_version(value)
    if kind == "ai_platform":
        return ai_platform_sklearn_version(value)
    if kind == "vertex":
        return vertex_sklearn_version(value)
    return None


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
