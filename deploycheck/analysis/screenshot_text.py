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
    classification: Literal["prediction", "cloud", "unrelated"]
    calls: tuple[Evidence, ...] = ()
    outputs: tuple[Evidence, ...] = ()
    cloud: tuple[Evidence, ...] = ()
    values: tuple[Value, ...] = ()          # predicted values read from the output
    platform: str | None = None             # "aws" | "gcp" when the text says so
    words: int = 0                          # real words read (letters, 3+ long)
    note: str = ""                          # caveat on a prediction ("no call or endpoint is visible")


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
_DIGITISH = {"o": "0", "O": "0", "®": "0", "©": "0", "@": "0", "Q": "0", "D": "0",
             "l": "1", "I": "1", "|": "1", "i": "1"}


def parse_values(content: str) -> tuple[Value, ...]:
    """Values of a printed list ``0, 2`` / ``[0.1 0.9]`` / ``'setosa', 'virginica'`` (brackets may be inside)."""
    parts = [p for p in re.split(r"[\s,;\[\]()]+", content) if p and p not in ("dtype=object",)]
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
        elif numeric and q in _DIGITISH:
            out.append(int(_DIGITISH[q]))          # an OCR slip inside a list of numbers: [o, 2]
        elif re.fullmatch(r"[A-Za-z][\w .-]{0,40}", q) and (p[0] in "'\"" or not numeric):
            out.append(q)
        else:
            return ()                               # not a list of values (code, prose)
    return tuple(out)


_CALLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("invoke_endpoint call", re.compile(r"invoke[\s_-]*endpoint", re.I)),
    ("gcloud predict", re.compile(r"gcloud\s+ai(?:[\s-]*platform)?\s+(?:endpoints\s+)?predict\b", re.I)),
    (":predict request", re.compile(r"(?:[:/]\s?predict\b(?!\s*\()|/\s?invocations\b)", re.I)),
    ("predict( call", re.compile(r"\bpredict(?:_proba)?\s*\(", re.I)),
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
    ("endpoint", re.compile(r"\b([A-Za-z0-9][\w-]{1,60}-endpoint)\b", re.I), None, "name"),
    ("console page", re.compile(r"\b(?:endpoint configurations?|endpoint summary|endpoints\s*\(\d+\)|online prediction|"
                                r"model registry|models\s*\(\d+\))", re.I), None, None),
    ("notebook cell", re.compile(r"\bIn\s?\[\s?\d+\s?\]\s?:", re.I), None, "notebook cell"),
)
# Context that alone does not make an image about the cloud deployment.
WEAK_CLOUD = {"notebook cell", "gcloud"}

_ARRAY = re.compile(r"\barray\s*\(\s*(\[.*?\])(?:\s*,\s*dtype=[^)]*)?\s*\)?", re.I)
_PRED_KEY = re.compile(r"[\"']?\bpredictions?[\"']?\s*[:=]\s*(.*)$", re.I)
_PRED_LABEL = re.compile(r"\b(predicted(?:\s+(?:class|label|value)s?)?|prediction(?:\s+result)?s?|result)\s*[:=]\s*"
                         r"(.+)$", re.I)
_OUT_CELL = re.compile(r"\b[O0o]ut\s?\[\s?\d+\s?\]\s?:?\s*(.*)$")
_BARE_LIST = re.compile(r"^(?:b?[\"'])?(\[.*\])(?:[\"'])?[.,;]?$")
_PAREN_LIST = re.compile(r"^[\[(]\s*([^()\[\]]{1,200})[\])]$")
_COMMAND_CALLS = {"invoke_endpoint call", "gcloud predict", ":predict request", "predict( call"}
_INPUT_HINT = re.compile(r"\b(?:request|instances|input|body|payload|data\s*=|json\s*=|-d\b|features?|x_test|"
                         r"sample)", re.I)
_OUTPUT_HINT = re.compile(r"\b(?:response|result|output|answer|predictions?|[O0o]ut\s?\[|cat\s+\S+)", re.I)
_CHART_WORDS = re.compile(r"\b(?:accuracy|loss|epochs?|importance|confusion|matrix|histogram|frequency|count|"
                          r"distribution|correlation|heatmap|roc|auc|precision|recall|residuals?|score|axis|"
                          r"feature|figure|plot)\b", re.I)
_REAL_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def _bracketed(lines: list[str], i: int, start: str, used: list[int] | None = None) -> str:
    """The text of a bracketed list starting in ``start`` (rest of line i), continued over up to 8 lines;
    ``used[0]`` is set to the last line it took."""
    buf = start
    j = i
    while buf.count("[") > buf.count("]") and j + 1 < len(lines) and j - i < 8:
        j += 1
        buf += " " + lines[j]
    if used is not None:
        used[0] = j
    return buf


def _first_list(s: str) -> str:
    """The first bracketed list of ``s`` (``[ 0 ], "model": ...`` -> ``[ 0 ]``), or its first scalar."""
    s = s.strip()
    if not s.startswith("["):
        return re.split(r"[,}\s]", s, maxsplit=1)[0]
    depth = 0
    for k, ch in enumerate(s):
        depth += (ch == "[") - (ch == "]")
        if depth == 0:
            return s[:k + 1]
    return s


def _is_input(lines: list[str], i: int, values: tuple[Value, ...], nested_rows: int) -> bool:
    """Is the list on line i what was sent (features) rather than what came back?"""
    line = lines[i]
    if re.search(r"predict\w*\s*\(|\b(?:instances|body|data|json|payload)\s*[=:]|\s(?:-d|--data\S*)\s", line, re.I):
        return True
    before = " ".join(lines[max(0, i - 2):i])
    if _OUTPUT_HINT.search(before) or _OUTPUT_HINT.search(line):
        return False
    command = " ".join(lines[max(0, i - 4):i])
    if re.search(r"using endpoint", command, re.I) or any(rx.search(command) for label, rx in _CALLS
                                                          if label not in ("predict( call", "console test request")):
        return False          # right below a gcloud / curl / invoke-endpoint command: its output
    if _INPUT_HINT.search(before):
        return True
    # a table of features (rows of 3+ numbers) is what is sent, not what comes back
    return nested_rows > 0 and len(values) >= 3 * nested_rows and all(isinstance(v, float) for v in values[:3])


def classify_text(text: str) -> TextFacts:
    """What OCR text shows: a prediction, cloud context only, or nothing related."""
    lines = normalise(text)
    calls: list[Evidence] = []
    outputs: list[Evidence] = []
    cloud: list[Evidence] = []
    values: tuple[Value, ...] = ()
    platforms: list[str] = []
    seen_labels: set[str] = set()
    strong_output = False
    consumed = [-1]                        # last line taken by a multi-line list

    def add(kind: str, label: str, line: str, pos: int | None = None, shown: str = "") -> None:
        key = f"{kind}:{label}:{shown.lower()}" if kind == "cloud" else f"{kind}:{label}"
        if key in seen_labels or (kind == "cloud" and len(cloud) >= 12):
            return
        seen_labels.add(key)
        ev = Evidence(kind, label, sanitise(line, around=pos), sanitise(shown, 60))  # type: ignore[arg-type]
        (calls if kind == "call" else outputs if kind == "output" else cloud).append(ev)

    for i, line in enumerate(lines):
        for label, rx in _CALLS:
            m = rx.search(line)
            if m:
                if label == "HTTP request" and not any(r.search(" ".join(lines[i:i + 4])) for _, r in _CALLS[2:3]):
                    continue   # curl / requests.post only count with a predict / invocations URL nearby
                add("call", label, line, m.start())
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
        m = _ARRAY.search(line)
        if m:
            vals = parse_values(_bracketed(lines, i, m.group(1), consumed))
            if vals and not re.search(r"predict\w*\s*\(", line[:m.start()], re.I):
                add("output", "array([...]) output", line, m.start())
                values, strong_output = vals, True
                continue
        m = _PRED_KEY.search(line)
        if m and not re.search(r"predict\w*\s*\(", line, re.I):
            rest = m.group(1).strip()
            buf = _bracketed(lines, i, rest, consumed) if rest else " ".join(lines[i + 1:i + 8])
            first = _first_list(buf)
            vals = parse_values(first)
            shown = line if (not rest or "]" in rest or not rest.startswith("[")) and rest else \
                f"{line[:m.end(1) - len(m.group(1))].rstrip()} {first}"
            add("output", '"predictions" in a response', shown, m.start())
            strong_output = True
            if vals:
                values = vals
            continue
        m = _OUT_CELL.search(line)
        if m:
            rest = m.group(1).strip() or (lines[i + 1] if i + 1 < len(lines) else "")
            am = _ARRAY.search(rest)
            vals = parse_values(_bracketed(lines, i, am.group(1), consumed)) if am else \
                parse_values(rest) if rest.startswith("[") or _NUM.match(rest.strip("'\"")) else ()
            add("output", "notebook Out[n] output", line + ("" if m.group(1).strip() else " " + rest), m.start())
            strong_output = True
            if vals:
                values = vals
            continue
        m = _BARE_LIST.match(line)
        if m:
            buf = _bracketed(lines, i, m.group(1), consumed)
            vals = parse_values(buf)
            rows = buf.count("[") - 1 if buf.startswith("[[") else 0
            if vals and not _is_input(lines, i, vals, rows):
                add("output", "printed list of predictions", line)
                values = vals
            continue
        m = _PAREN_LIST.match(line)
        if m and any(rx.search(" ".join(lines[max(0, i - 3):i])) for label, rx in _CALLS if label in _COMMAND_CALLS):
            # "(0, 2)" or "[0, 2)" right below a predict call: Tesseract often misreads small square brackets
            vals = parse_values(m.group(1))
            if vals and len(vals) <= 50:
                add("output", "printed list of predictions", line)
                values = vals
                continue
        m = _PRED_LABEL.search(line)
        if m and not re.search(r"predict\w*\s*\(", line, re.I):
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
    words = len(_REAL_WORD.findall(" ".join(lines)))
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
        return TextFacts("cloud", tuple(calls), (), tuple(cloud), (), platform, words)
    return TextFacts("unrelated", tuple(calls), (), tuple(cloud), (), platform, words)


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


def plausibility(values: Sequence[Value], known: KnownOutputs | None) -> Plausibility:
    """Are the values in the screenshot something this model can predict?"""
    if not values or known is None or (not known.classes and not known.local_values):
        return Plausibility(None, "")
    shown = ", ".join(str(v) for v in values[:6]) + (", …" if len(values) > 6 else "")
    if known.classes:
        classes = ", ".join(str(c) for c in known.classes[:10]) + (", …" if len(known.classes) > 10 else "")
        bad = [v for v in values if not any(_same(v, c) for c in known.classes)]
        if not bad:
            return Plausibility(True, f"the values shown ({shown}) are among this model's classes ({classes})")
        return Plausibility(False, f"{bad[0]} is not one of this model's classes ({classes}, from "
                                   f"{known.source or 'the model'}): is this screenshot from this model?")
    local = known.local_values or ()
    kinds_shown = {isinstance(v, str) for v in values}
    kinds_local = {isinstance(v, str) for v in local}
    if kinds_shown != kinds_local:
        what = "labels" if True in kinds_local else "numbers"
        return Plausibility(False, f"the screenshot shows {shown} but this model predicts {what} "
                                   f"({', '.join(map(str, local[:6]))} for the sample request): is it from this model?")
    if True not in kinds_local and all(float(v).is_integer() for v in local) \
            and not all(float(v).is_integer() for v in values):
        return Plausibility(False, f"the screenshot shows {shown} but this model predicts whole numbers "
                                   f"({', '.join(map(str, local[:6]))} for the sample request)")
    return Plausibility(True, f"the values shown ({shown}) are of the kind this model predicts "
                              f"({', '.join(map(str, local[:6]))} for the sample request)")
