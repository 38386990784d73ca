"""What the text read from a screenshot shows (pure functions of the OCR text, no I/O).

:func:`classify_text`: *prediction* (predicted values: ``[0, 2]``, ``array([...])``,
``{"predictions": ...}``, ``Out[n]: ...``, or the ``InvokedProductionVariant`` answer of
``invoke-endpoint``), *cloud* (console pages, endpoint lists, a predict call without its output) or
*unrelated* (then :func:`seems_like` says what it looks like: chart, logo, photo, empty page, text
without a prediction). Evidence is kept as short, sanitised snippets (credentials redacted).
:func:`plausibility` compares the values shown with what the model is known to predict.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, Sequence

SNIPPET = 90                       # characters of one evidence snippet


@dataclass(frozen=True)
class ImageStats:
    width: int
    height: int
    format: str = ""
    stddev: float = 0.0            # grayscale standard deviation (blank below BLANK_STDDEV)
    colours: int = 0               # distinct colours of a 128 px thumbnail, 4 bits per channel
    dominant: float = 0.0          # share of the most common of those colours
    transparent: float = 0.0       # share of (nearly) transparent pixels


@dataclass(frozen=True)
class Evidence:
    kind: Literal["call", "output", "cloud"]
    label: str                     # what was recognised ("predict( call", "array([...])", "InService")
    snippet: str                   # the OCR line it was found on, sanitised and shortened
    shown: str = ""                # the matched text itself, for short lists ("ml.t2.medium", "us-east-1")


Value = int | float | str


@dataclass(frozen=True)
class TextFacts:
    classification: Literal["prediction", "cloud", "unrelated", "uncertain", "deploycheck"]
    calls: tuple[Evidence, ...] = ()
    outputs: tuple[Evidence, ...] = ()
    cloud: tuple[Evidence, ...] = ()
    values: tuple[Value, ...] = ()          # predicted values read from the output
    platform: str | None = None             # "aws" | "gcp" when the text says so
    words: int = 0                          # real words read (letters, 3+ long)
    note: str = ""                          # caveat on a prediction ("no call or endpoint is visible"), or
                                            # why an "uncertain" text could not be decided


@dataclass(frozen=True)
class KnownOutputs:
    """What this model can predict, when known: its classes (``classes_``) and/or the values the local
    emulation predicted for the sample request."""
    classes: tuple[Value, ...] | None = None
    local_values: tuple[Value, ...] | None = None
    source: str = ""                         # "the pickle's classes_", "predict.local"


@dataclass(frozen=True)
class Plausibility:
    plausible: bool | None                   # None: nothing known to compare with
    sentence: str = ""


# ------------------------------------------------------------------------------------ text

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "‘": "'", "’": "'",
                         "‚": "'", "′": "'", "`": "'", "—": "-", "–": "-", "−": "-", "\t": " "})
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def normalise(text: str) -> list[str]:
    """OCR text -> non-empty lines: NFKC (full-width commas...), straight quotes, no control characters,
    single spaces."""
    t = unicodedata.normalize("NFKC", text or "").translate(_QUOTES)
    t = _CTRL.sub("", t.replace("\r", "\n"))
    return [s for s in (re.sub(r" {2,}", " ", ln).strip() for ln in t.split("\n")) if s]


# Credentials that may be visible in a screenshot: never quoted back.
_REDACT = [
    (re.compile(r"\b((?:AKIA|ASIA))[A-Z0-9]{14}([A-Z0-9]{2})\b"), r"\1…\2"),     # as security.secrets shows it
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1(redacted)"),
    (re.compile(r"\bya29\.[A-Za-z0-9._-]{10,}"), "ya29.(redacted)"),
    (re.compile(r"(?i)(secret[\w\s\"':=]{0,24}?)[A-Za-z0-9/+]{40}\b"), r"\1(redacted)"),
    (re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"), "(redacted)"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*", re.S), "(private key redacted)"),
]


def redact(text: str) -> str:
    for rx, rep in _REDACT:
        text = rx.sub(rep, text)
    return text


_PROMPT = re.compile(r"^(?:\(\S+\)\s*)?[\w.-]+@[\w.-]+:\S*?\s?[$#%>]\s*|^PS [^>]{1,80}>\s*|^[$#>]\s+")


def sanitise(line: str, limit: int = SNIPPET, around: int | None = None) -> str:
    """One short, printable snippet of an OCR line (credentials redacted, shell prompt dropped), cut so
    that position ``around`` (of the original line) stays in view."""
    raw = " ".join(_CTRL.sub("", line).split())
    m = _PROMPT.match(raw)
    if m and len(raw) > m.end():
        raw = raw[m.end():]
        around = None if around is None else max(0, around - m.end())
    s = redact(raw)
    if len(s) <= limit:
        return s
    if around is None or around <= 20:
        return s[:limit - 1].rstrip() + "…"
    start = max(0, min(around - 20, len(s) - (limit - 1)))
    end = min(len(s), start + limit - 1)
    if end < len(s):
        end -= 1
    return ("…" if start else "") + s[start:end].strip() + ("…" if end < len(s) else "")


_NUM = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$", re.I)
# what OCR reads for 0 and 1 in monospace fonts (a dotted or slashed zero: "@", "®", "O"), counted as digits
# only among numbers
_DIGITISH = {"o": "0", "O": "0", "®": "0", "©": "0", "@": "0", "Q": "0", "D": "0", "Ø": "0", "ø": "0",
             "l": "1", "I": "1", "|": "1", "i": "1"}
_STRAY = {"J", "j", "}", "{", "|"}                      # brackets OCR misreads, among numbers


def _digitish(tok: str) -> str | None:
    """``tok`` as a number when OCR slips explain it (``@`` -> 0, ``1.@`` -> 1.0, ``O.5`` -> 0.5), else None."""
    if tok in _DIGITISH:
        return _DIGITISH[tok]
    fixed = "".join(_DIGITISH.get(c, c) for c in tok)
    return fixed if fixed != tok and _NUM.match(fixed) and any(c.isdigit() for c in tok) else None


def parse_values(content: str, quoted_labels: bool = False) -> tuple[Value, ...]:
    """Values of a printed list ``0, 2`` / ``[0.1 0.9]`` / ``'setosa', 'virginica'`` (brackets may be inside;
    OCR's ``(``/``{`` for ``[`` and ``@``/``O`` for ``0`` among numbers are tolerated). ``quoted_labels``: a
    JSON body or a printed Python list, where a label is always quoted (a bare word there is an OCR slip)."""
    parts = [p for p in re.split(r"[\s,;\[\](){}]+", content) if p and p not in ("dtype=object",)]
    parts = [p for p in parts if not p.startswith("dtype=")]
    if not parts or len(parts) > 1000:
        return ()
    out: list[Value] = []
    numeric = sum(bool(_NUM.match(p)) for p in parts)
    for p in parts:
        q = p.strip("'\"")
        if _NUM.match(q):
            f = float(q)
            out.append(int(f) if re.fullmatch(r"[-+]?\d+", q) else f)
        elif numeric and _digitish(q) is not None:
            d = _digitish(q) or ""
            out.append(int(d) if re.fullmatch(r"[-+]?\d+", d) else float(d))   # an OCR slip: [@, 2], [O.5]
        elif numeric and q in _STRAY:
            continue
        elif re.fullmatch(r"[A-Za-z][\w .-]{0,40}", q) and (p[0] in "'\"" or not (numeric or quoted_labels)):
            out.append(q)
        else:
            return ()                               # not a list of values (code, prose)
    return tuple(out)


_CALLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("invoke_endpoint call", re.compile(r"invoke[_-]endpoint(?=\s*(?:\(|--|\\|$))|invoke[\s_-]*endpoint\s*\(", re.I)),
    ("gcloud predict", re.compile(r"gcloud\s+ai(?:[\s-]*platform)?\s+(?:endpoints\s+)?predict\b", re.I)),
    (":predict request", re.compile(r"(?:[:/]\s?predict\b(?!\s*\()|/\s?invocations\b)", re.I)),
    ("predict( call", re.compile(r"\bpredict(?:_proba)?\s*[({]", re.I)),
    ("sagemaker-runtime", re.compile(r"sagemaker[\s-]*runtime", re.I)),
    ("console test request", re.compile(r"\btest\s*inference\b|\btest\s+your\s+model\b|\bsend\s+request\b", re.I)),
    ("HTTP request", re.compile(r"\brequests\s*\.\s*post\s*\(|\bcurl\b", re.I)),
)

CALL_ORDER = tuple(label for label, _ in _CALLS)     # most telling first (for quoting)

# (label, pattern, platform, how to show the match: None = the matched text, "name" = group 1 as
# "endpoint <name>", a string = that string)
_CLOUD: tuple[tuple[str, re.Pattern[str], str | None, str | None], ...] = (
    ("InService", re.compile(r"\bIn\s?Service\b", re.I), "aws", "InService"),
    ("SageMaker", re.compile(r"\bsage\s?maker\b", re.I), "aws", "SageMaker"),
    ("SageMaker ARN", re.compile(r"arn:aws:sagemaker:[\w-]*:?\s?\d{0,12}:?endpoint/([\w-]{2,63})", re.I), "aws", "name"),
    ("invocation answer", re.compile(r"InvokedProductionVariant", re.I), "aws", "InvokedProductionVariant"),
    ("instance type", re.compile(r"\bml\.[a-z0-9]{1,4}\.[a-z0-9]{4,10}\b", re.I), "aws", None),
    ("AWS region", re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il)-(?:east|west|north|south|central|northeast|"
                              r"southeast|northwest|southwest)-[1-9l]\b", re.I), "aws", None),
    ("Vertex AI", re.compile(r"\bvertex\s?a[il1]\b", re.I), "gcp", "Vertex AI"),
    ("AI Platform", re.compile(r"\bai[\s-]?platform\b", re.I), "gcp", "AI Platform"),
    ("Google API endpoint", re.compile(r"(?:aiplatform|ml)\.googleapis\.com", re.I), "gcp", None),
    ("deployedModelId", re.compile(r"deployed\s?Model\s?Id", re.I), "gcp", "deployedModelId"),
    ("GCP region", re.compile(r"\b(?:us|europe|asia|australia|northamerica|southamerica|me|africa)-(?:central|east|"
                              r"west|north|south|northeast|southeast|southwest|northwest)(?:[1-9]{1,2}|l)(?![\w])", re.I),
     "gcp", None),
    ("Google Cloud console", re.compile(r"\bgoogle\s+cloud\b", re.I), "gcp", "Google Cloud console"),
    ("gcloud", re.compile(r"\bgcloud\b", re.I), "gcp", "gcloud"),
    ("endpoint", re.compile(r"\b(?:endpoint[\s_-]?name|EndpointName)\s*[=:]?\s*[\"']?([A-Za-z0-9][\w-]{2,62})", re.I),
     None, "name"),
    ("endpoint", re.compile(r"(?:\bendpoint\s+ID\s*:?\s*|endpoints/\s?)(\d{5,})", re.I), None, "name"),
    ("endpoint", re.compile(r"\b(?!(?:invoke|create|delete|describe|update|list)-endpoint\b)"
                            r"([A-Za-z0-9][\w-]{1,60}-endpoint)\b", re.I), None, "name"),
    ("console page", re.compile(r"\b(?:endpoint configurations?|endpoint summary|endpoints\s*\(\d+\)|online prediction|"
                                r"model registry|models\s*\(\d+\))", re.I), None, None),
    ("notebook cell", re.compile(r"\bIn\s?\[\s?\d+\s?\]\s?:", re.I), None, "notebook cell"),
)
# Context that alone does not make an image about the cloud deployment.
WEAK_CLOUD = {"notebook cell", "gcloud"}

_ARRAY = re.compile(r"\b[ao]?r{1,2}a[yv]\s*\(\s*(?=[\[({])", re.I)          # array(  arrav(  aray(
_PRED_KEY = re.compile(r"[\"'“”]?\bpredictions?[\"'“”]?\s*[:=]\s*(.*)$", re.I)
_PRED_LABEL = re.compile(r"\b(predicted(?:\s+(?:class|label|value)s?)?|prediction(?:\s+result)?s?|result)\s*[:=]\s*"
                         r"(.+)$", re.I)
# a call of predict (predictor.predict(, endpoint.predict(, model.predict_proba(), not the class Prediction(
_PREDICT_CALL = re.compile(r"(?:\.\s?|\b)predict(?:_proba)?\s*[({]")
_OPEN, _CLOSE = "[({", "])}"
_LIST_START = re.compile(r"^(?:b?[\"'])?[\[({]")
_SCALARS = re.compile(r"^[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?:\s*[,;]\s*[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)*[,;]?$", re.I)
# editor and Postman line numbers: "1 [", "2   0,", "3   2", "4 ]"
_LINE_NO = re.compile(r"^(\d{1,3})\s+(?=\S)")
# notebook prompts: "In [6]:", "Out[6]:", JupyterLab's "[7]:" (input and output alike), VS Code's "[5] |",
# as OCR reads them ("(7]:", "{5]:", "(71:", "out{6]:"); a sidebar may stand before them on the same line
_CELL_PROMPT = re.compile(r"(?:(?P<kind>\b(?:In|ln|[O0o]ut))\s?)?[\[({]\s?\d{1,4}\s?(?:[\]})J|]|(?<=\d)[1lI])\s?(?P<end>:|\|)")
# a sidebar's entries OCR put on the same line as the code or output beside them ("README.md", "0", "]")
_SIDEBAR = re.compile(r"^(?:(?:[\w.-]+\.[A-Za-z]{1,5}|[0-9|\][(){}»>©®@'`]|\w{1,3}),?\s+){1,3}(?=[\[(])")
_VSCODE_PROMPT = re.compile(r"^(?P<kind>)[\[({]\s?\d{1,4}\s?[\]})J|]\s+(?=\S)")
_COMMAND_CALLS = {"invoke_endpoint call", "gcloud predict", ":predict request", "predict( call", "HTTP request"}
# what was sent (features) rather than what came back
_REQUEST_MARK = re.compile(r"\b(?:request\s+body|json\s+request|\"?instances\"?\s*[:=]|payload|--body|--data|"
                           r"-d\s+@|--json-(?:request|instances)|raw\W{0,3}json)", re.I)
_RESPONSE_MARK = re.compile(r"\b(?:response|status:?\s*2\d\d|2\d\d\s+ok|pretty\s+raw|using endpoint|"
                            r"invokedproductionvariant|answer|output)\b", re.I)
_CAT = re.compile(r"\bcat\s+(\S+)", re.I)
_INPUT_FILE = re.compile(r"(?:payload|input|request|instances|data|test|sample|features|x_|body)", re.I)
_INPUT_HINT = re.compile(r"\b(?:request|instances|input|body|payload|data\s*=|json\s*=|-d\b|features?|x_test|"
                         r"sample)", re.I)
_OUTPUT_HINT = re.compile(r"\b(?:response|result|output|answer|predictions?|[O0o]ut\s?\[|cat\s+\S+)", re.I)
_CHART_WORDS = re.compile(r"\b(?:accuracy|loss|epochs?|importance|confusion|matrix|histogram|frequency|count|"
                          r"distribution|correlation|heatmap|roc|auc|precision|recall|residuals?|score|axis|"
                          r"feature|figure|plot)\b", re.I)
_REAL_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
UNCERTAIN_CONF = 55.0              # OCR line confidence under which text "could not be read"
# deploycheck's own pictures (proof cards, README snapshots) say what they are (deploycheck/proof/)
_OWN_MARK = re.compile(r"\b(?:LOCAL\s?EMULATION|OFFLINE\s?CLOUD\s?EMULATION|rendered\s?by\s?deploycheck|"
                       r"deploycheck'?s\s?(?:local|offline\s?cloud)\s?emulation|(?:sent|received)\s?by\s?deploycheck)",
                       re.I)


def _strip_line_numbers(lines: list[str]) -> list[str]:
    """Lines without an editor's line numbers: a run of lines numbered n, n+1, ... (two or more), or a
    lone "1 [..." (Postman's one-line body)."""
    out = list(lines)
    i = 0
    while i < len(lines):
        m = _LINE_NO.match(lines[i])
        if not m:
            i += 1
            continue
        n, j = int(m.group(1)), i + 1
        while j < len(lines):
            mj = _LINE_NO.match(lines[j])
            if not mj or int(mj.group(1)) != n + (j - i):
                break
            j += 1
        lone = j - i == 1 and n == 1 and lines[i][m.end():m.end() + 1] in _OPEN + "{"
        if j - i >= 2 or lone:
            for k in range(i, j):
                out[k] = _LINE_NO.sub("", lines[k], count=1)
        i = j
    return out


@dataclass(frozen=True)
class _Line:
    raw: str                       # the OCR line (for snippets), from its prompt on (no sidebar before it)
    body: str                      # without line numbers and notebook prompt
    prompt: str                    # "in" | "out" | "cell" (JupyterLab/VS Code: either) | ""


def _lines(text: str) -> list[_Line]:
    raw = normalise(text)
    out = []
    for r, b in zip(raw, _strip_line_numbers(raw)):
        kind = ""
        m = _CELL_PROMPT.search(b)
        if m and m.start() <= 45 and (m.group("end") == ":" or m.start() == 0):
            k = (m.group("kind") or "").lower()
            kind = "in" if k in ("in", "ln") else "out" if k.endswith("ut") else "cell"
            if m.start() and r.endswith(b):
                r = r[len(r) - len(b) + m.start():]        # the sidebar before the prompt is not quoted
            b = b[m.end():].strip()
        else:
            m = _VSCODE_PROMPT.match(b)
            if m and not _LIST_START.match(b[m.end():]):
                kind, b = "cell", b[m.end():].strip()
        if not kind:
            m = _SIDEBAR.match(b)
            if m and parse_values(b[m.end():]):
                b = b[m.end():]                 # "README.md [0 2]": a file list beside the output
                r = b
        out.append(_Line(r, b.lstrip("|").strip() if kind else b, kind))
    return out


def _bracketed(lines: list[_Line], i: int, start: str, used: list[int] | None = None) -> str:
    """The text of a bracketed list starting in ``start`` (rest of line i), continued over up to 12 lines
    until its brackets close (OCR's ``(`` / ``{`` for ``[`` count alike); ``used[0]`` is set to the last
    line it took."""
    def depth(s: str) -> int:
        return sum(c in _OPEN for c in s) - sum(c in _CLOSE for c in s)
    buf, j = start, i
    while depth(buf) > 0 and j + 1 < len(lines) and j - i < 12 and not _PREDICT_CALL.search(lines[j + 1].body):
        j += 1
        nxt = lines[j].body
        m = _SIDEBAR.match(nxt)
        buf += " " + (nxt[m.end():] if m else nxt)
    if used is not None:
        used[0] = j
    return buf


def _first_list(s: str) -> str:
    """The first bracketed list of ``s`` (``[ 0 ], "model": ...`` -> ``[ 0 ]``), or its first scalar."""
    s = s.strip()
    if not s or s[0] not in _OPEN:
        return re.split(r"[,}\s]", s, maxsplit=1)[0]
    depth = 0
    for k, ch in enumerate(s):
        depth += (ch in _OPEN) - (ch in _CLOSE)
        if depth == 0:
            return s[:k + 1]
    return s


def _section(lines: list[_Line], i: int) -> str:
    """"request" or "response": the nearest marker above line i (12 lines at most), else ""."""
    for j in range(i - 1, max(-1, i - 13), -1):
        b = lines[j].body
        if _RESPONSE_MARK.search(b) or lines[j].prompt == "out":
            return "response"
        c = _CAT.search(b)
        if c:
            return "request" if _INPUT_FILE.search(c.group(1)) else "response"
        if _REQUEST_MARK.search(b):
            return "request"
    return ""


def _is_input(lines: list[_Line], i: int, values: tuple[Value, ...], nested_rows: int) -> bool:
    """Is the list on line i what was sent (features) rather than what came back?"""
    line = lines[i].body
    if _PREDICT_CALL.search(line) or re.search(r"\b(?:instances|body|data|json|payload)\s*[=:]|\s(?:-d|--data\S*)\s",
                                                line, re.I):
        return True
    section = _section(lines, i)
    if section:
        return section == "request"
    before = " ".join(x.body for x in lines[max(0, i - 2):i])
    if _OUTPUT_HINT.search(before) or _OUTPUT_HINT.search(line):
        return False
    command = " ".join(x.body for x in lines[max(0, i - 4):i])
    if re.search(r"using endpoint", command, re.I) or any(rx.search(command) for label, rx in _CALLS
                                                          if label not in ("console test request",)):
        return False          # right below a predict call, gcloud / curl / invoke-endpoint command: its output
    if _INPUT_HINT.search(before):
        return True
    # a table of features (rows of 3+ numbers) is what is sent, not what comes back
    return nested_rows > 0 and len(values) >= 3 * nested_rows and all(isinstance(v, float) for v in values[:3])


def _after_output_context(lines: list[_Line], i: int) -> bool:
    """Is line i right below an output's start (``cat out.csv``, a response header, an output prompt)?"""
    for j in range(i - 1, max(-1, i - 3), -1):
        b = lines[j].body
        c = _CAT.search(b)
        if c:
            return not _INPUT_FILE.search(c.group(1))
        if _RESPONSE_MARK.search(b) or lines[j].prompt == "out":
            return True
        if not _SCALARS.match(b):
            return False
    return False


def classify_text(text: str, confidences: Sequence[float] | None = None, photo: bool = False) -> TextFacts:
    """What OCR text shows: a prediction, cloud context only, nothing related, or (``uncertain``) a call
    or endpoint whose output OCR could not read with confidence. ``confidences``: Tesseract's confidence
    of each non-empty line of ``text`` (0-100), when known; ``photo``: the image is a photo of a screen."""
    lines = _lines(text)
    own = _OWN_MARK.search(" ".join(x.raw for x in lines))
    if own:
        return TextFacts("deploycheck", note=f"it reads “{sanitise(own.group(0), 40)}”")
    confs = list(confidences) if confidences is not None and len(confidences) == len(lines) else None
    calls: list[Evidence] = []
    outputs: list[Evidence] = []
    cloud: list[Evidence] = []
    values: tuple[Value, ...] = ()
    platforms: list[str] = []
    seen_labels: set[str] = set()
    strong_output = False
    consumed = [-1]                        # last line taken by a multi-line list
    last_call = -1
    partial: list[str] = []                # output markers whose values OCR read with little confidence

    def unsure(i: int) -> bool:
        """Line i was read with little confidence (a marker on it without readable values is partial)."""
        return confs is not None and confs[i] < UNCERTAIN_CONF

    def add(kind: str, label: str, line: str, pos: int | None = None, shown: str = "") -> None:
        key = f"{kind}:{label}:{shown.lower()}" if kind == "cloud" else f"{kind}:{label}"
        if kind == "output" and key in seen_labels:          # the last output of a kind is the one that counts
            outputs[:] = [e for e in outputs if e.label != label]
            seen_labels.discard(key)
        if key in seen_labels or (kind == "cloud" and len(cloud) >= 12):
            return
        seen_labels.add(key)
        ev = Evidence(kind, label, sanitise(line, around=pos), sanitise(shown, 60))  # type: ignore[arg-type]
        (calls if kind == "call" else outputs if kind == "output" else cloud).append(ev)

    for i, ln in enumerate(lines):
        line, body = ln.raw, ln.body
        for label, rx in _CALLS:
            m = rx.search(line)
            if m:
                if label == "HTTP request" and not any(r.search(" ".join(x.raw for x in lines[i:i + 4]))
                                                       for _, r in _CALLS[2:3]):
                    continue   # curl / requests.post only count with a predict / invocations URL nearby
                if label == "predict( call" and not _PREDICT_CALL.search(line):
                    continue   # Prediction(predictions=...) is an answer, not a call
                add("call", label, line, m.start())
                last_call = i
        for label, rx, plat, how in _CLOUD:
            m = rx.search(line)
            if m:
                shown = f"endpoint {m.group(1)}" if how == "name" else how or m.group(0)
                if label.endswith("region") and shown.endswith("l"):
                    shown = shown[:-1] + "1"            # an OCR slip: us-centrall -> us-central1
                add("cloud", label, line, m.start(), shown)
                if plat:
                    platforms.append(plat)
        # ---- outputs, most specific first; the last one found wins for the values
        if i <= consumed[0]:
            continue                      # continuation lines of a list already read
        m = _ARRAY.search(body)
        if m and not _PREDICT_CALL.search(body[:m.start()]):
            vals = parse_values(_first_list(_bracketed(lines, i, body[m.end():], consumed)))
            if not vals and unsure(i):
                partial.append(line)
                continue
            add("output", "array([...]) output", line, line.find(body[m.start():m.start() + 5]))
            strong_output = True
            if vals:
                values = vals
            continue
        m = _PRED_KEY.search(body)
        if m and not _PREDICT_CALL.search(body):
            rest = m.group(1).strip()
            buf = _bracketed(lines, i, rest, consumed) if rest else " ".join(x.body for x in lines[i + 1:i + 12])
            first = _first_list(buf)
            vals = parse_values(first, quoted_labels=True)
            shown = line if rest and (not rest.startswith(tuple(_OPEN)) or any(c in rest for c in _CLOSE)) else \
                f"{body[:m.end(1) - len(m.group(1))].rstrip()} {first}"
            if not vals and unsure(i):
                partial.append(line)
                continue
            add("output", '"predictions" in a response', shown, line.find("redict"))
            strong_output = True
            if vals:
                values = vals
            continue
        if ln.prompt in ("out", "cell") and body and not _PREDICT_CALL.search(body):
            vals = ()
            if body[0] in _OPEN:
                vals = parse_values(_first_list(_bracketed(lines, i, body, consumed)))
            elif _NUM.match(body.strip("'\"")):
                vals = parse_values(body)
            if ln.prompt == "out" and not vals and unsure(i):
                partial.append(line)
                continue
            if ln.prompt == "out" or vals:
                add("output", "notebook Out[n] output" if ln.prompt == "out" else "notebook cell output", line)
                strong_output = True
                if vals:
                    values = vals
                continue
        if ln.prompt == "out" and not body and i + 1 < len(lines):
            add("output", "notebook Out[n] output", line + " " + lines[i + 1].raw)
            strong_output = True
            continue
        if _LIST_START.match(body) and not _PREDICT_CALL.search(body):
            start = body[1:] if body[:1] == "b" else body
            used = [i]
            buf = _bracketed(lines, i, start.strip("'\""), used)
            first = _first_list(buf)
            vals = parse_values(first, quoted_labels=True)
            rows = first.count("[") - 1 if first[:2] in ("[[", "([", "[(", "((") else 0
            paren = body[0] in "({" and len(vals) <= 50
            if vals and (body[0] == "[" or (paren and (last_call >= i - 3 or _after_output_context(lines, i)))):
                if not _is_input(lines, i, vals, rows):
                    add("output", "printed list of predictions", line if used[0] == i else " ".join(first.split()))
                    values = vals
                consumed[0] = used[0]
                continue
        if _SCALARS.match(body) and _after_output_context(lines, i):
            run = [body]
            j = i
            while j + 1 < len(lines) and _SCALARS.match(lines[j + 1].body) and len(run) < 50:
                j += 1
                run.append(lines[j].body)
            vals = parse_values(" ".join(run))
            if vals and _section(lines, i) != "request":
                add("output", "printed values (CSV)", " ".join(run) if len(run) <= 12 else " ".join(run[:12]) + " …")
                values = vals
                consumed[0] = j
                continue
        m = _PRED_LABEL.search(body)
        if m and not _PREDICT_CALL.search(body):
            vals = parse_values(m.group(2).split("#")[0]) if len(m.group(2)) < 80 else ()
            if vals:
                add("output", "printed prediction", line, m.start())
                values = vals
                # "Prediction: [0 2]" says what it is; a bare "result: 2" does not
                strong_output = strong_output or m.group(1).lower().startswith("predict")
    if any(e.label == "invocation answer" for e in cloud):
        add("output", "invoke-endpoint answer (InvokedProductionVariant)",
            next(e.snippet for e in cloud if e.label == "invocation answer"))
        strong_output = True
    words = len(_REAL_WORD.findall(" ".join(x.raw for x in lines)))
    specific_cloud = [e for e in cloud if e.label not in WEAK_CLOUD]
    platform = None
    if platforms:
        platform = max(set(platforms), key=platforms.count)
    if outputs:
        note = ""
        if not calls and not specific_cloud:
            note = ("only the output is visible, not the call or the endpoint: next time include the request "
                    "and the endpoint name in the screenshot")
        elif not specific_cloud and all(e.label in ("predict( call",) for e in calls):
            note = ("no endpoint or cloud console is visible: make sure the prediction comes from the deployed "
                    "endpoint, not from the model in your notebook")
        if strong_output or calls or specific_cloud:
            return TextFacts("prediction", tuple(calls), tuple(outputs), tuple(cloud), values, platform, words, note)
        # a printed list alone (no call, no endpoint, no response key): not evidence of a deployment
        return TextFacts("unrelated", (), tuple(outputs), tuple(cloud), values, platform, words, note)
    if calls or specific_cloud:
        why = (f"the output (“{sanitise(partial[0], 50)}”) is only partly visible or could not be read with "
               "confidence") if partial else _unreadable_output(lines, confs, last_call, photo)
        if why:
            return TextFacts("uncertain", tuple(calls), (), tuple(cloud), (), platform, words, why)
        return TextFacts("cloud", tuple(calls), (), tuple(cloud), (), platform, words)
    return TextFacts("unrelated", tuple(calls), (), tuple(cloud), (), platform, words)


def _unreadable_output(lines: list[_Line], confs: list[float] | None, last_call: int, photo: bool) -> str:
    """Why the output of a call (or the rest of a console page) may be there but unread, or "": text
    that OCR read with little confidence right below the last call, or a photo read poorly overall."""
    if confs is None:
        return ""
    below = [(ln, c) for ln, c in zip(lines[last_call + 1:last_call + 4], confs[last_call + 1:last_call + 4])] \
        if last_call >= 0 else []
    garbled = [ln for ln, c in below if c < UNCERTAIN_CONF and re.search(r"[\[\](){}0-9@®]", ln.raw)]
    if last_call >= 0 and garbled:
        return (f"the line below the call (“{sanitise(garbled[0].raw, 50)}”) may be its output, but OCR could not "
                "read it with confidence")
    if photo and confs and sum(confs) / len(confs) < UNCERTAIN_CONF:
        return "this photo of a screen is read only in part: the output may be in it, but OCR could not read it"
    return ""


def seems_like(stats: ImageStats | None, facts: TextFacts | None, text: str) -> str:
    """What an unrelated image looks like, for the student's message."""
    lines = normalise(text)
    if facts is not None and facts.outputs:
        shown = ", ".join(str(v) for v in facts.values[:6]) or facts.outputs[0].snippet
        return f"printed values ({shown}) without the call or the endpoint that produced them"
    words = facts.words if facts else len(_REAL_WORD.findall(" ".join(lines)))
    ticks = sum(1 for ln in lines for tok in ln.split() if _NUM.match(tok))
    chart_words = len(_CHART_WORDS.findall(" ".join(lines)))
    if (chart_words >= 1 and ticks >= 3) or (ticks >= 6 and words <= 30) or chart_words >= 3:
        return "a chart or plot"
    if words < 3:
        if stats is None:
            return "a picture without readable text"
        squarish = abs(stats.width - stats.height) < 0.3 * max(stats.width, stats.height)
        if stats.transparent >= 0.2 or (stats.colours <= 40 and stats.dominant >= 0.5 and squarish
                                        and max(stats.width, stats.height) <= 1024):
            return "a logo or icon"
        if stats.dominant >= 0.85:
            return "an almost empty page"
        if stats.dominant < 0.4:
            return "a photo or picture"
        return "a picture without readable text"
    return "text that shows no prediction call or output"


# ------------------------------------------------------------------------------------ plausibility

def _same(a: Value, b: Value) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a).strip().lower() == str(b).strip().lower()
    return abs(float(a) - float(b)) < 1e-9


# digits OCR reads for one another in screenshots (a dotted or slashed zero above all)
_CONFUSABLE = {frozenset(p) for p in ("06", "08", "09", "17", "56", "38", "89", "69")}


def _close(a: Value, b: Value) -> bool:
    """Equal, or equal but for digits OCR often confuses (``6`` read for a dotted ``0``)."""
    if _same(a, b):
        return True
    if isinstance(a, str) or isinstance(b, str):
        return False
    sa, sb = repr(a), repr(b)
    if len(sa) != len(sb):
        return False
    return all(x == y or frozenset((x, y)) in _CONFUSABLE for x, y in zip(sa, sb))


def _show(vals: Sequence[Value], n: int = 6) -> str:
    return ", ".join(str(v) for v in vals[:n]) + (", …" if len(vals) > n else "")


def plausibility(values: Sequence[Value], known: KnownOutputs | None) -> Plausibility:
    """Do the values in the screenshot match what this model predicts? Evidence for the instructor, never
    a requirement: the screenshot may show another request than the README's sample."""
    if not values or known is None or (not known.classes and not known.local_values):
        return Plausibility(None, "")
    shown = _show(values)
    local = tuple(known.local_values or ())
    if local:
        said = "your model predicts locally for the README's sample request"
        mine = f"({_show(local)})"
        if len(local) == len(values) and all(_same(a, b) for a, b in zip(values, local)):
            return Plausibility(True, f"the values shown ({shown}) are what {said}")
        if len(local) == len(values) and all(_close(a, b) for a, b in zip(values, local)):
            return Plausibility(True, f"the values read ({shown}) match what {said} {mine}, but for digits OCR "
                                      "often misreads")
        kinds_shown = {isinstance(v, str) for v in values}
        kinds_local = {isinstance(v, str) for v in local}
        if kinds_shown != kinds_local:
            what = "labels" if True in kinds_local else "numbers"
            return Plausibility(False, f"the screenshot shows {shown}, but {said} {what} {mine}: is the "
                                       "screenshot from this model?")
        if True not in kinds_local and all(float(v).is_integer() for v in local) \
                and not all(float(v).is_integer() for v in values):
            return Plausibility(False, f"the screenshot shows {shown}, but {said} whole numbers {mine}")
        if set(map(str, values)) <= set(map(str, local)) or set(map(str, local)) <= set(map(str, values)):
            return Plausibility(True, f"the values shown ({shown}) are among what {said} {mine}")
        if not known.classes:
            return Plausibility(None, f"the values shown ({shown}) differ from what {said} {mine}: fine if the "
                                      "screenshot shows another request")
    if known.classes:
        classes = _show(known.classes, 10)
        bad = [v for v in values if not any(_same(v, c) for c in known.classes)]
        if not bad:
            return Plausibility(True, f"the values shown ({shown}) are among this model's classes ({classes})")
        return Plausibility(False, f"{bad[0]} is not one of this model's classes ({classes}, from "
                                   f"{known.source or 'the model'}): is this screenshot from this model?")
    return Plausibility(None, "")


def endpoint_match(shown: Sequence[str], named: Sequence[str]) -> Plausibility:
    """Is an endpoint the screenshot shows one the README (or the deploy scripts) name? Evidence only."""
    shown = [s for s in dict.fromkeys(shown) if s]
    named = [s for s in dict.fromkeys(named) if s]
    if not shown or not named:
        return Plausibility(None, "")
    low = {n.lower() for n in named}
    hit = next((s for s in shown if s.lower() in low), None)
    if hit:
        return Plausibility(True, f"the endpoint shown ({hit}) is the one your README names")
    return Plausibility(False, f"the screenshot shows endpoint {', '.join(shown[:2])} but your README names "
                               f"{', '.join(named[:3])}: is it from this deployment?")
