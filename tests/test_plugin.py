"""The pytest plugin: parametrization, -k, rubric files, xdist collection, exit status, usage errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent

FAKE_CHECKS = """
import pytest
from deploycheck.model import passed, failed, skipped

@pytest.mark.check("readme.present")
def test_readme_present(target, record):
    f = target.folder
    record(passed("ok") if f and f.find("README.md") else failed("no README in the folder: add one"))

@pytest.mark.check("extras.custom_image")
def test_extras_custom_image(target, record):
    record(failed("never enabled by default"))

@pytest.mark.check("entry_point.model_fn")
def test_entry_point_model_fn(target, record):
    record(skipped("does not apply to GCP") if target.platform == "gcp" else passed("fine"))
"""
# points as the tests below expect them (the table's defaults differ); this also exercises --rubric
POINTS = ('[checks."readme.present"]\npoints = 2\n[checks."extras.custom_image"]\npoints = 5\n'
          '[checks."entry_point.model_fn"]\npoints = 1\n')


@pytest.fixture
def room(tmp_path):
    r = tmp_path / "room"
    (r / "alice" / "aws_deploy").mkdir(parents=True)
    (r / "alice" / "aws_deploy" / "README.md").write_text("hi")
    (r / "bob" / "gcp_deploy").mkdir(parents=True)
    (r / "carol" / "aws_deploy").mkdir(parents=True)
    (r / "carol" / "gcp_deploy").mkdir(parents=True)
    (r / "carol" / "gcp_deploy" / "README.md").write_text("hi")
    return r


def _run(pytester, *args, checks=FAKE_CHECKS, rubric=POINTS):
    pytester.makepyfile(test_fake_checks=checks)
    extra = []
    if rubric is not None and "--rubric" not in args:
        pytester.makefile(".toml", points=rubric)
        extra = ["--rubric", "points.toml"]
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *extra, *args)


def test_grades_class_keeps_best_platform_and_writes_report(pytester, room, tmp_path):
    out = tmp_path / "out"
    res = _run(pytester, "--classroom", str(room), "--report", str(out))
    res.assert_outcomes(passed=4, failed=2, skipped=2, deselected=4)
    doc = json.loads((out / "report.json").read_text())
    by = {s["student"]: s for s in doc["students"]}
    assert by["alice"]["score"] == 3 and by["alice"]["max_score"] == 3
    # one scale (points from the rubric file POINTS): gcp's raw maximum (readme.present: 2) is scaled to
    # the common maximum (aws: readme.present 2 + entry_point.model_fn 1 = 3)
    assert by["bob"]["score"] == 0 and by["bob"]["max_score"] == 3 and by["bob"]["raw_max_score"] == 2
    bob_checks = {c["id"]: c for c in by["bob"]["checks"]}
    assert bob_checks["entry_point.model_fn"]["status"] == "skipped"
    assert "add one" in bob_checks["readme.present"]["message"]
    # carol has both platforms; gcp has the README, so gcp is kept
    assert by["carol"]["platform"] == "gcp" and set(by["carol"]["platforms"]) == {"aws", "gcp"}
    assert {c["id"] for c in by["carol"]["checks"]} == {"readme.present", "entry_point.model_fn"}
    assert (out / "grades.csv").read_text().splitlines()[0] == (
        "student,name,platform,graded_commit,readme.present,entry_point.model_fn,raw_score,raw_max_score,score,"
        "max_score,late_commits,last_late_commit,latest_commit_score,review,overrides,dates,similar_to,error")
    gs = json.loads((out / "results" / "bob.json").read_text())
    assert gs["score"] == 0 and {t["name"] for t in gs["tests"]} == {"readme.present", "entry_point.model_fn"}
    assert "| bob | gcp | 0/3 | `readme.present` |" in (out / "summary.md").read_text()
    assert res.ret == 1


def test_collect_only_lists_checks_and_grades_nothing(pytester, room, tmp_path):
    """--collect-only (how the README checks a real-cloud command line without deploying): the checks
    are listed, none is recorded as "did not run", no report is written, the exit status is 0."""
    out = tmp_path / "out"
    res = _run(pytester, "--classroom", str(room), "--report", str(out), "--collect-only")
    assert res.ret == 0, res.stdout.str()
    assert "did not run" not in res.stdout.str() and "test_readme_present[carol-aws]>" in res.stdout.str()
    assert not (out / "report.json").exists()


def test_k_selects_students_and_checks(pytester, room):
    res = _run(pytester, "--classroom", str(room), "-k", "alice and readme")
    res.assert_outcomes(passed=1, deselected=11)


def test_rubric_file_sets_points_and_enables(pytester, room, tmp_path):
    rub = tmp_path / "rubric.toml"
    rub.write_text('[checks."readme.present"]\npoints = 10\n[checks."extras.custom_image"]\nenabled = true\npoints = 5\n'
                   '[checks."entry_point.model_fn"]\nenabled = false\n')
    out = tmp_path / "out"
    _run(pytester, "--classroom", str(room), "--rubric", str(rub), "--report", str(out))
    doc = json.loads((out / "report.json").read_text())
    alice = next(s for s in doc["students"] if s["student"] == "alice")
    assert alice["max_score"] == 15 and alice["score"] == 10     # rubric points: 10 + extras.custom_image 5
    assert {c["id"] for c in alice["checks"]} == {"readme.present", "extras.custom_image"}


def test_exit_status_zero_when_graded_platform_passes(pytester, tmp_path):
    repo = tmp_path / "dave"
    (repo / "aws_deploy").mkdir(parents=True)
    (repo / "aws_deploy" / "README.md").write_text("x")
    (repo / "gcp_deploy").mkdir()
    res = _run(pytester, "--repo", str(repo))
    # gcp's readme.present fails, but aws (all passed) is the graded platform
    assert res.ret == 0


def test_xdist_collects_results_on_controller(pytester, room, tmp_path):
    out = tmp_path / "out"
    _run(pytester, "--classroom", str(room), "--report", str(out), "-n", "2")
    doc = json.loads((out / "report.json").read_text())
    assert sorted(s["student"] for s in doc["students"]) == ["alice", "bob", "carol"]
    assert sum(len(s["checks"]) for s in doc["students"]) == 6


def test_roster_and_shard(pytester, room, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo\n" + "".join(f"{n},room/{n}\n" for n in ["alice", "bob", "carol"]))
    out = tmp_path / "out"
    _run(pytester, "--roster", str(roster), "--shard", "2/3", "--report", str(out))
    doc = json.loads((out / "report.json").read_text())
    assert [s["student"] for s in doc["students"]] == ["bob"]
    assert doc["meta"]["shard"] == "2/3"


def test_usage_error_without_repo_is_not_a_traceback():
    p = subprocess.run([sys.executable, "-m", "pytest", "checks/", "-p", "no:cacheprovider"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 4
    assert "--repo PATH" in p.stderr and "Traceback" not in p.stderr + p.stdout


def test_bad_shard_and_missing_classroom_are_usage_errors(pytester, tmp_path):
    res = _run(pytester, "--repo", str(tmp_path), "--shard", "4/3")
    assert res.ret == 4 and "--shard 4/3" in res.stderr.str()
    res = _run(pytester, "--classroom", str(tmp_path / "nope"))
    assert res.ret == 4 and "not a folder" in res.stderr.str()


@pytest.mark.parametrize("text,words", [
    ('[checks."readme.clenup"]\npoints = 3\n', ["unknown check id", "did you mean readme.cleanup"]),
    ('[checks."readme.cleanup"]\npoint = 3\n', ["unknown key", "did you mean points"]),
    ('[checks."readme.cleanup"]\npoints = "three"\n', ["must be a number"]),
    ('[checks."readme.cleanup"]\npoints = -1\n', ["must not be negative"]),
    ('[checks."proof.generated"]\npoints = 1\n', ["no longer a check", "no points"]),
    ('["readme.cleanup"]\npoints = 1\n', ['[checks."readme.cleanup"]']),
    ('[checks\n', ["not valid TOML"]),
])
def test_rubric_file_errors_are_one_line_usage_errors(pytester, room, tmp_path, text, words):
    rub = tmp_path / "rubric.toml"
    rub.write_text(text)
    res = _run(pytester, "--classroom", str(room), "--rubric", str(rub))
    err = res.stderr.str()
    assert res.ret == 4 and "Traceback" not in err + res.stdout.str()
    line = next(ln for ln in err.splitlines() if "rubric" in ln)
    for w in words:
        assert w in line, (w, err)


@pytest.mark.parametrize("marker,words", [
    ('@pytest.mark.check("readme.present", points=2)', ["with the id only"]),
    ('@pytest.mark.check("readme.presnt")', ["unknown check id", "did you mean readme.present"]),
])
def test_bad_markers_are_usage_errors(pytester, room, marker, words):
    checks = f"import pytest\n\n{marker}\ndef test_readme_present(target, record):\n    pass\n"
    res = _run(pytester, "--classroom", str(room), checks=checks, rubric=None)
    assert res.ret == 4
    for w in words:
        assert w in res.stderr.str()


def test_check_test_must_be_named_after_its_id(pytester, room):
    checks = 'import pytest\n\n@pytest.mark.check("readme.present")\ndef test_readme(target, record):\n    pass\n'
    res = _run(pytester, "--classroom", str(room), checks=checks, rubric=None)
    assert res.ret == 4 and "must be named test_readme_present" in res.stderr.str()


CRASHING = """
import os
from pathlib import Path
import pytest
from deploycheck.model import passed

@pytest.mark.check("readme.present")
def test_readme_present(target, record):
    flag = Path(os.environ["CRASH_FLAG_DIR"]) / target.student
    if target.student.startswith("crash") and (target.student == "crash_always" or not flag.exists()):
        flag.write_text("crashed once")
        os._exit(3)                                  # the xdist worker dies (a native crash, an OOM kill)
    record(passed("fine"))

@pytest.mark.check("files.referenced")
def test_files_referenced(target, record):
    record(passed("after the crash", pid=os.getpid()))
"""


def test_a_dead_worker_is_retried_once_and_never_drops_a_student(pytester, tmp_path, monkeypatch):
    room = tmp_path / "room"
    for name in ("alice", "crash_once", "crash_always"):
        (room / name / "aws_deploy").mkdir(parents=True)
        (room / name / "aws_deploy" / "README.md").write_text("hi")
    flags = tmp_path / "flags"
    flags.mkdir()
    monkeypatch.setenv("CRASH_FLAG_DIR", str(flags))
    out = tmp_path / "out"
    res = _run(pytester, "--classroom", str(room), "--report", str(out), "-n", "2", checks=CRASHING, rubric=None)
    doc = json.loads((out / "report.json").read_text())
    by = {s["student"]: {c["id"]: c for c in s["checks"]} for s in doc["students"]}
    assert set(by) == {"alice", "crash_once", "crash_always"}
    assert by["alice"]["readme.present"]["status"] == "passed"
    assert by["crash_once"]["readme.present"]["status"] == "passed"         # retried in a fresh worker
    died = by["crash_always"]["readme.present"]
    assert died.get("error") is True and died["score"] == 0 and died["max_score"] == 1   # never a higher score
    assert "worker process died twice" in died["message"] and "not your fault" in died["message"]
    assert all(by[s]["files.referenced"]["status"] == "passed" for s in by)     # the rest of each student ran
    assert res.ret != 0


PID_CHECKS = """
import os, time
import pytest
from deploycheck.model import passed

@pytest.mark.check("readme.present")
def test_readme_present(target, record):
    time.sleep(0.05)
    record(passed("ok", pid=os.getpid()))

@pytest.mark.check("files.referenced")
def test_files_referenced(target, record):
    record(passed("ok", pid=os.getpid()))

@pytest.mark.check("entry_point.model_fn")
def test_entry_point_model_fn(target, record):
    record(passed("ok", pid=os.getpid()))
"""


def test_all_checks_of_a_student_run_in_one_worker(pytester, tmp_path):
    """proof.screenshot compares with the local run made in its own process, and facts are computed
    once per process: with -n, a student's checks must never be spread over workers."""
    room = tmp_path / "room"
    for i in range(12):
        (room / f"s{i:02d}" / "aws_deploy").mkdir(parents=True)
    out = tmp_path / "out"
    _run(pytester, "--classroom", str(room), "--report", str(out), "-n", "2", checks=PID_CHECKS, rubric=None)
    doc = json.loads((out / "report.json").read_text())
    pids = {s["student"]: {c["data"]["pid"] for c in s["checks"] if c["status"] == "passed"} for s in doc["students"]}
    assert len(pids) == 12 and all(len(p) == 1 for p in pids.values()), pids
    assert len(set().union(*pids.values())) == 2          # and both workers did work


REVIEW_CHECKS = """
import pytest
from deploycheck.model import Screenshot, failed, passed, review

@pytest.mark.check("readme.present")
def test_readme_present(target, record):
    record(passed("ok") if target.student == "rita" else failed("no README in the folder: add one"))

@pytest.mark.check("proof.screenshot")
def test_proof_screenshot(target, record):
    record(review("OCR could not read the output with confidence", screenshot=Screenshot("aws_deploy/p.png", "[@, 2]")))
"""


def test_review_passes_is_counted_apart_and_keeps_the_exit_status(pytester, tmp_path):
    repo = tmp_path / "rita"
    (repo / "aws_deploy").mkdir(parents=True)
    out = tmp_path / "out"
    res = _run(pytester, "--repo", str(repo), "--report", str(out), "-v", checks=REVIEW_CHECKS, rubric=None)
    text = res.stdout.str()
    assert res.ret == 0, text                                   # review never fails the run
    assert "test_proof_screenshot[rita] REVIEW" in text and "1 passed, 1 review" in text
    assert "AWAITING YOUR INSTRUCTOR'S REVIEW" in text and "all 2 checks passed" not in text
    c = {c["id"]: c for c in json.loads((out / "report.json").read_text())["students"][0]["checks"]}
    assert c["proof.screenshot"]["status"] == "review" and c["proof.screenshot"]["score"] == 1
    assert c["proof.screenshot"]["screenshot"] == {"path": "aws_deploy/p.png", "ocr_text": "[@, 2]"}


def test_workers_send_outcomes_and_only_the_report_scores(pytester, room, tmp_path, monkeypatch):
    """What travels from a check (an xdist worker) to the controller is the verdict, never points:
    scoring happens once, in report/results.py. A conftest on the controller records the wire."""
    wire = tmp_path / "wire.jsonl"
    monkeypatch.setenv("WIRE", str(wire))
    pytester.makeconftest("""
import os
WORKER = []
def pytest_configure(config):
    WORKER.append(hasattr(config, "workerinput"))
def pytest_runtest_logreport(report):
    if WORKER[0]:
        return                                     # the controller's copy only
    for name, value in report.user_properties:
        if name == "deploycheck":
            with open(os.environ["WIRE"], "a") as fh:
                fh.write(value + "\\n")
""")
    out = tmp_path / "out"
    _run(pytester, "--classroom", str(room), "--report", str(out), "-n", "2")
    props = [json.loads(line) for line in wire.read_text().splitlines()]
    assert len(props) == 8
    for p in props:
        assert set(p) == {"student", "platform", "repo", "check", "outcome", "notes"}, p
        assert "score" not in json.dumps(p) and "points" not in json.dumps(p), p
    by = {s["student"]: s for s in json.loads((out / "report.json").read_text())["students"]}
    # the report's points are the rubric file's (POINTS): a failing check earns nothing
    assert by["bob"]["score"] == 0 and by["alice"]["score"] == by["alice"]["max_score"] == 3


KILLING = """
import os, signal
from pathlib import Path
import pytest
from deploycheck.model import passed

@pytest.mark.check("readme.present")
def test_readme_present(target, record):
    flag = Path(os.environ["CRASH_FLAG_DIR"]) / target.student
    if target.student.startswith("oom") and not flag.exists():
        flag.write_text("killed once")
        os.kill(os.getpid(), signal.SIGKILL)         # the worker is OOM-killed while grading this student
    record(passed("fine"))

@pytest.mark.check("files.referenced")
def test_files_referenced(target, record):
    record(passed("fine"))
"""


def _killing_room(tmp_path, monkeypatch, attackers, honest):
    room = tmp_path / "room"
    for name in [f"oom{i:02d}" for i in range(attackers)] + [f"ok{i:02d}" for i in range(honest)]:
        (room / name / "aws_deploy").mkdir(parents=True)
    flags = tmp_path / "flags"
    flags.mkdir()
    monkeypatch.setenv("CRASH_FLAG_DIR", str(flags))
    return room


def test_many_dead_workers_never_leave_a_student_ungraded(pytester, tmp_path, monkeypatch):
    """More worker deaths than xdist allows by default (4 per process): every student is still graded on
    the whole rubric (the interrupted ones re-run in a fresh worker), on one scale."""
    room = _killing_room(tmp_path, monkeypatch, attackers=10, honest=4)
    out = tmp_path / "out"
    res = _run(pytester, "--classroom", str(room), "--report", str(out), "-n", "2", checks=KILLING, rubric=None)
    doc = json.loads((out / "report.json").read_text())
    assert len(doc["students"]) == 14, res.stdout.str()[-3000:]
    for s in doc["students"]:
        st = {c["id"]: c["status"] for c in s["checks"]}
        assert st == {"readme.present": "passed", "files.referenced": "passed"}, (s["student"], s["checks"])
        assert s["score"] == s["max_score"] == 2
    assert "maximum crashed workers" not in res.stdout.str() and res.ret == 0


def test_checks_that_never_ran_are_errors_of_the_run_never_dropped(pytester, tmp_path, monkeypatch):
    """xdist told to give up at the first dead worker: the checks that never ran still get a record
    (an error of the run, kept in the maximum), and no student is said to have passed everything."""
    room = _killing_room(tmp_path, monkeypatch, attackers=1, honest=5)
    out = tmp_path / "out"
    res = _run(pytester, "--classroom", str(room), "--report", str(out), "-n", "2", "--max-worker-restart", "0",
               checks=KILLING, rubric=None)
    doc = json.loads((out / "report.json").read_text())
    assert len(doc["students"]) == 6
    missing = 0
    for s in doc["students"]:
        assert {c["id"] for c in s["checks"]} == {"readme.present", "files.referenced"}, s
        assert s["max_score"] == 2 and s["raw_max_score"] == 2                 # the maximum never drops
        for c in s["checks"]:
            if c.get("error"):
                missing += 1
                assert s["incomplete"] and s["score"] < s["max_score"]
                assert "did not run" in c["message"] or "died" in c["message"]
    assert missing >= 1 and res.ret != 0
    text = res.stdout.str()
    for s in doc["students"]:
        if s.get("incomplete"):
            line = next(ln for ln in text.splitlines() if ln.startswith(s["student"]))
            assert "all checks passed" not in line, line
