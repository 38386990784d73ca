"""Instructor overrides (--overrides FILE.toml): applied after grading on every run, kept through the
results cache, with the machine's verdict and the reason beside them in every output."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from deploycheck import model, overrides as ov, rubric as rb
from deploycheck.classroom import RepoRef
from deploycheck.report import ReportOptions, RunMeta, terminal, write_all
from deploycheck.report.results import build_students

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "fixtures" / "built" / "classroom"
R = rb.Rubric(dict(rb.RUBRIC))
FILE = """
[[override]]
student = "s1"              # the student id as in report.json
check = "readme.cleanup"    # any check id
status = "passed"           # passed | failed
reason = "clean-up shown in the screen recording"
"""


def rec(student, cid, o):
    return model.CheckRecord(student, "aws", f"/r/{student}", cid, o)


def test_the_issue_format_parses():
    d = ov.parse(tomllib.loads(FILE))
    e = d.get("s1", "readme.cleanup")
    assert (e.status, e.reason) == ("passed", "clean-up shown in the screen recording")


@pytest.mark.parametrize("text,words", [
    ('[[override]]\nstudent = "s1"\ncheck = "readme.cleanup"\nstatus = "passed"\n', ["reason is missing"]),
    ('[[override]]\nstudent = "s1"\ncheck = "readme.cleanup"\nstatus = "ok"\nreason = "r"\n', ['"passed" or "failed"']),
    ('[[override]]\nstudent = "s1"\ncheck = "readme.cleanup"\nstatus = "passed"\nreason = "r"\nwhy = "x"\n',
     ["unknown key 'why'"]),
    ('[[override]]\nstudent = "s1"\ncheck = "x"\nstatus = "passed"\nreason = "r"\n' * 2, ["overridden twice"]),
    ('[override]\nstudent = "s1"\n', ["[[override]] table"]),
    ('studnet = "s1"\n', ["unknown key 'studnet'"]),
    ('[[override]\n', ["not valid TOML"]),
])
def test_a_malformed_file_is_a_one_line_usage_error(tmp_path, text, words):
    f = tmp_path / "o.toml"
    f.write_text(text)
    with pytest.raises(ov.OverrideError) as e:
        ov.load(f)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"--overrides {f}")
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_applied_after_grading_with_the_machine_verdict_kept():
    d = ov.parse(tomllib.loads(FILE + '\n[[override]]\nstudent = "s1"\ncheck = "readme.present"\nstatus = "failed"\n'
                                      'reason = "the README is copied from the lab text"\n'))
    records = [rec("s1", "readme.present", model.passed("aws_deploy/README.md")),
               rec("s1", "readme.cleanup", model.failed("aws_deploy/README.md does not say how to delete: add ...")),
               rec("s2", "readme.cleanup", model.failed("no clean-up"))]
    s1, s2 = build_students(records, [], R, {"readme.present", "readme.cleanup"}, d)
    c = s1.check("readme.cleanup")
    assert c.status == "passed" and c.score == c.max_score == 2
    assert c.message == "decided by your instructor: clean-up shown in the screen recording"
    assert c.override == model.Override("clean-up shown in the screen recording", "failed",
                                        "aws_deploy/README.md does not say how to delete: add ...")
    assert s1.check("readme.present").status == "failed" and s1.check("readme.present").score == 0
    assert s1.score == 2 and s2.check("readme.cleanup").override is None          # another student: untouched
    # the report.json entry round-trips (deploycheck merge reads it back)
    assert model.CheckResult.from_json(json.loads(json.dumps(c.to_json()))) == c


def test_a_late_students_latest_commit_gets_the_same_decisions():
    from deploycheck.classroom.refs import Commit, Late
    d = ov.parse(tomllib.loads(FILE))
    late = Late(1, "2024-05-03T00:00:00+00:00", Commit("b" * 40, "2024-05-03T00:00:00+00:00"), "/c/x.latest")
    refs = [RepoRef("s1", "/r/s1", late=late), RepoRef("s1+latest", "/c/x.latest", shadow_of="s1")]
    records = [rec("s1", "readme.cleanup", model.failed("no clean-up")),
               rec("s1+latest", "readme.cleanup", model.failed("no clean-up"))]
    (s1,) = build_students(records, refs, R, {"readme.cleanup"}, d)
    assert s1.score == s1.max_score and s1.extra["late"]["latest_score"] == s1.max_score


def test_warnings_name_what_was_not_applied():
    d = ov.parse(tomllib.loads(FILE.replace('"s1"', '"s9"') + FILE.replace("readme.cleanup", "readme.clenup")
                               + FILE.replace("readme.cleanup", "cloud.deploy")))
    w = d.warnings(["s1", "s2"], {"s1": {"readme.cleanup"}})
    assert len(w) == 3 and all("\n" not in x for x in w)
    assert any("no student 's9'" in x for x in w)
    assert any("no check 'readme.clenup' (did you mean readme.cleanup?)" in x for x in w)
    assert any("'cloud.deploy' for 's1' was not applied: that check was not graded" in x for x in w)


def test_every_output_shows_the_decision_and_the_machine_verdict(tmp_path):
    d = ov.parse(tomllib.loads(FILE))
    (s1,) = build_students([rec("s1", "readme.cleanup", model.failed("no clean-up: add the delete commands"))], [], R,
                           {"readme.cleanup"}, d)
    write_all([s1], tmp_path, RunMeta(), ReportOptions())
    c = json.loads((tmp_path / "report.json").read_text())["students"][0]["checks"][0]
    assert c["status"] == "passed" and c["override"] == {
        "reason": "clean-up shown in the screen recording",
        "machine": {"status": "failed", "message": "no clean-up: add the delete commands"}}
    row = next(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8"), newline="")))
    assert row["overrides"] == "readme.cleanup: passed (deploycheck: failed; clean-up shown in the screen recording)"
    page = (tmp_path / "index.html").read_text()
    assert "passed (your decision)" in page and "deploycheck&#39;s own verdict: failed: no clean-up" in page
    assert "(deploycheck's own verdict was failed)" in (tmp_path / "summary.md").read_text()
    assert any("DECIDED BY YOUR INSTRUCTOR: readme.cleanup passed (deploycheck said failed)" in ln
               for ln in terminal.lines([s1]))


# ---------------------------------------------------------------- through the command line, with the cache

def grade(env, repo, out, *extra):
    p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--repo", str(repo), "--report", str(out),
                        "--no-proof", *extra], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    doc = json.loads((out / "report.json").read_text())
    return p, doc


def test_round_trip_grade_override_regrade_with_the_cache(tmp_path, monkeypatch):
    import os
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYCHECK_NO_CACHE"}
    env["DEPLOYCHECK_RESULTS_DIR"] = str(tmp_path / "results")
    repo = tmp_path / "no_cleanup"
    shutil.copytree(CLASSROOM / "no_cleanup", repo)
    p1, first = grade(env, repo, tmp_path / "out1")
    st = first["students"][0]
    sid = st["student"]
    machine = next(c for c in st["checks"] if c["id"] == "readme.cleanup")
    assert machine["status"] == "failed" and p1.returncode == 1
    f = tmp_path / "overrides.toml"
    f.write_text(ov.snippet(sid, "readme.cleanup", reason="deleted in the console, shown in the video")
                 + '\n\n[[override]]\nstudent = "nobody-here"\ncheck = "readme.present"\nstatus = "failed"\n'
                   'reason = "x"\n')
    p2, second = grade(env, repo, tmp_path / "out2", "--overrides", str(f))
    st2 = second["students"][0]
    c = next(c for c in st2["checks"] if c["id"] == "readme.cleanup")
    n = len(st2["checks"])
    assert f"reused {n} of {n} check results from the cache" in p2.stdout       # the cache keeps machine verdicts
    assert c["status"] == "passed" and c["score"] == c["max_score"]
    assert c["override"]["reason"] == "deleted in the console, shown in the video"
    assert c["override"]["machine"] == {"status": "failed", "message": machine["message"]}
    assert st2["score"] > st["score"] and p2.returncode == 0
    warning = [ln for ln in p2.stdout.splitlines() if ln.startswith("deploycheck: warning:")]
    assert len(warning) == 1 and "no student 'nobody-here'" in warning[0]
    assert second["meta"]["override_warnings"] == [warning[0].removeprefix("deploycheck: warning: ")]
    # and once more: the override is applied on every run
    _, third = grade(env, repo, tmp_path / "out3", "--overrides", str(f))
    assert next(c for c in third["students"][0]["checks"] if c["id"] == "readme.cleanup")["override"] == c["override"]


def test_a_bad_overrides_file_stops_the_run_in_one_line(tmp_path):
    f = tmp_path / "o.toml"
    f.write_text('[[override]]\nstudent = "a"\ncheck = "readme.cleanup"\nstatus = "maybe"\nreason = "r"\n')
    p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--repo", str(CLASSROOM / "no_cleanup"),
                        "--overrides", str(f)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 4 and "status must be \"passed\" or \"failed\", not 'maybe'" in p.stderr
    assert "Traceback" not in p.stderr + p.stdout
