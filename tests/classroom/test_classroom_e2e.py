"""End to end: a GitHub Classroom roster + grades download naming local git repos (file:// URLs),
graded with a deadline between commits; graded commits, late flags, the latest commit's score, and
the Canvas / GitHub Classroom CSVs byte for byte."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from gitrepos import make_repo  # noqa: E402

pytest_plugins = ["pytester"]

FAKE_CHECKS = '''
import pytest
from deploycheck.model import passed, failed, skipped

@pytest.mark.check("readme.present")
def test_readme_present(target, record):
    f = target.folder
    record(passed("ok") if f and f.find("README.md") else failed("no README in the deploy folder: add README.md"))

@pytest.mark.check("entry_point.model_fn")
def test_entry_point_model_fn(target, record):
    if target.platform != "aws":
        record(skipped("does not apply to GCP"))
    f = target.folder
    record(passed("fine") if f and f.find("inference.py") else
           failed("aws_deploy/ has no inference.py defining model_fn(model_dir): add it"))
'''

DEADLINE = "2024-05-01T23:59:00+02:00"
ROSTER = ('"identifier","github_username","github_id","name","ID","SIS User ID","SIS Login ID","Section"\n'
          '"zoe@uni.example","zoe-n","9001","Zoë Núñez","101","S-101","zoe@uni.example","Lab A"\n'
          '"bob@uni.example","bob","9002","=1+1 Bob","102","S-102","bob@uni.example","Lab B"\n'
          '"ghost@uni.example","ghost","9003","Ghost Student","103","","","Lab A"\n')
GRADES_HEAD = ("assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,"
               "student_repository_name,student_repository_url,submission_timestamp,points_awarded,points_available\n")
A_URL = "https://classroom.github.com/classrooms/1/assignments/deploy-lab"
STARTER = "https://github.com/course/deploy-lab-starter"


@pytest.fixture
def classroom(tmp_path):
    src = tmp_path / "github"
    zoe = make_repo(src / "deploy-lab-zoe-n", [
        ("2024-04-28T10:00:00+02:00", {"aws_deploy/README.md": "# deploy"}),
        ("2024-05-01T23:00:00+02:00", {"aws_deploy/README.md": "# deploy\nmore"}),
        ("2024-05-02T08:15:00+02:00", {"aws_deploy/inference.py": "def model_fn(d): pass"}),
        ("2024-05-02T09:30:00+02:00", {"aws_deploy/notes.txt": "late"})])
    bob = make_repo(src / "deploy-lab-bob", [("2024-04-30T12:00:00Z", {"gcp_deploy/README.md": "# gcp"})])
    rows = [("zoe-n", "zoe@uni.example", src / "deploy-lab-zoe-n"), ("bob", "bob@uni.example", src / "deploy-lab-bob"),
            ("ghost", "ghost@uni.example", src / "deploy-lab-ghost")]          # never pushed: unreachable
    grades = GRADES_HEAD + "".join(
        f"deploy-lab,{A_URL},{STARTER},{u},{i},deploy-lab-{u},{p.as_uri()},,0,0\n" for u, i, p in rows)
    (tmp_path / "classroom_roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "grades.csv").write_text(grades)
    return tmp_path, {"zoe": zoe, "bob": bob}, {u: p.as_uri() for u, _i, p in rows}


def test_grade_classroom_from_github_exports_with_deadline(pytester, classroom):
    base, shas, urls = classroom
    out = base / "out"
    pytester.makepyfile(test_fake_checks=FAKE_CHECKS)
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--roster", str(base / "classroom_roster.csv"), "--roster", str(base / "grades.csv"),
        "--deadline", DEADLINE, "--clone-dir", str(base / "cache"), "--report", str(out),
        "--canvas-assignment", "Deploy lab (777)")
    text = res.stdout.str() + res.stderr.str()
    doc = json.loads((out / "report.json").read_text())
    by = {s["student"]: s for s in doc["students"]}
    assert list(by) == ["zoe-n", "bob", "ghost"], text
    zoe, bob, ghost = by["zoe-n"], by["bob"], by["ghost"]
    # graded at the last commit at or before the deadline; the late commits counted and graded too
    assert zoe["commit"] == {"sha": shas["zoe"][1], "time": "2024-05-01T23:00:00+02:00"}
    assert zoe["score"] == 1 and zoe["max_score"] == 3 and zoe["raw_max_score"] == 3
    assert zoe["late"]["count"] == 2 and zoe["late"]["last_time"] == "2024-05-02T09:30:00+02:00"
    assert zoe["late"]["latest_commit"] == shas["zoe"][3] and zoe["late"]["latest_score"] == 3
    assert zoe["fix_first"] == "entry_point.model_fn" and zoe["name"] == "Zoë Núñez"
    assert bob["commit"]["sha"] == shas["bob"][0] and "late" not in bob
    assert bob["platform"] == "gcp" and bob["score"] == 3 and bob["raw_score"] == 1 and bob["raw_max_score"] == 1
    assert ghost["checks"] == [] and ghost["error"].startswith("could not fetch the repository")
    assert "zoe-n+latest" not in by                                     # the shadow is no student of its own
    assert doc["meta"]["deadline"] == DEADLINE and doc["meta"]["class_students"] == ["bob", "ghost", "zoe-n"]
    assert "zoe-n" in text and "fix first: entry_point.model_fn" in text and "2 late commit(s), latest would get 3" in text
    assert res.ret == 1 and "canvas.csv: " not in text        # every row has its Canvas ID: nothing to warn of

    # Canvas: Student, ID, SIS User ID, SIS Login ID, Section, "<name> (<id>)"; formula neutralised;
    # a student who could not be graded keeps an empty cell
    assert (out / "canvas.csv").read_bytes() == (
        "Student,ID,SIS User ID,SIS Login ID,Section,Deploy lab (777)\r\n"
        "Zoë Núñez,101,S-101,zoe@uni.example,Lab A,1\r\n"
        "'=1+1 Bob,102,S-102,bob@uni.example,Lab B,3\r\n"
        "Ghost Student,103,,,Lab A,\r\n").encode("utf-8")
    # GitHub Classroom: the grades download's own columns, in its order
    assert (out / "github-classroom.csv").read_bytes() == (
        GRADES_HEAD.replace("\n", "\r\n")
        + f"deploy-lab,{A_URL},{STARTER},zoe-n,zoe@uni.example,deploy-lab-zoe-n,{urls['zoe-n']},"
          "2024-05-01T23:00:00+02:00,1,3\r\n"
        + f"deploy-lab,{A_URL},{STARTER},bob,bob@uni.example,deploy-lab-bob,{urls['bob']},2024-04-30T12:00:00+00:00,3,3\r\n"
        + f"deploy-lab,{A_URL},{STARTER},ghost,ghost@uni.example,deploy-lab-ghost,{urls['ghost']},,,3\r\n"
    ).encode("utf-8")
    # a second run fetches the cache again and gives the same gradebook
    res2 = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--roster", str(base / "classroom_roster.csv"), "--roster", str(base / "grades.csv"),
        "--deadline", DEADLINE, "--clone-dir", str(base / "cache"), "--report", str(base / "out2"),
        "--canvas-assignment", "Deploy lab (777)", "-n", "2")
    assert (base / "out2" / "canvas.csv").read_bytes() == (out / "canvas.csv").read_bytes(), res2.stdout.str()
    assert json.loads((base / "out2" / "report.json").read_text())["students"][0]["late"]["latest_score"] == 3


def test_naive_deadline_is_a_usage_error(pytester, classroom):
    base, _s, _u = classroom
    pytester.makepyfile(test_fake_checks=FAKE_CHECKS)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--roster", str(base / "grades.csv"),
                                        "--deadline", "2024-05-01 23:59")
    assert res.ret == 4 and "give the time zone" in res.stderr.str() and "Traceback" not in res.stderr.str()
