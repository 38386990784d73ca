"""The light student install: what `pip install deploycheck` ships and what it can do without the
extras. A wheel of this checkout is installed into a fresh venv whose interpreter refuses to import
the cloud SDKs, moto and Playwright (a sys.meta_path finder installed by a .pth, so also in every
child interpreter); grading a repo still works, and every command that needs an extra says which
one in one line, without a traceback."""
from __future__ import annotations

import json
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.student import envs


CLOUD = ("boto3", "botocore", "moto", "google.cloud", "google.api_core", "google.auth", "gcp_storage_emulator",
         "vertexai")
PROOF = ("playwright",)


def test_every_package_of_the_tree_is_in_the_wheel_list():
    conf = tomllib.loads((envs.ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    tree = {".".join(p.parent.relative_to(envs.ROOT).parts) for p in (envs.ROOT / "deploycheck").rglob("__init__.py")
            if "__pycache__" not in p.parts}
    assert tree | {"deploycheck.checks"} <= listed, f"add to [tool.setuptools] packages: {sorted(tree - listed)}"
    assert conf["package-dir"]["deploycheck.checks"] == "checks"


def test_the_wheel_holds_every_module_the_rubric_and_the_pytest_config(tmp_path_factory):
    names = set(zipfile.ZipFile(envs.shared_wheel(tmp_path_factory)).namelist())
    src = {f for f in envs.source_files() if f.startswith("deploycheck/") and f.endswith(".py")}
    src |= {"deploycheck/checks/" + f.split("/", 1)[1] for f in envs.source_files()
            if f.startswith("checks/") and f.endswith(".py")}
    assert src - names == set()
    assert {"deploycheck/pytest.ini", "deploycheck/report/templates/index.html.j2",
            "deploycheck/analysis/pickle_allowlist.json"} <= names
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(envs.shared_wheel(tmp_path_factory)).read(meta).decode()
    requires = [ln for ln in text.splitlines() if ln.startswith("Requires-Dist:")]
    core = [r for r in requires if "extra ==" not in r]
    for heavy in ("boto3", "moto", "google-cloud", "playwright", "gcp-storage-emulator"):
        assert not any(heavy in r.lower() for r in core), (heavy, core)
    assert any("playwright" in r and 'extra == "proof"' in r for r in requires)
    assert any("boto3" in r and 'extra == "cloud"' in r for r in requires)


@pytest.fixture(scope="module")
def light(tmp_path_factory):
    """(bin dir, log of refused imports) of a venv without the extras."""
    tmp = tmp_path_factory.mktemp("light")
    log = tmp / "refused.log"
    log.touch()
    bin_dir = envs.make_venv(tmp / "v", envs.shared_wheel(tmp_path_factory),
                             files=envs.blocker_files(CLOUD + PROOF, log))
    return bin_dir, log


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "deploycheck"), *args], cwd=cwd, env=envs.clean_env(), capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_grading_needs_no_extra(light, tmp_path):
    bin_dir, log = light
    for name in ("complete_aws", "complete_vertex"):
        envs.example(name, tmp_path / name)
    p = run(bin_dir, "grade", "--classroom", str(tmp_path), "--report", "out", cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {s["student"] for s in doc["students"]} == {"complete_aws", "complete_vertex"}
    assert all(c["status"] != "failed" for s in doc["students"] for c in s["checks"])
    refused = set(log.read_text().split())
    assert not {m for m in refused if m.split(".")[0] != "playwright"}, f"the no-cloud path imported {refused}"
    # no Chromium without Playwright: the proof card is skipped with the one line that installs it
    aws = next(s for s in doc["students"] if s["student"] == "complete_aws")
    note = next(c for c in aws["checks"] if c["id"] == "predict.local").get("data", {}).get("proof_note", "")
    assert "pip install 'deploycheck[proof]'" in note, note
    assert "Traceback" not in p.stdout + p.stderr


@pytest.mark.parametrize("args", [
    ("grade", "--repo", ".", "--cloud", "moto", "--report", "out"),
    ("grade", "--repo", ".", "--cloud=aws"),
    ("grade", "--repo", ".", "--audit-account"),
    ("audit", "--provider", "aws"),
    ("sweep", "--older-than", "2h", "--provider", "gcp", "--dry-run"),
])
def test_a_command_that_needs_the_cloud_extra_says_so_in_one_line(light, tmp_path, args):
    bin_dir, _ = light
    p = run(bin_dir, *args, cwd=tmp_path)
    assert p.returncode == 4, p.stdout[-2000:] + p.stderr[-2000:]
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in p.stdout + p.stderr, p.stderr
    assert re.search(r"needs deploycheck's `cloud` extra.*pip install 'deploycheck\[cloud\]'", lines[0]), lines[0]
    assert not (tmp_path / "out").exists()


def test_help_needs_no_extra(light, tmp_path):
    bin_dir, _ = light
    for args in (("--help",), ("grade", "--help"), ("sweep", "--help"), ("audit", "--help"), ("merge", "--help")):
        p = run(bin_dir, *args, cwd=tmp_path)
        assert p.returncode == 0 and "Traceback" not in p.stderr, (args, p.stdout[-1500:], p.stderr[-1500:])
    assert "--cloud" in run(bin_dir, "grade", "--help", cwd=tmp_path).stdout


def test_installed_grade_without_a_repo_is_a_usage_error(light, tmp_path):
    p = run(light[0], "grade", cwd=tmp_path)
    assert p.returncode == 4 and "INTERNALERROR" not in p.stdout + p.stderr
    assert "pass --repo PATH" in p.stdout + p.stderr
