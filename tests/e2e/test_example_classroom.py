"""End to end: grade the built example classroom with the real rubric under xdist and compare
every verdict with the defect each example was built to have."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fixtures"))
import build as fixtures_build  # noqa: E402

EXAMPLES = {e.name: e for e in fixtures_build.EXAMPLES}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("classroom")
    room = fixtures_build.build(base)
    out = base / "report"
    p = subprocess.run([sys.executable, "-m", "pytest", "checks/", "--classroom", str(room), "-n", "2",
                        "--report", str(out), "-p", "no:cacheprovider", "-q", "--no-proof"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert (out / "report.json").is_file(), p.stdout[-3000:] + p.stderr[-3000:]
    doc = json.loads((out / "report.json").read_text())
    return {s["student"]: s for s in doc["students"]}, out, p


def test_every_example_is_graded(graded):
    students, out, p = graded
    assert set(students) == set(EXAMPLES)
    for name in ["report.json", "grades.csv", "summary.md"] + [f"results/{s}.json" for s in EXAMPLES]:
        assert (out / name).is_file()
    # deploycheck's own errors (a container's HTML 500 page in a check's data says "internal error" too)
    assert "internal error" not in json.dumps([[c["message"] for c in s["checks"]] + list(s.get("notes") or [])
                                               for s in students.values()])
    assert p.returncode == 1  # broken examples fail


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_verdicts_match_intended_defect(graded, name):
    s = graded[0][name]
    ex = EXAMPLES[name]
    failed = {c["id"] for c in s["checks"] if c["status"] == "failed"}
    msgs = {c["id"]: c["message"] for c in s["checks"]}
    assert failed == ex.fails, {k: msgs[k] for k in failed ^ ex.fails}
    assert s["platform"] == ex.platform
    for cid in failed:
        assert len(msgs[cid]) > 20, (cid, msgs[cid])


def test_each_check_id_passes_somewhere_and_fails_somewhere(graded):
    students = graded[0]
    statuses: dict[str, set[str]] = {}
    for s in students.values():
        for c in s["checks"]:
            statuses.setdefault(c["id"], set()).add(c["status"])
    for cid, st in statuses.items():
        assert {"passed", "failed"} <= st, (cid, st)


KEY_WORDS = {
    ("no_deploy_folder", "structure.deploy_folder"): ["aws_deploy", "gcp_deploy"],
    ("no_readme", "readme.present"): ["README"],
    ("no_cleanup", "readme.cleanup"): ["delete"],
    ("missing_file", "files.referenced"): ["data/iris.csv"],
    ("no_model_fn", "entry_point.model_fn"): ["model_fn", "inference.py"],
    ("externals_joblib", "entry_point.imports"): ["sklearn.externals", "import joblib"],
    ("no_artifact", "artifact.present"): ["model.tar.gz"],
    ("nested_tar", "artifact.valid"): ["root"],
    ("wrong_filename", "artifact.valid"): ["model.pkl"],
    ("version_mismatch", "artifact.version"): ["0.23", "1.2-1"],
    ("unsafe_pickle", "artifact.safe"): ["system"],
    ("blank_screenshot", "proof.screenshot"): ["blank"],
    ("screenshot_no_prediction", "proof.screenshot"): ["no prediction"],
    ("leaked_secret", "security.secrets"): [".env"],
    ("gcp_two_models", "artifact.valid"): ["model.joblib", "model.pkl"],
    ("near_miss_folder", "structure.deploy_folder"): ["found AWS/", "inference.py defines model_fn", "rename AWS/ to aws_deploy/"],
    ("undefined_joblib", "entry_point.model_fn"): ["`joblib` is used in model_fn", "add `import joblib`"],
    ("own_module_elsewhere", "entry_point.imports"): ["src/preprocessing.py", "source_dir="],
    ("recreate_is_not_cleanup", "readme.cleanup"): ["does not say how to delete"],
    ("uv_runner_missing_script", "files.referenced"): ["package_model.py"],
    ("readme_other_name", "readme.present"): ["aws_deploy/serving_AI.md", "rename it to README.md"],
    ("elastic_beanstalk", "readme.instructions"): ["deploys to AWS Elastic Beanstalk", "not to SageMaker"],
    ("key_in_notebook", "security.secrets"): ["exploration.ipynb"],
    ("gcp_without_folder", "structure.deploy_folder"): ["gcp_deploy"],
    ("empty_repo", "readme.present"): ["blocked by structure.deploy_folder"],
    ("swapped_predict_fn", "entry_point.model_fn"): ["predict_fn", "by position", "def predict_fn(input_data, model):"],
    ("model_in_subfolder", "artifact.valid"): ["model_fn loads model/model.joblib"],
    ("recreate_block_longer", "readme.cleanup"): ["does not say how to delete"],
    ("missing_parent_file", "files.referenced"): ["the repository has no data/iris.csv"],
    ("data_at_repo_root", "files.referenced"): ["outside aws_deploy/: data/iris.csv"],
    ("csv_cli_request_broken", "predict.local"): ["text/csv", "aws sagemaker-runtime invoke-endpoint",
                                                  "could not convert string to float"],
    ("instances_wrapper_fileb", "predict.local"): ["fileb://request.json", '{"instances": [...]}', "input_fn"],
    ("vertex_parameters", "predict.local"): ["parameters", "remove"],
    ("readme_notebook", "readme.present"): ["README.ipynb", "save it as aws_deploy/README.md", "nbconvert"],
    ("own_transformer_class", "artifact.safe"): ["features.ColumnSelector", "your own code", "code/features.py"],
    ("numpy2_model", "artifact.version"): ["saved under numpy 2", "numpy._core", "numpy 1.24.1",
                                           "scikit-learn 1.4.2", 'framework_version="1.4-2-py312"'],
    ("numpy2_model", "predict.local"): ["No module named 'numpy._core') because it was saved under numpy 2",
                                        "once that is fixed it still would not load", "Fix:",
                                        'framework_version="1.4-2-py312"',
                                        'uv pip install --python model-env "scikit-learn==1.2.1" "numpy==1.24.1"'],
}


def test_a_format_mismatch_on_an_assumed_fact_is_noted_and_inconclusive_never_failed(graded):
    """aiplatform_new_joblib: joblib 1.3's aligned arrays on AI Platform 2.11 (joblib 1.1.1 assumed)."""
    checks = {c["id"]: c for c in graded[0]["aiplatform_new_joblib"]["checks"]}
    v, p = checks["artifact.version"], checks["predict.local"]
    assert v["status"] == "passed" and "may not load" in v["message"] and "joblib >= 1.2" in v["message"]
    assert p["status"] == "review" and p["message"].startswith("inconclusive") and "joblib >= 1.2" in p["message"]
    assert "not counted" in p["message"]


def test_blocked_checks_name_their_blocker(graded):
    for name in ("no_deploy_folder", "empty_repo", "gcp_without_folder"):
        s = graded[0][name]
        assert s["score"] == 0, name
        for c in s["checks"]:
            if c["id"] != "structure.deploy_folder" and c["status"] == "failed":
                assert c.get("blocked_by") == "structure.deploy_folder", (name, c)


def test_a_gcp_repo_without_a_folder_is_not_charged_aws_only_checks(graded):
    s = graded[0]["gcp_without_folder"]
    st = {c["id"]: c["status"] for c in s["checks"]}
    assert s["platform"] == "gcp" and st["entry_point.model_fn"] == "skipped"


@pytest.mark.parametrize("name,cid", sorted(KEY_WORDS))
def test_failure_messages_name_the_problem(graded, name, cid):
    msg = next(c["message"] for c in graded[0][name]["checks"] if c["id"] == cid)
    for w in KEY_WORDS[(name, cid)]:
        assert w.lower() in msg.lower(), (w, msg)


def test_secret_value_never_printed(graded):
    students, out, p = graded
    everything = (out / "report.json").read_text() + p.stdout + p.stderr
    assert fixtures_build.FAKE_SECRET not in everything
    assert fixtures_build.FAKE_KEY_ID not in everything


def test_a_pasted_screenshot_is_fetched_or_left_for_review(graded):
    """Issue 21: a README's remote image is fetched by the grader and read; this one (a user-attachments URL
    that exists nowhere, and no network in the test suite) cannot be, so it is for review: no points lost,
    never a pass unread."""
    c = next(c for c in graded[0]["pasted_screenshot"]["checks"] if c["id"] == "proof.screenshot")
    assert c["status"] == "review", c
    assert "github.com/user-attachments/assets/3f6c1a52" in c["message"] and "could not be read" in c["message"]
    assert "your instructor will look at it" in c["message"]


def test_shipped_requirements_are_counted_and_inconclusive_offline(graded):
    """issue 22: a requirements.txt the SDK ships (source_dir, code/ in the archive) provides the
    import for entry_point.imports, and predict.local, which cannot install it offline, is
    inconclusive, never the student's failure."""
    for name in ("requirements_in_source_dir", "requirements_in_archive"):
        st = {c["id"]: c for c in graded[0][name]["checks"]}
        assert st["entry_point.imports"]["status"] == "passed", (name, st["entry_point.imports"]["message"])
        assert st["predict.local"]["status"] == "skipped" and "offline" in st["predict.local"]["message"], name


def test_documented_requests_decide(graded):
    st = {c["id"]: c for c in graded[0]["csv_cli_request"]["checks"]}
    assert "aws sagemaker-runtime invoke-endpoint, text/csv" in st["predict.local"]["message"]


def test_the_report_states_the_machine_facts_that_can_change_a_verdict(graded):
    """A student's CI and the instructor's run that disagree show why in report.json's meta.machine."""
    _students, out, _p = graded
    m = json.loads((out / "report.json").read_text())["meta"]["machine"]
    assert set(m) >= {"deploycheck", "python", "platform", "user", "ocr", "sandbox", "runtimes", "results_cache",
                      "settings"}
    assert m["ocr"].startswith("tesseract ") and m["results_cache"] is False
    assert m["sandbox"] and all(s.startswith("bubblewrap") for s in m["sandbox"])
    assert any(r.startswith("sagemaker-scikit-learn 1.2-1 (Python 3.9") for r in m["runtimes"]), m["runtimes"]


def test_both_platforms_are_graded_and_reported(graded):
    """issue 22: the better platform counts; the other one's checks are in the report too."""
    s = graded[0]["both_platforms"]
    assert s["platform"] == "aws" and set(s["platforms"]) == {"aws", "gcp"}
    gcp = {c["id"]: c for c in s["platforms"]["gcp"]["checks"]}
    assert gcp["readme.cleanup"]["status"] == "failed" and "gcp_deploy/README.md" in gcp["readme.cleanup"]["message"]
    page = (graded[1] / "index.html").read_text()
    assert "gcp: " in page and "not counted; failed: readme.cleanup" in page



def test_review_verdicts_are_counted_and_listed_apart_in_every_output(graded):
    """Issue 23: the class run's real review verdicts (an unreadable pasted screenshot, a model the image
    may not load) keep their points and appear apart, never as failures, in the terminal, report.json,
    grades.csv, review.csv, summary.md, Gradescope's results and the class page (its "needs review"
    filter, each item with its screenshot and the override to paste)."""
    import csv
    import html
    import io
    import tomllib
    from deploycheck import overrides
    students, out, p = graded
    want = {"pasted_screenshot": "proof.screenshot", "aiplatform_new_joblib": "predict.local"}
    for sid, cid in want.items():
        s = students[sid]
        c = next(c for c in s["checks"] if c["id"] == cid)
        assert c["status"] == "review" and c["score"] == c["max_score"] > 0, c
        assert s["review"] == [cid] and s["score"] == s["max_score"] and "fix_first" not in s, sid
    assert {sid for sid, s in students.items() if s.get("review")} == set(want)
    # terminal: pytest's summary counts them apart, deploycheck's table lists them, never as failing
    assert ", 2 review in " in p.stdout, p.stdout[-1500:]
    for sid, cid in want.items():
        line = next(ln for ln in p.stdout.splitlines() if ln.startswith(sid + " "))
        assert f"no failing check; 1 to review ({cid})" in line, line
        assert "FAILED checks/" not in "\n".join(ln for ln in p.stdout.splitlines() if f"[{sid}]" in ln)
    grades = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text(), newline=""))}
    rows = list(csv.DictReader(io.StringIO((out / "review.csv").read_text(encoding="utf-8"), newline="")))
    assert sorted((r["student"], r["check"]) for r in rows) == sorted(want.items())
    md = (out / "summary.md").read_text()
    page = html.unescape((out / "index.html").read_text())
    for sid, cid in want.items():
        g = grades[sid]
        assert g["review"] == cid and g[cid] == fmt_points(students[sid], cid) and g["score"] == g["max_score"], g
        r = next(r for r in rows if r["student"] == sid)
        assert overrides.parse(tomllib.loads(r["override"])).get(sid, cid).status == "passed"   # pastes as is
        assert f"| {sid} | {students[sid]['platform']} | 23/23 (1 to review) | — |" in md
        assert f"- {sid}: `{cid}`:" in md.split("### Awaiting instructor review")[1]
        gs = json.loads((out / "results" / f"{sid}.json").read_text())
        assert f"Awaiting your instructor's review (no points lost): {cid}" in gs["output"]
        t = next(t for t in gs["tests"] if t["name"] == f"(to review) {cid}")
        assert t["status"] == "passed" and t["score"] == t["max_score"] > 0
        assert not any(t["status"] == "failed" for t in gs["tests"]), sid
        assert f'data-student="{sid}" data-failing="" data-review="{cid}"' in page
        assert f"<strong>Needs review:</strong> <code>{cid}</code>" in page and r["override"] in page
    assert 'id="only-review"' in page and "2 checks to review" in page
    assert "remote image (not loaded): https://github.com/user-attachments/assets/3f6c1a52" in page


def fmt_points(s: dict, cid: str) -> str:
    v = next(c["score"] for c in s["checks"] if c["id"] == cid)
    return str(int(v)) if float(v).is_integer() else str(v)
