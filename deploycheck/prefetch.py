"""What a process's checks will wait for, started early in background threads (never a verdict).

* **Once per process** (:meth:`Prefetcher.start`, from ``pytest_collection_finish``): the serving
  image's sandbox server of the first repo to predict, and the browser with its reused pages for
  proof cards.
* **Per student** (:meth:`Prefetcher.before`, from ``pytest_runtest_protocol``): the screenshot's
  OCR (a limited worker process per image, :mod:`deploycheck.analysis.ocr`) of the student whose
  checks start now and of the next one. proof.screenshot comes late in rubric order, so the OCR
  runs while predict.local waits for its sandbox job and the browser renders the proof card: the
  two cores stay busy instead of waiting in turn. The facts are computed once
  (:attr:`deploycheck.analysis.Facts.screenshot` is guarded by a lock): the check reads what the
  thread computed, or computes it itself if the thread failed.

Nothing starts for a check that is not selected or whose outcome the results cache already holds.
Every failure here is silent: the check that needs the work reports any problem itself.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from deploycheck.discovery import DeployFolder, Target

if TYPE_CHECKING:
    from deploycheck.cache import ResultsCache
    from deploycheck.settings import Settings

OCR_CHECK = "proof.screenshot"


class Prefetcher:
    def __init__(self, settings: Settings, cache: ResultsCache, selected: dict[str, set[str]]):
        """``selected``: the check ids this process will run, per target test id."""
        self.settings = settings
        self.cache = cache
        self.selected = selected
        self._ocr_started: set[str] = set()

    def start(self, first: Target) -> None:
        """Once per process, for the first repo to predict: its image's sandbox server, then the
        browser and its reused pages (a thread of its own)."""
        threading.Thread(target=self._start, args=(first,), name="deploycheck-warm-up", daemon=True).start()

    def _start(self, t: Target) -> None:
        try:
            if self.cache.has(t, "predict.local"):
                return                                  # reused: nothing to run or render
            from deploycheck.analysis.plan import Unservable
            plan = t.folder.facts.serving_plan if t.folder is not None else None
            if plan is not None and not isinstance(plan, Unservable) and plan.target.image is not None:
                from deploycheck import sandbox
                from deploycheck.serving import local
                sandbox.prestart(local.interpreter_of(local.runtime_for(plan.target.image)))
        except Exception:  # noqa: BLE001
            pass
        if self.settings.proof:
            from deploycheck import proof
            proof.warm()

    def before(self, current: Target | None, following: Target | None) -> None:
        """Before a check of ``current`` runs (the next check's target is ``following``): the OCR of
        both students, once each."""
        for t in (current, following):
            if t is not None and t.test_id not in self._ocr_started:
                self._ocr_started.add(t.test_id)
                self._start_ocr(t)

    def _start_ocr(self, t: Target) -> None:
        if OCR_CHECK not in self.selected.get(t.test_id, ()) or t.folder is None:
            return
        try:
            if self.cache.has(t, OCR_CHECK):
                return
        except Exception:  # noqa: BLE001
            return
        folder = t.folder
        threading.Thread(target=_read_screenshots, args=(folder,), name="deploycheck-ocr", daemon=True).start()

    @property
    def ocr_started(self) -> frozenset[str]:
        """Test ids of the students whose OCR was asked for (the tests read it)."""
        return frozenset(self._ocr_started)


def _read_screenshots(folder: DeployFolder) -> None:
    try:
        folder.facts.screenshot
    except Exception:  # noqa: BLE001 - the check computes it again and reports the problem
        pass
