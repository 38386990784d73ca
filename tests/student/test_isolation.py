"""`deploycheck grade` runs on deploycheck's own pytest configuration only.

Each student repo below ships a hostile pytest set-up (pytest.ini, pyproject.toml
[tool.pytest.ini_options], setup.cfg [tool:pytest], tox.ini [pytest]) plus conftest.py files that
write a canary file and raise at import; the environment adds PYTEST_ADDOPTS, PYTEST_PLUGINS and
an auto-loadable third-party plugin (a `pytest11` entry point on PYTHONPATH) that also writes a
canary and deselects every check but one. Graded from inside the repo (as the GitHub Action does),
the verdicts, messages and exit status must equal those of a run from a neutral directory with a
clean environment; no canary may exist and the repo must be byte-for-byte unchanged apart from the
report folder (no .pytest_cache, no __pycache__)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.student import envs


EXAMPLE = "no_artifact"          # fails 5 checks: a config that deselects or skips checks shows

CONFIGS = {
    # pytest-cov is not installed: a leaked --cov is a usage error and no report
    "pytest.ini": {"pytest.ini": "[pytest]\naddopts = --cov=. --cov-report=term\n"},
    # only the structure check would run: "all checks passed", exit 0, a green job
    "pyproject-k": {"pyproject.toml": '[project]\nname = "my-lab"\n\n[tool.pytest.ini_options]\n'
                                      'addopts = "-k structure"\n'},
    # no file matches: exit 5, no report
    "pyproject-python_files": {"pyproject.toml": '[tool.pytest.ini_options]\npython_files = ["nothing_*.py"]\n'
                                                 'python_functions = ["check_*"]\n'},
    # the student's own tests would be collected and fail the job; -x would stop after one check
    "pyproject-testpaths": {"pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
                                              'addopts = "-x --strict-markers tests"\n',
                            "tests/test_mine.py": "def test_mine():\n    assert 1 + 1 == 3\n"},
    "setup.cfg": {"setup.cfg": "[metadata]\nname = my-lab\n\n[tool:pytest]\naddopts = -k 'not artifact and not predict'\n"
                               "required_plugins = pytest-cov\n"},
    "tox.ini": {"tox.ini": "[tox]\nenvlist = py311\n\n[pytest]\naddopts = --maxfail=1 -p no:xdist\n"
                           "xfail_strict = true\nempty_parameter_set_mark = fail_at_collect\n"},
}

CONFTEST = """\
import pathlib
pathlib.Path({canary!r}, "conftest-" + __file__.replace("/", "_")).write_text("imported")
raise RuntimeError("the student's conftest.py was imported")
"""

PLUGIN = """\
import pathlib
pathlib.Path({canary!r}, "plugin-" + __name__).write_text("imported")

def pytest_collection_modifyitems(items):
    items[:] = [i for i in items if "structure" in i.nodeid]
"""


def hostile_plugin(where: Path, canary: Path) -> Path:
    """`evil_plugin` on PYTHONPATH with a pytest11 entry point (what `pip install pytest-foo` leaves)."""
    where.mkdir(parents=True)
    (where / "evil_plugin.py").write_text(PLUGIN.format(canary=str(canary)))
    (where / "evil_second.py").write_text(PLUGIN.format(canary=str(canary)))
    info = where / "pytest_evil-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pytest-evil\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nevil = evil_plugin\n")
    return where


def student_repo(dest: Path, config: dict[str, str], canary: Path) -> Path:
    envs.example(EXAMPLE, dest)
    files = {**config}
    for d in ("", "tests/", "aws_deploy/"):
        files[f"{d}conftest.py"] = CONFTEST.format(canary=str(canary))
    for rel, text in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    return dest


def tree(root: Path, skip: str = "out") -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(root.rglob("*")) if p.relative_to(root).parts[0] != skip}


def grade(bin_dir: Path, repo_arg: str, report: str, cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    p = subprocess.run([str(bin_dir / "deploycheck"), "grade", "--repo", repo_arg, "--report", report],
                       cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    rj = (cwd / report / "report.json")
    doc = json.loads(rj.read_text()) if rj.is_file() else {}
    return p, doc


def verdicts(doc: dict) -> list[tuple[str, str, str]]:
    return [(c["id"], c["status"], c["message"]) for s in doc.get("students", []) for c in s["checks"]]


@pytest.fixture(scope="module")
def wheel_bin(tmp_path_factory):
    wheel = envs.shared_wheel(tmp_path_factory)
    return envs.make_venv(tmp_path_factory.mktemp("venv") / "v", wheel)


CHECKOUT_BIN = envs.ROOT / ".venv" / "bin"


# every config with the installed wheel (what the Action runs); two with the checkout's editable install
CASES = [(c, "wheel") for c in sorted(CONFIGS)] + [("pyproject-k", "checkout"), ("pytest.ini", "checkout")]


@pytest.mark.slow
@pytest.mark.parametrize("config,install", CASES)
def test_student_pytest_setup_changes_nothing(config, install, tmp_path, request):
    bin_dir = request.getfixturevalue("wheel_bin") if install == "wheel" else CHECKOUT_BIN
    canary = tmp_path / "canary"
    canary.mkdir()
    repo = student_repo(tmp_path / "my-lab", CONFIGS[config], canary)
    neutral = tmp_path / "elsewhere"
    neutral.mkdir()

    # the reference: from a neutral directory, with a clean environment
    ref, ref_doc = grade(bin_dir, str(repo), "report", neutral, envs.clean_env())
    assert ref_doc, ref.stdout[-3000:] + ref.stderr[-3000:]
    before = tree(repo)

    # as the Action runs it: from inside the repo, with a hostile pytest environment
    plugins = hostile_plugin(tmp_path / "site", canary)
    env = envs.clean_env(PYTEST_ADDOPTS="-k structure -p evil_second --cov=.", PYTEST_PLUGINS="evil_second",
                         PYTHONPATH=str(plugins))
    p, doc = grade(bin_dir, ".", "out", repo, env)
    assert doc, p.stdout[-3000:] + p.stderr[-3000:]

    assert sorted(canary.iterdir()) == [], "a student conftest.py or an auto-loaded plugin was imported"
    assert tree(repo) == before, "grading wrote into the student's repo outside its report folder"
    assert not (repo / ".pytest_cache").exists()
    assert (p.returncode, verdicts(doc)) == (ref.returncode, verdicts(ref_doc))
    # and the verdicts are the example's own: the hostile files change no verdict
    failed = {c[0] for c in verdicts(doc) if c[1] == "failed"}
    assert failed == envs.example_spec(EXAMPLE).fails and p.returncode == 1
    assert "FIX THIS FIRST" in p.stdout and "artifact.present" in p.stdout
    assert (repo / "out" / "summary.md").is_file()


def test_the_rubric_needs_no_conftest():
    """`deploycheck grade` passes --noconftest: the rubric's fixtures and hooks live in the plugin
    (loaded with -p). A conftest.py next to the checks would be silently ignored there."""
    import deploycheck.gradecmd as g
    assert not list(g.checks_dir().rglob("conftest.py")), \
        "checks/conftest.py is not loaded by `deploycheck grade` (--noconftest): move it into deploycheck/plugin.py"
    args = g.pytest_args(["--repo", "."])
    assert args[:2] == ["-c", str(g.INI)] and "--noconftest" in args and "no:cacheprovider" in args
    assert "no:unraisableexception" in args                            # its end-of-run gc passes
    assert all(f"-p {p}" in " ".join(args) for p in g.PLUGINS)
    assert args.index(str(g.checks_dir())) < args.index("--repo")      # the caller's options come last


def test_the_environment_is_restored_after_the_run(monkeypatch):
    import os

    import deploycheck.gradecmd as g
    monkeypatch.setenv("PYTEST_ADDOPTS", "-k x")
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    with g.isolated_environ():
        assert "PYTEST_ADDOPTS" not in os.environ and os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"
    assert os.environ["PYTEST_ADDOPTS"] == "-k x" and "PYTEST_DISABLE_PLUGIN_AUTOLOAD" not in os.environ
