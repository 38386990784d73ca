"""How a class is spread over xdist workers: all checks of one student run in one worker.

A student's folder facts are computed once per process, proof.screenshot compares the screenshot with
the local run made in its own process (a verdict must never depend on which worker ran which check),
and with ``--cloud`` the deployment lives in one process from cloud.deploy to cloud.teardown.

xdist's ``loadgroup`` would do this with ``xdist_group`` marks, but it works by appending ``@group``
to node ids, which pytest 9.2's structured node ids silently ignore (pytest-dev/pytest-xdist#1386):
the class was spread check by check. This is xdist's own scope scheduling (``loadscope``), given
the student as the scope, through xdist's ``pytest_xdist_make_scheduler`` hook. A worker that dies is
handled like xdist's ``load`` does for a crashed test: the student's unfinished checks go back in the
queue once (the plugin's ``pytest_handlecrashitem`` then expects a re-run); after a second death of
the same check it is not queued again, and the plugin records it as an error of the run. Whatever
the order of crashes, replacements and collections, no worker is left holding a single check it
cannot start (``StudentScheduling._reschedule``; tests/test_schedule.py plays xdist's own controller
through every order of worker events).

Students go to workers by serving image, where the load allows: every worker starts one sandbox
server per image it meets (0.3-1 s of CPU each, the price of a dozen jobs), so a worker asking for
work gets, in this order, the next student whose images it already serves (or who needs none), the
next whose images no other worker serves, and otherwise simply the next student (no worker waits).
A class that is mostly one image still shares that image between all workers; the images a few
students use are each started by one worker only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, AbstractSet, Callable, Iterable

from xdist.scheduler import LoadScopeScheduling

if TYPE_CHECKING:
    import pytest
    from xdist.workermanage import WorkerController

    from deploycheck.discovery import Target


def param_id(nodeid: str) -> str | None:
    """``checks/test_x.py::test_y[alice-aws]`` -> ``alice-aws`` (None without a parameter id)."""
    start, end = nodeid.find("["), nodeid.rfind("]")
    return nodeid[start + 1:end] if 0 <= start < end else None


class StudentScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with one scope per student (``student_of`` maps a check's parameter
    id to its student; unknown ids keep xdist's own scope)."""

    def __init__(self, config: pytest.Config, log: object | None, student_of: Callable[[str], str | None],
                 images_of: Callable[[str], AbstractSet[str]] = lambda student: frozenset()):
        super().__init__(config, log)
        self._student_of = student_of
        self._images_of = images_of           # a student's serving images (empty: unknown or none)
        self._retried: set[str] = set()
        self._serves: dict[WorkerController, set[str]] = {}

    def _images(self, scope: str) -> AbstractSet[str]:
        return self._images_of(scope[len("student:"):]) if scope.startswith("student:") else frozenset()

    def _assign_work_unit(self, node: WorkerController) -> None:
        """xdist's assignment of the first queued unit, the first being chosen by image (module doc)."""
        mine = self._serves.setdefault(node, set())
        others = set().union(*(v for n, v in self._serves.items() if n is not node))
        chosen = None
        for scope in self.workqueue:
            imgs = self._images(scope)
            if imgs <= mine:
                chosen = scope
                break
            if chosen is None and not imgs & others:
                chosen = scope
        if chosen is not None:
            self.workqueue.move_to_end(chosen, last=False)
        mine |= self._images(next(iter(self.workqueue)))
        super()._assign_work_unit(node)

    def _split_scope(self, nodeid: str) -> str:
        pid = param_id(nodeid)
        student = self._student_of(pid) if pid is not None else None
        return f"student:{student}" if student is not None else super()._split_scope(nodeid)

    def _reschedule(self, node: WorkerController) -> None:
        """Maybe give ``node`` more work (xdist's rule), and never leave it holding a single check.

        A worker that replaces a crashed one gets work only once its collection is in: xdist's own
        ``_reschedule`` looks that collection up and raised ``KeyError`` (an internal error ending the
        whole run) when another worker's collection or crash came first.

        An xdist worker starts a test only once it has been sent the test after it, or a shutdown
        (pytest's ``nextitem``), and asks for nothing more until a test completes. xdist's initial
        ``schedule`` gives every worker two units for this reason; a later assignment gives one, so a
        replacement worker given a student with a single check left (the rest of a student whose check
        killed two workers) waited for ever while other students were still queued and no other
        worker was alive: the class run hung. So a worker holding fewer than two checks is given
        another student, or, when none is queued, its shutdown (it then runs what it holds)."""
        if node not in self.registered_collections:
            return
        super()._reschedule(node)
        while not node.shutting_down and self._pending_of(self.assigned_work[node]) < 2:
            if self.workqueue:
                self._assign_work_unit(node)
            else:
                node.shutdown()

    def mark_test_pending(self, item: str) -> None:
        """A crashed check is run again: ``remove_node`` already put it back in the queue with the
        rest of its student's unfinished checks."""
        self._retried.add(item)

    def remove_node(self, node: WorkerController) -> str | None:
        """A worker is gone. Finished: nothing to do. Crashed: its student's unfinished checks go back in
        the queue, finished students' units do not (xdist's own requeued them, and a queue holding
        only finished units never empties: the run hung); a check that crashed a worker for the
        second time is not run again."""
        self._serves.pop(node, None)
        workload = self.assigned_work.pop(node)
        if not self._pending_of(workload):
            return None
        crashitem = next(nodeid for unit in workload.values() for nodeid, done in unit.items() if not done)
        for scope, unit in workload.items():
            if crashitem in self._retried and crashitem in unit:
                unit[crashitem] = True
            if not all(unit.values()):
                self.workqueue[scope] = unit
        for other in self.nodes:
            self._reschedule(other)
        return crashitem


def declared_images(targets: Iterable[Target], into: dict[str, frozenset[str]]) -> None:
    """Fill ``into`` (student -> the serving images their deploy folders declare), for scheduling
    only: a folder that declares none (its image is then assumed from the pickle, which the
    controller does not open) or whose facts fail adds nothing."""
    for t in targets:
        f = t.folder
        try:
            image = f.facts.image.image if f is not None and f.facts.image.declaration is not None else None
        except Exception:  # noqa: BLE001 - a heuristic: the workers meet and report any problem
            image = None
        if image is not None and f is not None:      # "KEY@DATE": graded as of a date, that day's build
            into[t.student] = into.get(t.student, frozenset()) | {image.key + (f"@{f.as_of}" if f.as_of else "")}


def prestart_servers(images: dict[str, frozenset[str]]) -> None:
    """In the controller of a class run whose workers share its sandbox servers: start the server of
    every image the class declares, most used first, while the workers start (only environments
    already built: a build is left to the first worker that needs it)."""
    from collections import Counter

    from deploycheck import sandbox
    from deploycheck.runtimes import catalog, envs
    used = Counter(key for keys in images.values() for key in keys)
    for key, _n in used.most_common():
        try:
            sandbox.prestart(envs.ensure(catalog.scheduled(key), build=False).interpreter())
        except Exception:  # noqa: BLE001 - a head start only: the workers start what they need
            continue
