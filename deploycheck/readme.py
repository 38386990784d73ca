"""README analysis (Markdown AST via markdown-it-py) and the README-based rubric checks.

Checks: ``readme.present``, ``readme.instructions``, ``readme.cleanup``, ``files.referenced``.

The README is parsed with markdown-it-py (code blocks, inline code, links, images, HTML ``<img>``);
``.rst`` READMEs get a small line scanner for literal blocks and ``.. image::``. Deployment and
clean-up steps are then recognised by the commands/calls they use (regexes on *commands*, not on
Markdown). Scripts the README runs (``python deploy.py``, ``deploy.ipynb``) count as part of it.
"""
from __future__ import annotations

import ast
import json
import re
import shlex
import os
import stat
import time
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote

from markdown_it import MarkdownIt

from deploycheck.outcome import Outcome, failed, guarded, passed
from deploycheck.structure import needs_folder
from deploycheck.textfile import FolderKey, read_text

README_LIMIT = 300_000        # bytes of README parsed (markdown-it is ~1 s/MB on ordinary text)
SCRIPT_LIMIT = 1_000_000      # bytes read per deploy script / notebook
MAX_SCRIPTS = 100             # deploy scripts scanned per folder
SCRIPT_BUDGET = 3_000_000     # total characters of code (scripts + notebook code cells) per folder
NOTEBOOK_LIMIT = 20_000_000   # notebooks carry their outputs (plots as base64): read more, keep code only
MIN_WORDS = 30
MAX_REFS = 2000               # distinct file references resolved per folder

README_NAMES = {"readme.md": 0, "readme.markdown": 1, "readme.rst": 2, "readme.txt": 3, "readme": 4}
SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".ipynb")

_MD = MarkdownIt("commonmark", {"html": True}).enable("table")


# ------------------------------------------------------------------------------------ data

@dataclass
class CodeBlock:
    lang: str
    content: str
    line: int                 # 1-based line (in the README) of the block's first content line


@dataclass
class ReadmeInfo:
    rel: str                  # relative to the deploy folder ("README.md")
    path: str                 # relative to the repo ("aws_deploy/README.md")
    text: str = ""
    code_blocks: list[CodeBlock] = field(default_factory=list)
    inline_code: list[tuple[str, int]] = field(default_factory=list)
    links: list[tuple[str, int]] = field(default_factory=list)
    images: list[tuple[str, int]] = field(default_factory=list)
    words: int = 0
    problem: str | None = None
    truncated: bool = False
    note: str | None = None
    kind: str = "markdown"    # markdown | rst


@dataclass
class Source:
    """A piece of deploy code: a README, a script, or one notebook cell."""
    rel: str                  # file relative to the deploy folder
    lang: str                 # python | shell | markdown
    text: str
    first_line: int = 1       # line (in the file or cell) of text's first line
    cell: int | None = None   # 1-based notebook cell

    def where(self, folder_rel: str, line: int = 1) -> str:
        n = self.first_line + line - 1
        name = f"{folder_rel}/{self.rel}" if folder_rel else self.rel
        if self.cell is not None:
            return f"{name} cell {self.cell} line {n}"
        return f"{name} line {n}"


# ------------------------------------------------------------------------- common outcomes

def folder_label(t: Any) -> str:
    f = t.folder
    if f is not None:
        return f"{f.rel}/"
    return f"{t.platform or 'aws'}_deploy/"


# --------------------------------------------------------------------- README discovery/parse

def find_readme(folder: Any) -> str | None:
    """The README's path relative to the folder (top level, case-insensitive; .md preferred)."""
    names: list[tuple[int, str]] = []
    for f in list(folder.files) + list(folder.symlinks):
        if "/" in f:
            continue
        rank = README_NAMES.get(f.lower())
        if rank is not None:
            names.append((rank, f))
    return min(names)[1] if names else None


class _ImgParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, int]] = []   # (kind, target, line offset)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        line = self.getpos()[0] - 1
        if tag == "img" and a.get("src"):
            self.found.append(("image", a["src"] or "", line))
        elif tag == "a" and a.get("href"):
            self.found.append(("link", a["href"] or "", line))


def _html_refs(html: str, line: int, info: ReadmeInfo) -> None:
    p = _ImgParser()
    try:
        p.feed(html)
        p.close()
    except Exception:
        return
    for kind, target, off in p.found:
        (info.images if kind == "image" else info.links).append((target.strip(), line + off))


_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CHUNK_CHARS = 10_000          # longest block of text handed to markdown-it at once


def md_chunks(text: str) -> list[tuple[int, str]]:
    """(0-based first line, text) pieces split at blank lines outside fenced code.

    markdown-it's inline parser is quadratic on some hostile inputs (300 KB of "[" takes seconds),
    so a single paragraph longer than CHUNK_CHARS is cut; fenced code is never split or cut."""
    lines = text.split("\n")
    out: list[tuple[int, str]] = []
    start, cur, size = 0, [], 0
    fence: str | None = None
    for i, ln in enumerate(lines):
        m = _FENCE.match(ln)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and not ln.strip()[len(m.group(1)):].strip():
            fence = None
        if fence is None and not ln.strip() and cur:
            out.append((start, "\n".join(cur)))
            start, cur, size = i + 1, [], 0
            continue
        if not cur:
            start = i
        if fence is None and size > CHUNK_CHARS:
            continue              # rest of an enormous paragraph: not parsed
        cur.append(ln if fence is not None or len(ln) <= CHUNK_CHARS else ln[:CHUNK_CHARS])
        size += len(cur[-1]) + 1
    if cur:
        out.append((start, "\n".join(cur)))
    return out


PARSE_SECONDS = 2.0           # stop parsing further chunks after this (hostile READMEs)


def _defuse(chunk: str) -> str:
    """Escape '[' in a chunk with many unmatched brackets (markdown-it's link-label scan is
    quadratic on them); such a chunk holds no real links anyway."""
    if chunk.count("[") - chunk.count("]") > 50 and not _FENCE.match(chunk):
        return chunk.replace("\\[", "[").replace("[", "\\[")
    return chunk


def _parse_markdown(info: ReadmeInfo) -> None:
    words = 0
    t0 = time.monotonic()
    for offset, chunk in md_chunks(info.text):
        if time.monotonic() - t0 > PARSE_SECONDS:
            info.note = f"only the first {offset} lines could be parsed (the README is too complex)"
            break
        words += _parse_markdown_chunk(info, _defuse(chunk), offset)
    info.words = words


def _parse_markdown_chunk(info: ReadmeInfo, text: str, offset: int) -> int:
    tokens = _MD.parse(text)
    words = 0
    for tok in tokens:
        if tok.type in ("fence", "code_block") and tok.map:
            start = offset + tok.map[0] + (2 if tok.type == "fence" else 1)
            lang = (tok.info or "").strip().split()[0].strip("{}.").lower() if (tok.info or "").strip() else ""
            info.code_blocks.append(CodeBlock(lang, tok.content, start))
        elif tok.type == "html_block" and tok.map:
            _html_refs(tok.content, offset + tok.map[0] + 1, info)
        elif tok.type == "inline" and tok.map:
            line = offset + tok.map[0] + 1
            for ch in tok.children or []:
                if ch.type in ("softbreak", "hardbreak"):
                    line += 1
                elif ch.type == "text":
                    words += len(_WORD.findall(ch.content))
                elif ch.type == "code_inline":
                    info.inline_code.append((ch.content, line))
                    words += len(_WORD.findall(ch.content))
                elif ch.type == "link_open":
                    href = ch.attrGet("href")
                    if href:
                        info.links.append((str(href), line))
                elif ch.type == "image":
                    src = ch.attrGet("src")
                    if src:
                        info.images.append((str(src), line))
                elif ch.type == "html_inline":
                    _html_refs(ch.content, line, info)
    return words


_RST_IMAGE = re.compile(r"^\s*\.\.\s+(?:image|figure)::\s*(\S+)")
_RST_LINK = re.compile(r"`[^`<]{0,300}<([^<>`]{1,500})>`_")   # bounded: no quadratic scans
_RST_INLINE = re.compile(r"``(.+?)``")
_RST_DIRECTIVE = re.compile(r"^\s*\.\.\s+(?:code-block|code|sourcecode)::\s*(\w*)")


def _parse_rst(info: ReadmeInfo) -> None:
    lines = [ln[:5000] for ln in info.text.split("\n")]
    words = 0
    i = 0
    while i < len(lines):
        ln = lines[i]
        m = _RST_DIRECTIVE.match(ln)
        starts_block = bool(m) or (ln.rstrip().endswith("::") and not ln.strip().startswith(".."))
        if _RST_IMAGE.match(ln):
            info.images.append((_RST_IMAGE.match(ln).group(1), i + 1))  # type: ignore[union-attr]
        else:
            for lm in _RST_LINK.finditer(ln):
                info.links.append((lm.group(1).strip(), i + 1))
            for im in _RST_INLINE.finditer(ln):
                info.inline_code.append((im.group(1), i + 1))
            if not ln.strip().startswith(".."):
                words += len(_WORD.findall(ln))
        if starts_block:
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j].lstrip().startswith(":")) and j < i + 3:
                j += 1
            body: list[str] = []
            first = j
            while j < len(lines) and (not lines[j].strip() or lines[j][:1] in (" ", "\t")):
                body.append(lines[j])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            if body:
                indent = min(len(b) - len(b.lstrip()) for b in body if b.strip())
                info.code_blocks.append(CodeBlock((m.group(1).lower() if m else ""),
                                                  "\n".join(b[indent:] for b in body) + "\n", first + 1))
                i = j
                continue
        i += 1
    info.words = words


def readme_info(folder: Any) -> ReadmeInfo | None:
    """Parsed README of a deploy folder, or None when it has none. Cached per folder path."""
    return _readme_info(FolderKey(folder))


@lru_cache(maxsize=256)
def _readme_info(key: FolderKey) -> ReadmeInfo | None:
    folder = key.obj
    rel = find_readme(folder)
    if rel is None:
        return None
    info = ReadmeInfo(rel=rel, path=f"{folder.rel}/{rel}" if getattr(folder, "rel", "") else rel)
    if rel in getattr(folder, "symlinks", {}):
        info.problem = f"{info.path} is a symlink (not followed): commit the README file itself"
        return info
    tf = read_text(folder, rel, limit=README_LIMIT)
    if tf.problem == "binary":
        info.problem = f"{info.path} is not a text file (binary content): write the README as Markdown text"
        return info
    if tf.problem:
        info.problem = f"{info.path} {tf.problem}"
        return info
    info.text, info.truncated, info.note = tf.text, tf.truncated, tf.note
    try:
        if rel.lower().endswith(".rst"):
            info.kind = "rst"
            _parse_rst(info)
        else:
            _parse_markdown(info)
    except Exception as e:  # pragma: no cover - markdown-it should never fail, but never trust input
        info.note = f"could not parse as Markdown ({type(e).__name__})"
        info.words = len(_WORD.findall(info.text))
    return info


# -------------------------------------------------------------------------- deploy scripts

def notebook_cells(text: str) -> list[tuple[int, str]]:
    """(1-based cell number, source) of the code cells of a notebook's JSON text."""
    try:
        nb = json.loads(text)
    except (ValueError, RecursionError):
        return []
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        # nbformat 3: worksheets[].cells[] with "input"
        cells = []
        for ws in (nb.get("worksheets") or []) if isinstance(nb, dict) else []:
            if isinstance(ws, dict):
                cells.extend(ws.get("cells") or [])
    out: list[tuple[int, str]] = []
    for i, c in enumerate(cells, 1):
        if not isinstance(c, dict) or c.get("cell_type") != "code":
            continue
        src = c.get("source", c.get("input", ""))
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if isinstance(src, str):
            out.append((i, src))
    return out


def split_cell(src: str) -> tuple[str, str]:
    """(python, shell) of a notebook cell: ``!cmd`` lines and ``%%bash`` cells are shell, ``%`` magics dropped.
    Both keep the cell's line numbering (other lines blanked)."""
    lines = src.split("\n")
    if lines and lines[0].strip().startswith(("%%bash", "%%sh", "%%script bash", "%%shell")):
        return "", "\n".join([""] + lines[1:])
    py, sh = [], []
    for ln in lines:
        s = ln.lstrip()
        if s.startswith("!"):
            py.append("")
            sh.append(s[1:])
        elif s.startswith("%"):
            py.append("")
            sh.append("")
        else:
            py.append(ln)
            sh.append("")
    return "\n".join(py), "\n".join(sh)


def script_sources(folder: Any) -> list[Source]:
    """Python/shell sources of the folder's scripts and notebooks (cached per folder path)."""
    return _script_sources(FolderKey(folder))


@lru_cache(maxsize=64)
def _script_sources(key: FolderKey) -> list[Source]:
    folder = key.obj
    out: list[Source] = []
    files = [f for f in folder.files if f.lower().endswith(SCRIPT_SUFFIXES)]
    files.sort(key=lambda f: (f.count("/"), f))
    budget = SCRIPT_BUDGET
    for rel in files[:MAX_SCRIPTS]:
        if budget <= 0:
            break
        low = rel.lower()
        nb = low.endswith(".ipynb")
        tf = read_text(folder, rel, limit=NOTEBOOK_LIMIT if nb else min(SCRIPT_LIMIT, budget))
        if tf.problem:
            continue
        if nb:
            for cell, src in notebook_cells(tf.text):
                if budget <= 0:
                    break
                budget -= len(src)
                py, sh = split_cell(src)
                if py.strip():
                    out.append(Source(rel, "python", py, 1, cell))
                if sh.strip():
                    out.append(Source(rel, "shell", sh, 1, cell))
        elif low.endswith(".py"):
            budget -= len(tf.text)
            out.append(Source(rel, "python", tf.text))
        else:
            budget -= len(tf.text)
            out.append(Source(rel, "shell", tf.text))
    return out


def readme_sources(info: ReadmeInfo) -> list[Source]:
    """The README as one searchable source (whole text: code blocks, inline code and prose)."""
    return [Source(info.rel, "markdown", info.text)]


# --------------------------------------------------------------------------- step patterns

# gcloud with optional release track / global flags between "gcloud" and the command group
# (each flag starts with a non-dash character after its dashes: unambiguous, no catastrophic backtracking)
_G = r"\bgcloud\s+(?:(?:beta|alpha)\s+|-{1,2}[A-Za-z0-9_][\w-]*(?:=\S*)?\s+)*"


@dataclass(frozen=True)
class Pattern:
    category: str
    label: str
    regex: re.Pattern[str]


def _p(cat: str, label: str, rx: str) -> Pattern:
    return Pattern(cat, label, re.compile(rx))


# Steps of a SageMaker deployment: SageMaker Python SDK (SKLearnModel/.deploy/.predict),
# boto3 (create_model/create_endpoint_config/create_endpoint/invoke_endpoint) or the AWS CLI.
AWS_STEPS = [
    _p("upload", "aws s3 cp", r"\baws\s+s3\s+(?:cp|sync|mv)\b"),
    _p("upload", "upload_data(...)", r"\.upload_data\s*\("),
    _p("upload", "upload_file(...)", r"\.upload_file\s*\("),
    _p("model", "SKLearnModel(...)", r"\bSKLearnModel\s*\("),
    _p("model", "SKLearn(...)", r"\bSKLearn\s*\("),
    _p("model", "Estimator(...)", r"\bEstimator\s*\("),
    _p("model", "Model(...)", r"\bsagemaker\.(?:model\.)?Model\s*\("),
    _p("model", "create_model(...)", r"\bcreate_model\s*\("),
    _p("model", "aws sagemaker create-model", r"\baws\s+sagemaker\s+create-model\b"),
    _p("model", "create_endpoint_config(...)", r"\bcreate_endpoint_config\s*\("),
    _p("model", "aws sagemaker create-endpoint-config", r"\baws\s+sagemaker\s+create-endpoint-config\b"),
    _p("deploy", ".deploy(...)", r"\.deploy\s*\("),
    _p("deploy", "create_endpoint(...)", r"\bcreate_endpoint\s*\("),
    _p("deploy", "aws sagemaker create-endpoint", r"\baws\s+sagemaker\s+create-endpoint(?!-config)\b"),
    _p("predict", "invoke_endpoint(...)", r"\binvoke_endpoint\s*\("),
    _p("predict", "aws sagemaker-runtime invoke-endpoint", r"\binvoke-endpoint\b"),
    _p("predict", ".predict(...)", r"\.predict\s*\("),
]

# Legacy AI Platform Prediction (gcloud ai-platform ...) and Vertex AI (gcloud ai ... / aiplatform SDK).
GCP_STEPS = [
    _p("upload", "gsutil cp", r"\bgsutil\s+(?:-\w+\s+)*(?:cp|rsync|mv)\b"),
    _p("upload", "gcloud storage cp", _G + r"storage\s+(?:cp|rsync|mv)\b"),
    _p("upload", "upload_from_filename(...)", r"\.upload_from_filename\s*\("),
    _p("model", "gcloud ai-platform models create", _G + r"ai-platform\s+models\s+create\b"),
    _p("model", "gcloud ai models upload", _G + r"ai\s+models\s+upload\b"),
    _p("model", "aiplatform.Model.upload(...)", r"\bModel\.upload(?:_scikit_learn_model_file)?\s*\("),
    _p("model", "gcloud ai endpoints create", _G + r"ai\s+endpoints\s+create\b"),
    _p("model", "aiplatform.Endpoint.create(...)", r"\bEndpoint\.create\s*\("),
    _p("deploy", "gcloud ai-platform versions create", _G + r"ai-platform\s+versions\s+create\b"),
    _p("deploy", "gcloud ai endpoints deploy-model", _G + r"ai\s+endpoints\s+deploy-model\b"),
    _p("deploy", ".deploy(...)", r"\.deploy\s*\("),
    _p("predict", "gcloud ai-platform predict", _G + r"ai-platform\s+predict\b"),
    _p("predict", "gcloud ai endpoints predict", _G + r"ai\s+endpoints\s+(?:raw-)?predict\b"),
    _p("predict", ".predict(...)", r"\.predict\s*\("),
    _p("predict", "REST :predict", r":predict\b"),
]

STEP_ORDER = ("upload", "model", "deploy", "predict")
STEP_NAMES = {
    "aws": {"upload": "upload of model.tar.gz to S3 (aws s3 cp / upload_data)",
            "model": "model creation (SKLearnModel(...) / create_model)",
            "deploy": "endpoint deployment (model.deploy(...) / create_endpoint)",
            "predict": "a prediction call (predictor.predict(...) / invoke_endpoint)"},
    "gcp": {"upload": "upload of the model file to a bucket (gsutil cp / gcloud storage cp)",
            "model": "model creation (gcloud ai-platform models create / gcloud ai models upload)",
            "deploy": "deployment (gcloud ai-platform versions create / gcloud ai endpoints deploy-model)",
            "predict": "a prediction call (gcloud ai-platform predict / gcloud ai endpoints predict)"},
}
EXAMPLE_DEPLOY = {
    "aws": ('e.g. `model = SKLearnModel(model_data="s3://<bucket>/model.tar.gz", role=role, '
            'entry_point="inference.py", framework_version="1.2-1")` then '
            '`predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")`'),
    "gcp": ("e.g. `gsutil cp model.joblib gs://<bucket>/model/`, `gcloud ai models upload --region=us-central1 "
            "--display-name=mymodel --container-image-uri=us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest "
            "--artifact-uri=gs://<bucket>/model/`, `gcloud ai endpoints create ...` and "
            "`gcloud ai endpoints deploy-model ENDPOINT_ID --model=MODEL_ID ...`"),
}


@dataclass
class Hit:
    category: str
    label: str
    where: str
    rel: str                  # file (relative to folder)
    text: str                 # the matched logical line (for further inspection)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line, line) with shell/PowerShell continuations (trailing ``\\`` or backtick) joined."""
    out: list[tuple[int, str]] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        start, cur = i + 1, lines[i]
        while cur.rstrip().endswith(("\\", "`", "^")) and i + 1 < len(lines) and len(cur) < 10_000:
            cur = cur.rstrip()[:-1] + " " + lines[i + 1].strip()
            i += 1
        out.append((start, cur))
        i += 1
    return out


def find_hits(sources: Iterable[Source], patterns: list[Pattern], folder_rel: str) -> list[Hit]:
    hits: list[Hit] = []
    anyrx = _any_regex(tuple(patterns))
    for src in sources:
        if not anyrx.search(src.text):
            continue
        for line, text in logical_lines(src.text):
            if len(text) > 20_000:
                text = text[:20_000]
            if not anyrx.search(text):
                continue
            for pat in patterns:
                if pat.regex.search(text):
                    hits.append(Hit(pat.category, pat.label, src.where(folder_rel, line), src.rel, text))
    return hits


@lru_cache(maxsize=32)
def _any_regex(patterns: tuple[Pattern, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.regex.pattern})" for p in patterns))


def _referenced_scripts(info: ReadmeInfo, folder: Any) -> set[str]:
    """Scripts/notebooks of the folder that the README names (by relative path or base name)."""
    names: set[str] = set()
    text = info.text
    for f in folder.files:
        if not f.lower().endswith(SCRIPT_SUFFIXES):
            continue
        base = f.rsplit("/", 1)[-1]
        if re.search(r"(?<![\w.-])" + re.escape(base) + r"(?![\w-])", text):
            names.add(f)
    return names


def _steps(t: Any, patterns: list[Pattern]) -> tuple[list[Hit], list[Hit], ReadmeInfo | None]:
    """(hits in the README and the scripts it names, hits in other scripts, readme)."""
    folder = t.folder
    info = readme_info(folder)
    if info is None or info.problem:
        return [], [], info
    named = _referenced_scripts(info, folder)
    scripts = script_sources(folder)
    main = find_hits(readme_sources(info) + [s for s in scripts if s.rel in named], patterns, folder.rel)
    other = find_hits([s for s in scripts if s.rel not in named], patterns, folder.rel)
    return main, other, info


def _readme_prereq(t: Any, info: ReadmeInfo | None, check: str) -> Outcome | None:
    if info is None:
        return failed(f"{check} needs a README (readme.present failed): add {folder_label(t)}README.md "
                      "with the steps you ran")
    if info.problem:
        return failed(f"{check} needs a readable README: {info.problem}")
    return None


def _check_steps(t: Any, aws: list[Pattern], gcp: list[Pattern], check: str
                 ) -> tuple[Outcome | None, list[Hit], list[Hit], ReadmeInfo | None]:
    """The common start of a README step check: (the failed Outcome to return when there is no deploy
    folder or no readable README, else None; then what :func:`_steps` finds with the platform's patterns)."""
    o = needs_folder(t)
    if o:
        return o, [], [], None
    main, other, info = _steps(t, aws if t.platform == "aws" else gcp)
    return _readme_prereq(t, info, check), main, other, info


def _summ(hits: list[Hit], limit: int = 4) -> str:
    seen: list[str] = []
    for h in hits:
        s = f"{h.label} ({h.where})"
        if s not in seen:
            seen.append(s)
    more = f" and {len(seen) - limit} more" if len(seen) > limit else ""
    return ", ".join(seen[:limit]) + more


# ------------------------------------------------------------------------------- checks

@guarded
def readme_present(t: Any) -> Outcome:
    o = needs_folder(t)
    if o:
        return o
    folder = t.folder
    info = readme_info(folder)
    if info is None:
        hint = ""
        nested = [f for f in folder.files if f.rsplit("/", 1)[-1].lower() in README_NAMES]
        if nested:
            hint = f" (found {folder.rel}/{nested[0]}: move it to the top of {folder.rel}/)"
        else:
            root = [e for e in _safe_listdir(t.repo) if e.lower() in README_NAMES]
            if root:
                hint = (f" (the repo's top-level {root[0]} does not count: the lab asks for a README "
                        f"inside {folder.rel}/)")
        return failed(f"no README in {folder.rel}/: add {folder.rel}/README.md with the steps you ran to deploy "
                      f"and delete your model{hint}", folder=folder.rel)
    if info.problem:
        return failed(info.problem, readme=info.path)
    has_code = any(b.content.strip() for b in info.code_blocks)
    if info.words < MIN_WORDS and not has_code:
        return failed(f"{info.path} only has {info.words} words: describe how you deployed (the commands or "
                      "code you ran, how you predicted, how you deleted the resources)",
                      readme=info.path, words=info.words)
    extra = []
    if info.truncated:
        extra.append(f"only the first {README_LIMIT // 1000} KB were read")
    if info.note:
        extra.append(info.note)
    tail = f" ({'; '.join(extra)})" if extra else ""
    return passed(f"{info.path}: {info.words} words, {len(info.code_blocks)} code blocks{tail}",
                  readme=info.path, words=info.words, code_blocks=len(info.code_blocks))


def _safe_listdir(p: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(p) if not e.is_symlink() and e.is_file(follow_symlinks=False))
    except OSError:
        return []


@guarded
def readme_instructions(t: Any) -> Outcome:
    o, main, other, info = _check_steps(t, AWS_STEPS, GCP_STEPS, "readme.instructions")
    if o:
        return o
    assert info is not None
    plat = t.platform
    cats = {h.category for h in main}
    found = {c: [h for h in main if h.category == c] for c in STEP_ORDER}
    service = "SageMaker" if plat == "aws" else "GCP (AI Platform / Vertex AI)"
    if "deploy" not in cats:
        missing = [STEP_NAMES[plat][c] for c in STEP_ORDER if c not in cats]
        have = f" (found only: {_summ(main)})" if main else ""
        other_deploy = [h for h in other if h.category == "deploy"]
        hint = ""
        if other_deploy:
            hint = (f"; {other_deploy[0].where} has a deploy step: name that file in the README "
                    f"(e.g. 'run {other_deploy[0].rel}') or copy the steps into it")
        return failed(f"{info.path} has no concrete {service} deployment step{have}: missing "
                      f"{'; '.join(missing)}. Add the code or commands you ran, {EXAMPLE_DEPLOY[plat]}{hint}",
                      readme=info.path, found=sorted(cats), missing=[c for c in STEP_ORDER if c not in cats])
    shown = [found[c][0] for c in STEP_ORDER if found[c]]
    msg = f"found {', '.join(f'{h.label} in {h.where}' for h in shown)}"
    if "predict" not in cats:
        msg += f" (tip: also show {STEP_NAMES[plat]['predict']})"
    return passed(msg, readme=info.path, found=sorted(cats))


# ------------------------------------------------------------------------------ cleanup

_DEL_VERB = re.compile(r"\b(?:delete[sd]?|deleting|remove[sd]?|removing|tear(?:ing)?\s+down|teardown|"
                       r"terminat(?:e|ed|ing)|clean(?:ed|ing)?\s+up|destroy(?:ed|ing)?|undeploy(?:ed|ing)?|"
                       r"shut(?:ting)?\s+down)\b", re.I)
_SENT_END = re.compile(r"[.;!?](?:\s|$)")

AWS_CLEAN = [
    _p("endpoint", "delete_endpoint(...)", r"\bdelete_endpoint\s*\("),
    _p("endpoint", "delete_predictor()", r"\.delete_predictor\s*\("),
    _p("endpoint", "aws sagemaker delete-endpoint", r"\baws\s+sagemaker\s+delete-endpoint(?!-config)\b"),
    _p("config", "delete_endpoint_config(...)", r"\bdelete_endpoint_config\s*\("),
    _p("config", "aws sagemaker delete-endpoint-config", r"\bdelete-endpoint-config\b"),
    _p("model", "delete_model(...)", r"\bdelete_model\s*\("),
    _p("model", "aws sagemaker delete-model", r"\baws\s+sagemaker\s+delete-model\b"),
    _p("bucket", "aws s3 rm/rb", r"\baws\s+s3\s+(?:rm|rb)\b"),
    _p("bucket", "delete_bucket/delete_object(s)", r"\.delete_(?:bucket|objects?)\s*\("),
    _p("bucket", "objects.all().delete()", r"objects\.all\(\)\.delete\s*\("),
]
GCP_CLEAN = [
    _p("version", "gcloud ai-platform versions delete", _G + r"ai-platform\s+versions\s+delete\b"),
    _p("legacy_model", "gcloud ai-platform models delete", _G + r"ai-platform\s+models\s+delete\b"),
    _p("undeploy", "gcloud ai endpoints undeploy-model", _G + r"ai\s+endpoints\s+undeploy-model\b"),
    _p("undeploy", "undeploy_all()", r"\.undeploy(?:_all)?\s*\("),
    _p("endpoint", "gcloud ai endpoints delete", _G + r"ai\s+endpoints\s+delete\b"),
    _p("endpoint", "endpoint.delete(...)", r"\bendpoint\w*\.delete\s*\("),
    _p("model", "gcloud ai models delete", _G + r"ai\s+models\s+delete\b"),
    _p("model", "model.delete(...)", r"\bmodel\w*\.delete\s*\("),
    _p("bucket", "gsutil rm", r"\bgsutil\s+(?:-\w+\s+)*(?:rm|rb)\b"),
    _p("bucket", "gcloud storage rm", _G + r"storage\s+(?:rm|buckets\s+delete)\b"),
    _p("bucket", "blob/bucket.delete()", r"\b(?:blob|bucket)\w*\.delete\s*\(|\.delete_blobs?\s*\("),
]

# Prose ("delete the endpoint, the endpoint configuration and the model in the console"):
# a delete verb followed, in the same sentence, by the resource's name.
_PROSE_NOUNS = {
    "aws": [("config", r"endpoint[\s-]*config(?:uration)?s?"), ("endpoint", r"endpoints?\b(?![\s-]*config)"),
            ("model", r"\bmodels?\b"), ("bucket", r"\b(?:bucket|s3)\b")],
    "gcp": [("version", r"\bversions?\b"), ("endpoint", r"\bendpoints?\b"), ("model", r"\bmodels?\b"),
            ("bucket", r"\bbuckets?\b")],
}


def _prose_hits(info: ReadmeInfo, plat: str, folder_rel: str) -> list[Hit]:
    hits: list[Hit] = []
    nouns = [(c, re.compile(rx, re.I)) for c, rx in _PROSE_NOUNS[plat]]
    for line, text in logical_lines(info.text):
        text = text[:5000]
        for vm in _DEL_VERB.finditer(text):
            rest = text[vm.end():vm.end() + 300]
            end = _SENT_END.search(rest)
            sentence = rest[: end.start()] if end else rest
            sentence_mod = sentence
            for cat, rx in nouns:
                if rx.search(sentence_mod):
                    undeploy = vm.group(0).lower().startswith("undeploy")
                    label = f"'{vm.group(0)} … {rx.search(sentence_mod).group(0)}'"  # type: ignore[union-attr]
                    hits.append(Hit(cat, label, f"{info.path} line {line}", info.rel, text))
                    if plat == "gcp" and undeploy and cat in ("endpoint", "model"):
                        hits.append(Hit("undeploy", label, f"{info.path} line {line}", info.rel, text))
                    # "endpoint configuration" must not also count as "endpoint"
                    sentence_mod = rx.sub(" ", sentence_mod) if cat == "config" else sentence_mod
    return hits


_SDK_DELETE_ENDPOINT = re.compile(r"\.delete_(?:endpoint|predictor)\s*\(([^)]{0,200})\)")


def _aws_cleanup(hits: list[Hit]) -> set[str]:
    cats = {h.category for h in hits}
    # SageMaker Python SDK: Predictor.delete_endpoint(delete_endpoint_config=True) deletes the
    # endpoint config too (sagemaker-python-sdk, sagemaker/base_predictor.py); boto3's
    # delete_endpoint(EndpointName=...) does not.
    # Session.delete_endpoint(name) does not delete the config either: only no arguments or a true
    # delete_endpoint_config counts.
    for h in hits:
        if h.category != "endpoint":
            continue
        for m in _SDK_DELETE_ENDPOINT.finditer(h.text):
            args = m.group(1).replace(" ", "")
            if args in ("", "True", "delete_endpoint_config=True"):
                cats.add("config")
    return cats


AWS_FIX = {
    "endpoint": "`predictor.delete_endpoint()` (deletes the endpoint and its config)",
    "config": "`sagemaker_client.delete_endpoint_config(EndpointConfigName=...)` (or use `predictor.delete_endpoint()`, which deletes the config too)",
    "model": "`predictor.delete_model()` (or `aws sagemaker delete-model --model-name ...`)",
}
GCP_FIX_LEGACY = {
    "version": "`gcloud ai-platform versions delete VERSION --model=MODEL`",
    "legacy_model": "`gcloud ai-platform models delete MODEL`",
}
GCP_FIX_VERTEX = {
    "endpoint": ("`gcloud ai endpoints undeploy-model ENDPOINT_ID --deployed-model-id=DEPLOYED_MODEL_ID "
                 "--region=REGION` then `gcloud ai endpoints delete ENDPOINT_ID --region=REGION` "
                 "(SDK: `endpoint.undeploy_all(); endpoint.delete()`)"),
    "model": "`gcloud ai models delete MODEL_ID --region=REGION` (SDK: `model.delete()`)",
}


def _gcp_flavour(t: Any) -> str:
    """legacy (gcloud ai-platform), vertex (gcloud ai / aiplatform SDK) or unknown."""
    main, other, _ = _steps(t, GCP_STEPS)
    labels = " ".join(h.label for h in main + other)
    texts = " ".join(h.text for h in main + other)
    vertex = ("gcloud ai models" in labels or "gcloud ai endpoints" in labels or "aiplatform" in texts
              or "Model.upload" in labels)
    legacy = "ai-platform" in labels
    if vertex and not legacy:
        return "vertex"
    if legacy and not vertex:
        return "legacy"
    return "unknown"


@guarded
def readme_cleanup(t: Any) -> Outcome:
    o, main, other, info = _check_steps(t, AWS_CLEAN, GCP_CLEAN, "readme.cleanup")
    if o:
        return o
    assert info is not None
    plat = t.platform
    hits = main + _prose_hits(info, plat, t.folder.rel)
    hint = ""
    if other:
        hint = (f" ({other[0].where} has {other[0].label}: name that file in the README or copy the step into it)")
    if plat == "aws":
        cats = _aws_cleanup(hits)
        missing = [c for c in ("endpoint", "config", "model") if c not in cats]
        if "endpoint" in missing and "config" in missing:
            missing.remove("config")   # predictor.delete_endpoint() covers both
        if missing:
            what = " and ".join(AWS_FIX[c] for c in missing)
            have = f" (found {_summ(hits)})" if hits else ""
            return failed(f"{info.path} does not say how to delete everything you deployed{have}: add {what}; "
                          "an idle endpoint is billed by the hour" + hint,
                          readme=info.path, found=sorted(cats), missing=missing)
        msg = f"found {_summ(hits)}"
        if "bucket" not in cats:
            msg += " (tip: also remove the model.tar.gz from S3, e.g. `aws s3 rm s3://<bucket>/model.tar.gz`)"
        return passed(msg, readme=info.path, found=sorted(cats))
    cats = {h.category for h in hits}
    flavour = _gcp_flavour(t)
    legacy_ok = {"version", "legacy_model"} <= cats or ("version" in cats and "model" in cats)
    vertex_ok = "endpoint" in cats and "model" in cats
    ok = {"legacy": legacy_ok, "vertex": vertex_ok}.get(flavour, legacy_ok or vertex_ok)
    if not ok:
        have = f" (found {_summ(hits)})" if hits else ""
        if flavour == "legacy":
            missing = [c for c in ("version", "legacy_model") if c not in cats
                       and not (c == "legacy_model" and "model" in cats)]
            what = " and ".join(GCP_FIX_LEGACY[c] for c in missing)
        else:
            missing = [c for c in ("endpoint", "model") if c not in cats]
            what = " and ".join(GCP_FIX_VERTEX[c] for c in missing)
        return failed(f"{info.path} does not say how to delete what you deployed{have}: add {what}; a deployed "
                      "model is billed while it is up" + hint,
                      readme=info.path, found=sorted(cats), missing=missing, flavour=flavour)
    msg = f"found {_summ(hits)}"
    if "bucket" not in cats:
        msg += " (tip: also delete the uploaded model, e.g. `gsutil rm -r gs://<bucket>/model/`)"
    return passed(msg, readme=info.path, found=sorted(cats), flavour=flavour)


# ----------------------------------------------------------------------- files.referenced

@dataclass
class Ref:
    name: str                 # as written (posix)
    where: str                # "aws_deploy/README.md line 14"
    src_rel: str              # referencing file, relative to the folder
    kind: str = "file"        # file | dir | tar-input
    tar_output: str | None = None


_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PLACEHOLDER_CHARS = set("<>{}$*?[]|%`'\"=,()")


def is_local_name(name: str) -> bool:
    """False for URLs, anchors, absolute paths, /opt/ml/..., placeholders (<your-bucket>, $VAR, YOUR_FILE)."""
    n = name.strip()
    if not n or len(n) > 300 or n.startswith(("#", "/", "~", "\\", "-", "@")):
        return False
    if _SCHEME.match(n) or n.startswith("//"):
        return False
    if any(c in _PLACEHOLDER_CHARS for c in n) or any(c.isspace() for c in n):
        return False
    low = n.lower()
    if "your" in low or "path/to" in low or "..." in n or "xxx" in low or low in (".", "./", ".."):
        return False
    return True


def _clean_link(target: str) -> str:
    t = target.strip().strip("<>")
    t = t.split("#", 1)[0].split("?", 1)[0]
    return unquote(t)


def _lit(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(str(v.value) for v in node.values)  # type: ignore[attr-defined]
    return None


def _call_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _open_mode(call: ast.Call) -> str:
    mode = None
    if len(call.args) > 1:
        mode = _lit(call.args[1])
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = _lit(kw.value)
    return mode or "r"


def _py_parse(text: str) -> ast.AST | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # tolerate IPython-isms in README snippets: drop !/% lines and retry once
        lines = ["" if ln.lstrip().startswith(("!", "%", ">>>", "$ ")) else ln for ln in text.split("\n")]
        try:
            return ast.parse("\n".join(lines))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


_RX_PY_REFS = [
    ("file", re.compile(r"\bentry_point\s*=\s*[\"']([^\"']+)[\"']")),
    ("dir", re.compile(r"\bsource_dir\s*=\s*[\"']([^\"']+)[\"']")),
    ("file", re.compile(r"\b(?:joblib|pickle|np|numpy)\.load\s*\(\s*[\"']([^\"']+)[\"']")),
    ("file", re.compile(r"\bopen\s*\(\s*[\"']([^\"']+)[\"']\s*(?:,\s*[\"']r[bt]?[\"'])?\s*\)")),
]


def python_refs(text: str) -> tuple[list[tuple[str, int, str]], set[str]]:
    """(refs [(name, line, kind)], outputs) named by Python code; never executes anything."""
    refs: list[tuple[str, int, str]] = []
    outs: set[str] = set()
    tree = _py_parse(text)
    if tree is None:
        for kind, rx in _RX_PY_REFS:
            for m in rx.finditer(text):
                refs.append((m.group(1), text.count("\n", 0, m.start()) + 1, kind))
        return refs, outs
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            var = node.targets[0].id
            val = _lit(node.value)
            if val is not None and var in ("entry_point", "source_dir"):
                refs.append((val, node.lineno, "file" if var == "entry_point" else "dir"))
            continue
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node.func)
        kws = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        line = getattr(node, "lineno", 1)
        src_dir = _lit(kws.get("source_dir"))
        if src_dir is not None:
            refs.append((src_dir, getattr(kws["source_dir"], "lineno", line), "dir"))
        ep = _lit(kws.get("entry_point"))
        if ep is not None:
            refs.append((f"{src_dir.rstrip('/')}/{ep}" if src_dir and is_local_name(src_dir) else ep,
                         getattr(kws["entry_point"], "lineno", line), "file"))
        deps = kws.get("dependencies")
        if isinstance(deps, (ast.List, ast.Tuple)):
            for el in deps.elts:
                d = _lit(el)
                if d is not None:
                    refs.append((d, line, "any"))
        first = _lit(node.args[0]) if node.args else None
        if name == "open":
            if first is not None:
                mode = _open_mode(node)
                (outs.add(first) if any(c in mode for c in "wax") else refs.append((first, line, "file")))
        elif name in ("load", "read_pickle") and isinstance(node.func, ast.Attribute):
            if first is not None:
                refs.append((first, line, "file"))
        elif name in ("upload_data",):
            p = _lit(kws.get("path")) if "path" in kws else first
            if p is not None:
                refs.append((p, line, "any"))
        elif name in ("upload_file", "upload_from_filename"):
            p = _lit(kws.get("Filename") or kws.get("filename")) if (kws.get("Filename") or kws.get("filename")) else first
            if p is not None:
                refs.append((p, line, "file"))
        elif name == "dump":
            target = _lit(node.args[1]) if len(node.args) > 1 else _lit(kws.get("filename"))
            if target is not None:
                outs.add(target)
        elif name in ("to_csv", "to_json", "to_pickle", "savefig", "save", "save_model", "to_parquet"):
            if first is not None:
                outs.add(first)
        elif name == "download_file":
            p = _lit(node.args[2]) if len(node.args) > 2 else _lit(kws.get("Filename"))
            if p is not None:
                outs.add(p)
        elif name in ("download_to_filename", "urlretrieve"):
            p = _lit(node.args[-1]) if node.args else None
            if p is not None:
                outs.add(p)
    return refs, outs


_SH_SPLIT = {"&&", "||", ";", "|", "&"}
_S3_FLAGS = {"--recursive", "--quiet", "--dryrun", "--no-progress", "--only-show-errors", "--follow-symlinks",
             "--no-follow-symlinks", "--no-guess-mime-type", "--force-glacier-transfer"}


def _commands(line: str) -> list[list[str]]:
    s = line.strip()
    for prompt in ("$ ", "> ", "PS> ", "% ", "!"):
        if s.startswith(prompt):
            s = s[len(prompt):].lstrip()
    try:
        lex = shlex.shlex(s, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        toks = list(lex)
    except ValueError:
        toks = s.split()
    cmds: list[list[str]] = [[]]
    for tok in toks:
        if tok in _SH_SPLIT:
            cmds.append([])
        else:
            cmds[-1].append(tok)
    return [c for c in cmds if c]


def _positional(args: list[str], valued: bool = True, flags: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-"):
            if valued and a.startswith("--") and "=" not in a and a not in flags and i + 1 < len(args) \
                    and not args[i + 1].startswith("-"):
                i += 2
                continue
            i += 1
            continue
        out.append(a)
        i += 1
    return out


def shell_refs(text: str) -> tuple[list[tuple[str, int, str, str | None]], set[str]]:
    """(refs [(name, line, kind, tar_output)], outputs) named by shell commands."""
    refs: list[tuple[str, int, str, str | None]] = []
    outs: set[str] = set()
    for line, ll in logical_lines(text):
        if len(ll) > 5000:
            continue
        for cmd in _commands(ll):
            # redirections / output options
            for i, tok in enumerate(cmd[:-1]):
                if tok in (">", ">>", "-o", "-O", "--output", "--outfile", "--output-file"):
                    outs.add(cmd[i + 1])
            for i, tok in enumerate(cmd):
                key, eq, val = tok.partition("=")
                if key in ("--json-instances", "--json-request", "--upload-file", "-T"):
                    v = val if eq else (cmd[i + 1] if i + 1 < len(cmd) else "")
                    if v:
                        refs.append((v, line, "file", None))
                elif key in ("-d", "--data", "--data-binary", "--data-raw"):
                    v = val if eq else (cmd[i + 1] if i + 1 < len(cmd) else "")
                    if v.startswith("@") and key != "--data-raw":
                        refs.append((v[1:], line, "file", None))
            for tok in cmd:
                for pre in ("fileb://", "file://"):
                    if tok.startswith(pre):
                        refs.append((tok[len(pre):], line, "file", None))
                    elif ("=" + pre) in tok:
                        refs.append((tok.split("=" + pre, 1)[1], line, "file", None))
            prog = cmd[0].rsplit("/", 1)[-1]
            args = cmd[1:]
            if prog in ("sudo", "time", "nohup") and args:
                prog, args = args[0].rsplit("/", 1)[-1], args[1:]
            if prog == "aws" and len(args) >= 2 and args[0] == "s3" and args[1] in ("cp", "mv", "sync"):
                pos = _positional(args[2:], flags=_S3_FLAGS)
                if len(pos) >= 2:
                    src, dst = pos[0], pos[1]
                    if not src.startswith("s3://"):
                        refs.append((src, line, "any", None))
                    elif not dst.startswith("s3://"):
                        outs.add(dst)
            elif prog == "aws" and "invoke-endpoint" in args:
                pos = _positional(args[args.index("invoke-endpoint") + 1:])
                if pos:
                    outs.add(pos[-1])
            elif prog == "gsutil" or (prog == "gcloud" and len(args) >= 2 and args[0] == "storage"):
                rest = args[1:] if prog == "gcloud" else args
                while rest and rest[0].startswith("-"):
                    rest = rest[1:]
                if rest and rest[0] in ("cp", "mv", "rsync"):
                    pos = _positional(rest[1:], valued=False)
                    if len(pos) >= 2:
                        if pos[-1].startswith("gs://"):
                            for s in pos[:-1]:
                                if not s.startswith("gs://"):
                                    refs.append((s, line, "any", None))
                        else:
                            outs.add(pos[-1])
            elif prog in ("tar", "gtar"):
                _tar_refs(args, line, refs, outs)
            elif prog in ("python", "python3", "py", "bash", "sh", "zsh", "ipython", "source", "."):
                pos = [a for a in args if not a.startswith("-")]
                if "-m" not in args and "-c" not in args and pos and pos[0].lower().endswith((".py", ".sh", ".ipynb")):
                    refs.append((pos[0], line, "file", None))
            elif prog in ("jupyter", "papermill"):
                for a in args:
                    if a.lower().endswith(".ipynb"):
                        refs.append((a, line, "file", None))
                        if prog == "papermill":
                            break
    return refs, outs


def _tar_refs(args: list[str], line: int, refs: list, outs: set[str]) -> None:
    """``tar -czf out.tar.gz in1 in2`` / ``tar czvf ...`` / ``tar --create --file=out ...`` / ``tar -xzf in``."""
    toks = list(args)
    if toks and not toks[0].startswith("-"):
        toks[0] = "-" + toks[0]          # old-style bundled flags: "tar czf x ..."
    create = False
    archive: str | None = None
    cdir: str | None = None
    inputs: list[str] = []
    i = 0
    while i < len(toks):
        a = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if a.startswith("--"):
            key, eq, val = a.partition("=")
            if key == "--create":
                create = True
            elif key in ("--file", "--directory"):
                v = val if eq else nxt
                if not eq:
                    i += 1
                if key == "--file":
                    archive = v
                else:
                    cdir = v
        elif a.startswith("-") and len(a) > 1:
            letters = a[1:]
            if letters == "C":
                cdir = nxt
                i += 1
            else:
                create = create or "c" in letters
                if "f" in letters:
                    archive = nxt
                    i += 1
        else:
            inputs.append(a)
        i += 1
    if create:
        if archive:
            outs.add(archive)
        for inp in inputs:
            if inp in (".", "*", "./"):
                continue
            name = f"{cdir.rstrip('/')}/{inp}" if cdir and is_local_name(cdir) else inp
            refs.append((name, line, "tar-input", archive))
    elif archive:
        refs.append((archive, line, "file", None))


def collect_refs(folder: Any) -> tuple[list[Ref], set[str]]:
    """Every local file name the README and the deploy scripts mention, and the files they create."""
    return _collect_refs(FolderKey(folder))


@lru_cache(maxsize=64)
def _collect_refs(key: FolderKey) -> tuple[list[Ref], set[str]]:
    folder = key.obj
    refs: list[Ref] = []
    outs: set[str] = set()
    info = readme_info(folder)
    if info is not None and not info.problem:
        for target, line in info.links + info.images:
            refs.append(Ref(_clean_link(target), f"{info.path} line {line}", info.rel, "any"))
        snippets = [(b.content, b.line) for b in info.code_blocks] + list(info.inline_code)
        for content, line in snippets:
            _add_code_refs(content, line, info.rel, info.path, refs, outs, None)
    for src in script_sources(folder):
        if src.lang == "python":
            prefs, pouts = python_refs(src.text)
            outs |= pouts
            for n, ln, kind in prefs:
                refs.append(Ref(n, src.where(folder.rel, ln), src.rel, kind))
        else:
            srefs, souts = shell_refs(src.text)
            outs |= souts
            for n, ln, kind, tar in srefs:
                refs.append(Ref(n, src.where(folder.rel, ln), src.rel, kind, tar))
    return refs, outs


def _add_code_refs(content: str, line: int, rel: str, path: str, refs: list[Ref], outs: set[str],
                   cell: int | None) -> None:
    prefs, pouts = python_refs(content) if _looks_python(content) else ([], set())
    outs |= pouts
    for n, ln, kind in prefs:
        refs.append(Ref(n, f"{path} line {line + ln - 1}", rel, kind))
    srefs, souts = shell_refs(content)
    outs |= souts
    for n, ln, kind, tar in srefs:
        refs.append(Ref(n, f"{path} line {line + ln - 1}", rel, kind, tar))


def _looks_python(content: str) -> bool:
    return "(" in content or "=" in content


def _inside(p: Path, root: Path) -> bool:
    try:
        p.relative_to(root)
        return True
    except ValueError:
        return False


def path_status(repo: Path, p: Path) -> str:
    """ok | missing | escapes (a symlink on the way points outside the repo) for an absolute path in the repo."""
    cur = repo
    try:
        parts = p.relative_to(repo).parts
    except ValueError:
        return "outside"
    for part in parts:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except OSError:
            return "missing"
        if stat.S_ISLNK(st.st_mode):
            real = Path(os.path.realpath(cur))
            if not _inside(real, repo):
                return "escapes"
            if not os.path.lexists(real):
                return "missing"
    return "ok"


def resolve_ref(folder: Any, src_rel: str, name: str, extra_bases: Iterable[str] = ()) -> str:
    """ok | missing | escapes | outside for a referenced name (tried relative to the referencing file,
    the deploy folder, the repo root)."""
    repo = Path(folder.repo)
    src_dir = (Path(folder.path) / src_rel).parent
    bases = [src_dir, Path(folder.path), repo] + [Path(folder.path) / b for b in extra_bases]
    result = "missing"
    for b in bases:
        p = Path(os.path.normpath(b / name))
        if not _inside(p, repo):
            result = "outside" if result == "missing" else result
            continue
        st = path_status(repo, p)
        if st == "ok":
            return "ok"
        if st == "escapes":
            result = "escapes"
    return result


@guarded
def files_referenced(t: Any) -> Outcome:
    o = needs_folder(t)
    if o:
        return o
    folder = t.folder
    refs, outs = collect_refs(folder)
    outs_norm = {os.path.normpath(x) for x in outs if x}
    files_lower = {f.lower(): f for f in folder.files}
    problems: list[str] = []
    checked: set[str] = set()
    seen: set[str] = set()
    for r in refs:
        name = r.name.replace("\\", "/").strip()
        if name.startswith("./"):
            name = name[2:]
        if not is_local_name(name) or name.startswith("opt/ml/"):
            continue
        norm = os.path.normpath(name)
        if norm in outs_norm or norm in seen:
            continue
        if len(seen) >= MAX_REFS:
            break
        seen.add(norm)
        if r.kind == "tar-input" and r.tar_output and resolve_ref(folder, r.src_rel, r.tar_output) == "ok":
            continue   # packed into an archive that is there: artifact.* checks look inside it
        st = resolve_ref(folder, r.src_rel, name)
        checked.add(name)
        if st == "ok":
            continue
        if st == "escapes":
            problems.append(f"{r.where} references {name}, which is a symlink pointing outside the repository: "
                            "commit the real file instead")
        elif st == "outside":
            problems.append(f"{r.where} references {name}, which is outside the repository: copy the file into "
                            f"{folder.rel}/ and fix the path")
        else:
            alt = files_lower.get(norm.lower())
            did = f" (did you mean {alt}? names are case-sensitive)" if alt and alt != norm else ""
            problems.append(f"{r.where} references {name} but {folder.rel}/ has no such file{did}: add it or fix "
                            "the name")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return failed("; ".join(problems[:3]) + more, missing=problems[:20])
    if not checked:
        return passed(f"no local files are referenced by the README or scripts in {folder.rel}/", checked=[])
    return passed(f"all {len(checked)} referenced files exist in {folder.rel}/: {', '.join(sorted(checked)[:8])}"
                  + (" ..." if len(checked) > 8 else ""), checked=sorted(checked)[:50])
