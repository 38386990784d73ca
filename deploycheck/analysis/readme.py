"""The one README rule and the README as a parsed document (:class:`ReadmeDoc`).

Which file is a deploy folder's README (and the repo's), in one place: a top-level file named
README with .md/.markdown/.rst/.txt or no extension (any case; .md preferred). Markdown is parsed
with markdown-it-py (code blocks, inline code, links, images, HTML ``<img>``/``<a>``), ``.rst``
with a small line scanner for literal blocks and ``.. image::``. Files whose name looks like a
misspelt README (``Reedme.md``, ``readme_aws.md``) are reported as near misses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable

from markdown_it import MarkdownIt

from deploycheck import files
from deploycheck.analysis.sources import NOTEBOOK_LIMIT, notebook_markdown, where_in_notebook

README_LIMIT = 300_000        # bytes of README parsed (markdown-it is ~1 s/MB on ordinary text)
MIN_WORDS = 30
README_NAMES = {"readme.md": 0, "readme.markdown": 1, "readme.rst": 2, "readme.txt": 3, "readme": 4}

_MD = MarkdownIt("commonmark", {"html": True}).enable("table")


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    content: str
    line: int                 # 1-based line (in the README) of the block's first content line


@dataclass(frozen=True)
class ReadmeDoc:
    rel: str                  # relative to its base folder ("README.md")
    path: str                 # relative to the repo ("aws_deploy/README.md")
    text: str = ""
    code_blocks: tuple[CodeBlock, ...] = ()
    inline_code: tuple[tuple[str, int], ...] = ()
    links: tuple[tuple[str, int], ...] = ()
    images: tuple[tuple[str, int], ...] = ()
    words: int = 0
    problem: str | None = None
    truncated: bool = False
    note: str | None = None
    kind: str = "markdown"    # markdown | rst | notebook
    line_map: tuple[tuple[int, int], ...] = ()   # notebook: text line -> (cell, line in the cell)

    @property
    def readable(self) -> bool:
        return self.problem is None

    def where(self, line: int) -> str:
        """"aws_deploy/README.md line 12", or "aws_deploy/README.ipynb cell 3 line 2" for a notebook."""
        if self.line_map:
            return where_in_notebook(self.path, self.line_map, line)
        return f"{self.path} line {line}"


@dataclass
class _Parsed:
    code_blocks: list[CodeBlock] = field(default_factory=list)
    inline_code: list[tuple[str, int]] = field(default_factory=list)
    links: list[tuple[str, int]] = field(default_factory=list)
    images: list[tuple[str, int]] = field(default_factory=list)
    words: int = 0
    note: str | None = None


def find_readme(names: Iterable[str]) -> str | None:
    """THE README rule: among top-level names (files or symlinks, relative to a folder), the
    README (case-insensitive; .md preferred), else None."""
    ranked = [(README_NAMES[n.lower()], n) for n in names if "/" not in n and n.lower() in README_NAMES]
    return min(ranked)[1] if ranked else None


_NEAR = re.compile(r"^(?:re+a?d+m+e+|rea?dme|read[_\- ]me|readme[_\- .].*|.*[_\- ]readme|instructions?|deploy(?:ment)?"
                   r"(?:[_\- ]?(?:steps|instructions|guide))?)\.(?:md|markdown|rst|txt)$", re.I)
# a README written as a notebook (README.ipynb, Readme_AWS.ipynb): its cells are the instructions
_NEAR_NOTEBOOK = re.compile(r"^(?:re+a?d+m+e+|read[_\- ]me|readme[_\- ].*|.*[_\- ]readme|instructions?)\.ipynb$", re.I)


_NOT_DOCS = re.compile(r"^(?:requirements.*|license.*|licence.*|changelog.*|contributing.*|code_of_conduct.*|"
                       r"notice.*|authors.*|.*\.lock)\.(?:txt|md|rst)$", re.I)


def near_miss_readme(names: Iterable[str], nested: Iterable[str] = ()) -> str | None:
    """The file a student meant as the README when none has the name: a misspelt README
    (``Reedme.md``), a top-level Markdown/RST document (``serving_AI.md``), else a README one folder
    down. None when there is nothing like it."""
    top = [n for n in names if "/" not in n and n.lower() not in README_NAMES and not _NOT_DOCS.match(n)]
    for group in ([n for n in top if _NEAR.match(n) or _NEAR_NOTEBOOK.match(n)],
                  [n for n in top if n.lower().endswith((".md", ".markdown", ".rst"))],
                  [n for n in nested if n.rsplit("/", 1)[-1].lower() in README_NAMES]):
        if group:
            return sorted(group, key=lambda n: (n.count("/"), n.lower()))[0]
    return None


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


def _html_refs(html: str, line: int, info: _Parsed) -> None:
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
    start, size = 0, 0
    cur: list[str] = []
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


def _defuse(chunk: str) -> str:
    """Escape '[' in a chunk with many unmatched brackets (markdown-it's link-label scan is
    quadratic on them); such a chunk holds no real links anyway."""
    if chunk.count("[") - chunk.count("]") > 50 and not _FENCE.match(chunk):
        return chunk.replace("\\[", "[").replace("[", "\\[")
    return chunk


def _parse_markdown(text: str, info: _Parsed) -> None:
    # Bounded by content, never by the clock (a verdict must not depend on the machine's load):
    # README_LIMIT bytes, paragraphs cut at CHUNK_CHARS, bracket floods defused.
    words = 0
    for offset, chunk in md_chunks(text):
        words += _parse_markdown_chunk(info, _defuse(chunk), offset)
    info.words = words


def _parse_markdown_chunk(info: _Parsed, text: str, offset: int) -> int:
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


def _parse_rst(text: str, info: _Parsed) -> None:
    lines = [ln[:5000] for ln in text.split("\n")]
    words = 0
    i = 0
    while i < len(lines):
        ln = lines[i]
        m = _RST_DIRECTIVE.match(ln)
        starts_block = bool(m) or (ln.rstrip().endswith("::") and not ln.strip().startswith(".."))
        image = _RST_IMAGE.match(ln)
        if image:
            info.images.append((image.group(1), i + 1))
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



def parse_readme(base: Path, rel: str, path: str, is_symlink: bool = False) -> ReadmeDoc:
    """Read and parse the README ``base/rel`` (``path``: its name relative to the repo)."""
    if is_symlink:
        return ReadmeDoc(rel, path, problem=f"{path} is a symlink (not followed): commit the README file itself")
    tf = files.read_text(base, rel, limit=NOTEBOOK_LIMIT if rel.lower().endswith(".ipynb") else README_LIMIT)
    if tf.problem == "binary":
        return ReadmeDoc(rel, path, problem=f"{path} is not a text file (binary content): write the README as "
                                            "Markdown text")
    if tf.problem:
        return ReadmeDoc(rel, path, problem=f"{path} {tf.problem}")
    p = _Parsed()
    kind = "rst" if rel.lower().endswith(".rst") else "notebook" if rel.lower().endswith(".ipynb") else "markdown"
    text = tf.text
    line_map: tuple[tuple[int, int], ...] = ()
    if kind == "notebook":
        nb = notebook_markdown(tf.text)
        if nb is None:
            return ReadmeDoc(rel, path, problem=f"{path} is not a readable notebook (not its JSON): save it as "
                                                f"README.md with the steps you ran")
        text, line_map = nb
        if len(text) > README_LIMIT:           # code and prose only (outputs are left out), bounded as a README
            text, line_map = text[:README_LIMIT], line_map[:text[:README_LIMIT].count("\n") + 1]
    try:
        if kind == "rst":
            _parse_rst(text, p)
        else:
            _parse_markdown(text, p)
    except Exception as e:  # pragma: no cover - markdown-it should never fail, but never trust input
        p.note = f"could not parse as Markdown ({type(e).__name__})"
        p.words = len(_WORD.findall(tf.text))
    notes = "; ".join(n for n in (tf.note, p.note) if n) or None
    return ReadmeDoc(rel, path, text, tuple(p.code_blocks), tuple(p.inline_code), tuple(p.links),
                     tuple(p.images), p.words, None, tf.truncated, notes, kind, line_map)
