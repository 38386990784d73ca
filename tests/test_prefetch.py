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


def _item(t):
    return SimpleNamespace(callspec=SimpleNamespace(params={"target": t}))


def _targets(tmp_path, *names):
    """Fresh copies: folder facts are per process, and other tests read these repos too."""
    out = []
    for n in names:
        shutil.copytree(CLASSROOM / n, tmp_path / n, symlinks=True)
        out.append(targets_for(n, str(tmp_path / n))[0])
    return out


def _wait_for_ocr_threads(timeout=120.0, names=("deploycheck-ocr", "deploycheck-run")):
    end = time.monotonic() + timeout
    while any(th.name in names for th in threading.enumerate()) and time.monotonic() < end:
        time.sleep(0.05)


def test_the_current_and_the_next_students_screenshots_are_read_before_their_checks_ask(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")          # the facts, not Tesseract, are under test
    a, b, c = _targets(tmp_path, "complete_aws", "pasted_screenshot", "no_cleanup")
    sel = {t.test_id: {"predict.local", "proof.screenshot"} for t in (a, b, c)}
    p = Prefetcher(SimpleNamespace(proof=False), _Cache(), sel)
    p.before(_item(a), _item(b))
    _wait_for_ocr_threads()
    assert "_screenshot" in a.folder.facts.__dict__ and "_screenshot" in b.folder.facts.__dict__
    assert "_screenshot" not in c.folder.facts.__dict__
    p.before(_item(b), _item(c))                           # b already asked for: only c starts
    _wait_for_ocr_threads()
    assert "_screenshot" in c.folder.facts.__dict__
    assert p.ocr_started == {a.test_id, b.test_id, c.test_id}
    assert a.folder.facts.screenshot.candidates         # the check reads what the thread computed


def test_nothing_is_read_for_a_deselected_or_cached_proof_screenshot(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    a, b = _targets(tmp_path, "complete_vertex", "no_readme")
    sel = {a.test_id: {"predict.local"}, b.test_id: {"proof.screenshot"}}
    p = Prefetcher(SimpleNamespace(proof=False), _Cache({b.student}), sel)
    p.before(_item(a), _item(b))
    _wait_for_ocr_threads()
    assert "_screenshot" not in a.folder.facts.__dict__
    assert "_screenshot" not in b.folder.facts.__dict__


def test_the_local_run_starts_ahead_behind_the_checks_own_gate(monkeypatch, tmp_path):
    """predict.local's sandbox run of the current and the next student starts in the background;
    a folder whose serving plan is unservable (an unsafe pickle) never gets a job."""
    from deploycheck.analysis.plan import Unservable
    from deploycheck.verdicts.predict import limits_of, predict_local
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    good, unsafe = _targets(tmp_path, "complete_aws", "unsafe_pickle")
    settings = SimpleNamespace(proof=False, sandbox_timeout=None, sandbox_memory_mb=None)
    sel = {t.test_id: {"predict.local"} for t in (good, unsafe)}
    p = Prefetcher(settings, _Cache(), sel)
    p.before(_item(good), _item(unsafe))
    _wait_for_ocr_threads()
    assert p.run_started == {good.test_id, unsafe.test_id}
    run = good.folder.facts.finished_local_run(limits_of(settings))
    assert run is not None and run.answers and run.answers[-1].ok, run
    assert isinstance(unsafe.folder.facts.serving_plan, Unservable)
    assert "_local_runs" not in unsafe.folder.facts.__dict__          # no job for an unsafe pickle
    o = predict_local(good, settings)                                 # the check reads the same run
    assert o.status == "passed" and good.folder.facts.finished_local_run(limits_of(settings)) is run


def test_a_check_asking_meanwhile_waits_for_the_run_under_way(monkeypatch, tmp_path):
    """One sandbox job per student: predict.local, asked while the background run is under way,
    gets that run instead of starting its own."""
    from deploycheck.sandbox import client
    from deploycheck.verdicts.predict import predict_local
    monkeypatch.setenv("DEPLOYCHECK_OCR", "off")
    (t,) = _targets(tmp_path, "complete_vertex")
    settings = SimpleNamespace(proof=False, sandbox_timeout=None, sandbox_memory_mb=None)

    def jobs():
        return sum(s.count for s in list(client._SERVERS.values()))
    predict_local(_targets(tmp_path / "warm", "complete_vertex")[0], settings)   # the image's server is up
    before = jobs()
    Prefetcher(settings, _Cache(), {t.test_id: {"predict.local"}}).before(_item(t), None)
    o = predict_local(t, settings)
    _wait_for_ocr_threads()
    assert o.status == "passed", o.message
    assert jobs() - before == 1
