"""deploycheck's own proof artefacts: a labelled card of every prediction it made (local emulation
after predict.local, cloud after cloud.predict) and a snapshot of the deploy README, rendered in the
worker's one headless Chromium (:mod:`deploycheck.proof.browser`). They carry no points: a failure
here is a note on the check's record, never the student's failure.

    card.py       Prediction -> Card -> HTML (Jinja2) -> PNG
    snapshot.py   the deploy README -> PNG (no JavaScript, no network, only the folder's files)
    browser.py    finding Chromium; one browser and one reused page per kind, per process
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploycheck.discovery import Target
from deploycheck.model import Prediction

if TYPE_CHECKING:
    from deploycheck.settings import Settings


def _safe_component(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name) or "student"
    return "_" + s if s.strip(".") == "" else s


def proof_dir(settings: Settings, student: str) -> tuple[Path, Path]:
    """(base, base/proof/<student>): the report dir when there is one, else a temp folder."""
    report = getattr(settings, "report", None)
    base = Path(report) if report else Path(tempfile.gettempdir()) / "deploycheck-proof"
    return base, base / "proof" / _safe_component(student)


def _rel(p: Path, base: Path) -> str:
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return str(p)


def render_artefacts(t: Target, settings: Settings, mode: str = "local") -> dict[str, Any]:
    """The proof files for a target whose predict.local (``mode="local"``: the local card and the
    README snapshot) or cloud.predict (``mode="cloud"``: the cloud card) passed, as
    ``{"proof": {kind: path relative to the report}, "proof_note": why something is missing}``."""
    if not getattr(settings, "proof", True) or t.folder is None:
        return {}
    try:
        return _render(t, settings, mode)
    except Exception as e:  # noqa: BLE001 - hostile input or a browser hiccup must never raise
        return {"proof_note": f"deploycheck could not render the proof screenshot ({type(e).__name__}: {str(e)[:200]})"}


def warm() -> None:
    """Start the browser and open the reused card and README pages now (the warm-up thread), so the
    first proof costs only its own rendering. Never raises."""
    try:
        from deploycheck.proof import browser, card, snapshot
        if browser.available()[0]:
            card.open_page()
            snapshot.open_page()
    except Exception:  # noqa: BLE001 - the proof itself reports any problem
        pass


def _prediction(t: Target, settings: Settings, mode: str) -> Prediction | None:
    if mode == "local":
        from deploycheck.verdicts.predict import local_prediction
        return local_prediction(t, settings)
    from deploycheck.verdicts.cloud import cloud_prediction
    return cloud_prediction(t)


def _render(t: Target, settings: Settings, mode: str) -> dict[str, Any]:
    from deploycheck.proof import browser, card, snapshot
    ok, why = browser.available()
    if not ok:
        return {"proof_note": why}
    p = _prediction(t, settings, mode)
    if p is None or not p.ok:
        return {}
    folder = t.folder
    assert folder is not None
    base, out_dir = proof_dir(settings, t.student)
    plat = t.platform or "unknown"
    region = getattr(settings, "aws_region" if plat == "aws" else "gcp_region", None)
    c = card.card_for(p, student=t.student, repo=str(t.repo), folder=folder.rel + "/",
                      offline=getattr(settings, "cloud", None) == "moto", region=region if mode == "cloud" else None)
    files: dict[str, str] = {}
    notes: list[str] = []
    png = out_dir / f"{plat}-{mode}.png"
    try:
        card.capture(card.card_html(c), png, what="proof card of its local emulation" if mode == "local" else
                     "proof card of a cloud prediction it made")
    except browser.BrowserUnavailable as e:
        return {"proof_note": str(e)}
    bad = card.png_problem(png)
    if bad:
        notes.append(f"the proof screenshot {_rel(png, base)} {bad}")
    else:
        files[mode] = _rel(png, base)
    if mode == "local":
        # a repo graded on both platforms gets one snapshot per deploy folder
        name = "readme.png" if len(t.submission.folders) <= 1 else f"{plat}-readme.png"
        try:
            shot = snapshot.snapshot_readme(folder, out_dir / name)
            if card.png_problem(shot) is None:
                files["readme"] = _rel(shot, base)
        except FileNotFoundError:
            notes.append("no README to snapshot")
        except Exception as e:  # noqa: BLE001 - never fails anything
            notes.append(f"README snapshot failed: {type(e).__name__}: {str(e)[:150]}")
    data: dict[str, Any] = {"proof": files}
    if notes:
        data["proof_note"] = "; ".join(notes)
    return data
