"""Every string from a student (ids, names, messages, paths, OCR text) is escaped for its sink."""
from __future__ import annotations

import re

from deploycheck.files import printable

# ANSI escape sequences (CSI, OSC, and two-character ESC sequences), C0/C1 controls, DEL, and the
# Unicode bidi controls that reorder what a terminal shows ("Trojan source").
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b.?")
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def terminal(text: object, limit: int = 500) -> str:
    """One line for a terminal: escape sequences and control characters removed, newlines and
    tabs turned into spaces."""
    s = _ANSI.sub("", printable(str(text)))
    s = re.sub(r"[\r\n\t]+", " ", s)
    s = _CTRL.sub("", s)
    return s[:limit] + ("…" if len(s) > limit else "")


def terminal_block(text: object) -> str:
    """Several lines for a terminal (captured output, a traceback): escape sequences and control
    characters removed, newlines and tabs kept."""
    s = _ANSI.sub("", str(text)).replace("\r\n", "\n").replace("\r", "\n")
    return _CTRL.sub(lambda m: m.group(0) if m.group(0) in "\n\t" else "", s)


# Markdown (GitHub's cmark-gfm in $GITHUB_STEP_SUMMARY): backslash-escape every character that can
# start markup (HTML tags, links, images, emphasis, code, tables, headings, lists), and break the
# extended autolinks (https://, www., e-mail) with a zero-width space so no student text becomes a link.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~&])")
_ZW = "\u200b"


def markdown(text: object, limit: int = 500) -> str:
    """Inline Markdown text (safe in a table cell): no raw HTML, no link, no image, one line."""
    s = terminal(text, limit)
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = re.sub(r"(?i)(h)(ttps?|ftp)", r"\1" + _ZW + r"\2", s)
    s = re.sub(r"(?i)(w)(ww\.)", r"\1" + _ZW + r"\2", s)
    s = s.replace("@", "@" + _ZW)
    return s


def markdown_code(text: object, limit: int = 200) -> str:
    """A code span (a path, an id) outside tables: backslash escapes do not work inside one, so the
    text keeps its characters except backticks (which would close it) and control characters;
    cmark-gfm shows HTML and links in a code span as text."""
    s = terminal(text, limit).replace("`", "'").strip() or "-"
    return f"`{s}`"


_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*(?:_[A-Za-z0-9][A-Za-z0-9.-]*)*")


def markdown_id(sid: str) -> str:
    """A student id as is when Markdown cannot read anything into it (letters, digits, ``.``, ``-``
    and intraword ``_``, no autolink), else escaped like any student text."""
    if _PLAIN_ID.fullmatch(sid) and not re.search(r"(?i)www\.|https?|ftp", sid):
        return sid
    return markdown(sid)


def csv_cell(value: object) -> str:
    """A CSV cell that no spreadsheet evaluates: text starting with = + - @, a tab or a carriage
    return is prefixed with ' (OWASP's advice against CSV/formula injection)."""
    s = "" if value is None else str(value)
    if s and s[0] in "=+-@\t\r":
        return "'" + s
    return s
