"""deploycheck.schedule against xdist's scheduler protocol, without workers: the order of events
that ended a class run with an internal error when two workers crashed close together."""
from __future__ import annotations

from types import SimpleNamespace

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
