"""The GitHub Action and the example workflows: valid YAML, the right steps, and their shell
steps run exactly as written against a temporary repository."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
BIN = VENV_BIN if (VENV_BIN / "deploycheck").exists() else Path(sys.executable).parent


def _load(rel):
    return yaml.safe_load((ROOT / rel).read_text())


def _on(doc):
    return doc.get("on", doc.get(True))      # YAML 1.1 reads a bare `on` key as True


def _step(steps, name=None, uses=None):
    for s in steps:
        if (name and s.get("name") == name) or (uses and str(s.get("uses", "")).startswith(uses)):
            return s
    raise AssertionError(f"no step {name or uses}")


@pytest.fixture(scope="module")
def action():
    return _load("action.yml")


def test_action_is_a_composite_action_with_the_right_steps(action):
    assert action["runs"]["using"] == "composite"
    assert {"python-version", "repo-path", "report-dir", "audit-account"} <= set(action["inputs"])
    steps = action["runs"]["steps"]
    assert _step(steps, uses="actions/setup-python@")["with"]["python-version"] == "${{ inputs.python-version }}"
    install = _step(steps, "Install deploycheck")
    assert install["env"]["DEPLOYCHECK_SRC"] == "${{ github.action_path }}"
    assert "pip install" in install["run"] and "$DEPLOYCHECK_SRC" in install["run"].replace("${DEPLOYCHECK_SRC}", "$DEPLOYCHECK_SRC")
    assert "chromium" in _step(steps, "Get Chromium")["run"]
    grade = _step(steps, "Grade")["run"]
    assert re.search(r"deploycheck grade --repo \"\$GITHUB_WORKSPACE/\$REPO_PATH\" --report \"\$REPORT_DIR\"", grade)
    assert '--junitxml "$REPORT_DIR/junit.xml"' in grade and "--audit-account" in grade
    summary = _step(steps, "Job summary")
    assert summary["if"] == "always()" and "$GITHUB_STEP_SUMMARY" in summary["run"]
    upload = _step(steps, uses="actions/upload-artifact@")
    assert upload["if"] == "always()" and upload["with"]["path"] == "${{ inputs.report-dir }}"
    for s in steps:
        if "run" in s:
            assert s["shell"] == "bash"
            assert "${{" not in s["run"], f"{s['name']}: pass inputs through env, not into the script"


def test_student_workflow_uses_the_action():
    wf = _load("examples/student-workflow.yml")
    assert "push" in _on(wf)
    job = wf["jobs"]["grade"]
    assert _step(job["steps"], uses="actions/checkout@")
    dc = _step(job["steps"], uses="COURSE-ORG/deploycheck@")
    assert dc["with"]["report-dir"] == "report"
    # the step that runs student code holds no secret; the audit step holds them and grades nothing
    assert "secrets." not in str(dc) and "audit-account" not in dc["with"]
    audit = _step(job["steps"], "Cloud audit (optional; runs no student code)")
    assert audit["env"]["AWS_ACCESS_KEY_ID"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    assert "deploycheck audit" in audit["run"] and "deploycheck grade" not in audit["run"]
    assert "bubblewrap" in _step(job["steps"], "Sandbox (bubblewrap)")["run"]
    # secrets are never tested in `if:` (GitHub rejects that): the workflow uses env flags
    for s in job["steps"]:
        assert "secrets." not in str(s.get("if", ""))


def test_classroom_matrix_shards_and_merges():
    wf = _load("examples/classroom-matrix.yml")
    grade, merge = wf["jobs"]["grade"], wf["jobs"]["merge"]
    assert grade["strategy"]["matrix"]["shard"] == [1, 2, 3, 4] and grade["strategy"]["fail-fast"] is False
    run = _step(grade["steps"], "Grade shard ${{ matrix.shard }}")
    assert run["env"]["SHARD"] == "${{ matrix.shard }}/${{ strategy.job-total }}"
    up = _step(grade["steps"], uses="actions/upload-artifact@")
    assert up["with"]["name"] == "report-shard-${{ matrix.shard }}"
    assert merge["needs"] == "grade"
    dl = _step(merge["steps"], uses="actions/download-artifact@")
    assert dl["with"]["pattern"] == "report-shard-*" and dl["with"]["merge-multiple"] is False
    assert "deploycheck merge gradebook shards/report-shard-*" in _step(merge["steps"], "Merge")["run"]


def test_classroom_clone_leaves_no_token_behind(tmp_path):
    """The clone step, run for real against local repositories: the token reaches git only as a
    header of each command, so no cloned repository (or URL) keeps it."""
    wf = _load("examples/classroom-matrix.yml")
    grade = wf["jobs"]["grade"]
    assert _step(grade["steps"], uses="actions/checkout@")["with"]["persist-credentials"] is False
    clone = _step(grade["steps"], "Clone the student repositories")
    assert clone["env"]["TOKEN"] == "${{ secrets.CLASSROOM_TOKEN }}"
    for s in grade["steps"]:                  # no other step of the job holds a secret
        assert s is clone or "secrets." not in str(s)
    origin = tmp_path / "origin"
    subprocess.run(["git", "init", "-q", str(origin)], check=True)
    (origin / "README.md").write_text("hi")
    git = ["git", "-C", str(origin), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    work = tmp_path / "work"
    (work / "course").mkdir(parents=True)
    (work / "course" / "roster.csv").write_text(f"student,url\nann,{origin}\nbob,https://user:OLDSECRET@127.0.0.1:9/x\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TOKEN": "CANARYTOKEN123", "DEADLINE": "",
           "GIT_TERMINAL_PROMPT": "0"}
    p = _bash(clone["run"], work, env)
    assert p.returncode == 0, p.stderr
    assert (work / "classroom" / "ann" / "README.md").read_text() == "hi"
    for f in (work / "classroom").rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert b"CANARYTOKEN123" not in data and b"OLDSECRET" not in data, f


# ---------------------------------------------------------------- run the steps as GitHub would

def _bash(script, cwd, env):
    # GitHub runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail {0}`
    f = cwd / ".step.sh"
    f.write_text(script)
    try:
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(f)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=600)
    finally:
        f.unlink()


def _env(tmp_path, workspace, **extra):
    summary = tmp_path / "step_summary.md"
    summary.touch()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "GITHUB_WORKSPACE": str(workspace), "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_ENV": str(tmp_path / "github_env"), **extra}
    env.pop("PYTEST_ADDOPTS", None)
    return env


@pytest.fixture(scope="module")
def fixtures_build():
    sys.path.insert(0, str(ROOT / "fixtures"))
    try:
        import build
    finally:
        sys.path.pop(0)
    return build


def _example(build, name, dest):
    ex = {e.name: e for e in build.EXAMPLES}[name]
    build.write(dest, ex.build())
    return dest


@pytest.mark.slow
def test_action_steps_run_locally(action, tmp_path, fixtures_build):
    ws = _example(fixtures_build, "complete_aws", tmp_path / "ws")
    steps = action["runs"]["steps"]
    env = _env(tmp_path, ws, REPO_PATH=".", REPORT_DIR="report", AUDIT_ACCOUNT="false",
               EXTRA_ARGS="--platform aws")
    if shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chromium-browser"):
        p = _bash(_step(steps, "Get Chromium")["run"], ws, env)   # takes a no-install branch here
        assert p.returncode == 0, p.stdout + p.stderr
    p = _bash(_step(steps, "Grade")["run"], ws, env)
    assert p.returncode in (0, 1), p.stdout[-3000:] + p.stderr[-3000:]
    report = ws / "report"
    for f in ("summary.md", "junit.xml", "report.json", "index.html"):
        assert (report / f).is_file(), f
    assert "<testsuite" in (report / "junit.xml").read_text()
    p = _bash(_step(steps, "Job summary")["run"], ws, env)
    assert p.returncode == 0, p.stderr
    text = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert text.startswith((report / "summary.md").read_text()) and "**ws** (aws)" in text
    assert "deploycheck report** artifact" in text


@pytest.mark.slow
def test_matrix_steps_run_locally(tmp_path, fixtures_build):
    wf = _load("examples/classroom-matrix.yml")
    work = tmp_path / "work"
    for name in ("complete_vertex", "no_readme"):
        _example(fixtures_build, name, work / "classroom" / name)
    env = _env(tmp_path, work, SHARD="1/1")
    grade = _step(wf["jobs"]["grade"]["steps"], "Grade shard ${{ matrix.shard }}")["run"]
    p = _bash(grade, work, env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert (work / "report-shard" / "junit.xml").is_file()
    # what download-artifact leaves: one folder per shard artifact
    (work / "shards").mkdir()
    shutil.copytree(work / "report-shard", work / "shards" / "report-shard-1")
    merge = _step(wf["jobs"]["merge"]["steps"], "Merge")["run"]
    p = _bash(merge, work, env)
    assert p.returncode == 0, p.stdout + p.stderr
    for f in ("report.json", "grades.csv", "summary.md", "index.html", "canvas.csv"):
        assert (work / "gradebook" / f).is_file(), f
    assert "no_readme" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()
