"""The names of the cloud resources a student's README and scripts use: endpoints (names and Vertex
ids), buckets and models, each with where it is written. One reader, used by the screenshot's
plausibility (is the endpoint a screenshot shows one the student named?) and by the class's
integrity signals (do two students use the same names?). Each user decides what a name is evidence
of (the integrity signals leave placeholders such as ``your-bucket`` out); which names a text
uses is decided here only.

Shell and template variables (``$ENDPOINT``, ``{name}``, ``<your-bucket>``) never match: every
pattern wants a literal name that starts with a letter or digit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TEXT = 2_000_000           # characters of one text read for names

_NAME = r"([A-Za-z0-9][\w.-]{1,62})"
_Q = r"[rfbu]?[\"']"            # an opening quote of a Python/JS string literal

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # endpoints: SDK arguments and assignments, the CLIs, Vertex resource names and ids
    ("endpoint", re.compile(rf"\b(?:endpoint_name|EndpointName|endpoint)\s*[=:]\s*{_Q}{_NAME}[\"']")),
    ("endpoint", re.compile(rf"--endpoint-name[=\s]+[\"']?{_NAME}")),
    ("endpoint", re.compile(rf"\bgcloud\s+ai\s+endpoints\s+(?:predict|raw-predict|describe|deploy-model|undeploy-model|"
                            rf"delete)\s+{_NAME}")),
    ("endpoint", re.compile(rf"\bgcloud\s+ai\s+endpoints\s+create\b[^\n]*--display-name[=\s]+[\"']?{_NAME}")),
    ("endpoint", re.compile(r"\bendpoints/(\d{6,})")),
    ("endpoint", re.compile(rf"\bEndpoint(?:\.create)?\s*\(\s*(?:display_name\s*=\s*|endpoint_name\s*=\s*)?[\"']"
                            rf"(?:projects/[^\"']*/endpoints/)?{_NAME}[\"']")),
    ("endpoint", re.compile(rf"\bEndpoint\.create\s*\([^)]*display_name\s*=\s*[\"']{_NAME}[\"']")),
    # buckets
    ("bucket", re.compile(r"\b(?:s3|gs)://([a-z0-9][a-z0-9._-]{2,62})")),
    ("bucket", re.compile(r"\b(?:Bucket|bucket_name|bucket|BUCKET(?:_NAME)?)\s*[=:]\s*[rfbu]?[\"']([a-z0-9][a-z0-9._-]{2,62})[\"']")),
    ("bucket", re.compile(r"\bgsutil\s+mb\b[^\n]*?\bgs://([a-z0-9][a-z0-9._-]{2,62})")),
    # models
    ("model", re.compile(rf"\b(?:ModelName|model_name|MODEL_NAME)\s*[=:]\s*{_Q}{_NAME}[\"']")),
    ("model", re.compile(rf"\bgcloud\s+ai-platform\s+models\s+create\s+[\"']?{_NAME}")),
    ("model", re.compile(rf"\bgcloud\s+ai-platform\s+(?:versions\s+create|predict)\b[^\n]*--model[=\s]+[\"']?{_NAME}")),
    ("model", re.compile(rf"\b(?:aiplatform\.)?Model\.upload\s*\([^)]*display_name\s*=\s*[\"']{_NAME}[\"']")),
    ("model", re.compile(rf"\bgcloud\s+ai\s+models\s+upload\b[^\n]*--display-name[=\s]+[\"']?{_NAME}")),
)


@dataclass(frozen=True)
class NameUse:
    kind: str          # "endpoint" | "bucket" | "model"
    value: str         # as written (a trailing "." "-" "_" of the sentence left out)
    line: int          # 1-based line of the text


def resource_names(text: str, kinds: tuple[str, ...] = ("endpoint", "bucket", "model")) -> list[NameUse]:
    """Every resource name ``text`` uses, in the order of :data:`PATTERNS` then of the text, each
    (kind, name) once (names compared without case)."""
    out: list[NameUse] = []
    seen: set[tuple[str, str]] = set()
    body = text[:MAX_TEXT]
    for kind, rx in PATTERNS:
        if kind not in kinds:
            continue
        for m in rx.finditer(body):
            value = m.group(1).rstrip(".-_")
            if len(value) < 2 or (kind, value.lower()) in seen:
                continue
            seen.add((kind, value.lower()))
            out.append(NameUse(kind, value, body.count("\n", 0, m.start()) + 1))
    return out
