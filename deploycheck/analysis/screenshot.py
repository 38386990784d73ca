"""Facts about the proof screenshot of a deploy folder, computed once: which images are candidates,
what each one shows (read with OCR), and whether that is a prediction from the deployed model.

Pipeline (:func:`screenshot_facts`):

1. **Candidates** (:func:`find_candidates`): images the README embeds (local paths, also outside the
   folder; GitHub-hosted uploads ``user-images.githubusercontent.com`` / ``github.com/user-attachments/
   assets`` are remote), then the folder's own images. Ignored: static web assets (``static/``,
   ``public/``, ``assets/`` when the README does not embed them), ``logo*`` / ``favicon*`` /
   ``apple-touch-icon*`` files, images a script or README code block of the folder writes (``savefig`` /
   ``imsave`` / ``imwrite`` / ``write_image`` / ``write_png``), symlinks. Preferred: README-embedded
   images, then names such as screenshot / prediction / endpoint / invoke.
2. **Reading** (untrusted bytes, :mod:`deploycheck.analysis.ocr`): at most ``MAX_BYTES`` are read
   without following symlinks; the header is checked (deploycheck's own mark too), then a sandbox job
   decodes, measures and OCRs the image; the result is cached by content. When the first reading leaves
   something unread (uncertain), or shows a photo's call or endpoint without an output, the image is read
   a second time the other way (as a photo / as a screenshot) and the better reading counts. A folder's
   images get :data:`~deploycheck.analysis.ocr.FOLDER_CPU_SECONDS` of OCR in all.
3. **Classification** (:mod:`deploycheck.analysis.screenshot_text`, pure functions of the OCR text and
   its confidences): prediction, uncertain, cloud context or unrelated, with quoted evidence; the endpoint
   names the README and the deploy scripts use (:func:`named_endpoints`) for comparing.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from deploycheck.analysis.names import resource_names
from deploycheck.analysis.ocr import CPU_SECONDS, FOLDER_CPU_SECONDS, MAX_BYTES, OcrEngine, engine, read_image
from deploycheck.analysis.screenshot_text import (ImageStats, KnownOutputs, TextFacts, classify_text, normalise,
                                                  redact, seems_like)

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
MAX_CANDIDATES = 20                # candidates listed per folder
MAX_OCR = 4                        # images read with OCR per folder (the best candidates)
REMOTE_FOLDER_SECONDS = 30.0       # time spent fetching one folder's remote images at most
TEXT_LIMIT = 1500                  # characters of OCR text kept in the facts / the report

Classification = Literal["prediction", "cloud", "unrelated", "uncertain", "not_read", "unusable", "remote",
                         "excluded", "not_examined", "deploycheck"]


@dataclass(frozen=True)
class Candidate:
    path: str                      # repo-relative posix path, or the URL of a remote image
    origin: Literal["readme", "folder"]
    readme_line: int | None = None
    remote: bool = False
    excluded: str | None = None    # why it does not count ("a static web asset (public/)", ...)


@dataclass(frozen=True)
class ImageFacts:
    candidate: Candidate
    classification: Classification
    problem: str = ""                        # for unusable / not_read / excluded: the reason (a clause)
    stats: ImageStats | None = None
    text: str = ""                           # OCR text, sanitised, credentials redacted, truncated
    facts: TextFacts | None = None
    seems: str = ""                          # for unrelated images: what it looks like
    cached: bool = False
    sha256: str = ""
    thumb: bytes = b""                       # 64x64 grayscale pixels, from the OCR job (integrity hashes)
    confidence: float | None = None          # Tesseract's mean word confidence (0-100)
    variant: str = ""                        # how it was read: "screen" | "photo" (deploycheck.inside.ocr_job)
    transient: bool = False                  # not_read for a reason of this run (busy machine, no sandbox)
    cpu_s: float = 0.0                       # OCR CPU seconds this image cost (0 when cached)


@dataclass(frozen=True)
class ScreenshotFacts:
    folder: str                              # repo-relative deploy folder
    platform: str
    engine: OcrEngine
    candidates: tuple[Candidate, ...] = ()
    images: tuple[ImageFacts, ...] = ()      # every candidate with what was found (preference order)
    best: ImageFacts | None = None
    symlinks: tuple[str, ...] = ()           # image symlinks in the folder (never followed)
    cache_note: str = ""                     # why results could not be cached, when so
    endpoints: tuple[str, ...] = ()          # endpoint names / ids the README and the deploy scripts use


# ------------------------------------------------------------------------------------ adapter
# The ONLY place that calls other deploycheck modules (README parsing, deploy scripts, safe reads,
# the pickle scan). Re-point these when the analysis modules move.

@dataclass(frozen=True)
class FolderInputs:
    readme: str | None                              # repo-relative README path
    readme_images: tuple[tuple[str, int], ...]      # (src as written, line)
    code: tuple[tuple[str, str, int], ...]          # (repo-relative file, python/shell code, first line)


def _folder_inputs(folder: DeployFolder) -> FolderInputs:
    facts = folder.facts
    doc = facts.readme
    images: tuple[tuple[str, int], ...] = ()
    code: list[tuple[str, str, int]] = []
    if doc is not None and not doc.problem:
        images = tuple((str(src), int(line)) for src, line in doc.images)
        code.extend((doc.path, b.content, b.line) for b in doc.code_blocks)
    for src in facts.scripts:
        code.append((folder.repo_rel(src.rel), src.text, src.first_line))
    return FolderInputs(doc.path if doc is not None else None, images, tuple(code))


def _read(repo: Path, rel: str) -> tuple[bytes | None, str | None, bool]:
    """(data, problem, truncated): at most MAX_BYTES+1 bytes of a regular file, no symlink followed."""
    from deploycheck import files
    b = files.read_bytes(repo, rel, limit=MAX_BYTES + 1)
    return b.data, b.problem, b.truncated


def _link_helpers() -> tuple[Callable[[str], str], Callable[[str], bool], Callable[[Path, Path], str]]:
    """(clean_link, is_local_name, path_status) of the README reference rules."""
    from deploycheck.analysis.refs import clean_link, is_local_name
    from deploycheck.files import path_status
    return clean_link, is_local_name, path_status


def model_outputs(folder: DeployFolder) -> KnownOutputs | None:
    """The model's classes when the pickle scan exposes them (``ArtifactInfo.classes``; not yet: the
    scan skips array data, see the report of issue 12), else None."""
    try:
        info = folder.facts.artifact
    except Exception:  # noqa: BLE001 - any failure here just means "unknown"
        return None
    classes = getattr(info, "classes", None) if info is not None else None
    if classes:
        return KnownOutputs(classes=tuple(classes), source="the pickle's classes_")
    return None


def named_endpoints(inputs: FolderInputs) -> tuple[str, ...]:
    """Endpoint names and ids the README's code blocks and the deploy scripts use
    (:mod:`deploycheck.analysis.names`), for comparing with the endpoint a screenshot shows."""
    out: list[str] = []
    for _rel, text, _line in inputs.code:
        for n in resource_names(text, ("endpoint",)):
            if n.value not in out and len(out) < 20:
                out.append(n.value)
    return tuple(out)


# ------------------------------------------------------------------------------------ candidates

_GITHUB_UPLOAD = re.compile(r"^https?://(?:(?:private-)?user-images\.githubusercontent\.com/|"
                            r"github\.com/user-attachments/(?:assets|files)/|github\.com/[^/\s]+/[^/\s]+/assets/)", re.I)
# other remote images a README embeds that may be a screenshot (an image file's URL), but not badges
_REMOTE_IMAGE = re.compile(r"^https?://[^\s/]+/\S*\.(?:png|jpe?g|gif|webp|bmp)(?:[?#]\S*)?$", re.I)
_BADGE = re.compile(r"shields\.io|badgen\.net|badge\.fury\.io|travis-ci\.|circleci\.com|codecov\.io|coveralls\.io|"
                    r"/badges?[/.]|badge\.(?:svg|png)|/workflows/|colab-badge|mybinder\.org|codacy\.com|"
                    r"sonarcloud\.io|readthedocs\.org/projects/", re.I)
_GITHUB_FILE = re.compile(r"^https?://(?:raw\.githubusercontent\.com/[^/]+/[^/]+/[^/]+/|github\.com/[^/]+/[^/]+/"
                          r"(?:raw|blob)/[^/]+/)(?P<path>[^?#]+)", re.I)
_ASSET_DIRS = {"static", "public", "assets", "node_modules", "dist", "build", "_site", "site-packages"}
_ASSET_NAME = re.compile(r"^(?:logo|favicon|apple-touch-icon|android-chrome|mstile|safari-pinned-tab)", re.I)
_PROOF_WORDS = ("screenshot", "screen", "shot", "proof", "predict", "result", "output", "endpoint", "invoke",
                "inference", "response", "capture", "curl", "test")
# Calls that write a generated image (plots, arrays). A plain ``.save(...)`` is left out: a student may
# save a real screenshot with it (``pyautogui.screenshot().save("proof.png")``).
_WRITES = re.compile(r"\b(savefig|imsave|imwrite|write_image|write_png)\s*\(\s*(?:[rfbu]{1,2})?"
                     r"([\"'])([^\"'\n]{1,200}?\.(?:png|jpe?g|gif|webp|bmp))\2", re.I)


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _written_images(inputs: FolderInputs, folder_rel: str) -> list[tuple[str, str]]:
    """(glob of repo-relative path or base name, "train.py line 12 (savefig)") for images code writes."""
    out: list[tuple[str, str]] = []
    for rel, text, first in inputs.code:
        for m in _WRITES.finditer(text[:2_000_000]):
            target = m.group(3).replace("\\", "/")
            pattern = re.sub(r"\{[^}]*\}", "*", target)
            line = first + text.count("\n", 0, m.start())
            where = f"{rel} line {line} ({m.group(1)})"
            base = PurePosixPath(rel).parent.as_posix()
            full = os.path.normpath(f"{base}/{pattern}" if base not in ("", ".") else pattern).replace("\\", "/")
            out.append((full, where))
            out.append((PurePosixPath(pattern).name, where))
            if folder_rel:
                out.append((os.path.normpath(f"{folder_rel}/{pattern}").replace("\\", "/"), where))
    return out


def _exclusion(path: str, folder_rel: str, embedded: bool, written: list[tuple[str, str]]) -> str | None:
    name = PurePosixPath(path).name
    for pat, where in written:
        if ("/" in pat and fnmatchcase(path, pat)) or ("/" not in pat and fnmatchcase(name, pat)):
            return f"a generated image ({where} writes it)"
    if _ASSET_NAME.match(name):
        return "a logo or icon (by its name)"
    if not embedded:
        inner = path[len(folder_rel) + 1:] if folder_rel and path.startswith(folder_rel + "/") else path
        parts = [p.lower() for p in PurePosixPath(inner).parts[:-1]]
        hit = next((p for p in parts if p in _ASSET_DIRS), None)
        if hit:
            return f"a static web asset (in {hit}/)"
    return None


def _rank(c: Candidate) -> tuple:
    """README-embedded images first, in README order; then the folder's, proof-like names first."""
    if c.origin == "readme":
        return (c.excluded is not None, 0, c.readme_line or 0, c.path)
    name = PurePosixPath(c.path).name.lower()
    return (c.excluded is not None, 1, not any(w in name for w in _PROOF_WORDS), c.path.count("/"), c.path)


def find_candidates(folder: DeployFolder, inputs: FolderInputs | None = None) -> tuple[tuple[Candidate, ...], tuple[str, ...]]:
    """(candidates in preference order, image symlinks in the folder). Nothing is decoded here."""
    clean_link, is_local_name, path_status = _link_helpers()
    inputs = inputs or _folder_inputs(folder)
    repo = Path(folder.repo)
    frel = folder.rel if folder.rel not in ("", ".") else ""
    written = _written_images(inputs, frel)
    out: list[Candidate] = []
    seen: set[str] = set()
    for src, line in inputs.readme_images:
        if len(out) >= MAX_CANDIDATES:
            break
        raw = src.strip().strip("<>")
        gh = _GITHUB_FILE.match(raw)
        bases: tuple[Path, ...] = (Path(folder.path), repo)
        if gh:                              # a link to a file of (presumably) this repo: read it here
            name, bases = clean_link(gh.group("path")), (repo,)
        elif _GITHUB_UPLOAD.match(raw) or (_REMOTE_IMAGE.match(raw) and not _BADGE.search(raw)):
            if raw not in seen:
                seen.add(raw)
                out.append(Candidate(raw, "readme", line, remote=True))
            continue
        else:
            name = clean_link(src)
            if name.startswith("/") and not name.startswith("//"):      # GitHub: relative to the repo root
                name, bases = name.lstrip("/"), (repo,)
        if not is_local_name(name) or not _is_image_name(name):
            continue
        for base in bases:
            p = Path(os.path.normpath(base / name))
            try:
                rel = p.relative_to(repo).as_posix()
            except ValueError:
                continue
            st = path_status(repo, p)
            if st in ("ok", "escapes"):
                if rel not in seen:
                    seen.add(rel)
                    out.append(Candidate(rel, "readme", line, excluded=_exclusion(rel, frel, True, written)))
                break
    for f in folder.files:
        if not _is_image_name(f):
            continue
        rel = f"{frel}/{f}" if frel else f
        if rel in seen:
            continue
        seen.add(rel)
        out.append(Candidate(rel, "folder", excluded=_exclusion(rel, frel, False, written)))
    out.sort(key=_rank)
    links = tuple(f"{frel}/{r}" if frel else r for r in sorted(folder.symlinks) if _is_image_name(r))
    return tuple(out[:MAX_CANDIDATES]), links


# ------------------------------------------------------------------------------------ facts

_ORDER = {"prediction": 0, "uncertain": 1, "remote": 2, "not_read": 3, "cloud": 4, "deploycheck": 5, "unrelated": 6,
          "unusable": 7, "excluded": 8, "not_examined": 9}


def _stats(doc: Mapping[str, Any]) -> ImageStats | None:
    if "width" not in doc:
        return None
    return ImageStats(int(doc.get("width") or 0), int(doc.get("height") or 0), str(doc.get("format") or ""),
                      float(doc.get("stddev") or 0.0), int(doc.get("colours") or 0),
                      float(doc.get("dominant") or 0.0), float(doc.get("transparent") or 0.0))


PROBLEMS = {
    "too_small": "is {w}×{h} pixels, too small to show anything",
    "too_large": "is {w}×{h} pixels, too large to check",
    "bomb": "declares an enormous size (a decompression bomb) and was not decoded",
    "blank": "is blank (a single colour)",
    "noise": "is random noise, not a screenshot",
}


def _problem_text(doc: Mapping[str, Any]) -> str:
    p = str(doc.get("problem") or "")
    w, h = doc.get("width", 0), doc.get("height", 0)
    if p in PROBLEMS:
        return PROBLEMS[p].format(w=w, h=h)
    if p.startswith("unreadable"):
        kind = p.partition(":")[2]
        return f"is not a readable image{f' ({kind})' if kind else ''}"
    return p


def _thumb(doc: Mapping[str, Any]) -> bytes:
    """The OCR job's 64x64 grayscale thumbnail (exactly 4096 bytes), else b""."""
    import base64
    import binascii
    try:
        raw = base64.b64decode(str(doc.get("thumb") or ""), validate=True)
    except (binascii.Error, ValueError):
        return b""
    return raw if len(raw) == 64 * 64 else b""


def examine(repo: Path, c: Candidate, eng: OcrEngine, cpu_left: float = FOLDER_CPU_SECONDS) -> tuple[ImageFacts, str]:
    """Facts about one candidate image (reads, decodes and OCRs it, through the cache). Never raises.
    ``cpu_left``: OCR CPU seconds this folder may still spend (a second reading needs some left)."""
    data, problem, truncated = _read(repo, c.path)
    if data is None:
        return ImageFacts(c, "unusable", problem=problem or "cannot be read"), ""
    if truncated or len(data) > MAX_BYTES:
        return ImageFacts(c, "unusable", problem=f"is larger than {MAX_BYTES // 1_000_000} MB"), ""
    return examine_bytes(c, data, eng, cpu_left)


def examine_remote(c: Candidate, eng: OcrEngine, cpu_left: float = FOLDER_CPU_SECONDS) -> tuple[ImageFacts, str]:
    """A remote image the README embeds: fetched by the grader (:mod:`.screenshot_remote`) and read like a
    committed one, or "remote" with why it could not be fetched."""
    from deploycheck.analysis import screenshot_remote
    got = screenshot_remote.fetch(c.path)
    if got.data is None:
        return ImageFacts(c, "remote", problem=got.problem, transient=True), ""
    return examine_bytes(c, got.data, eng, cpu_left)


def _cost(doc: Mapping[str, Any], cached: bool) -> float:
    if cached:
        return 0.0
    return float(CPU_SECONDS) if doc.get("limit") == "cpu" else float(doc.get("cpu_s") or 0.0)


_RANK = {"deploycheck": 0, "prediction": 1, "uncertain": 2, "cloud": 3, "unrelated": 4}


def examine_bytes(c: Candidate, data: bytes, eng: OcrEngine, cpu_left: float = FOLDER_CPU_SECONDS
                  ) -> tuple[ImageFacts, str]:
    """Facts about one image's bytes (a local file's or a fetched remote image's)."""
    doc, cached, note = read_image(data, eng)
    sha = hashlib.sha256(data).hexdigest()
    stats = _stats(doc)
    cost = _cost(doc, cached)
    if doc.get("mark"):
        return ImageFacts(c, "deploycheck", problem=f"deploycheck's own {doc['mark']} (marked as such in the file)",
                          stats=stats, cached=cached, sha256=sha), note
    if doc.get("problem"):
        return ImageFacts(c, "unusable", problem=_problem_text(doc), stats=stats, cached=cached, sha256=sha,
                          cpu_s=cost, thumb=_thumb(doc)), note
    if doc.get("machine_error") or doc.get("ocr_error"):
        why = str(doc.get("machine_error") or doc.get("ocr_error"))
        return ImageFacts(c, "not_read", problem=f"OCR failed: {why}", stats=stats, cached=cached, sha256=sha,
                          transient=bool(doc.get("transient")), cpu_s=cost, thumb=_thumb(doc)), note
    if not eng.available or "text" not in doc:
        return ImageFacts(c, "not_read", problem=eng.detail, stats=stats, cached=cached, sha256=sha,
                          transient=True, thumb=_thumb(doc)), note
    facts, raw, variant = _classify(doc), str(doc.get("text") or ""), str(doc.get("variant") or "")
    # a second reading, the other way (a screenshot read as a photo, or the reverse), when the first leaves
    # something unread (uncertain), or shows a photo's call or endpoint without an output. (A sharp
    # screenshot's endpoint list or chart is decided by the first reading: on every fixture the second one
    # changed no verdict there, and it doubled their OCR time.)
    photo = variant == "photo"
    if facts.classification == "uncertain" or (photo and facts.classification == "cloud"):
        if cpu_left - cost > 2.0:
            other = "screen" if photo else "photo"
            doc2, cached2, note2 = read_image(data, eng, other)
            cost += _cost(doc2, cached2)
            note = note or note2
            if "text" in doc2 and not doc2.get("ocr_error"):
                facts2 = _classify(doc2)
                if _RANK[facts2.classification] < _RANK[facts.classification]:
                    facts, raw, variant, doc, cached = facts2, str(doc2.get("text") or ""), other, doc2, cached and cached2
    text = redact("\n".join(normalise(raw)))[:TEXT_LIMIT]
    if facts.classification == "deploycheck":
        return ImageFacts(c, "deploycheck", problem=f"deploycheck's own proof picture ({facts.note})", stats=stats,
                          text=text, facts=facts, cached=cached, sha256=sha, cpu_s=cost, thumb=_thumb(doc)), note
    seems = seems_like(stats, facts, raw) if facts.classification == "unrelated" else ""
    conf = doc.get("conf")
    return ImageFacts(c, facts.classification, stats=stats, text=text, facts=facts, seems=seems, cached=cached,
                      sha256=sha, confidence=float(conf) if isinstance(conf, (int, float)) else None,
                      variant=variant, cpu_s=cost, thumb=_thumb(doc)), note


def _classify(doc: Mapping[str, Any]) -> TextFacts:
    lines = doc.get("lines")
    confs = [float(x[1]) for x in lines if isinstance(x, list) and len(x) == 2 and str(x[0]).strip()] \
        if isinstance(lines, list) else None
    return classify_text(str(doc.get("text") or ""), confs, photo=doc.get("variant") == "photo")


def screenshot_facts(folder: DeployFolder, max_ocr: int = MAX_OCR) -> ScreenshotFacts:
    """Everything about the folder's proof screenshot (use ``folder.facts.screenshot``: computed once)."""
    eng = engine()
    inputs = _folder_inputs(folder)
    cands, links = find_candidates(folder, inputs)
    repo = Path(folder.repo)
    images: list[ImageFacts] = []
    notes: list[str] = []
    read = 0
    found = False
    cpu_left = FOLDER_CPU_SECONDS
    fetch_left = REMOTE_FOLDER_SECONDS
    for c in cands:
        if c.excluded:
            images.append(ImageFacts(c, "excluded", problem=c.excluded))
            continue
        if found or read >= max_ocr or cpu_left <= 0 or (c.remote and fetch_left <= 0):
            images.append(ImageFacts(c, "not_examined", problem="" if found or read >= max_ocr else
                                     f"not read: this folder's images already took {FOLDER_CPU_SECONDS:g} s of OCR"
                                     if cpu_left <= 0 else f"not fetched: this folder's remote images already took "
                                                           f"{REMOTE_FOLDER_SECONDS:g} s"))
            continue
        t0 = time.monotonic()
        fi, note = examine_remote(c, eng, cpu_left) if c.remote else examine(repo, c, eng, cpu_left)
        if c.remote:
            fetch_left -= time.monotonic() - t0
        cpu_left -= fi.cpu_s
        if note:
            notes.append(note)
        if fi.classification not in ("unusable", "deploycheck"):
            read += 1
        images.append(fi)
        found = fi.classification == "prediction"
    best = min((i for i in images if i.classification not in ("excluded", "not_examined")),
               key=lambda i: _ORDER[i.classification], default=None)
    return ScreenshotFacts(folder.rel, folder.platform, eng, cands, tuple(images), best, links,
                           notes[0] if notes else "", named_endpoints(inputs))
