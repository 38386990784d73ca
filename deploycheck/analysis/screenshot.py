"""Facts about the proof screenshot of a deploy folder, computed once: which images are candidates,
what each one shows (read with OCR), and whether that is a prediction from the deployed model.

Pipeline (:func:`screenshot_facts`):

1. **Candidates** (:func:`find_candidates`): images the README embeds (local paths, also outside the
   folder; GitHub-hosted uploads ``user-images.githubusercontent.com`` / ``github.com/user-attachments/
   assets`` count as present but are *remote, not checked*), then the folder's own images. Ignored:
   static web assets (``static/``, ``public/``, ``assets/`` when the README does not embed them),
   ``logo*`` / ``favicon*`` / ``apple-touch-icon*`` files, images a script or README code block of the
   folder writes (``savefig`` / ``imsave`` / ``imwrite`` / ``write_image`` / ``write_png``), symlinks.
   Preferred: README-embedded images, then names such as screenshot / prediction / endpoint / invoke.
2. **Reading** (untrusted bytes, :mod:`deploycheck.analysis.ocr`): at most ``MAX_BYTES`` are read
   without following symlinks; the header is checked, then a limited worker process decodes, measures
   and OCRs the image; the result is cached by content.
3. **Classification** (:mod:`deploycheck.analysis.screenshot_text`, pure functions of the OCR text):
   prediction, cloud context or unrelated, with quoted evidence.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from deploycheck.analysis.ocr import MAX_BYTES, OcrEngine, engine, read_image
from deploycheck.analysis.screenshot_text import (ImageStats, KnownOutputs, TextFacts, classify_text, normalise,
                                                  redact, seems_like)

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
MAX_CANDIDATES = 20                # candidates listed per folder
MAX_OCR = 4                        # images read with OCR per folder (the best candidates)
TEXT_LIMIT = 1500                  # characters of OCR text kept in the facts / the report

Classification = Literal["prediction", "cloud", "unrelated", "not_read", "unusable", "remote", "excluded",
                         "not_examined"]


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
    thumb: bytes = b""                       # 64x64 grayscale pixels, from the image worker (integrity hashes)


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


# ------------------------------------------------------------------------------------ candidates

_GITHUB_UPLOAD = re.compile(r"^https?://(?:(?:private-)?user-images\.githubusercontent\.com/|"
                            r"github\.com/user-attachments/(?:assets|files)/|github\.com/[^/\s]+/[^/\s]+/assets/)", re.I)
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
        elif _GITHUB_UPLOAD.match(raw):
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

_ORDER = {"prediction": 0, "remote": 1, "not_read": 2, "cloud": 3, "unrelated": 4, "unusable": 5,
          "excluded": 6, "not_examined": 7}


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
    """The worker's 64x64 grayscale thumbnail (exactly 4096 bytes), else b""."""
    import base64
    import binascii
    try:
        raw = base64.b64decode(str(doc.get("thumb") or ""), validate=True)
    except (binascii.Error, ValueError):
        return b""
    return raw if len(raw) == 64 * 64 else b""


def examine(repo: Path, c: Candidate, eng: OcrEngine) -> tuple[ImageFacts, str]:
    """Facts about one candidate image (reads, decodes and OCRs it, through the cache). Never raises."""
    data, problem, truncated = _read(repo, c.path)
    if data is None:
        return ImageFacts(c, "unusable", problem=problem or "cannot be read"), ""
    if truncated or len(data) > MAX_BYTES:
        return ImageFacts(c, "unusable", problem=f"is larger than {MAX_BYTES // 1_000_000} MB"), ""
    doc, cached, note = read_image(data, eng)
    sha = hashlib.sha256(data).hexdigest()
    stats = _stats(doc)
    if doc.get("problem"):
        return ImageFacts(c, "unusable", problem=_problem_text(doc), stats=stats, cached=cached, sha256=sha), note
    if doc.get("machine_error") or doc.get("ocr_error"):
        why = str(doc.get("machine_error") or doc.get("ocr_error"))
        return ImageFacts(c, "not_read", problem=f"OCR failed: {why}", stats=stats, cached=cached, sha256=sha), note
    if not eng.available or "text" not in doc:
        return ImageFacts(c, "not_read", problem=eng.detail, stats=stats, cached=cached, sha256=sha,
                          thumb=_thumb(doc)), note
    raw = str(doc.get("text") or "")
    facts = classify_text(raw)
    text = redact("\n".join(normalise(raw)))[:TEXT_LIMIT]
    seems = seems_like(stats, facts, raw) if facts.classification == "unrelated" else ""
    return ImageFacts(c, facts.classification, stats=stats, text=text, facts=facts, seems=seems,
                      cached=cached, sha256=sha, thumb=_thumb(doc)), note


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
    for c in cands:
        if c.excluded:
            images.append(ImageFacts(c, "excluded", problem=c.excluded))
            continue
        if c.remote:
            images.append(ImageFacts(c, "remote", problem="a remote image, not checked (deploycheck reads no "
                                                            "images from the network)"))
            continue
        if found or read >= max_ocr:
            images.append(ImageFacts(c, "not_examined"))
            continue
        fi, note = examine(repo, c, eng)
        if note:
            notes.append(note)
        if fi.classification != "unusable":
            read += 1
        images.append(fi)
        found = fi.classification == "prediction"
    best = min((i for i in images if i.classification not in ("excluded", "not_examined")),
               key=lambda i: _ORDER[i.classification], default=None)
    return ScreenshotFacts(folder.rel, folder.platform, eng, cands, tuple(images), best, links,
                           notes[0] if notes else "")
