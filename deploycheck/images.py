"""``proof.screenshot``: the deploy folder holds (or its README embeds) a real, non-blank screenshot.

Images are decoded with Pillow from bytes read without following symlinks; decompression
bombs are refused (``DecompressionBombWarning`` is turned into an error), the pixel check runs
on a small grayscale thumbnail.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from deploycheck import files
from deploycheck.analysis.refs import clean_link, is_local_name
from deploycheck.discovery import DeployFolder, Target
from deploycheck.files import path_status
from deploycheck.model import Outcome, failed, passed
from deploycheck.verdicts import folder_of, guarded, no_folder

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MIN_W, MIN_H = 300, 200
MAX_BYTES = 25_000_000
MAX_PIXELS = 60_000_000            # refuse bigger images (Pillow's own bomb limit is ~89 Mpx)
BLANK_STDDEV = 2.0                 # grayscale standard deviation below this = a single colour
MAX_CANDIDATES = 20
PROOF_WORDS = ("screenshot", "screen", "shot", "proof", "predict", "result", "output", "endpoint", "capture")


@dataclass
class ImageCheck:
    rel: str                       # relative to the repo
    ok: bool
    problem: str | None = None
    size: tuple[int, int] | None = None


def inspect_image(base: DeployFolder | Path, rel: str, label: str) -> ImageCheck:
    """Decode ``rel`` below ``base`` (a folder or path) and judge it as a screenshot."""
    got = files.read_bytes(base.path if isinstance(base, DeployFolder) else Path(base), rel, limit=MAX_BYTES + 1)
    data, problem, truncated = got.data, got.problem, got.truncated
    if data is None:
        return ImageCheck(label, False, f"{label} {problem}")
    if truncated or len(data) > MAX_BYTES:
        return ImageCheck(label, False, f"{label} is larger than {MAX_BYTES // 1_000_000} MB: save a smaller PNG/JPG")
    from PIL import Image, ImageStat
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    return ImageCheck(label, False, f"{label} is {w}×{h} pixels, too large to check: save a normal "
                                      "screen-sized screenshot", (w, h))
                if max(w, h) < MIN_W or min(w, h) < MIN_H:
                    return ImageCheck(label, False, f"{label} is {w}×{h} pixels, too small to show anything: add a "
                                      f"real screenshot (at least {MIN_W}×{MIN_H}) of a prediction from your endpoint",
                                      (w, h))
                try:
                    img.draft("L", (256, 256))      # JPEG: decode at reduced size
                except Exception:
                    pass
                img.seek(0)
                small = img.convert("RGBA")
                small.thumbnail((256, 256))
                # transparent pixels count as white (a transparent PNG is blank)
                bg = Image.new("RGBA", small.size, (255, 255, 255, 255))
                bg.alpha_composite(small)
                gray = bg.convert("L")
                std = ImageStat.Stat(gray).stddev[0]
                if std < BLANK_STDDEV:
                    return ImageCheck(label, False, f"{label} is blank (a single colour): replace it with a screenshot "
                                      "that shows a prediction from your deployed endpoint", (w, h))
                return ImageCheck(label, True, None, (w, h))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return ImageCheck(label, False, f"{label} declares an enormous size (decompression bomb): save a normal "
                          "screenshot")
    except Exception as e:
        return ImageCheck(label, False, f"{label} is not a readable image ({type(e).__name__}): save it again as "
                          "PNG or JPG")


def _candidates(t: Target) -> list[tuple[DeployFolder | Path, str, str]]:
    """(base, rel below base, label relative to repo) — README-embedded images first."""
    folder = folder_of(t)
    repo = Path(folder.repo)
    out: list[tuple[DeployFolder | Path, str, str]] = []
    seen: set[str] = set()
    info = folder.facts.readme
    if info is not None and not info.problem:
        names: list[str] = []
        for src, _line in info.images:
            name = clean_link(src)
            if is_local_name(name) and name.lower().endswith(IMAGE_SUFFIXES) and name not in names:
                names.append(name)
                if len(names) >= MAX_CANDIDATES:
                    break
        for name in names[:MAX_CANDIDATES]:
            for base in (Path(folder.path), repo):
                p = Path(os.path.normpath(base / name))
                try:
                    rel_repo = p.relative_to(repo).as_posix()
                except ValueError:
                    continue
                if rel_repo in seen:
                    break
                st = path_status(repo, p)
                if st == "ok" or st == "escapes":
                    seen.add(rel_repo)
                    out.append((repo, rel_repo, rel_repo))
                    break
    local = [f for f in folder.files if f.lower().endswith(IMAGE_SUFFIXES)]
    local.sort(key=lambda f: (not any(w in f.lower() for w in PROOF_WORDS), f.count("/"), f))
    for f in local:
        label = f"{folder.rel}/{f}"
        if label not in seen:
            seen.add(label)
            out.append((folder, f, label))
    return out[:MAX_CANDIDATES]


@guarded
def proof_screenshot(t: Target) -> Outcome:
    o = no_folder(t)
    if o:
        return o
    folder = folder_of(t)
    cands = _candidates(t)
    links = [f"{folder.rel}/{r}" for r in folder.symlinks if r.lower().endswith(IMAGE_SUFFIXES)]
    if not cands:
        extra = f" ({', '.join(links[:3])} is a symlink and does not count: commit the image itself)" if links else ""
        return failed(f"no screenshot in {folder.rel}/: add a PNG/JPG showing a prediction from your deployed "
                      f"endpoint{extra}")
    problems: list[str] = []
    for base, rel, label in cands:
        res = inspect_image(base, rel, label)
        if res.ok:
            w, h = res.size or (0, 0)
            return passed(f"{label} ({w}×{h}) shows your proof", image=label, width=w, height=h)
        problems.append(res.problem or f"{label} is not usable")
    more = f" ({len(problems) - 1} other images have problems too)" if len(problems) > 1 else ""
    return failed(problems[0] + more, problems=problems[:10])
