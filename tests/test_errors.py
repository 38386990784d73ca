"""deploycheck's one exception policy (deploycheck/errors.py), applied around every check by the plugin:
a bounded student-input problem fails the check with its message; anything else is an error of the
run, with the traceback for the instructor only; and nothing a check says reaches pytest's own output
unescaped."""
import json
import re

import pytest

from deploycheck import errors
from deploycheck.analysis import artifact
from tests.helpers import make_target

pytest_plugins = ["pytester"]


def test_the_policy():
    o = errors.outcome_of("artifact.valid", errors.StudentInputError("aws_deploy/model.tar.gz is 3 GB: pack only the model"))
    assert o.status == "failed" and not o.error and o.message == "aws_deploy/model.tar.gz is 3 GB: pack only the model"
    try:
        {}["model"]
    except KeyError as e:
        bug = e
    o = errors.outcome_of("readme.cleanup", bug)
    assert o.status == "skipped" and o.error and "not your fault" in o.message and "KeyError" in o.message
    assert "Traceback" in o.traceback and "test_the_policy" in o.traceback
    o = errors.outcome_of("cloud.deploy", errors.RunError("missing IAM permission sagemaker:CreateModel"))
    assert o.error and o.message.endswith("cloud.deploy: missing IAM permission sagemaker:CreateModel")


def test_artifact_facts_report_only_student_input_problems(tmp_path, monkeypatch):
    """analysis/artifact.py turns a bounded problem with the file into an artifact problem, and leaves
    any other exception (a bug) to the policy: never 'a problem with the student's artifact'."""
    t = make_target(tmp_path, {"aws_deploy/model.tar.gz": b"\x1f\x8b" + b"\0" * 64})

    def bug(*a, **k):
        raise AttributeError("'NoneType' object has no attribute 'members'")
    monkeypatch.setattr(artifact, "_inspect_tar", bug)
    with pytest.raises(AttributeError):
        artifact.inspect_artifact(t.folder)

    def too_big(*a, **k):
        raise errors.StudentInputError("it declares 40 GB of members: pack only the model file")
    monkeypatch.setattr(artifact, "_inspect_tar", too_big)
    info = artifact.inspect_artifact(t.folder)
    assert info.problems == ("aws_deploy/model.tar.gz could not be inspected: it declares 40 GB of members: pack "
                             "only the model file",) and not info.loadable


CHECKS = r'''
import pytest
from deploycheck import errors
from deploycheck.analysis import Facts
from deploycheck.model import failed, skipped
from deploycheck.verdicts import readme

ESC = "\x1b[2J\x1b[H\x1b]0;owned\x07 24/24 all checks passed\r\n"

@pytest.mark.check("readme.present")
def test_readme_present(target, record, monkeypatch):
    # a bug deep in the facts while judging with a real verdict module
    monkeypatch.setattr(Facts, "readme_rel", property(lambda self: {}["readme"]))
    record(readme.readme_present(target))

@pytest.mark.check("readme.cleanup")
def test_readme_cleanup(target, record):
    raise errors.StudentInputError("aws_deploy/README.md is 90 MB" + ESC + ": keep the README under 1 MB")

@pytest.mark.check("files.referenced")
def test_files_referenced(target, record):
    print("student output" + ESC)
    record(failed("README names " + ESC + "data.csv, which is not in aws_deploy/: add it"))

@pytest.mark.check("security.secrets")
def test_security_secrets(target, record):
    # the grader parsing a student's file warns about it: its name and its line reach pytest's warnings summary
    import ast
    for p in sorted((target.repo / "aws_deploy").glob("util*.py")):
        ast.parse(p.read_text(), filename=str(p))
    record(skipped("nothing to scan" + ESC))

@pytest.fixture
def notes(target):
    # a fixture that fails on the student's file name: pytest reports it itself (setup, --tb, -l)
    name = "aws_deploy/notes" + ESC + ".md"
    raise ValueError("cannot read " + name)

@pytest.fixture
def shot(target):
    pytest.skip("no screenshot named " + ESC)

@pytest.mark.check("entry_point.model_fn")
def test_entry_point_model_fn(target, record, notes):
    record(failed("unreachable"))

@pytest.mark.check("proof.screenshot")
def test_proof_screenshot(target, record, shot):
    record(failed("unreachable"))
'''


def test_plugin_applies_the_policy_and_escapes_pytest_output(pytester, tmp_path):
    repo = tmp_path / "mallory"
    (repo / "aws_deploy").mkdir(parents=True)
    (repo / "aws_deploy" / "README.md").write_text("# deploy\n")
    (repo / "aws_deploy" / "util\x1b[2J\x1b]0;owned\x07.py").write_text("PAT = '\\d+'\n")
    (repo / "aws_deploy" / "util2.py").write_text("PAT = '\\d+ \x1b]0;owned\x07\x1b[2J'\n")
    pytester.makepyfile(test_fake_checks=CHECKS)
    out = tmp_path / "out"
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--repo", str(repo), "--report", str(out),
                                        "-v", "--tb=long", "-rA")
    text = res.stdout.str() + res.stderr.str()
    assert "\x1b" not in text and "\x07" not in text and "owned" not in text, text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), repr(text)
    doc = json.loads((out / "report.json").read_text())["students"][0]
    c = {c["id"]: c for c in doc["checks"]}
    bug = c["readme.present"]
    assert bug["status"] == "skipped" and bug["error"] is True and bug["score"] == 0 and bug["max_score"] == 1
    assert "not your fault" in bug["message"] and "KeyError" in bug["message"]
    assert "Traceback" in bug["traceback"] and "readme_present" in bug["traceback"]
    assert sorted(doc["incomplete"]) == ["entry_point.model_fn", "readme.present"] and res.ret == 1
    student = c["readme.cleanup"]
    assert student["status"] == "failed" and not student.get("error") and "keep the README under 1 MB" in student["message"]
    # the traceback is for the instructor: report.json and the class page, never what a student reads
    assert "Traceback" in (out / "index.html").read_text()
    for name in ("summary.md", "results/mallory.json"):
        assert "Traceback" not in (out / name).read_text(), name
    assert "Traceback" not in res.stdout.str()
    # pytest's own lines still carry the (escaped) messages
    assert "README names" in text and "keep the README under 1 MB" in text and "student output" in text
    # what pytest reports itself: a fixture's error (-rA, --tb=long) and skip (-rs), a warning (its file and line)
    assert "ERROR test_fake_checks.py::test_entry_point_model_fn[mallory]" in text and "raise ValueError" in text
    assert "E       ValueError: cannot read aws_deploy/notes" in text                     # --tb=long
    assert "SKIPPED [1] test_fake_checks.py:" in text and "no screenshot named" in text
    assert "DeprecationWarning: invalid escape sequence" in text and "aws_deploy/util" in text
    assert c["entry_point.model_fn"]["error"] is True and "\x1b" not in c["entry_point.model_fn"]["message"]


def test_student_output_never_reaches_the_graders_terminal_raw(tmp_path):
    """Issue 21: with the README's own `deploycheck grade -v --tb=short`, what a student's model_fn
    raises (screen clear, a window title, a fake '24/24 all checks passed') reaches pytest's own
    output through predict.local's failure message: escaped."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    repo = tmp_path / "mallory"
    shutil.copytree(root / "fixtures" / "built" / "classroom" / "complete_aws", repo)
    (repo / "aws_deploy" / "inference.py").write_text(
        "def model_fn(model_dir):\n"
        "    print('\\x1b[2J\\x1b[H\\x1b]0;owned\\x07')\n"
        "    raise ValueError('\\x1b[2J\\x1b[1;1H\\x1b[32m24/24 all checks passed\\x1b[0m\\r')\n")
    p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--repo", str(repo), "-v", "--tb=short",
                        "-rA", "--no-proof"], capture_output=True, text=True, cwd=root, timeout=900,
                       env={**os.environ, "DEPLOYCHECK_NO_CACHE": "1"})
    out = p.stdout + p.stderr
    assert "predict_local[mallory] FAILED" in out, out[-3000:]
    assert "model_fn in aws_deploy/inference.py raised" in out
    assert "\x1b" not in out and "\x07" not in out and "owned" not in out, repr(out[-2000:])


def test_a_students_file_names_and_readme_reach_pytest_output_escaped(tmp_path):
    """Issue 21: escape sequences and control bytes in a student's file names (the screenshot a failing
    check names, a folder, a module) and in the README's text, graded by the real rubric under xdist with
    everything pytest can show (-v, --tb=long, -l, -rA): no terminal receives them raw, and the check
    that names the file still says which file and what to do."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    esc = "\x1b]0;owned\x07\x1b[2J\x1b[H\x1b[32mall checks passed\x1b[0m\r\x08\x7f"
    room = tmp_path / "room"
    repo = room / "eve"
    shutil.copytree(root / "fixtures" / "built" / "classroom" / "complete_aws", repo)
    d = repo / "aws_deploy"
    shot = f"shot{esc}.png"
    (d / "screenshot.png").rename(d / shot)
    (d / shot).write_bytes((d / shot).read_bytes()[:40])                    # unreadable: proof.screenshot names it
    readme = (d / "README.md").read_text().replace("screenshot.png", shot)
    (d / "README.md").write_text(readme + f"\n## Step {esc}\n\n```\npython train.py --data data/iris{esc}.csv\n```\n")
    (d / f"util{esc}.py").write_text(f"PAT = '\\d+ {esc}'\n")
    (repo / f"notes{esc}").mkdir()
    (repo / f"notes{esc}" / f"{esc}.md").write_text(esc)
    p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--classroom", str(room), "-n", "2", "-v",
                        "--tb=long", "-l", "-rA", "--no-proof", "--report", str(tmp_path / "out")],
                       capture_output=True, text=True, cwd=root, timeout=900,
                       env={**os.environ, "DEPLOYCHECK_NO_CACHE": "1"})
    out = p.stdout + p.stderr
    assert "FAILED checks/test_screenshot.py::test_proof_screenshot[eve]" in out, out[-3000:]
    assert "not a readable image" in out and "save it again as PNG or JPG" in out
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out), repr(out[-3000:])
    assert "owned" not in out
