"""The code of a deploy folder, read once: scripts (.py/.sh), notebook code cells (Python and
``!``/``%%bash`` shell lines apart, keeping the cell's line numbers) and the README's text.

A :class:`Source` knows where it came from, so every message can cite "file line N" or
"notebook cell C line N". Reading is bounded per file and per folder.
"""
from __future__ import annotations

import ast
import json
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from deploycheck import files

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

SCRIPT_LIMIT = 1_000_000      # bytes read per deploy script
MAX_SCRIPTS = 100             # deploy scripts read per folder
SCRIPT_BUDGET = 3_000_000     # total characters of code (scripts + notebook code cells) per folder
NOTEBOOK_LIMIT = 20_000_000   # notebooks carry their outputs (plots as base64): read more, keep code only
SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".ipynb")


@dataclass(frozen=True)
class Source:
    """A piece of deploy code: a README, a script, or one notebook cell."""
    rel: str                  # file relative to the deploy folder
    lang: str                 # python | shell | markdown
    text: str
    first_line: int = 1       # line (in the file or cell) of text's first line
    cell: int | None = None   # 1-based notebook cell
    line_map: tuple[tuple[int, int], ...] = ()   # a notebook read as one text: line -> (cell, line in cell)

    def where(self, folder_rel: str, line: int = 1) -> str:
        n = self.first_line + line - 1
        name = f"{folder_rel}/{self.rel}" if folder_rel else self.rel
        if self.line_map:
            return where_in_notebook(name, self.line_map, n)
        if self.cell is not None:
            return f"{name} cell {self.cell} line {n}"
        return f"{name} line {n}"


def where_in_notebook(name: str, line_map: tuple[tuple[int, int], ...], line: int) -> str:
    """"README.ipynb cell 3 line 2" for line ``line`` of a notebook read as one text."""
    if 1 <= line <= len(line_map):
        cell, n = line_map[line - 1]
        return f"{name} cell {cell}" + (f" line {n}" if n else "")
    return f"{name} line {line}"


def notebook_markdown(text: str) -> tuple[str, tuple[tuple[int, int], ...]] | None:
    """A notebook as one Markdown text (markdown cells as they are, code cells as fenced Python
    blocks, outputs left out) and, for each of its lines, (1-based cell, line in the cell; 0 for a
    fence). None when the text is not a notebook."""
    try:
        nb = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(nb, dict):
        return None
    cells = nb.get("cells")
    if not isinstance(cells, list):
        cells = [c for ws in (nb.get("worksheets") or []) if isinstance(ws, dict) for c in (ws.get("cells") or [])]
    out: list[str] = []
    where: list[tuple[int, int]] = []
    for i, c in enumerate(cells, 1):
        if not isinstance(c, dict) or c.get("cell_type") not in ("markdown", "code", "raw"):
            continue
        src = c.get("source", c.get("input", ""))
        if isinstance(src, list):
            src = "".join(x for x in src if isinstance(x, str))
        if not isinstance(src, str):
            continue
        lines = src.split("\n")
        if c.get("cell_type") == "code":
            out.append("`````python")
            where.append((i, 0))
        out.extend(lines)
        where.extend((i, j) for j in range(1, len(lines) + 1))
        if c.get("cell_type") == "code":
            out.append("`````")
            where.append((i, 0))
        out.append("")
        where.append((i, 0))
    return "\n".join(out), tuple(where)


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
    """(python, shell) of a notebook cell: ``!cmd`` lines, ``%%bash`` cells and ``%run x.py`` are shell,
    other ``%`` magics dropped.
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
        elif s.startswith("%run "):                # %run script.py [args] runs a script
            py.append("")
            sh.append("python " + s[5:])
        elif s.startswith("%"):
            py.append("")
            sh.append("")
        else:
            py.append(ln)
            sh.append("")
    return "\n".join(py), "\n".join(sh)


def script_sources(folder: DeployFolder) -> tuple[Source, ...]:
    """Python/shell sources of the folder's scripts and notebooks (use ``folder.facts.scripts``)."""
    return scripts_in(folder.path, folder.files)


def scripts_in(base: Path, names: Iterable[str]) -> tuple[Source, ...]:
    """Python/shell sources of the scripts and notebooks among ``names`` (paths relative to ``base``,
    as listed by discovery): shallowest first, bounded per file and in total."""
    out: list[Source] = []
    scripts = sorted((f for f in names if f.lower().endswith(SCRIPT_SUFFIXES)),
                     key=lambda f: (f.count("/"), f))
    budget = SCRIPT_BUDGET
    for rel in scripts[:MAX_SCRIPTS]:
        if budget <= 0:
            break
        low = rel.lower()
        nb = low.endswith(".ipynb")
        tf = files.read_text(base, rel, limit=NOTEBOOK_LIMIT if nb else min(SCRIPT_LIMIT, budget))
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
    return tuple(out)


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




PARSE_CHARS = files.PARSE_CHARS     # largest Python text handed to ast.parse (grader-side memory/time bound)
PARSE_LINES = files.PARSE_LINES


TREE_CACHE_CHARS = 1_000_000   # source text whose syntax trees stay cached (a tree is ~150 bytes per character)
_TREES: OrderedDict[tuple[str, str], tuple[ast.Module | None, tuple[str, int] | None]] = OrderedDict()
_TREES_LOCK = threading.Lock()
_cached_chars = 0


def python_tree(text: str, name: str = "<source>") -> tuple[ast.Module | None, tuple[str, int] | None]:
    """(tree, error) for Python text, parsed at most once while it stays in the cache (entry point,
    file references and sample requests read the same scripts; the cache holds the trees of at most
    TREE_CACHE_CHARS of source, the most recently used: a class's worth of hand-ins never piles up in
    a worker). Text over PARSE_CHARS/PARSE_LINES is not parsed: a student file must not cost the
    grader seconds or gigabytes (error says so)."""
    global _cached_chars
    key = (text, name)
    with _TREES_LOCK:
        got = _TREES.get(key)
        if got is not None:
            _TREES.move_to_end(key)
            return got
    got = _parse(text, name)
    if len(text) <= TREE_CACHE_CHARS:
        with _TREES_LOCK:
            if key not in _TREES:
                _TREES[key] = got
                _cached_chars += len(text)
            while _cached_chars > TREE_CACHE_CHARS and _TREES:
                (old, _name), _ = _TREES.popitem(last=False)
                _cached_chars -= len(old)
    return got


def _parse(text: str, name: str) -> tuple[ast.Module | None, tuple[str, int] | None]:
    if not files.parseable(text):
        return None, (f"too large to analyse ({len(text) // 1000} KB, {text.count(chr(10)) + 1} lines; "
                      f"deploycheck reads at most {PARSE_CHARS // 1000} KB / {PARSE_LINES} lines)", 1)
    try:
        # Python's warnings about the student's code (an invalid escape sequence: SyntaxWarning) are
        # not the grader's: never in the instructor's warnings summary, never a parse failure under -W error
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=name), None
    except SyntaxError as e:
        return None, (f"{type(e).__name__}: {e.msg}", e.lineno or 1)
    except (ValueError, RecursionError, MemoryError) as e:
        return None, (f"cannot be parsed ({type(e).__name__})", 1)
