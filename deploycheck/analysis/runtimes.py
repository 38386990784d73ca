"""Which serving image a deploy folder runs on: THE one answer (``folder.facts.image``), and the
runtime declarations it is chosen from (``folder.facts.runtimes``).

Declarations: ``framework_version``, ``image_uris.retrieve("sklearn", ...)``, a SageMaker image URI,
``--runtime-version``, ``runtimeVersion``, a Vertex ``sklearn-cpu.X-Y`` container URI, found by regex
in the folder's README, scripts, notebook code cells and configs (README first, then the files by
depth and name: "document order"). When the folder declares nothing, the repo's own top-level
README, notebooks and scripts are read too (a student often deploys from a notebook at the root).
Values are resolved against THE image catalog (:mod:`deploycheck.runtimes.catalog`).

The rule when a folder declares several images (:func:`choose_image`):

1. the declaration the deploy call actually uses: one inside the call that deploys (the
   ``SKLearnModel(...)``/``Model(...)``/estimator whose ``.deploy()`` is called, directly or through
   the variable it was assigned to; ``create_model(...)``; ``aws sagemaker create-model``;
   ``gcloud ai-platform versions create``; ``gcloud ai models upload``; ``Model.upload(...)``), or
   a variable assigned the value and passed to that call (``framework_version=FRAMEWORK_VERSION``,
   ``--runtime-version=$RUNTIME_VERSION``); when several deploy calls use one, the last of them (a
   ``.deploy()`` on a Graviton instance type runs the image's arm64 variant, as the SDK picks it);
2. else the last declaration in document order (the student's final choice: a README that tried
   one image and then settled on another).

Every message that depends on the image says which declaration was used and that the others were
ignored (:attr:`ImageChoice.note`). Without any declaration the image is *assumed* from the
pickle's scikit-learn (the catalog image with the same, else the nearest, major.minor) and says so.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from deploycheck import files
from deploycheck.analysis import commands
from deploycheck.runtimes import catalog
from deploycheck.runtimes.catalog import Image, resolve

if TYPE_CHECKING:
    from deploycheck.analysis.readme import ReadmeDoc
    from deploycheck.discovery import DeployFolder


@dataclass(frozen=True)
class DeclaredRuntime:
    kind: str                 # "sagemaker" | "ai_platform" | "vertex"
    value: str                # "1.2-1", "2.11", "sklearn-cpu.1-2"
    sklearn: str | None       # resolved scikit-learn version, None when the value is unknown
    file: str                 # relative to the repo root, posix
    line: int                 # 1-based (within the cell for a notebook)
    cell: int | None = None   # 1-based notebook cell
    used_by: str = ""         # the deploy call that uses this declaration ("" when none does)
    form: str = ""            # how it was written: "" (framework_version / --runtime-version), "retrieve", "uri"

    @property
    def where(self) -> str:
        return f"{self.file} cell {self.cell} line {self.line}" if self.cell else f"{self.file}:{self.line}"

    @property
    def label(self) -> str:
        """How the student wrote it: 'framework_version="1.2-1"', 'AI Platform --runtime-version 2.11',
        'the Vertex container sklearn-cpu.1-2'."""
        if self.kind == "sagemaker":
            if self.form == "uri":
                return f"the image sagemaker-scikit-learn:{self.value}-cpu-py3"
            if self.form == "retrieve":
                return f"image_uris.retrieve(\"sklearn\", ..., \"{self.value}\")"
            return f"framework_version=\"{self.value}\""
        if self.kind == "ai_platform":
            return f"AI Platform --runtime-version {self.value}"
        return f"the Vertex container {self.value}"


MAX_SCAN_BYTES = 2 * 1024 * 1024
_SCAN_SUFFIXES = (".py", ".ipynb", ".sh", ".bash", ".txt", ".yaml", ".yml", ".json", ".md", ".rst", ".cfg",
                  ".toml", ".env")
_Q = r"\\?[\"']"           # a quote, possibly JSON-escaped (raw notebook text)

_PATTERNS: list[tuple[str, str, re.Pattern[str]]] = [
    # SKLearnModel(..., framework_version="1.2-1") / FRAMEWORK_VERSION = "1.2-1" / "framework_version": "1.2-1"
    ("sagemaker", "", re.compile(rf"\b\w*framework_version{_Q}?\s*[=:]\s*{_Q}([\w.\-]+){_Q}", re.I)),
    # sagemaker.image_uris.retrieve("sklearn", region, "1.2-1") / version="1.2-1"
    ("sagemaker", "retrieve", re.compile(rf"image_uris\.retrieve\(\s*(?:framework\s*=\s*)?{_Q}sklearn{_Q}[^)]*?"
                                         rf"(?:version\s*=\s*)?{_Q}(\d+\.\d+(?:[.\-]\d+)?){_Q}\s*[,)]", re.I)),
    # .../sagemaker-scikit-learn:1.2-1-cpu-py3, :1.4-2-py312-cpu-py3, :1.0-1-arm64-cpu-py3
    ("sagemaker", "uri", re.compile(r"sagemaker-scikit-learn:([\d.]+(?:-\d+)?(?:-py3\d+|-arm64)?)-cpu")),
    # gcloud ai-platform versions create --runtime-version 2.11 / --runtime-version=2.11 / "2.11"
    ("ai_platform", "", re.compile(rf"--runtime-version(?:\s*=\s*|\s+){_Q}?(\d+\.\d+(?:\.\d+)?)")),
    # runtimeVersion: "2.11" / "runtimeVersion": "2.11" / runtime_version="2.11" / RUNTIME_VERSION=2.11
    ("ai_platform", "", re.compile(rf"\b\w*runtime_?version{_Q}?\s*[=:]\s*{_Q}?(\d+\.\d+(?:\.\d+)?)", re.I)),
    # serving_container_image_uri=".../sklearn-cpu.1-2:latest", --container-image-uri=..., bare tag
    ("vertex", "uri", re.compile(r"(sklearn-cpu\.\d+-\d+)")),
]
# lines about another framework's container (an XGBoostModel's framework_version is not scikit-learn's)
_OTHER_FRAMEWORK = re.compile(r"xgboost|pytorch|tensorflow|huggingface|mxnet", re.I)


# --------------------------------------------------------------------------- deploy calls

# A call or command whose arguments are what gets deployed: the deployment steps of
# analysis/commands.py (one place for what each command is) that create the model or the version
# served, with the call of Google's API client that does the same.
_DEPLOYING_LABELS = ("create_model(...)", "aws sagemaker create-model", "aiplatform.Model.upload(...)",
                     "gcloud ai-platform versions create", "gcloud ai models upload")
_DEPLOYING = [p for p in (*commands.AWS_STEPS, *commands.GCP_STEPS) if p.label in _DEPLOYING_LABELS]
_DEPLOYING_CALLS = [(p.label, p.regex) for p in _DEPLOYING if p.label.endswith("(...)")] + [
    ("versions().create(...)", re.compile(r"\bversions\s*\(\s*\)\s*\.\s*create\s*\(")),
]
_DEPLOYING_COMMANDS = [(p.label, p.regex) for p in _DEPLOYING if not p.label.endswith("(...)")]
_DEPLOY = re.compile(r"\.\s*deploy\s*\(")
_NAME_BEFORE = re.compile(r"([A-Za-z_][\w]*)\s*$")
_CALL_BEFORE = re.compile(r"([A-Za-z_][\w.]*)\s*$")
_CALL_AT = re.compile(r"[A-Za-z_][\w.]*\s*\(")
_ASSIGN = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_]\w*)[ \t]*=(?!=)[ \t]*", re.M)
_OPEN, _CLOSE = "([{", ")]}"
MAX_SPAN = 20_000             # characters of one call's arguments that are followed
MAX_CALLS = 200               # deploy calls of one kind followed per file
MAX_DECLARATIONS = 200        # declarations read per file
_BIND = re.compile(r"(?<![\w.])([A-Za-z_]\w*)[ \t]*=(?!=)[ \t]*")


def _close(text: str, i: int) -> int:
    """Index just past the bracket matching the one at ``text[i]`` (strings skipped; bounded)."""
    depth, quote, end = 0, "", min(len(text), i + MAX_SPAN)
    j = i
    while j < end:
        ch = text[j]
        if quote:
            if ch == "\\":
                j += 1
            elif ch == quote or ch == "\n" and quote in "'\"":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return j


def _open_before(text: str, i: int) -> int:
    """Index of the bracket opening the one that closes just before ``i`` (``text[i-1]`` is ``)``)."""
    depth, j, stop = 0, i - 1, max(0, i - MAX_SPAN)
    while j >= stop:
        ch = text[j]
        if ch in _CLOSE:
            depth += 1
        elif ch in _OPEN:
            depth -= 1
            if depth == 0:
                return j
        j -= 1
    return -1


def _logical_end(text: str, i: int) -> int:
    """End of the logical (shell) line that contains ``i``: continuations with ``\\``, ``^`` or backtick."""
    while True:
        nl = text.find("\n", i)
        if nl < 0:
            return len(text)
        if not text[:nl].rstrip(" \t\r").endswith(("\\", "`", "^")) or nl - i > MAX_SPAN:
            return nl
        i = nl + 1


def _place(text: str, pos: int, origin: list[tuple[int, int | None]] | None) -> str:
    """"line 13", or "cell 3 line 2" in a notebook (``origin``: (line, cell) of each line of ``text``)."""
    i = text.count("\n", 0, pos)
    if origin and i < len(origin):
        line, cell = origin[i]
        return f"cell {cell} line {line}" if cell else f"line {line}"
    return f"line {i + 1}"


def _deploy_spans(text: str, origin: list[tuple[int, int | None]] | None = None) -> list[tuple[int, int, str]]:
    """(start, end, what) of the arguments of every call or command in ``text`` that deploys (at most
    MAX_CALLS of each kind: hostile input)."""
    spans: list[tuple[int, int, str]] = []

    def add(start: int, end: int, what: str, at: int, graviton: int = -1) -> None:
        spans.append((start, end, f"{what} ({_place(text, at, origin)})"
                                  + (_graviton(text, graviton) if graviton >= 0 else "")))

    assigned: dict[str, list[int]] = {}                 # name -> where its values start, in order
    for a in _BIND.finditer(text):
        assigned.setdefault(a.group(1), []).append(a.end())
    for m in _first(_DEPLOY.finditer(text)):
        lo = max(0, m.start() - MAX_SPAN)
        before = text[lo:m.start()].rstrip()
        if before.endswith(")"):                                    # Ctor(...).deploy(...)
            o = _open_before(before, len(before))
            if o >= 0:
                ctor = _CALL_BEFORE.search(before[:o])
                add(lo + o, lo + len(before), f"{ctor.group(1) if ctor else ''}(...).deploy()", m.start(), m.end() - 1)
            continue
        var = _NAME_BEFORE.search(before)
        if var is None:
            continue
        # the last assignment of that name before the deploy call, when its value is a call
        starts = [p for p in assigned.get(var.group(1), ()) if p < m.start()]
        call = _CALL_AT.match(text, starts[-1]) if starts else None
        if call is None:
            continue
        k = call.end() - 1
        add(k, _close(text, k), f"{var.group(1)}.deploy()", m.start(), m.end() - 1)
    for label, rx in _DEPLOYING_CALLS:
        for m in _first(rx.finditer(text)):
            k = m.end() - 1
            add(k, _close(text, k), label, m.start())
    for label, rx in _DEPLOYING_COMMANDS:
        for m in _first(rx.finditer(text)):
            add(m.start(), _logical_end(text, m.start()), label, m.start())
    return spans


# Instance families on which the SageMaker SDK deploys scikit-learn 1.0-1 as its arm64 (Graviton)
# image ([SM-SDK] image_uris._get_image_tag, GRAVITON_ALLOWED_TARGET_INSTANCE_FAMILY)
_GRAVITON = re.compile(r"\bml\.(?:m6g|m6gd|c6g|c6gd|c6gn|c7g|r6g|r6gd)\.\w+")
GRAVITON = " on Graviton"


def _graviton(text: str, open_paren: int) -> str:
    """" on Graviton (ml.c6g.large)" when the deploy call at ``open_paren`` names a Graviton instance type."""
    m = _GRAVITON.search(text, open_paren, _close(text, open_paren))
    return f"{GRAVITON} ({m.group(0)})" if m else ""


def _first(it: Iterator[re.Match[str]], n: int = 0) -> Iterator[re.Match[str]]:
    return itertools.islice(it, n or MAX_CALLS)


def _assignment_of(text: str, pos: int) -> tuple[str, int] | None:
    """(name, end of the assigned value) when ``pos`` lies in the value of ``NAME = ...`` (a Python or
    shell assignment; a bracketed value may span lines)."""
    start = text.rfind("\n", 0, pos) + 1
    for _ in range(200):                       # walk back over the lines of a bracketed value
        m = _ASSIGN.match(text, start)
        if m is not None:
            k = m.end()
            end = _close(text, k) if k < len(text) and text[k] in _OPEN else _logical_end(text, k)
            return (m.group(1), end) if m.end() <= pos < end else None
        if start == 0:
            return None
        start = text.rfind("\n", 0, start - 1) + 1
    return None


def _used_by(text: str, pos: int, spans: list[tuple[int, int, str]]) -> str:
    """The deploy call that uses the declaration at ``pos`` ("" when none)."""
    inside = [s for s in spans if s[0] <= pos < s[1]]
    if inside:
        return min(inside, key=lambda s: s[1] - s[0])[2]
    bound = _assignment_of(text, pos)
    if bound is None:
        return ""
    name, end = bound
    ref = re.compile(rf"(?<![\w.]){re.escape(name)}\b(?![ \t]*=(?!=))")     # a use, not a keyword
    rebind = re.compile(rf"^[ \t]*(?:export[ \t]+)?{re.escape(name)}[ \t]*=(?!=)", re.M)
    for start, stop, what in sorted(spans):
        if start < end or not ref.search(text, start, stop):
            continue
        if rebind.search(text, end, start) is None:      # not assigned again before that call
            return what
    return ""


# --------------------------------------------------------------------------- scanning

def _scan(text: str, file: str, found: list[DeclaredRuntime],
          origin: list[tuple[int, int | None]] | None = None) -> None:
    """Declarations in ``text`` (``origin``: (line, cell) of each of its lines, for notebooks)."""
    spans: list[tuple[int, int, str]] | None = None
    offset, budget = 0, MAX_DECLARATIONS
    for index, line in enumerate(text.split("\n")):
        if budget <= 0:
            break
        scan = line[:20000]
        for kind, form, pat in _PATTERNS:
            for m in pat.finditer(scan):
                value = m.group(1)
                if kind == "sagemaker" and _OTHER_FRAMEWORK.search(scan) and "scikit" not in scan.lower() \
                        and "sklearn" not in scan.lower():
                    continue
                if spans is None:
                    spans = _deploy_spans(text, origin)
                lineno, cell = origin[index] if origin and index < len(origin) else (index + 1, None)
                d = DeclaredRuntime(kind, value, resolve(kind, value), file, lineno, cell,
                                    _used_by(text, offset + m.start(1), spans), form)
                if d not in found:
                    found.append(d)
                budget -= 1
        offset += len(line) + 1


def _wanted(rel: str) -> bool:
    base = rel.rsplit("/", 1)[-1].lower()
    return base.endswith(_SCAN_SUFFIXES) or base in ("dockerfile", "makefile")


def _scan_files(base: Path, prefix: str, rels: Iterable[str], readme: ReadmeDoc | None,
                notebooks: dict[str, list[tuple[int, int, str]]]) -> tuple[DeclaredRuntime, ...]:
    found: list[DeclaredRuntime] = []
    readme_rel = readme.rel if readme is not None else None

    def name(rel: str) -> str:
        return f"{prefix}/{rel}" if prefix else rel

    if readme is not None and readme.readable:        # the README first: the lab's instructions
        # a notebook README (README.ipynb) is cited by cell and line, as every README check cites it
        cited: list[tuple[int, int | None]] = [(n, cell) for cell, n in readme.line_map]
        _scan(readme.text, name(readme.rel), found, cited or None)
    for rel in sorted((r for r in rels if r != readme_rel and _wanted(r)), key=lambda r: (r.count("/"), r)):
        if rel.lower().endswith(".ipynb") and rel in notebooks:
            # the code cells as one program (a variable set in one cell is used in the next)
            lines: list[str] = []
            origin: list[tuple[int, int | None]] = []
            for cell, first, text in notebooks[rel]:
                for i, ln in enumerate(text.split("\n")):
                    lines.append(ln)
                    origin.append((first + i, cell))
            _scan("\n".join(lines), name(rel), found, origin)
            continue
        tf = files.read_text(base, rel, MAX_SCAN_BYTES + 1)
        if not tf.ok or tf.truncated:
            continue
        text = tf.text
        if rel.lower().endswith(".ipynb"):              # a notebook whose JSON is broken: its raw text
            text = text.replace('\\"', '"')
        _scan(text, name(rel), found)
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
    """Every runtime declaration in the folder's README, scripts, notebooks and configs (document
    order: README first)."""
    return _scan_files(folder.path, folder.rel, folder.files, folder.facts.readme,
                       _notebook_cells(folder.facts.scripts))


def repo_declared_runtimes(repo: Path) -> tuple[DeclaredRuntime, ...]:
    """Declarations in the repo's own top-level README, notebooks and scripts (outside deploy folders)."""
    from deploycheck.analysis.readme import find_readme, parse_readme
    from deploycheck.analysis.sources import scripts_in
    top = tuple(files.top_level_files(repo))
    rel = find_readme(top)
    doc = parse_readme(repo, rel, rel) if rel else None
    # the top-level notebooks, parsed with the same reader as a deploy folder's
    nbs = _notebook_cells(scripts_in(repo, top))
    return _scan_files(repo, "", top, doc, nbs)


# --------------------------------------------------------------------------- the one image

PLATFORM_KINDS = {"aws": ("sagemaker",), "gcp": ("vertex", "ai_platform")}


@dataclass(frozen=True)
class ImageChoice:
    """Which image a deploy folder runs on, and why (``folder.facts.image``)."""
    platform: str
    image: Image | None                         # the catalog row; None: the declared value is unknown
    declaration: DeclaredRuntime | None = None  # the declaration it came from (None: assumed)
    ignored: tuple[DeclaredRuntime, ...] = ()   # the platform's other declarations, naming other values
    assumed: str = ""                           # why an image was assumed (no usable declaration)
    declared: tuple[DeclaredRuntime, ...] = field(default=(), repr=False)   # every declaration considered
    fallback: Image | None = None               # an unknown declared value: what a local run approximates with
    as_of: str = ""                             # the date the images are taken as of ("" today)

    @property
    def runs_on(self) -> Image | None:
        """The image a local run uses: the chosen one, else (unknown value) the fallback."""
        return self.image or self.fallback

    @property
    def build(self) -> Image | None:
        """The build of :attr:`runs_on` in force on :attr:`as_of` (today's when unset); an arm64
        variant runs as its x86_64 image, whose pins it shares."""
        im = self.runs_on
        if im is None:
            return None
        return catalog.build_at(catalog.image(im.alias_of) if im.alias_of else im, self.as_of or None)

    @property
    def era(self) -> str:
        """"as of 2023-05-15, the build of 2023-04-12..2023-11-13 (Python 3.8)" when an earlier build
        is used ("" for today's)."""
        b = self.build
        if b is None or b.current:
            return ""
        return f"as of {self.as_of}, {b.build} (Python {b.python})"

    @property
    def unknown(self) -> bool:
        """The folder declares a value the catalog does not know."""
        return self.declaration is not None and self.image is None

    @property
    def where(self) -> str:
        return self.declaration.where if self.declaration else ""

    @property
    def note(self) -> str:
        """Which declaration was used and which were ignored ("" when there was only one value)."""
        d = self.declaration
        if d is None or not self.ignored:
            return ""
        why = f"the one {d.used_by} uses" if d.used_by else "the last one"
        shown = "; ".join(f"{o.where} ({o.value})" for o in self.ignored[:4])
        more = f" and {len(self.ignored) - 4} more" if len(self.ignored) > 4 else ""
        return f"used {d.where} ({d.value}), {why}; ignored {shown}{more}"

    @property
    def described(self) -> str:
        """'aws_deploy/README.md:31 declares framework_version="1.2-1"' (+ the note)."""
        if self.declaration is None:
            return self.assumed
        note = f" ({self.note})" if self.note else ""
        return f"{self.declaration.where} declares {self.declaration.label}{note}"


def choose_declaration(decls: Iterable[DeclaredRuntime]) -> DeclaredRuntime | None:
    """THE rule (module docstring): the last declaration a deploy call uses, else the last one."""
    decls = list(decls)
    used = [d for d in decls if d.used_by]
    return (used or decls)[-1] if decls else None


def choose_image(platform: str, declared: Iterable[DeclaredRuntime],
                 pickled: Callable[[], str | None] = lambda: None, as_of: str = "") -> ImageChoice:
    """The image a deploy folder of ``platform`` runs on (use ``folder.facts.image``); ``pickled``
    gives the pickle's scikit-learn version, read only when no known image is declared; ``as_of``:
    the date whose builds run (--deadline / the rubric's as_of)."""
    kinds = PLATFORM_KINDS.get(platform, ())
    decls = tuple(d for d in declared if d.kind in kinds)
    d = choose_declaration(decls)
    if d is not None:
        ignored = tuple(o for o in decls if o is not d and (o.kind, o.value) != (d.kind, d.value))
        image = catalog.for_declared(d.kind, d.value)
        if image is not None and GRAVITON in d.used_by:       # the SDK picks the arm64 image there
            image = catalog.for_declared(d.kind, f"{d.value}-arm64") or image
        if image is not None:
            return ImageChoice(platform, image, d, ignored, declared=decls, as_of=as_of)
        fallback, why = assumed_image(platform, pickled())
        return ImageChoice(platform, None, d, ignored, declared=decls, fallback=fallback, as_of=as_of,
                           assumed=f"{d.where} declares {d.value!r}, which is not a known serving image; {why}")
    image, why = assumed_image(platform, pickled())
    return ImageChoice(platform, image, assumed=f"no serving image is declared; {why}", declared=decls, as_of=as_of)


def assumed_image(platform: str, pickled_sklearn: str | None) -> tuple[Image | None, str]:
    """(image, "assumed X, the one for ...") for a folder that declares no known image: the still
    supported one whose scikit-learn is nearest the pickle's (the newer on a tie); without a readable
    version, the newest."""
    kinds = ("sagemaker",) if platform == "aws" else ("vertex",)
    rows = [im for im in catalog.IMAGES if im.kind in kinds and im.supported and not im.alias_of]
    if not rows:
        return None, "none assumed"
    if catalog.major_minor(pickled_sklearn):
        exact = [im for im in rows if catalog.major_minor(im.sklearn) == catalog.major_minor(pickled_sklearn)]
        live = [im for im in rows if catalog.retirement(im) is None]
        # the same release, a still supported one first; else the nearest still supported one
        best = (sorted(exact, key=lambda im: (catalog.retirement(im) is not None, -im.python_tuple[1]))[0] if exact
                else catalog.nearest(live or rows, pickled_sklearn or ""))
        return best, (f"assumed {best.title}, {'the one' if exact else 'the nearest'} for the pickle's "
                      f"scikit-learn {pickled_sklearn}")
    newest = max(rows, key=lambda im: catalog.mm(im.sklearn) or (0, 0))
    return newest, f"assumed the newest, {newest.title}"
