"""deploycheck.schedule against xdist's scheduler protocol, without workers: the order of events
that ended a class run with an internal error when two workers crashed close together."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

from deploycheck.schedule import StudentScheduling, param_id


class Node:
    def __init__(self, name: str):
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[list[int]] = []

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


COLLECTION = [f"checks/test_{c}.py::test_{c}[{s}-aws]" for s in ("alice", "bob", "carol") for c in ("a", "b", "c")]


def scheduler() -> StudentScheduling:
    config = SimpleNamespace(getvalue=lambda name: ["2*popen"] if name == "tx" else None,
                             option=SimpleNamespace(loadscopereorder=False))
    return StudentScheduling(config, None, lambda pid: pid.split("-")[0])  # type: ignore[arg-type]


def test_param_id():
    assert param_id("checks/test_x.py::test_y[alice-aws]") == "alice-aws"
    assert param_id("checks/test_x.py::test_y") is None


def started() -> tuple[StudentScheduling, Node, Node]:
    """A scheduler whose two workers have collected and been given work."""
    s = scheduler()
    a, b = Node("gw0"), Node("gw1")
    for n in (a, b):
        s.add_node(n)
        s.add_node_collection(n, COLLECTION)
    s.schedule()
    return s, a, b


def test_one_student_per_work_unit():
    _s, a, b = started()
    sent = [[COLLECTION[i] for i in idx] for n in (a, b) for idx in n.sent]
    assert sent and all(len({param_id(t) for t in unit}) == 1 for unit in sent)
    assert all(len(unit) == 3 for unit in sent)


def test_a_replacement_worker_without_its_collection_yet_is_skipped_not_an_internal_error():
    s, a, b = started()
    # both die; replacements come up and finish collecting in the other order
    c, d = Node("gw2"), Node("gw3")
    s.remove_node(a)
    s.add_node(c)
    s.remove_node(b)            # xdist reschedules every node here, c has no collection yet
    s.add_node(d)
    s.add_node_collection(d, COLLECTION)
    s.schedule()                # and here
    assert d.sent and not c.sent
    s.add_node_collection(c, COLLECTION)
    s.schedule()
    assert c.sent               # it gets work once its collection is in


def finish(s: StudentScheduling, node: Node, all_sent: bool = False) -> None:
    """The worker runs its first batch (``all_sent``: every batch, those it is given meanwhile too)."""
    while node.sent:
        for i in node.sent.pop(0):
            s.mark_test_complete(node, i)      # type: ignore[arg-type]
        if not all_sent:
            return


def test_a_class_with_a_check_that_crashes_its_worker_twice_ends():
    s, a, b = started()
    finish(s, a)                               # alice done; a is given carol
    crash = s.remove_node(a)                   # a dies on carol's first check
    assert crash == COLLECTION[6]
    s.mark_test_pending(crash)
    assert list(s.workqueue) == ["student:carol"]       # not alice's finished unit
    c = Node("gw2")
    s.add_node(c)
    s.add_node_collection(c, COLLECTION)
    s.schedule()
    assert [COLLECTION[i] for i in c.sent[0]] == COLLECTION[6:9]
    assert s.remove_node(c) == crash           # the same check kills c: its second death
    assert list(s.workqueue) == ["student:carol"]
    d = Node("gw3")
    s.add_node(d)
    s.add_node_collection(d, COLLECTION)
    s.schedule()
    assert [COLLECTION[i] for i in d.sent[0]] == COLLECTION[7:9]    # the rest of carol, not the crash
    finish(s, b, all_sent=True)
    finish(s, d, all_sent=True)
    assert not s.workqueue and b.shutting_down and d.shutting_down and s.tests_finished


IMAGES = {"a1": "A", "a2": "A", "b1": "B", "a3": "A", "c1": "C", "b2": "B", "a4": "A", "a5": "A", "n1": None}
CLASS = [f"checks/test_{c}.py::test_{c}[{s}-aws]" for s in IMAGES for c in ("a", "b")]


def test_students_go_to_the_worker_that_already_serves_their_image():
    """Each sandbox server is started per worker: a rare image's students all go to one worker, and
    no worker is left without work while students wait."""
    config = SimpleNamespace(getvalue=lambda name: ["2*popen"] if name == "tx" else None,
                             option=SimpleNamespace(loadscopereorder=False))
    s = StudentScheduling(config, None, lambda pid: pid.split("-")[0],  # type: ignore[arg-type]
                          lambda student: frozenset({IMAGES[student]} if IMAGES[student] else ()))
    a, b = Node("gw0"), Node("gw1")
    for n in (a, b):
        s.add_node(n)
        s.add_node_collection(n, CLASS)
    s.schedule()
    got: dict[str, list[str]] = {"gw0": [], "gw1": []}
    while a.sent or b.sent:
        for n in (a, b):                       # the workers take turns finishing a unit
            if n.sent:
                got[n.gateway.id] += [param_id(CLASS[i]).split("-")[0] for i in n.sent[0]][:1]
                finish(s, n)
    assert sorted(got["gw0"] + got["gw1"]) == sorted(IMAGES)            # everyone graded once
    served = {w: {IMAGES[st] for st in sts} - {None} for w, sts in got.items()}
    assert served["gw0"] & served["gw1"] <= {"A"}, served       # B and C each started by one worker
    assert all(len(v) >= 3 for v in got.values())               # and both workers kept working


def test_the_images_a_class_declares_are_read_without_opening_any_model():
    from pathlib import Path

    from deploycheck.discovery import targets_for
    from deploycheck.schedule import declared_images
    room = Path(__file__).resolve().parent.parent / "fixtures" / "built" / "classroom"
    targets = [t for s in ("complete_aws", "complete_vertex", "complete_aiplatform", "no_deploy_folder")
               for t in targets_for(s, str(room / s))]
    found: dict[str, frozenset[str]] = {}
    declared_images(targets, found)
    assert found == {"complete_aws": {"sagemaker:1.2-1"}, "complete_vertex": {"vertex:sklearn-cpu.1-2"},
                     "complete_aiplatform": {"ai-platform:2.11"}}
    assert all("artifact" not in t.folder.facts.__dict__ for t in targets if t.folder is not None)


# --- the whole controller (xdist's own DSession) with workers that follow xdist's worker loop ---------------

class Worker:
    """An xdist worker as its controller sees it, following ``xdist.remote.WorkerInteractor``'s loop:
    it starts a test only once it has been sent the test after it, or a shutdown (pytest's
    ``nextitem``). It starts, reports ready, sends its collection, runs, then finishes or dies."""

    def __init__(self, name: str):
        self.gateway = SimpleNamespace(id=name, spec=SimpleNamespace(id=name))
        self.queue: list[int] = []
        self.state = "starting"               # -> ready -> collected -> finished | dead
        self._shutdown_sent = self._down = False
        self.workeroutput = {"exitstatus": 0, "shouldfail": False, "shouldstop": False}

    @property
    def shutting_down(self) -> bool:
        return self._down or self._shutdown_sent

    def send_runtest_some(self, indexes: list[int]) -> None:
        assert not self._shutdown_sent, "tests sent after a shutdown are never run"
        self.queue += indexes

    def shutdown(self) -> None:
        if not self._down:
            self._shutdown_sent = True

    def runnable(self) -> bool:
        return self.state == "collected" and (len(self.queue) >= 2 or bool(self.queue) and self._shutdown_sent)

    def __repr__(self) -> str:
        return self.gateway.id


class Controller:
    """xdist's DSession, unchanged, around deploycheck's scheduler and crash hook; each worker event
    is processed as it happens (the order of events is the test's to choose)."""

    def __init__(self, collection: list[str], crashes: dict[str, int]):
        from xdist.dsession import DSession

        from deploycheck.plugin import DeploycheckPlugin
        self.collection, self.crashes = collection, dict(crashes)   # nodeid -> how many times it kills its worker
        self.workers: list[Worker] = []
        self.completed: list[str] = []
        self.crash_reports: list[str] = []
        crash_hook = SimpleNamespace(_crashed=set())
        noop = lambda **kw: None  # noqa: E731
        hook = SimpleNamespace(
            pytest_testnodeready=noop, pytest_testnodedown=noop, pytest_xdist_node_collection_finished=noop,
            pytest_handlecrashitem=lambda **kw: DeploycheckPlugin.pytest_handlecrashitem(crash_hook, **kw),
            pytest_runtest_logreport=lambda report: report.outcome == "failed" and self.crash_reports.append(report.nodeid))
        option = SimpleNamespace(debug=False, maxworkerrestart=None, numprocesses=2, loadscopereorder=False)
        config = SimpleNamespace(option=option, hook=hook, pluginmanager=SimpleNamespace(getplugin=lambda name: None),
                                 getvalue=lambda name: {"tx": ["2*popen"], "maxfail": 0}[name])
        self.ds = DSession(config)  # type: ignore[arg-type]
        self.ds.sched = StudentScheduling(config, None, lambda pid: pid.split("-")[0])  # type: ignore[arg-type]
        self.ds._session = SimpleNamespace(testscollected=0)  # type: ignore[assignment]
        self.ds.nodemanager = SimpleNamespace(  # type: ignore[assignment]
            group=SimpleNamespace(allocate_id=lambda spec: None), setup_node=lambda spec, putevent: self._start())
        self.ds.shouldstop = False
        for _ in range(2):
            self.ds._active_nodes.add(self._start())

    def _start(self) -> Worker:
        w = Worker(f"gw{len(self.workers)}")
        self.workers.append(w)
        return w

    def _event(self, name: str, **kwargs: object) -> None:
        self.ds.queue.put((name, kwargs))
        self.ds.loop_once()

    def ready(self, w: Worker) -> None:
        assert w.state == "starting"
        w.state = "ready"
        self._event("workerready", node=w, workerinfo={})

    def collect(self, w: Worker) -> None:
        assert w.state == "ready"
        w.state = "collected"
        self._event("collectionfinish", node=w, ids=self.collection)

    def run(self, w: Worker) -> None:
        """``w`` runs its next test: it passes, or its worker dies (the test's next crash)."""
        assert w.runnable(), (w, w.queue)
        nodeid = self.collection[w.queue.pop(0)]
        if self.crashes.get(nodeid, 0) > 0:
            self.crashes[nodeid] -= 1
            w.state, w._down = "dead", True
            self._event("errordown", node=w, error="Not properly terminated")
        else:
            self.completed.append(nodeid)
            self._event("runtest_protocol_complete", node=w, item_index=self.collection.index(nodeid), duration=0.0)

    def finish(self, w: Worker) -> None:
        assert w.state == "collected" and w._shutdown_sent and not w.queue
        w.state, w._down = "finished", True
        self._event("workerfinished", node=w)

    def actions(self) -> list[tuple[Callable[[Worker], None], Worker]]:
        """What may happen next: any worker may be the next to speak."""
        out: list[tuple[Callable[[Worker], None], Worker]] = []
        for w in self.workers:
            if w.state == "starting":
                out.append((self.ready, w))
            elif w.state == "ready":
                out.append((self.collect, w))
            elif w.runnable():
                out.append((self.run, w))
            elif w.state == "collected" and w._shutdown_sent and not w.queue:
                out.append((self.finish, w))
        return out

    def drain(self) -> None:
        while not self.ds.session_finished and (todo := self.actions()):
            action, w = todo[0]
            action(w)


ROOM = [f"checks/test_{c}.py::test_{c}[{s}-aws]" for c in ("readme", "files") for s in ("alice", "crash_always", "crash_once")]
README, FILES = {s: f"checks/test_readme.py::test_readme[{s}-aws]" for s in ("alice", "crash_always", "crash_once")}, \
    {s: f"checks/test_files.py::test_files[{s}-aws]" for s in ("alice", "crash_always", "crash_once")}
CRASHES = {README["crash_always"]: 2, README["crash_once"]: 1}


def assert_every_student_graded(c: Controller) -> None:
    stuck = [(w, [c.collection[i] for i in w.queue]) for w in c.workers if w.state in ("starting", "ready", "collected")]
    assert c.ds.session_finished, f"the class run waits forever: live workers {stuck}, queue {list(c.ds.sched.workqueue)}"
    assert sorted(c.completed) == sorted(set(ROOM) - {README["crash_always"]})     # each test once
    assert c.crash_reports.count(README["crash_always"]) == 1                     # the second death: an error


def test_a_replacement_worker_given_a_single_check_while_students_wait_does_not_hang_the_class():
    """The interleaving of the hung whole-suite run (py-spy: the controller waiting on its queue, one
    replacement worker in run_one_test -> TestQueue.get, one finished worker, three dead): a second
    death leaves crash_always with one check to run; the replacement that gets it cannot start it
    (no next test, no shutdown) while crash_once still waits in the queue and no other worker lives."""
    c = Controller(ROOM, CRASHES)
    gw0, gw1 = c.workers
    for w in (gw0, gw1):
        c.ready(w)
    for w in (gw0, gw1):
        c.collect(w)
    c.run(gw1)                                     # gw1 dies on crash_always's readme; gw2 replaces it
    gw2 = c.workers[2]
    c.run(gw0)                                     # alice
    c.run(gw0)
    c.run(gw0)                                     # gw0 dies on crash_once's readme; gw3 replaces it
    gw3 = c.workers[3]
    c.ready(gw2)
    c.collect(gw2)                                 # gw2 is given crash_always (the retry) ...
    c.ready(gw3)
    c.collect(gw3)                                 # ... and crash_once; gw3 has nothing to do
    c.run(gw2)                                     # crash_always's readme kills gw2 as well: gw4
    c.drain()
    assert_every_student_graded(c)


def test_every_order_of_worker_events_ends_with_every_student_graded():
    """Any worker may speak next: 400 orders of the same class (seeded, so a failure replays)."""
    import random
    for seed in range(400):
        c = Controller(ROOM, CRASHES)
        rnd = random.Random(seed)
        while not c.ds.session_finished and (todo := c.actions()):
            action, w = rnd.choice(todo)
            action(w)
        try:
            assert_every_student_graded(c)
        except AssertionError as e:
            raise AssertionError(f"seed {seed}: {e}") from None
