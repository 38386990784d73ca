"""What a failing student reads first: the root cause, the file to change, then the rest grouped,
then what passed (terminal, summary.md); pytest's exit status."""
from __future__ import annotations

import subprocess

import cmarkgfm
import pytest

from deploycheck import model
from deploycheck.report import gradescope, markdown, terminal
from deploycheck.report.results import fix_file, triage
from tests.student import envs



def student(*checks: model.CheckResult) -> model.StudentResult:
    return model.StudentResult("stu", "/r", "aws", 1.0, 23.0, checks)


def c(cid, status="failed", msg="", **kw):
    return model.CheckResult(cid, status, 0.0 if status != "passed" else 1.0, 1.0, msg or f"{cid} is wrong", **kw)


def test_a_check_whose_rubric_prerequisite_failed_waits_for_it():
    # predict.local says "see artifact.present" without blocked_by: it still belongs to that group
    s = student(c("readme.cleanup"), c("artifact.present", msg="aws_deploy/ has no model.tar.gz"),
                c("artifact.valid", blocked_by="artifact.present"), c("predict.local"), c("security.secrets", "passed"))
    t = triage(s)
    assert t.first.id == "artifact.present"
    assert [g.check.id for g in t.groups] == ["artifact.present", "readme.cleanup"]
    assert [b.id for b in t.groups[0].blocked] == ["artifact.valid", "predict.local"]
    # the unsafe pickle, not the missing version, is the thing to fix: it is what predict.local waits for
    t = triage(student(c("artifact.version"), c("artifact.safe"), c("predict.local")))
    assert t.first.id == "artifact.safe" and [g.check.id for g in t.groups] == ["artifact.safe", "artifact.version"]


@pytest.mark.parametrize("msg,file,expected", [
    ("aws_deploy/ has no model.tar.gz: ... and commit aws_deploy/model.tar.gz", None, "aws_deploy/model.tar.gz"),
    ("no README in aws_deploy/: add aws_deploy/README.md with the steps", None, "aws_deploy/README.md"),
    ("credentials committed in aws_deploy/x.py", "src/.env", "src/.env"),      # the verdict's file wins
    ("no aws_deploy/ or gcp_deploy/ folder found", None, ""),
    ("imports joblib from sklearn.externals; see https://scikit-learn.org/stable/a/b.html", None, ""),
])
def test_the_file_to_change(msg, file, expected):
    assert fix_file(c("artifact.present", msg=msg, file=file)) == expected


def test_verdicts_name_the_file_to_change(tmp_path):
    """The report takes the file from the outcome's typed field, which the verdicts fill."""
    from deploycheck.verdicts import readme, security
    from tests.helpers import make_target
    t = make_target(tmp_path, {"aws_deploy/README.md": "# My model\n\nIt predicts iris species.\n",
                               "src/.env": "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY9\n"
                                           "AWS_ACCESS_KEY_ID=AKIAQWERTYUIOPASDFGH\n"})
    assert readme.readme_cleanup(t).file == "aws_deploy/README.md"
    o = security.security_secrets(t)
    assert o.status == "failed" and o.file == "src/.env"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fixfirst")
    envs.example("no_artifact", tmp / "no_artifact")
    p = subprocess.run([str(envs.ROOT / ".venv" / "bin" / "deploycheck"), "grade", "--repo", ".", "--report", "out"],
                       cwd=tmp / "no_artifact", env=envs.clean_env(COLUMNS="100"), capture_output=True, text=True,
                       timeout=600)
    return p, tmp / "no_artifact" / "out"


def test_the_terminal_starts_with_the_root_cause(graded):
    p, _ = graded
    assert p.returncode == 1                               # pytest's: a check failed
    out = p.stdout
    section = out.split("deploycheck grades", 1)[1]
    assert section.splitlines()[1] == "no_artifact (aws): 13/23 points, 5 of 14 checks failed"
    first = section.index("FIX THIS FIRST: artifact.present -> aws_deploy/model.tar.gz")
    assert first < section.index("fixing it also unblocks: artifact.valid, artifact.version, artifact.safe, "
                                 "predict.local") < section.index("PASSED (9): structure.deploy_folder")
    assert "THEN FIX" not in section                       # everything else waits for the one fix
    # no per-test failure sections, no "short test summary" repeating the messages
    assert "FAILURES" not in out and "short test summary" not in out and "Failed:" not in out
    assert all(len(line) <= 100 for line in section.splitlines() if not line.startswith("report: "))


def test_summary_md_starts_with_the_root_cause(graded):
    _, out = graded
    text = (out / "summary.md").read_text()
    order = [text.index(h) for h in ("### Fix this first", "### Blocked until it is fixed", "### Passed")]
    assert order == sorted(order)
    html = cmarkgfm.github_flavored_markdown_to_html(text)
    assert "<code>artifact.present</code> in <code>aws_deploy/model.tar.gz</code>: aws_deploy/ has no model.tar.gz" in html
    assert "(blocked by <code>artifact.present</code>)" in html    # predict.local waits for it too


def test_a_class_keeps_one_line_per_student():
    a = student(c("readme.cleanup", msg="aws_deploy/README.md never deletes the endpoint"))
    b = model.StudentResult("zoe", "/r", "gcp", 23.0, 23.0, (c("readme.present", "passed"),))
    lines = terminal.lines([a, b])
    assert len(lines) == 2 and "fix first: readme.cleanup (aws_deploy/README.md)" in lines[0]
    assert "all checks passed" in lines[1]
    assert "| stu | aws |" in markdown.render([a, b])


def test_unblocks_names_only_the_checks_that_were_blocked():
    # a near-miss folder name (AWS/) fails structure.deploy_folder, yet everything in it was graded:
    # readme.cleanup and security.secrets ran and failed for reasons of their own; fixing the folder's
    # name unblocks neither, and their messages (the key to rotate!) must be shown
    s = student(c("structure.deploy_folder", msg="found AWS/, but the lab asks for a folder named aws_deploy/"),
                c("readme.instructions", msg="blocked by structure.deploy_folder: x", blocked_by="structure.deploy_folder"),
                c("readme.cleanup", msg="AWS/README.md does not say how to delete the endpoint"),
                c("security.secrets", msg="credentials committed to the repo: .env line 1", data={"file": ".env"}),
                c("readme.present", "passed"))
    text = "\n".join(terminal.lines([s]))
    assert "fixing it also unblocks: readme.instructions\n" in text, text
    own = text.split("also failing (each needs structure.deploy_folder too):", 1)[1]
    assert "readme.cleanup" in own and "does not say how to delete the endpoint" in own
    assert "security.secrets -> .env" in own and "credentials committed to the repo" in own
    names = [t["name"] for t in gradescope.result(s)["tests"]]
    assert "(blocked by structure.deploy_folder) readme.instructions" in names
    assert "(needs structure.deploy_folder) readme.cleanup" in names
    assert "(needs structure.deploy_folder) security.secrets" in names
    # summary.md already tells the two apart
    md = markdown.render([s])
    assert "(blocked by `structure.deploy_folder`)" in md and "(needs `structure.deploy_folder`)" in md
