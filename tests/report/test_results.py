"""CheckRecords -> StudentResults: one scale, best platform, rubric order, fix-this-first."""
from __future__ import annotations

from deploycheck import model, rubric as rb
from deploycheck.classroom import RepoRef
from deploycheck.report.results import build_students, triage

R = rb.Rubric(dict(rb.RUBRIC))


def rec(student, platform, cid, status, msg="", blocked_by=None, error=False, **data):
    return model.CheckRecord(student, platform, f"/r/{student}", cid,
                             model.Outcome(status, msg or f"{cid} {status}", data, blocked_by, error))


AWS_ALL = [c for c, s in rb.RUBRIC.items() if s.enabled and not s.option and "aws" in s.platforms]
GCP_ALL = [c for c, s in rb.RUBRIC.items() if s.enabled and not s.option and "gcp" in s.platforms]


def test_every_student_is_on_the_same_scale():
    active = set(AWS_ALL) | set(GCP_ALL)
    aws_max = sum(rb.RUBRIC[c].points for c in AWS_ALL)
    gcp_max = sum(rb.RUBRIC[c].points for c in GCP_ALL)
    assert aws_max > gcp_max
    records = [rec("amy", "aws", c, "passed") for c in AWS_ALL]
    records += [rec("gus", "gcp", c, "passed") for c in GCP_ALL]
    # half of a GCP student: fails every check worth points until half the raw maximum is lost
    records += [rec("hal", "gcp", c, "passed" if c != "readme.instructions" else "failed") for c in GCP_ALL]
    # an error of the run and a skipped check count nowhere
    records += [rec("ivy", "aws", c, "passed") for c in AWS_ALL if c not in ("predict.local", "proof.screenshot")]
    records += [rec("ivy", "aws", "predict.local", "skipped", error=True),
                rec("ivy", "aws", "proof.screenshot", "skipped", "no screenshot check on this machine")]
    by = {s.student: s for s in build_students(records, [], R, active)}
    assert {s.max_score for s in by.values()} == {aws_max}
    assert by["amy"].score == aws_max and by["gus"].score == aws_max              # full marks either way
    assert by["gus"].raw_max_score == gcp_max
    lost = rb.RUBRIC["readme.instructions"].points
    assert by["hal"].score == round((gcp_max - lost) / gcp_max * aws_max, 2)
    pl = rb.RUBRIC["predict.local"].points
    assert by["ivy"].raw_max_score == aws_max - 1 and by["ivy"].incomplete == ("predict.local",)
    assert by["ivy"].score == round((aws_max - 1 - pl) / (aws_max - 1) * aws_max, 2) < aws_max


def test_rubric_total_and_unknown_ids():
    r = rb.parse({"total": 100})
    s, = build_students([rec("a", "aws", "readme.present", "passed"), rec("a", "aws", "readme.cleanup", "failed"),
                         rec("a", "aws", "proof.generated", "passed")], [], r, {"readme.present", "readme.cleanup"})
    assert s.max_score == 100 and s.score == round(1 / 3 * 100, 2)
    assert s.check("proof.generated").max_score == 0        # deploycheck's own artefact: no points


def test_best_platform_kept_and_other_listed():
    records = [rec("c", "aws", "readme.present", "failed"), rec("c", "gcp", "readme.present", "passed")]
    s, = build_students(records, [], R, {"readme.present"})
    assert s.platform == "gcp" and set(s.platforms) == {"aws", "gcp"}


def test_the_other_platforms_checks_are_reported_not_counted():
    """issue 22: a repo with both deploy folders: the better platform counts, and a failing check of
    the other one appears in report.json, summary.md and the terminal."""
    from deploycheck.report import markdown, terminal
    records = [rec("d", "aws", c, "passed") for c in ("readme.present", "readme.cleanup")]
    records += [rec("d", "gcp", "readme.present", "passed"),
                rec("d", "gcp", "readme.cleanup", "failed", "gcp_deploy/README.md does not say how to delete")]
    s, = build_students(records, [], R, {"readme.present", "readme.cleanup"})
    assert s.platform == "aws" and [c.id for c in s.checks] == ["readme.present", "readme.cleanup"]
    assert [c.status for c in s.other_checks["gcp"]] == ["passed", "failed"] and s.other_checks["gcp"][1].score == 0
    doc = s.to_json()
    assert doc["platforms"]["gcp"]["checks"][1]["message"] == "gcp_deploy/README.md does not say how to delete"
    back = model.StudentResult.from_json(doc)
    assert back.other_checks == s.other_checks and "checks" not in back.platforms["gcp"]
    md = "\n".join(markdown.student_block(s))
    assert "Also graded on gcp (not counted" in md and "does not say how to delete" in md
    assert any("ALSO GRADED ON GCP" in ln for ln in terminal.student_detail(s, 200))


def test_refs_order_errors_and_shadows():
    from deploycheck.classroom.refs import Commit, Late
    late = Late(2, "2024-05-03T00:00:00+00:00", Commit("b" * 40, "2024-05-03T00:00:00+00:00"), "/cache/x.latest")
    refs = [RepoRef("zed", "/r/zed", name="Zed", late=late, commit=Commit("a" * 40, "t")),
            RepoRef("amy", "", name="Amy", error="could not fetch the repository: gone"),
            RepoRef("zed+latest", "/cache/x.latest", shadow_of="zed")]
    records = [rec("zed", "aws", "readme.present", "failed"), rec("zed+latest", "aws", "readme.present", "passed")]
    zed, amy = build_students(records, refs, R, {"readme.present"})
    assert zed.student == "zed" and zed.extra["late"]["latest_score"] == zed.max_score and zed.score == 0
    assert zed.extra["commit"]["sha"] == "a" * 40 and zed.name == "Zed"
    assert amy.checks == () and "gone" in amy.error


def test_fix_this_first_is_the_earliest_unblocked_failure_that_blocks_others():
    records = [
        rec("s", "aws", "readme.present", "passed"),
        rec("s", "aws", "readme.cleanup", "failed", "aws_deploy/README.md never deletes the endpoint", file="aws_deploy/README.md"),
        rec("s", "aws", "artifact.present", "failed", "no model.tar.gz in aws_deploy/: add it"),
        rec("s", "aws", "artifact.valid", "failed", "blocked", blocked_by="artifact.present"),
        rec("s", "aws", "predict.local", "failed", "blocked", blocked_by="artifact.valid"),
        rec("s", "aws", "proof.screenshot", "skipped", "browser missing", error=True),
    ]
    s, = build_students(records, [], R, {r.check for r in records})
    t = triage(s)
    assert t.first.id == "artifact.present"                 # blocks others, although readme.cleanup comes earlier
    assert [g.check.id for g in t.groups] == ["artifact.present", "readme.cleanup"]
    assert [b.id for b in t.groups[0].blocked] == ["artifact.valid", "predict.local"]
    assert [c.id for c in t.errors] == ["proof.screenshot"] and [c.id for c in t.passed] == ["readme.present"]
    # with nothing blocking, the earliest failure in rubric order comes first
    s2, = build_students([records[1], records[2]], [], R, {"readme.cleanup", "artifact.present"})
    assert triage(s2).first.id == "readme.cleanup"


def test_pushed_late_dates_and_integrity_pairs_reach_grades_csv_and_summary_md(tmp_path):
    """The gradebook an instructor opens first says what report.json and the class page say: whether
    GitHub received the graded commit after the deadline (or could not say), and which students the
    integrity signals pair (evidence only: no points change)."""
    from deploycheck import model as m
    from deploycheck.report import csv as grades_csv
    from deploycheck.report import markdown
    ok = (m.CheckResult("readme.present", "passed", 1, 1, "ok"),)
    ev = [{"kind": "files", "mine": "a", "theirs": "b", "text": "same model.tar.gz"},
          {"kind": "names", "mine": "a", "theirs": "b", "text": "endpoint iris-ep"},
          {"kind": "files", "mine": "c", "theirs": "d", "text": "same model.joblib"}]
    amy = m.StudentResult("amy", "r/amy", "aws", 1.0, 1.0, ok, extra={
        "dates": {"verified": True, "note": "", "pushed_at": "2024-05-02T08:00:00Z", "pushed_late": True},
        "integrity": [{"with": "bob", "evidence": ev}]})
    bob = m.StudentResult("bob", "r/bob", "aws", 1.0, 1.0, ok, extra={
        "dates": {"verified": False, "note": "no token"}, "integrity": [{"with": "amy", "evidence": ev}]})
    cat = m.StudentResult("cat", "r/cat", "aws", 1.0, 1.0, ok, extra={"dates": {"verified": True, "note": ""}})
    header, rows = grades_csv.rows([amy, bob, cat])
    got = {r[0]: dict(zip(header, r)) for r in rows}
    assert got["amy"]["dates"] == "pushed late 2024-05-02T08:00:00Z" and got["amy"]["similar_to"] == "bob: files, names"
    assert got["bob"]["dates"] == "unverified" and got["bob"]["similar_to"] == "amy: files, names"
    assert got["cat"]["dates"] == "on time" and got["cat"]["similar_to"] == "" and got["cat"]["score"] == "1"
    md = markdown.render([amy, bob, cat])
    assert "| amy | aws | 1/1 (pushed after the deadline) |" in md
    assert "### Similar hand-ins" in md and md.count("- amy and bob: files, names") == 1 and "bob and amy" not in md
