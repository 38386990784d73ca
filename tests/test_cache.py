"""The results cache (deploycheck/cache.py): unchanged repos reuse their outcomes and proof images;
any change to a repo's files, the student, the options or the grader grades afresh."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploycheck.cache import ResultsCache
from deploycheck.discovery import targets_for
from deploycheck.model import failed, passed, run_error
from deploycheck.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "fixtures" / "built" / "classroom"


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYCHECK_NO_CACHE"}
    env["DEPLOYCHECK_RESULTS_DIR"] = str(tmp_path / "results")
    monkeypatch.delenv("DEPLOYCHECK_NO_CACHE", raising=False)
    monkeypatch.setenv("DEPLOYCHECK_RESULTS_DIR", str(tmp_path / "results"))
    return env


def grade(env, repo, out, *extra):
    p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--repo", str(repo), "--report", str(out),
                        *extra], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    doc = json.loads((out / "report.json").read_text())
    return p, {c["id"]: c for c in doc["students"][0]["checks"]}


def test_an_unchanged_repo_reuses_every_outcome_and_its_proof(tmp_path, cache_env):
    repo = tmp_path / "alice"
    shutil.copytree(CLASSROOM / "complete_aws", repo)
    p1, first = grade(cache_env, repo, tmp_path / "out1")
    assert "reused" not in p1.stdout
    p2, second = grade(cache_env, repo, tmp_path / "out2")
    assert f"reused {len(first)} of {len(first)} check results from the cache" in p2.stdout
    assert {k: (c["status"], c["message"]) for k, c in first.items()} == \
           {k: (c["status"], c["message"]) for k, c in second.items()}
    proof = second["predict.local"]["proof"]
    for rel in proof.values():
        assert (tmp_path / "out2" / rel).is_file()          # the reused images are in this run's report
    # --no-cache grades everything again
    p3, _ = grade(cache_env, repo, tmp_path / "out3", "--no-cache")
    assert "reused" not in p3.stdout


def test_a_changed_file_is_graded_afresh(tmp_path, cache_env):
    repo = tmp_path / "bob"
    shutil.copytree(CLASSROOM / "complete_aws", repo)
    _, first = grade(cache_env, repo, tmp_path / "out1")
    assert first["entry_point.model_fn"]["status"] == "passed"
    inf = repo / "aws_deploy" / "inference.py"
    inf.write_text(inf.read_text().replace("def model_fn(model_dir):", "def load_model(model_dir):"))
    p2, second = grade(cache_env, repo, tmp_path / "out2")
    assert "reused" not in p2.stdout
    assert second["entry_point.model_fn"]["status"] == "failed" and "model_fn" in second["entry_point.model_fn"]["message"]


def test_entries_are_never_shared_between_students_and_skip_cloud_and_errors(tmp_path, cache_env):
    a, b = tmp_path / "a", tmp_path / "b"
    for r in (a, b):
        shutil.copytree(CLASSROOM / "complete_aws", r)
    (ta,), (tb,) = targets_for("ann", str(a)), targets_for("ben", str(b))
    c = ResultsCache(Settings())
    c.put(ta, "readme.present", passed("ann's README"))
    assert c.get(ta, "readme.present").message == "ann's README"
    assert c.get(tb, "readme.present") is None                     # same content, another student
    (tc,) = targets_for("ann-again", str(a))
    assert c.get(tc, "readme.present") is None                      # the same repo as another id
    c.put(ta, "cloud.deploy", failed("deployed"))
    assert c.get(ta, "cloud.deploy") is None                        # cloud checks act on an account
    c.put(ta, "predict.local", run_error("the sandbox did not start"))
    assert c.get(ta, "predict.local") is None                       # errors of the run are tried again
    assert ResultsCache(Settings(), enabled=False).get(ta, "readme.present") is None
    assert ResultsCache(Settings(sandbox_timeout=5)).get(ta, "readme.present") is None   # other options
