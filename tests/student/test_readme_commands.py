"""Every shell command in README.md works exactly as printed, on this machine after the set-up
command (`make grade`: the checkout's .venv, the example repos of fixtures/build.py).

Each ```bash block of README.md is marked by the HTML comment right before it:
``<!-- readme-test: ROLE [repo=EXAMPLE] [cwd=checkout] -->``. ROLE is

* ``setup``: `make grade` / `make test`, which prepared this machine; not run again (`make -n grade`
  must still grade through `deploycheck grade`);
* ``install``: installing the course's copy from GitHub (not reachable from tests): every
  requirement string must parse and name this project with extras it has; the same install from
  this checkout is tested in test_install.py;
* ``student``, ``instructor``, ``cloud-offline`` (moto and local stand-ins): run;
* ``cloud-real``: real AWS/GCP commands, never sent to a cloud: ``deploycheck grade`` runs with
  ``--collect-only`` (every option parsed, nothing deployed) and ``sweep``/``audit`` with the AWS and
  Google endpoints pointed at a closed local port (their options are parsed, then the first call
  fails locally).

Substitutions, the one documented way: a block runs as one `bash --noprofile --norc` script (state
such as `cd` and `&` jobs carries from line to line, as in a terminal) with ``PATH`` starting with
the checkout's ``.venv/bin`` (what `source .venv/bin/activate` or `pip install` gives), ``HOME`` a
temp dir, ``/path/to/your/repo`` a fresh copy of the example ``repo=`` built by fixtures/build.py,
and port 8080 a free port. The working directory is that copy (student), a temp dir holding GitHub
Classroom exports of example repos kept as local git repos (instructor), or a copy of the checkout
with its .venv linked (``cwd=checkout``; one copy for all such blocks, in README order).

Every command of a run block needs an entry in :data:`EXPECT` (exit status, text of its output):
a new README command fails this test until it has one.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.student import envs


README = envs.ROOT / "README.md"
ROLES = {"setup", "install", "student", "instructor", "cloud-offline", "cloud-real"}
RUN_ROLES = {"student", "instructor", "cloud-offline", "cloud-real"}
PLACEHOLDER = "/path/to/your/repo"


@dataclass(frozen=True)
class Block:
    line: int
    role: str
    opts: dict[str, str]
    commands: tuple[str, ...]


def blocks(text: str | None = None) -> list[Block]:
    lines = (text if text is not None else README.read_text()).splitlines()
    out, i = [], 0
    while i < len(lines):
        m = re.fullmatch(r"```(\w*)\s*", lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while not lines[j].startswith("```"):
            j += 1
        body = lines[i + 1:j]
        i = j + 1
        if lang not in ("bash", "sh", "shell", "console"):
            continue
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mark = re.fullmatch(r"<!-- readme-test: (\S+)((?: \w+=\S+)*) -->", lines[k].strip()) if k >= 0 else None
        assert mark, f"README.md line {start + 1}: a shell block without a `<!-- readme-test: ROLE -->` marker"
        role = mark.group(1)
        assert role in ROLES, f"README.md line {k + 1}: unknown role {role!r}"
        opts = dict(kv.split("=", 1) for kv in mark.group(2).split())
        out.append(Block(start + 1, role, opts, tuple(_commands(body))))
    return out


def _commands(body: list[str]) -> list[str]:
    cmds, cur = [], ""
    for raw in body:
        line = raw.rstrip()
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1].rstrip() + " "
            continue
        cmds.append(" ".join((cur + line).split()))
        cur = ""
    return cmds


def key(cmd: str) -> str:
    """A command without its trailing comment (the EXPECT key)."""
    return re.sub(r"\s+#\s.*$", "", cmd).strip()


@dataclass(frozen=True)
class Expect:
    rc: tuple[int, ...] = (0,)
    out: tuple[str, ...] = ()                  # regexes that must match the command's output
    skip: str = ""                             # not run, and why
    append: str = ""                           # cloud-real: appended to the command
    files: tuple[str, ...] = ()                # exist afterwards (relative to the block's start dir)


GRADE_FIRST = r"FIX THIS FIRST: artifact\.present -> aws_deploy/model\.tar\.gz"
EXPECT: dict[str, Expect] = {
    # student, repo=no_artifact
    "deploycheck grade --repo /path/to/your/repo": Expect((1,), (r"no_artifact \(aws\): 13/23 points", GRADE_FIRST)),
    "cd /path/to/your/repo && deploycheck grade --repo . --report out/": Expect(
        (1,), (GRADE_FIRST, r"report: \S+/out/report\.json"), files=("out/summary.md", "out/index.html")),
    "deploycheck grade --repo . -k readme": Expect((0,), (r"all 3 checks passed", r"PASSED \(3\): readme\.present")),
    "deploycheck grade --repo . --platform aws -v --tb=short": Expect(
        (1,), (r"test_artifact_present\[no_artifact\] FAILED", r"= FAILURES =", GRADE_FIRST)),
    ".venv/bin/deploycheck grade --repo /path/to/your/repo": Expect((1,), (GRADE_FIRST,)),
    # student, serve (AWS: complete_aws, GCP: complete_aiplatform; both iris)
    "deploycheck serve /path/to/your/repo --port 8080 &": Expect((0,)),
    "curl -s --retry 30 --retry-connrefused --retry-delay 1 localhost:8080/ping": Expect((0,)),
    "curl -s -X POST localhost:8080/invocations -H 'Content-Type: application/json' --data '[[5.1,3.5,1.4,0.2]]'":
        Expect((0,), (r"^\[0\]",)),
    "curl -s -X POST localhost:8080/predict -H 'Content-Type: application/json' "
    "--data '{\"instances\": [[5.1,3.5,1.4,0.2]]}'": Expect((0,), (r'"predictions": \[0\]',)),
    "kill %1": Expect((0,)),
    # instructor
    "gh classroom assignment-grades -a 123456 -f grades.csv": Expect(
        skip="needs the GitHub CLI and github.com; the test writes the grades.csv it downloads"),
    "export GITHUB_TOKEN=github_pat_...": Expect((0,)),
    "deploycheck grade --roster classroom_roster.csv --roster grades.csv --deadline 2024-05-01T23:59:00+02:00 "
    "--canvas-assignment \"Deploy lab (4567)\" -n auto --report out/": Expect(
        (1,), (r"ana\s+aws\s+23/23\s+all checks passed", r"ben\s+aws\s+13/23\s+fix first: artifact\.present",
               r"report: \S+/out/report\.json"), files=("out/canvas.csv", "out/index.html", "out/report.json")),
    "xdg-open out/index.html": Expect(skip="opens a desktop browser"),
    # cloud
    "python reference_deploys/build.py && deploycheck grade --repo reference_deploys --cloud moto --report out/":
        Expect((0,), (r"reference_deploys \(\w+\): (\d+)/\1 points, all \d+ checks passed",),
               files=("out/report.json", "out/cloud-ledger.jsonl")),
    "deploycheck grade --repo reference_deploys --cloud aws --aws-region us-east-1 --aws-role-arn "
    "arn:aws:iam::123456789012:role/DeploycheckSageMakerExecution --aws-bucket my-deploycheck-bucket --report out/":
        Expect((0,), (r"test_cloud_deploy\[reference_deploys-aws\]", r"tests collected"), append="--collect-only"),
    "deploycheck grade --repo reference_deploys --cloud gcp --gcp-project MY_PROJECT --gcp-region us-central1 "
    "--gcp-bucket my-deploycheck-bucket --report out/":
        Expect((0,), (r"test_cloud_deploy\[reference_deploys-gcp\]", r"tests collected"), append="--collect-only"),
    "deploycheck sweep --ledger out/cloud-ledger.jsonl": Expect((0, 1)),
    "deploycheck audit --provider aws": Expect((1,), (r"cannot reach the AWS endpoint",)),
}

# real-cloud commands: every AWS / Google call goes to a closed local port, never to a cloud
OFFLINE_CLOUD_ENV = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "testing",
                     "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
                     "NO_GCE_CHECK": "True", "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",
                     "CLOUDSDK_CONFIG": "/nonexistent", "GOOGLE_CLOUD_PROJECT": "MY_PROJECT"}


def test_every_shell_block_is_marked_and_every_command_has_an_expectation():
    bs = blocks()
    assert {b.role for b in bs} >= {"setup", "install", "student", "instructor", "cloud-offline", "cloud-real"}
    missing = [c for b in bs if b.role in RUN_ROLES for c in b.commands if key(c) not in EXPECT]
    assert not missing, f"README commands without an expectation in {__name__}.EXPECT: {missing}"
    used = {key(c) for b in bs for c in b.commands}
    assert not set(EXPECT) - used, f"expectations for commands README no longer has: {set(EXPECT) - used}"
    # the student's commands never call a bare `pytest` (it is not deploycheck's venv)
    for b in bs:
        for c in b.commands:
            assert not re.match(r"(\S+/)?pytest\b", c), (b.line, c)


def test_a_shell_block_without_a_marker_is_refused():
    with pytest.raises(AssertionError, match="without a `<!-- readme-test"):
        blocks("text\n\n```bash\ndeploycheck grade --repo .\n```\n")


def test_setup_still_grades_through_deploycheck_grade():
    p = subprocess.run(["make", "-n", "-o", "venv", "-o", "chromium", "-o", "fixtures", "grade"], cwd=envs.ROOT,
                       capture_output=True, text=True, timeout=60)
    assert re.search(r"^-?\.venv/bin/deploycheck grade --repo fixtures/built/classroom/complete_aws ", p.stdout, re.M), \
        p.stdout


def test_install_lines_name_this_project_and_its_extras():
    extras = set(tomllib.loads((envs.ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    text = README.read_text()
    reqs = re.findall(r'"(deploycheck(?:\[[\w,]+\])? @ git\+https://[^"]+)"', text)
    assert len(reqs) >= 2, reqs
    for r in map(Requirement, reqs):
        assert r.name == "deploycheck" and r.extras <= extras and r.url.startswith("git+https://"), r
    assert "pip install .[cloud,proof]" not in text          # unquoted extras break in zsh


# ---------------------------------------------------------------- running the blocks

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git_repo(src: Path, date: str) -> Path:
    env = {**envs.clean_env(), "GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "s@example.com",
           "GIT_COMMITTER_NAME": "Student", "GIT_COMMITTER_EMAIL": "s@example.com", "GIT_CONFIG_NOSYSTEM": "1",
           "HOME": str(src.parent), "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "deploy lab"]):
        subprocess.run(["git", "-C", str(src), *args], env=env, check=True, capture_output=True)
    return src


def classroom_exports(work: Path) -> None:
    """classroom_roster.csv + grades.csv as GitHub Classroom writes them, naming local git repos."""
    rows = [("ana", "complete_aws"), ("ben", "no_artifact")]
    (work / "classroom_roster.csv").write_text(
        '"identifier","github_username","github_id","name"\n'
        + "".join(f'"{u}@uni.example","{u}","{900 + i}","{u.title()}"\n' for i, (u, _) in enumerate(rows)))
    head = ("assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,"
            "student_repository_name,student_repository_url,submission_timestamp,points_awarded,points_available\n")
    lines = []
    for u, ex in rows:
        repo = git_repo(envs.example(ex, work / "github" / f"deploy-lab-{u}"), "2024-04-30T12:00:00+02:00")
        lines.append(f"deploy-lab,https://classroom.github.com/a/1,,{u},{u}@uni.example,deploy-lab-{u},"
                     f"{repo.as_uri()},,0,0\n")
    (work / "grades.csv").write_text(head + "".join(lines))


@dataclass
class Result:
    rc: int
    output: str


@dataclass
class Runner:
    tmp: Path
    port: int = field(default_factory=free_port)
    checkout: Path | None = None

    def checkout_copy(self) -> Path:
        if self.checkout is None:
            self.checkout = self.tmp / "my courses" / "deploycheck"     # a space in the path, as on many laptops
            for rel in envs.source_files():
                (self.checkout / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(envs.ROOT / rel, self.checkout / rel)
            (self.checkout / ".venv").symlink_to(envs.ROOT / ".venv")
        return self.checkout

    def run(self, b: Block, n: int) -> tuple[list[tuple[str, Result | None]], Path]:
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        repo = envs.example(b.opts["repo"], self.tmp / f"block{n}" / b.opts["repo"]) if "repo" in b.opts else None
        if b.opts.get("cwd") == "checkout":
            cwd = self.checkout_copy()
        elif b.role == "instructor":
            cwd = self.tmp / f"block{n}"
            cwd.mkdir()
            classroom_exports(cwd)
        else:
            cwd = repo
        env = envs.clean_env(PATH=f"{envs.ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", HOME=str(home))
        if b.role == "cloud-real":
            env.update(OFFLINE_CLOUD_ENV)
        script, plan = ["exec 2>&1"], []
        for i, cmd in enumerate(b.commands):
            exp = EXPECT[key(cmd)]
            plan.append((cmd, exp))
            if exp.skip:
                continue
            text = key(cmd) if not exp.append else f"{key(cmd)} {exp.append}"
            text = text.replace(PLACEHOLDER, str(repo)).replace("8080", str(self.port))
            script += [f"echo '@@begin {i}'", text, f"__rc=$?; printf '\\n@@rc {i} %s\\n' \"$__rc\""]
        log = self.tmp / f"block{n}.log"
        with open(log, "w") as fh:
            proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", "\n".join(script) + "\n"], cwd=cwd,
                                    env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                proc.wait(timeout=900)
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)      # whatever the block left running
                except ProcessLookupError:
                    pass
        text = log.read_text(errors="replace")
        results = []
        for i, (cmd, exp) in enumerate(plan):
            if exp.skip:
                results.append((cmd, None))
                continue
            m = re.search(rf"^@@begin {i}\n(.*?)^@@rc {i} (\d+)$", text, re.S | re.M)
            assert m, f"block at README line {b.line}: {cmd!r} did not finish:\n{text[-3000:]}"
            results.append((cmd, Result(int(m.group(2)), m.group(1))))
        return results, cwd


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return Runner(tmp_path_factory.mktemp("readme"))


RUN_BLOCKS = [b for b in blocks() if b.role in RUN_ROLES]


@pytest.mark.slow
@pytest.mark.parametrize("n", range(len(RUN_BLOCKS)),
                         ids=[f"line{b.line}-{b.role}" for b in RUN_BLOCKS])
def test_readme_block_works_as_printed(runner, n):
    b = RUN_BLOCKS[n]
    results, cwd = runner.run(b, n)
    for cmd, res in results:
        exp = EXPECT[key(cmd)]
        if res is None:
            continue
        assert res.rc in exp.rc, f"README line {b.line}: `{cmd}` exited {res.rc}:\n{res.output[-3000:]}"
        for pattern in exp.out:
            assert re.search(pattern, res.output, re.M), f"README line {b.line}: `{cmd}`: no {pattern!r} in:\n" \
                                                         f"{res.output[-3000:]}"
        assert "Traceback" not in res.output and "INTERNALERROR" not in res.output, res.output[-3000:]
        if b.role == "cloud-real":
            assert "usage:" not in res.output and "unrecognized arguments" not in res.output
        for f in exp.files:
            assert (cwd / f).is_file(), f"README line {b.line}: `{cmd}` wrote no {f}"


def test_the_dry_parse_of_real_cloud_commands_refuses_a_wrong_option(runner):
    """--collect-only parses every option: a misspelt one is a usage error (exit 4), so the real-cloud
    lines above really had their options checked."""
    env = envs.clean_env(PATH=f"{envs.ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", **OFFLINE_CLOUD_ENV)
    p = subprocess.run(["deploycheck", "grade", "--repo", str(envs.ROOT / "reference_deploys"), "--cloud", "aws",
                        "--aws-regoin", "us-east-1", "--collect-only"], env=env, cwd=runner.tmp, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 4 and "--aws-regoin" in p.stderr, p.stdout[-2000:] + p.stderr[-2000:]
