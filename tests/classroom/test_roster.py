"""Roster formats (plain CSV, GitHub Classroom's roster and grades downloads), joining them, and
unique, stable student ids."""
from __future__ import annotations

import pytest

from deploycheck.classroom import resolve_sources, roster
from deploycheck.classroom.refs import RepoRef, safe_id, unique_ids

# GitHub Classroom's roster download (quoted, as the site writes it) and grades download
GH_ROSTER = ('"identifier","github_username","github_id","name"\n'
             '"zoe@uni.example","zoe-n","101","Zoë Núñez"\n'
             '"42","","",""\n')
GH_GRADES = ("assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,"
             "student_repository_name,student_repository_url,submission_timestamp,points_awarded,points_available\n"
             "deploy-lab,https://classroom.github.com/classrooms/1/assignments/deploy-lab,"
             "https://github.com/course/deploy-lab-starter,zoe-n,zoe@uni.example,deploy-lab-zoe-n,"
             "https://github.com/course/deploy-lab-zoe-n,2024-05-01 20:00:00 UTC,0,0\n")


def test_github_classroom_exports_are_joined_on_username(tmp_path):
    (tmp_path / "classroom_roster.csv").write_text("\ufeff" + GH_ROSTER, encoding="utf-8")
    (tmp_path / "grades.csv").write_text(GH_GRADES)
    rows = roster.combine([roster.read(tmp_path / "classroom_roster.csv"), roster.read(tmp_path / "grades.csv")])
    zoe, unlinked = rows
    assert zoe.key == "zoe-n" and zoe.repo == "https://github.com/course/deploy-lab-zoe-n"
    assert zoe.entry.name == "Zoë Núñez" and zoe.entry.identifier == "zoe@uni.example"
    assert zoe.entry.get("assignment_name") == "deploy-lab" and zoe.entry.get("github_id") == "101"
    assert unlinked.key == "42" and unlinked.repo == ""


def test_roster_student_without_repo_is_reported_never_dropped(tmp_path):
    (tmp_path / "r.csv").write_text(GH_ROSTER)
    refs, _w, cloned = resolve_sources([], None, [str(tmp_path / "r.csv")], clone_dir=tmp_path / "c")
    assert [r.student for r in refs] == ["zoe-n", "42"] and not cloned
    assert all("has not accepted the assignment" in r.error for r in refs)
    assert refs[0].name == "Zoë Núñez"                      # UTF-8 kept exactly for display


def test_plain_roster_with_canvas_columns_and_relative_paths(tmp_path):
    (tmp_path / "room" / "a").mkdir(parents=True)
    (tmp_path / "r.csv").write_text("Student,Repo,Name,ID,SIS User ID,SIS Login ID,Section\n"
                                    "zed,room/a,Zoë Núñez,555,S-1,zoe@uni,Lab 1\n", encoding="utf-8")
    refs, _w, _c = resolve_sources([], None, [str(tmp_path / "r.csv")])
    (r,) = refs
    assert r.student == "zed" and r.path == str(tmp_path / "room" / "a") and r.name == "Zoë Núñez"
    assert (r.roster.canvas_id, r.roster.sis_user_id, r.roster.sis_login_id, r.roster.section) == \
        ("555", "S-1", "zoe@uni", "Lab 1")


@pytest.mark.parametrize("text,msg", [("name,email\nx,y\n", "unknown columns"), ("", "empty")])
def test_unusable_rosters_are_one_line_errors(tmp_path, text, msg):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(ValueError, match=msg):
        resolve_sources([], None, [str(tmp_path / "r.csv")])
    with pytest.raises(ValueError, match="file not found"):
        resolve_sources([], None, [str(tmp_path / "missing.csv")])


def test_colliding_ids_get_a_suffix_and_a_warning(tmp_path):
    room = tmp_path / "room"
    for n in ("dup b", "dup_b", "zoë", "zo_"):
        (room / n).mkdir(parents=True)
    refs, warnings, _ = resolve_sources([], str(room), [])
    by = {r.name: r.student for r in refs}
    assert by == {"dup b": "dup_b_2", "dup_b": "dup_b", "zo_": "zo_", "zoë": "zo__2"}   # no student dropped
    assert len(warnings) == 2 and any("'dup b'" in w and "'dup_b'" in w for w in warnings)
    assert any("already used" in n for r in refs for n in r.notes)
    # stable: adding a student never renames one that needed no sanitising
    (room / "dup-b").mkdir()
    again = {r.name: r.student for r in resolve_sources([], str(room), [])[0]}
    assert again["dup_b"] == "dup_b" and again["dup-b"] == "dup-b"


def test_safe_id_and_unique_ids_unit():
    assert safe_id("  ../evil/../x ") == "_evil_.._x" and safe_id("") == "student"
    refs, w = unique_ids([RepoRef("a", "/1", name="a"), RepoRef("a", "/2", name="a"), RepoRef("a_2", "/3", name="a_2")])
    assert [r.student for r in refs] == ["a", "a_3", "a_2"] and len(w) == 1


# ------------------------------------------------------------------ rosters never lose anyone
@pytest.mark.parametrize("text,where,reason", [
    # an unterminated quote swallowed every row below it (carol was never graded, exit 0)
    ('student,repo\nalice,room/a\n"bob,room/b\ncarol,room/c\n', "r.csv:3", "never closed"),
    # ...or up to the next quote, several rows later
    ('student,repo\nalice,room/a\n"bob,room/b\ncarol,"room/c\n', "r.csv:3", "closed only on line 4"),
    # ...or at the end of a later line: a valid CSV record that swallowed a row
    ('student,repo\nalice,room/a\n"bob,room/b\ncarol",room/c\ndave,room/d\n', "r.csv:3", "closed only on line 4"),
    ('student,repo\nalice,room/a\n ,room/b\n', "r.csv:3", "no student id (the student cell is empty)"),
    ('student,repo\nalice,room/a\nbob,room/b\nalice,room/c\n', "r.csv:4",
     "alice again (first on line 2) with another repo (room/c, not room/a)"),
    ('student,name,repo\nalice,Smith, Alice,room/a\n', "r.csv:2", "4 cells but the header has 3 columns"),
    ('identifier,github_username,github_id,name\n"zoe@x","","",""\n"","","7","Nobody"\n', "r.csv:3",
     "both identifier and github_username are empty"),
])
def test_a_malformed_row_stops_the_run_with_file_line_and_reason(tmp_path, monkeypatch, text, where, reason):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(roster.RosterError) as e:
        resolve_sources([], None, ["r.csv"])
    assert f"{where}: " in str(e.value) and reason in str(e.value), str(e.value)


def test_every_malformed_row_is_listed_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.csv").write_text("student,repo\n,room/a\nbob,room/b\n,room/c\nbob,room/d\n")
    with pytest.raises(roster.RosterError) as e:
        roster.read("r.csv")
    msg = str(e.value)
    assert "3 row(s)" in msg and "r.csv:2:" in msg and "r.csv:4:" in msg and "r.csv:5:" in msg


def test_the_same_student_twice_with_one_repo_is_one_student(tmp_path):
    (tmp_path / "r.csv").write_text("student,repo,name\nalice,room/a,\nbob,room/b,\nAlice,room/a,Alice A.\n")
    rows = roster.read(tmp_path / "r.csv")
    assert [(r.key, r.repo, r.entry.name) for r in rows] == [("alice", "room/a", "Alice A."), ("bob", "room/b", "")]


def test_rosters_that_disagree_on_a_repo_name_both_lines(tmp_path):
    (tmp_path / "a.csv").write_text("student,repo\nzoe-n,room/a\n")
    (tmp_path / "b.csv").write_text(GH_GRADES)
    with pytest.raises(roster.RosterError) as e:
        roster.combine([roster.read(tmp_path / "a.csv"), roster.read(tmp_path / "b.csv")])
    assert "b.csv:2" in str(e.value) and "a.csv:2" in str(e.value)


def test_a_roster_download_with_an_extra_repo_column_is_read_right(tmp_path):
    (tmp_path / "room" / "z").mkdir(parents=True)
    (tmp_path / "r.csv").write_text('"identifier","github_username","github_id","name","repo"\n'
                                    '"zoe@uni.example","zoe-n","101","Zoë Núñez","room/z"\n', encoding="utf-8")
    (r,) = resolve_sources([], None, [str(tmp_path / "r.csv")])[0]
    assert not r.error and r.path == str(tmp_path / "room" / "z") and r.student == "zoe-n"
    assert r.name == "Zoë Núñez" and r.roster.identifier == "zoe@uni.example"


def test_a_broken_roster_is_a_usage_error_of_grade(tmp_path):
    import subprocess
    import sys
    (tmp_path / "r.csv").write_text('student,repo\nalice,a\n"bob,b\ncarol,c\n')
    p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--roster", "r.csv", "--report", "out"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 4, p.stdout + p.stderr
    assert "r.csv:3: " in p.stderr and "never closed" in p.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_plain_roster_keyed_by_identifier_meets_its_github_classroom_row(tmp_path):
    """The course's own list keyed by e-mail or student number, with GitHub Classroom's roster download:
    one student each, carrying the GitHub username (never an e-mail in its place)."""
    (tmp_path / "classroom_roster.csv").write_text(GH_ROSTER)
    (tmp_path / "course.csv").write_text("student,repo,ID\nZOE@uni.example,https://github.com/course/lab-zoe,555\n"
                                         "42,https://github.com/course/lab-42,556\n")
    refs, _w, _c = resolve_sources([], None, [str(tmp_path / "course.csv"), str(tmp_path / "classroom_roster.csv")])
    assert [(r.student, r.source, r.roster.github_username, r.roster.canvas_id, r.name) for r in refs] == [
        ("ZOE@uni.example", "https://github.com/course/lab-zoe", "zoe-n", "555", "Zoë Núñez"),
        ("42", "https://github.com/course/lab-42", "", "556", "42")]
    rows = roster.combine([roster.read(tmp_path / "classroom_roster.csv"), roster.read(tmp_path / "course.csv")])
    assert [(r.key, r.repo) for r in rows] == [("zoe-n", "https://github.com/course/lab-zoe"),
                                                ("42", "https://github.com/course/lab-42")]
