"""deploycheck.prefetch: a student's screenshot is read (OCR) in the background as soon as the
student's checks, or the previous student's last check, begin; never for a student whose
proof.screenshot is not selected or already in the results cache."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from deploycheck.discovery import targets_for
from deploycheck.prefetch import Prefetcher

CLASSROOM = Path(__file__).resolve().parents[1] / "fixtures" / "built" / "classroom"


class _Cache:
    def __init__(self, cached: set[str] = frozenset()):   # type: ignore[assignment]
        self.cached = cached

    def has(self, t, cid):
        return t.student in self.cached


def _targets(tmp_path, *names):
    """Fresh copies: folder facts are per process, and other tests read these repos too."""
    out = []
    for n in names:
        shutil.copytree(CLASSROOM / n, tmp_path / n, symlinks=True)
        out.append(targets_for(n, str(tmp_path / n))[0])
    return out


def _wait_for_ocr_threads(timeout=120.0):
    end = time.monotonic() + timeout
    while any(th.name == "deploycheck-ocr" for th in threading.enumerate()) and time.monotonic() < end:
        time.sleep(0.05)


def test_the_current_and_the_next_students_screenshots_are_read_before_their_checks_ask(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")          # the facts, not Tesseract, are under test
    a, b, c = _targets(tmp_path, "complete_aws", "pasted_screenshot", "no_cleanup")
    sel = {t.test_id: {"predict.local", "proof.screenshot"} for t in (a, b, c)}
    p = Prefetcher(SimpleNamespace(proof=False), _Cache(), sel)
    p.before(a, b)
    _wait_for_ocr_threads()
    assert "_screenshot" in a.folder.facts.__dict__ and "_screenshot" in b.folder.facts.__dict__
    assert "_screenshot" not in c.folder.facts.__dict__
    p.before(b, c)                           # b already asked for: only c starts
    _wait_for_ocr_threads()
    assert "_screenshot" in c.folder.facts.__dict__
    assert p.ocr_started == {a.test_id, b.test_id, c.test_id}
    assert a.folder.facts.screenshot.candidates         # the check reads what the thread computed


def test_nothing_is_read_for_a_deselected_or_cached_proof_screenshot(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    a, b = _targets(tmp_path, "complete_vertex", "no_readme")
    sel = {a.test_id: {"predict.local"}, b.test_id: {"proof.screenshot"}}
    p = Prefetcher(SimpleNamespace(proof=False), _Cache({b.student}), sel)
    p.before(a, b)
    _wait_for_ocr_threads()
    assert "_screenshot" not in a.folder.facts.__dict__
    assert "_screenshot" not in b.folder.facts.__dict__
