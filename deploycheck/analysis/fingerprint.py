"""What one hand-in looks like to the class's integrity signals (:mod:`deploycheck.classroom.integrity`),
computed from facts already gathered and kept small enough to travel in a shard's report:

* **files**: the SHA-256 of every model archive and model file of the deploy folders (read bounded,
  no symlink followed);
* **models**: the digest of each model's *fitted parameters*, read from the pickle without loading it
  (:mod:`deploycheck.analysis.pickle_params`, through ``facts.artifact``): the same model re-pickled,
  re-compressed or re-archived has the same digest;
* **shots**: each screenshot that was read: its SHA-256, perceptual hashes (pHash, ``imagehash``) of
  the whole image and of five slightly cropped views, computed from the 64x64 grayscale thumbnail
  the OCR job returned (the grader never decodes a student's image itself), and the word
  trigrams of its OCR text;
* **texts**: the README and the entry point as winnowed fingerprints of word shingles (Schleimer,
  Wilkerson, Aiken: "Winnowing: local algorithms for document fingerprinting", SIGMOD 2003, the
  method of MOSS), each with its line, so that a match can be shown;
* **names**: endpoint, bucket and model names the README and the scripts use (placeholders such as
  ``<your-bucket>`` or ``$BUCKET`` left out).

:func:`of_submission` fingerprints a student's repo (every deploy folder); :func:`of_folder_tree`
fingerprints any folder (the course's starter files, ``--starter``) the same way.
"""
from __future__ import annotations

import base64
import hashlib
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from deploycheck import files as fs
from deploycheck.analysis.names import resource_names

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder, Submission

VERSION = 1                          # bump when any member's meaning changes (fingerprints of old reports are ignored)
MODEL_SUFFIXES = (".tar.gz", ".tgz", ".joblib", ".pkl", ".pickle", ".sav", ".bst", ".h5", ".onnx")
TEXT_SUFFIXES = (".md", ".markdown", ".rst", ".txt", ".py", ".ipynb", ".sh", ".cfg", ".yaml", ".yml", ".json")
MAX_HASH_BYTES = 512 * 2**20         # bytes hashed per file
MAX_TEXT = 400_000                   # characters shingled per document
MAX_GRAMS = 4000                     # fingerprints kept per document
README_K, CODE_K, SHOT_K = 5, 6, 3   # words per shingle
WINDOW = 4                           # winnowing window: every common run of K + WINDOW - 1 words is found
CROPS = ((0, 0, 0, 0), (3, 0, 0, 0), (0, 3, 0, 0), (0, 0, 3, 0), (0, 0, 0, 3), (3, 3, 3, 3))   # of 64 px


# ------------------------------------------------------------------ records

@dataclass(frozen=True)
class FilePrint:
    rel: str                          # repo-relative
    sha256: str
    size: int


@dataclass(frozen=True)
class ModelPrint:
    rel: str                          # repo-relative archive or model file
    params: str                       # digest of the fitted parameters
    top: str = ""                     # class of the pickled object


@dataclass(frozen=True)
class ShotPrint:
    rel: str
    sha256: str
    phash: tuple[int, ...]            # pHash of the whole image, then of the cropped views (64-bit each)
    words: frozenset[int] = frozenset()   # hashes of the OCR text's word trigrams
    tokens: frozenset[int] = frozenset()  # hashes of its specific tokens: names with digits, lists of values


@dataclass(frozen=True)
class TextPrint:
    kind: str                         # "readme" | "entry_point"
    rel: str
    grams: tuple[tuple[int, int], ...]   # (shingle hash, line), winnowed, in text order


@dataclass(frozen=True)
class NamePrint:
    kind: str                         # "endpoint" | "bucket" | "model"
    value: str                        # as written
    where: str                        # "aws_deploy/README.md line 12"

    @property
    def key(self) -> str:
        return self.value.strip().lower()


@dataclass(frozen=True)
class Fingerprint:
    student: str
    files: tuple[FilePrint, ...] = ()
    models: tuple[ModelPrint, ...] = ()
    shots: tuple[ShotPrint, ...] = ()
    texts: tuple[TextPrint, ...] = ()
    names: tuple[NamePrint, ...] = ()
    problems: tuple[str, ...] = field(default=())   # what could not be fingerprinted (never the student's fault)

    def to_json(self) -> dict[str, Any]:
        return {"v": VERSION, "student": self.student,
                "files": [[f.rel, f.sha256, f.size] for f in self.files],
                "models": [[m.rel, m.params, m.top] for m in self.models],
                "shots": [[s.rel, s.sha256, [f"{h:016x}" for h in s.phash], _pack(sorted(s.words)),
                           _pack(sorted(s.tokens))] for s in self.shots],
                "texts": [[t.kind, t.rel, _pack([h for h, _ in t.grams]), _pack([ln for _, ln in t.grams])]
                          for t in self.texts],
                "names": [[n.kind, n.value, n.where] for n in self.names],
                **({"problems": list(self.problems)} if self.problems else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Fingerprint | None:
        """None for a fingerprint of another version or a damaged one."""
        try:
            if d.get("v") != VERSION:
                return None
            return cls(
                student=str(d["student"]),
                files=tuple(FilePrint(str(a), str(b), int(c)) for a, b, c in d.get("files") or ()),
                models=tuple(ModelPrint(str(a), str(b), str(c)) for a, b, c in d.get("models") or ()),
                shots=tuple(ShotPrint(str(a), str(b), tuple(int(h, 16) for h in c), frozenset(_unpack(w)),
                                      frozenset(_unpack(t))) for a, b, c, w, t in d.get("shots") or ()),
                texts=tuple(TextPrint(str(k), str(r), tuple(zip(_unpack(h), _unpack(ln)))) for k, r, h, ln in
                            d.get("texts") or ()),
                names=tuple(NamePrint(str(k), str(v), str(w)) for k, v, w in d.get("names") or ()),
                problems=tuple(str(p) for p in d.get("problems") or ()))
        except (KeyError, TypeError, ValueError, struct.error):
            return None


def _pack(xs: Iterable[int]) -> str:
    xs = list(xs)
    return base64.b64encode(struct.pack(f"<{len(xs)}I", *(x & 0xFFFFFFFF for x in xs))).decode("ascii")


def _unpack(s: str) -> list[int]:
    raw = base64.b64decode(s)
    return list(struct.unpack(f"<{len(raw) // 4}I", raw[:len(raw) - len(raw) % 4]))


# ------------------------------------------------------------------ text

_WORD = re.compile(r"[a-z0-9_]+")


def _h32(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=4).digest(), "little")


def words(text: str) -> list[tuple[str, int]]:
    """(word, line) of a text, lower-cased; punctuation, markup and spacing do not count."""
    out: list[tuple[str, int]] = []
    for n, line in enumerate(text[:MAX_TEXT].splitlines(), start=1):
        out.extend((w, n) for w in _WORD.findall(line.lower()))
    return out


def shingles(text: str, k: int) -> list[tuple[int, int]]:
    """(hash of k consecutive words, line of the first) for every position."""
    ws = words(text)
    return [(_h32(" ".join(w for w, _ in ws[i:i + k])), ws[i][1]) for i in range(len(ws) - k + 1)]


def winnow(grams: list[tuple[int, int]], w: int = WINDOW) -> tuple[tuple[int, int], ...]:
    """The winnowed fingerprints: the smallest hash of every window of ``w`` (the rightmost on ties),
    each position once; any run of shingles shared by two texts that is ``w`` long keeps at least one."""
    if len(grams) <= w:
        out = list(dict.fromkeys(grams))
        return tuple(out[:MAX_GRAMS])
    picked: list[tuple[int, int]] = []
    last = -1
    for i in range(len(grams) - w + 1):
        window = grams[i:i + w]
        j = min(range(w), key=lambda x: (window[x][0], -x))
        if i + j != last:
            picked.append(window[j])
            last = i + j
        if len(picked) >= MAX_GRAMS:
            break
    return tuple(picked)


def text_print(kind: str, rel: str, text: str) -> TextPrint:
    return TextPrint(kind, rel, winnow(shingles(text, README_K if kind == "readme" else CODE_K)))


def shot_words(text: str) -> frozenset[int]:
    return frozenset(h for h, _ in shingles(text, SHOT_K))


_SPECIFIC = re.compile(r"[A-Za-z0-9][\w.@:/-]*\d[\w.@:/-]*|[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+){2,}")
_VALUES = re.compile(r"\[\s*-?[\d.]+(?:e-?\d+)?(?:\s*,\s*-?[\d.]+(?:e-?\d+)?)+\s*\]")


def shot_tokens(text: str) -> frozenset[int]:
    """What tells one student's screenshot from another's of the same page: names with digits or
    several parts (``student003-iris-ep64``, ``my-bucket-2024``) and lists of values (``[0, 2, 1]``)."""
    toks = {m.group(0).strip(".:/-").lower() for m in _SPECIFIC.finditer(text)}
    toks |= {re.sub(r"\s+", "", m.group(0)) for m in _VALUES.finditer(text)}
    return frozenset(_h32(t) for t in toks if len(t) >= 4)


# ------------------------------------------------------------------ images

def phashes(thumb: bytes) -> tuple[int, ...]:
    """pHash (``imagehash.phash``: DCT of 32x32, 8x8 low frequencies against their median) of the
    64x64 thumbnail and of five views cropped by ~5 % (each side, then all sides): a screenshot that
    was re-compressed, resized or slightly cropped stays within a few bits of one of them."""
    if len(thumb) != 64 * 64:
        return ()
    import imagehash
    from PIL import Image
    img = Image.frombytes("L", (64, 64), thumb)
    out = []
    for left, top, right, bottom in CROPS:
        h = imagehash.phash(img.crop((left, top, 64 - right, 64 - bottom)))
        out.append(int(str(h), 16))
    return tuple(out)


# ------------------------------------------------------------------ names

_PLACEHOLDER = re.compile(r"^(?:your|my|the|example|sample|xxx|test|name|bucket|endpoint|model|default)"
                          r"(?:[-_](?:bucket|endpoint|model|name|here))*$|your[-_]|<|\$|\{|%|\*|example", re.I)
def names_in(text: str, where: str) -> list[NamePrint]:
    """Endpoint, bucket and model names a README or script uses (:mod:`deploycheck.analysis.names`),
    placeholders and names too short to tell students apart left out."""
    return [NamePrint(n.kind, n.value, f"{where} line {n.line}") for n in resource_names(text[:MAX_TEXT])
            if len(n.value) >= 4 and not _PLACEHOLDER.search(n.value)]


# ------------------------------------------------------------------ a student's repo

def _sha(base: Path, rel: str) -> FilePrint | None:
    b = fs.read_bytes(base, rel, MAX_HASH_BYTES)
    if b.data is None or b.truncated:
        return None
    return FilePrint(rel, hashlib.sha256(b.data).hexdigest(), len(b.data))


def _folder(f: DeployFolder, files: list[FilePrint], models: list[ModelPrint], shots: list[ShotPrint],
            texts: list[TextPrint], names: list[NamePrint]) -> None:
    facts = f.facts
    for rel in f.files:
        if rel.lower().endswith(MODEL_SUFFIXES):
            fp = _sha(f.path, rel)
            if fp is not None:
                files.append(FilePrint(f.repo_rel(rel), fp.sha256, fp.size))
    art = facts.artifact
    if art is not None and art.params:
        models.append(ModelPrint(f.repo_rel(art.rel), art.params, art.top or ""))
    for img in facts.screenshot.images:
        hashes = phashes(img.thumb)
        if hashes and not img.candidate.remote:
            shots.append(ShotPrint(img.candidate.path, img.sha256, hashes, shot_words(img.text),
                                   shot_tokens(img.text)))
    doc = facts.readme
    if doc is not None and doc.readable and doc.text:
        texts.append(text_print("readme", doc.path, doc.text))
        names.extend(names_in(doc.text, doc.path))
    ep = facts.entry_point
    if ep is not None and ep.source:
        texts.append(text_print("entry_point", f.repo_rel(ep.rel), ep.source))
    for src in facts.scripts:
        names.extend(names_in(src.text, f.repo_rel(src.rel)))


def of_submission(sub: Submission) -> Fingerprint:
    """The fingerprint of a student's repo: every deploy folder (both platforms when there are two)."""
    files: list[FilePrint] = []
    models: list[ModelPrint] = []
    shots: list[ShotPrint] = []
    texts: list[TextPrint] = []
    names: list[NamePrint] = []
    for f in sub.folders:
        _folder(f, files, models, shots, texts, names)
    uniq: dict[tuple[str, str], NamePrint] = {}
    for n in names:
        uniq.setdefault((n.kind, n.key), n)
    return Fingerprint(sub.student, tuple(files), tuple(models), tuple(shots), tuple(texts), tuple(uniq.values()))


# ------------------------------------------------------------------ any folder (the starter files)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")


def of_folder_tree(root: Path, label: str = "starter") -> Fingerprint:
    """Everything in ``root`` as reference material: every file hashed, every pickle's fitted
    parameters, every image's hashes, every text file shingled as both a README and code, every name."""
    from deploycheck.analysis.ocr import read_image
    from deploycheck.analysis.pickles import scan_pickle
    from deploycheck.analysis.screenshot import _thumb
    from deploycheck.analysis.screenshot_text import normalise
    from deploycheck.files import list_tree
    listed, _links, _t = list_tree(root)
    files: list[FilePrint] = []
    models: list[ModelPrint] = []
    shots: list[ShotPrint] = []
    texts: list[TextPrint] = []
    names: list[NamePrint] = []
    for rel in listed:
        low = rel.lower()
        fp = _sha(root, rel)
        if fp is None:
            continue
        files.append(fp)
        if low.endswith((".joblib", ".pkl", ".pickle", ".sav")):
            data = fs.read_bytes(root, rel, MAX_HASH_BYTES).data or b""
            scan = scan_pickle(data)
            if scan.params:
                models.append(ModelPrint(rel, scan.params, scan.top or ""))
        elif low.endswith(IMAGE_SUFFIXES):
            data = fs.read_bytes(root, rel, MAX_HASH_BYTES).data or b""
            doc, _c, _n = read_image(data)
            hashes = phashes(_thumb(doc))
            if hashes:
                text = "\n".join(normalise(str(doc.get("text") or "")))
                shots.append(ShotPrint(rel, fp.sha256, hashes, shot_words(text), shot_tokens(text)))
        elif low.endswith(TEXT_SUFFIXES):
            text = fs.read_text(root, rel, MAX_TEXT).text or ""
            texts.append(text_print("readme", rel, text))
            texts.append(text_print("entry_point", rel, text))
            names.extend(names_in(text, rel))
    return Fingerprint(label, tuple(files), tuple(models), tuple(shots), tuple(texts), tuple(names))
