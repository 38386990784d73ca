"""The GitHub Action and the example workflows: valid YAML, the right steps, and their shell
steps run exactly as written against a temporary repository."""
import json
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
    # what the instructor's run uses (the same verdicts in CI): Tesseract, bubblewrap with the user
    # namespaces it needs, the runtime environments (cached under a key of what the repo declares)
    tools = _step(steps, "Install Tesseract and bubblewrap")["run"]
    assert "tesseract-ocr" in tools and "bubblewrap" in tools and "apparmor_restrict_unprivileged_userns=0" in tools
    assert "deploycheck runtimes key --for" in _step(steps, "Runtime environments cache key")["run"]
    cache = _step(steps, uses="actions/cache@")
    assert cache["with"]["key"] == "${{ steps.runtimes.outputs.key }}"
    assert "~/.cache/deploycheck/runtimes" in cache["with"]["path"] and "~/.cache/deploycheck/pythons" in cache["with"]["path"]
    assert "deploycheck runtimes build --for" in _step(steps, "Build the runtime environments")["run"]
    names = [s.get("name") for s in steps]
    assert names.index("Install deploycheck") < names.index("Runtime environments cache key") \
        < names.index("Restore the runtime environments") < names.index("Build the runtime environments") \
        < names.index("Grade")
    # the header's example is complete: the sandbox set-up is the action's own
    header = (ROOT / "action.yml").read_text().split("\nname:")[0]
    assert "uses: <course-org>/deploycheck@v1" in header and "bubblewrap" in header
    grade = _step(steps, "Grade")["run"]
    assert re.search(r"deploycheck grade --repo \"\$GITHUB_WORKSPACE/\$REPO_PATH\" --report \"\$REPORT_DIR\"", grade)
    assert '--junitxml "$REPORT_DIR/junit.xml"' in grade and "pytest" not in grade
    summary = _step(steps, "Job summary")
    assert summary["if"] == "always()" and "$GITHUB_STEP_SUMMARY" in summary["run"]
    upload = _step(steps, uses="actions/upload-artifact@")
    assert upload["if"] == "always()" and upload["with"]["path"] == "${{ inputs.report-dir }}"
    for s in steps:
        if "run" in s:
            assert s["shell"] == "bash"
            assert "${{" not in s["run"], f"{s['name']}: pass inputs through env, not into the script"


CREDENTIAL_INPUTS = ("aws-access-key-id", "aws-secret-access-key", "gcp-credentials-json")


def test_cloud_credentials_reach_only_the_audit_step(action):
    """Grading runs student code (in the sandbox): no step up to and including it may hold a
    credential; the audit step, after grading, is the only one that gets them."""
    steps = action["runs"]["steps"]
    assert set(CREDENTIAL_INPUTS) <= set(action["inputs"])
    names = [s.get("name") for s in steps]
    audit = _step(steps, "Cloud account audit")
    assert names.index("Cloud account audit") > names.index("Grade")
    for s in steps:
        text = str(s.get("env", "")) + str(s.get("with", "")) + s.get("run", "")
        holds = [i for i in CREDENTIAL_INPUTS if f"inputs.{i}" in text]
        if s is audit:
            assert sorted(holds) == sorted(CREDENTIAL_INPUTS)
        else:
            assert not holds and "AWS_SECRET" not in text and "GOOGLE_APPLICATION_CREDENTIALS" not in text, s["name"]
    assert "deploycheck audit" in audit["run"] and "deploycheck grade" not in audit["run"]
    assert audit["working-directory"] == "${{ runner.temp }}" and "inputs.audit-account == 'true'" in audit["if"]
    assert "--audit-account" not in _step(steps, "Grade")["run"]


def test_student_workflow_uses_the_action():
    wf = _load("examples/student-workflow.yml")
    assert "push" in _on(wf)
    job = wf["jobs"]["grade"]
    assert _step(job["steps"], uses="actions/checkout@")["with"]["persist-credentials"] is False
    assert _step(job["steps"], uses="actions/checkout@")["with"]["fetch-depth"] == 0   # security.secrets reads the history
    dc = _step(job["steps"], uses="COURSE-ORG/deploycheck@")
    assert dc["with"]["report-dir"] == "report" and "audit-account" in dc["with"]
    assert dc["with"]["aws-access-key-id"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    assert dc["with"]["gcp-credentials-json"] == "${{ secrets.GCP_SA_KEY }}"
    # no secret in any env (it would reach the grading step) and no step that exports credential files
    # for later steps (google-github-actions/auth writes GOOGLE_APPLICATION_CREDENTIALS to $GITHUB_ENV)
    assert "secrets." not in str(wf.get("env", "")) + str(job.get("env", ""))
    assert not any("bubblewrap" in str(s.get("run", "")) for s in job["steps"])   # the action sets up the sandbox
    for s in job["steps"]:
        assert "secrets." not in str(s.get("env", "")) + str(s.get("if", "")), s
        assert "google-github-actions/auth" not in str(s.get("uses", ""))
        if s is not dc:
            assert "secrets." not in str(s)


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


def _git_repo(path, files):
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git = ["git", "-C", str(path), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    return path


def test_classroom_grade_step_clones_its_shard_and_leaves_no_token_behind(tmp_path):
    """The grade step, run for real against local repositories: it clones through --roster/--shard
    (no inline clone script), the token reaches git only as a header of each command, so no cloned
    repository, report or URL keeps it, and an unreachable repository is a "not graded" row."""
    wf = _load("examples/classroom-matrix.yml")
    grade = wf["jobs"]["grade"]
    assert _step(grade["steps"], uses="actions/checkout@")["with"]["persist-credentials"] is False
    step = _step(grade["steps"], "Grade shard ${{ matrix.shard }}")
    assert step["env"]["GITHUB_TOKEN"] == "${{ secrets.CLASSROOM_TOKEN }}"
    assert "--roster course/roster.csv" in step["run"] and '--shard "$SHARD"' in step["run"]
    assert "python -" not in step["run"] and "git clone" not in step["run"]
    for s in grade["steps"]:                  # no other step of the job holds a secret
        assert s is step or "secrets." not in str(s)
    origin = _git_repo(tmp_path / "origin", {"aws_deploy/README.md": "# deploy\n\nsee the notebook\n"})
    work = tmp_path / "work"
    (work / "course").mkdir(parents=True)
    (work / "course" / "roster.csv").write_text(f"student,url\nann,{origin.as_uri()}\n"
                                                "bob,https://user:OLDSECRET@127.0.0.1:9/x\n")
    env = _env(tmp_path, work, GITHUB_TOKEN="CANARYTOKEN123", SHARD="1/1", DEADLINE="")
    p = _bash(step["run"].replace(" -n auto", ""), work, env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    doc = json.loads((work / "report-shard" / "report.json").read_text())
    by = {st["student"]: st for st in doc["students"]}
    assert by["ann"]["checks"] and "error" not in by["ann"]
    assert by["bob"]["error"].startswith("could not fetch the repository") and by["bob"]["checks"] == []
    assert "CANARYTOKEN123" not in p.stdout + p.stderr and "OLDSECRET" not in p.stdout + p.stderr
    for f in work.rglob("*"):
        if f.is_file() and f.parent.name != "course":           # (the roster itself holds the URL secret)
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
    p = _bash(_step(steps, "Runtime environments cache key")["run"], ws, {**env, "GITHUB_OUTPUT": str(tmp_path / "out")})
    assert p.returncode == 0 and re.fullmatch(r"key=deploycheck-runtimes-linux-\S+-sagemaker_1\.2-1-[0-9a-f]{16}\n",
                                              (tmp_path / "out").read_text()), p.stderr
    p = _bash(_step(steps, "Build the runtime environments")["run"], ws, env)
    assert p.returncode == 0 and "sagemaker:1.2-1: sagemaker-scikit-learn 1.2-1" in p.stdout, p.stdout + p.stderr
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
def test_action_grades_a_failing_repo_with_its_own_pytest_config_and_fix_first_on_top(action, tmp_path,
                                                                                     fixtures_build):
    """The student's repo ships pytest settings and the job's env has PYTEST_ADDOPTS that would make
    a bare `pytest` run only one check (green); the Grade step still fails the repo, and the job
    summary starts with the root cause."""
    ws = _example(fixtures_build, "no_artifact", tmp_path / "ws")
    (ws / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-k structure"\n')
    (ws / "conftest.py").write_text("raise RuntimeError('the student conftest.py was imported')\n")
    steps = action["runs"]["steps"]
    env = _env(tmp_path, ws, REPO_PATH=".", REPORT_DIR="report", EXTRA_ARGS="", PYTEST_ADDOPTS="-k structure")
    p = _bash(_step(steps, "Grade")["run"], ws, env)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert "FIX THIS FIRST: artifact.present -> aws_deploy/model.tar.gz" in p.stdout
    p = _bash(_step(steps, "Job summary")["run"], ws, env)
    text = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    head = text.split("### Fix this first", 1)
    assert len(head) == 2 and "❌" not in head[0] and "✅" not in head[0]
    assert head[1].lstrip().startswith("`artifact.present` in `aws_deploy/model.tar.gz`")
    assert text.index("### Blocked until it is fixed") < text.index("### Passed")


def test_audit_step_runs_alone_with_the_credentials(action, tmp_path):
    """The audit step run as GitHub would (its env holds the inputs): no credentials -> a note, exit 0;
    AWS credentials -> `deploycheck audit --provider aws` (here against a closed local port: fails,
    exit 1, both in the job summary); a GCP key -> written to a private temp file that is gone after."""
    script = _step(action["runs"]["steps"], "Cloud account audit")["run"]
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir()
    base = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_REGION_TO_AUDIT": "us-east-1",
            "GCP_CREDENTIALS_JSON": "", "GCP_PROJECT": "", "RUNNER_TEMP": str(runner_temp),
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED": "true", "NO_GCE_CHECK": "True",
            "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9", "CLOUDSDK_CONFIG": "/nonexistent"}
    env = _env(tmp_path, runner_temp, **base)
    p = _bash(script, runner_temp, env)
    assert p.returncode == 0 and "no credentials were given" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()

    (tmp_path / "a").mkdir()
    env = _env(tmp_path / "a", runner_temp, **{**base, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"})
    p = _bash(script, runner_temp, env)
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert p.returncode == 1 and "::error::AWS (us-east-1)" in p.stdout, p.stdout + p.stderr
    assert "**AWS (us-east-1)**" in summary and "cannot reach the AWS endpoint" in summary

    key = json.dumps({"type": "service_account", "project_id": "p", "private_key_id": "1",
                      "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
                      "client_email": "audit@p.iam.gserviceaccount.com", "client_id": "1",
                      "token_uri": "http://127.0.0.1:9/token"})
    (tmp_path / "g").mkdir()
    env = _env(tmp_path / "g", runner_temp, **{**base, "GCP_CREDENTIALS_JSON": key, "GCP_PROJECT": "p"})
    p = _bash(script, runner_temp, env)
    assert p.returncode == 1 and "**GCP (p)**" in Path(env["GITHUB_STEP_SUMMARY"]).read_text(), p.stdout + p.stderr
    assert [f.name for f in runner_temp.iterdir()] == [], "the service-account key file was left behind"
    assert "not a key" not in p.stdout + p.stderr


@pytest.mark.slow
def test_matrix_steps_run_locally(tmp_path, fixtures_build):
    wf = _load("examples/classroom-matrix.yml")
    work = tmp_path / "work"
    (work / "course").mkdir(parents=True)
    rows = ["student,url"]
    for name in ("complete_vertex", "no_readme"):
        repo = _example(fixtures_build, name, tmp_path / "github" / name)
        _git_repo(repo, {})
        rows.append(f"{name},{repo.as_uri()}")
    (work / "course" / "roster.csv").write_text("\n".join(rows) + "\n")
    env = _env(tmp_path, work, SHARD="1/1", DEADLINE="")
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
