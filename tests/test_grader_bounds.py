"""Static analysis of hostile files is bounded in the grader's own process: huge scripts are never
handed to ast.parse, so a class run cannot be OOM-killed by one repo (issue 10, grader-side bombs)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "fixtures" / "built" / "classroom"

# The peak memory of a process's own address space (VmHWM). Not getrusage's ru_maxrss: Linux carries a
# parent's peak into a child across fork+exec, so a probe started from a big pytest worker reported the
# worker's size (929 MB, the test failing or passing by which worker ran it).
PEAK_MB = """
def peak_mb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) // 1024
"""

PROBE = PEAK_MB + """
import json, sys
from deploycheck.discovery import targets_for
from deploycheck.verdicts import entry_point, files, readme, security
(t,) = targets_for("bomb", sys.argv[1])
out = {f.__name__: (o.status, o.message) for f, o in (
    (g, g(t)) for g in (entry_point.entry_point_model_fn, entry_point.entry_point_imports, files.files_referenced,
                        readme.readme_instructions, security.security_secrets))}
out["maxrss_mb"] = peak_mb()
print(json.dumps(out))
"""


def test_eight_huge_scripts_cost_the_grader_little_memory(tmp_path):
    d = tmp_path / "repo" / "aws_deploy"
    d.mkdir(parents=True)
    stmts = "x = 1\n" * 200_000                                          # 1.2 MB, 200 000 statements
    (d / "inference.py").write_text("import joblib, os\n\ndef model_fn(model_dir):\n    return joblib.load("
                                    "os.path.join(model_dir, 'model.joblib'))\n" + stmts)
    for i in range(7):
        (d / f"gen{i}.py").write_text(stmts)
    (d / "README.md").write_text("# Deploy\n\n```bash\npython gen0.py\n```\n")
    p = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "repo")], capture_output=True, text=True,
                       cwd=ROOT, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    # without the caps, parsing these files took ~2.6 GB in the grader (issue 10); with them the probe
    # stays near an ordinary grading process (libraries imported: a few hundred MB)
    assert out["maxrss_mb"] < 900, out
    status, msg = out["entry_point_model_fn"]
    assert status == "failed" and "too large to analyse" in msg and "aws_deploy/inference.py" in msg


RSS_PROBE = PEAK_MB + """
import json, os
def pytest_sessionfinish(session):
    with open(os.environ["BOUNDS_RSS_FILE"], "a") as fh:
        # the process's own role (this suite may itself run in an xdist worker, whose
        # PYTEST_XDIST_WORKER the graded run's controller inherits)
        wi = getattr(session.config, "workerinput", None)
        fh.write(json.dumps({"worker": wi["workerid"] if wi else "controller",
                             "maxrss_mb": peak_mb()}) + "\\n")
"""


def _grade_class(room: Path, out: Path, probe: Path) -> tuple[dict, list[dict]]:
    rss = out.parent / f"{out.name}-rss.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{probe}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "BOUNDS_RSS_FILE": str(rss), "DEPLOYCHECK_NO_CACHE": "1"}
    p = subprocess.run([sys.executable, "-m", "pytest", "checks/", "--classroom", str(room), "-n", "2", "--report",
                        str(out), "-p", "no:cacheprovider", "-p", "bounds_rss", "-q", "--no-proof"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert (out / "report.json").is_file(), p.stdout[-3000:] + p.stderr[-3000:]
    doc = json.loads((out / "report.json").read_text())
    return {s["student"]: s for s in doc["students"]}, [json.loads(ln) for ln in rss.read_text().splitlines()]


@pytest.mark.slow
def test_a_repo_of_many_large_scripts_costs_only_its_own_student(tmp_path):
    """Issue 21: 120 scripts, each under the per-file limits and each defining model_fn with one huge
    expression (a syntax tree of ~70 MB each), once took ~10 GB in the xdist worker that analysed them
    (a 2 GB grader lost other students' checks). One budget for the whole repository's analysis: the
    workers stay small, the other students' grades are those they get without it, every check of the
    attacker is recorded, with a note saying what was not analysed."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "bounds_rss.py").write_text(RSS_PROBE)
    room = tmp_path / "room"
    for name in ("complete_aws", "complete_vertex"):
        shutil.copytree(CLASSROOM / name, room / name)
    alone, _ = _grade_class(room, tmp_path / "alone", probe)
    bomb = room / "many_scripts" / "aws_deploy"
    shutil.copytree(CLASSROOM / "complete_aws", bomb.parent)
    body = "def model_fn(model_dir):\n    return f(" + ",".join(["a"] * 190_000) + ")\n"     # 380 KB, 2 lines
    for i in range(120):
        (bomb / f"generated_{i:03d}.py").write_text(body)
    graded, rss = _grade_class(room, tmp_path / "with", probe)
    workers = [r["maxrss_mb"] for r in rss if r["worker"] != "controller"]
    assert len(workers) == 2 and max(workers) < 1000, rss
    assert set(graded) == {"complete_aws", "complete_vertex", "many_scripts"}
    for name in ("complete_aws", "complete_vertex"):
        assert [(c["id"], c["status"], c["score"]) for c in graded[name]["checks"]] == \
            [(c["id"], c["status"], c["score"]) for c in alone[name]["checks"]], name
    attacker = {c["id"]: c for c in graded["many_scripts"]["checks"]}
    assert set(attacker) == {c["id"] for c in graded["complete_aws"]["checks"]}
    assert attacker["entry_point.model_fn"]["status"] == "passed"       # its real inference.py was analysed
    assert any("too large to analyse whole" in n and "generated_" in n for n in graded["many_scripts"]["notes"])
