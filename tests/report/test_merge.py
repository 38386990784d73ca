"""`deploycheck merge`: shard reports -> one gradebook, equal to an unsharded run."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploycheck.report import merge

ROOT = Path(__file__).resolve().parent.parent.parent
PY = ROOT / ".venv" / "bin" / "python"
PY = PY if PY.exists() else Path(sys.executable)


def _student(sid, score=1, status="passed"):
    return {"student": sid, "repo": f"/r/{sid}", "platform": "aws", "score": score, "max_score": 1,
            "checks": [{"id": "structure.deploy_folder", "status": status, "score": score, "max_score": 1,
                        "message": "m"}]}


def _write_shard(d, students, shard, **meta):
    d.mkdir(parents=True)
    (d / "report.json").write_text(json.dumps({"students": students,
                                               "meta": {"shard": shard, "started": 10.0, "finished": 20.0, **meta}}))
    return d


CLASS = ["amy", "bob", "cat", "zoe"]


def test_merge_writes_every_gradebook_file_and_copies_proof(tmp_path):
    a = _write_shard(tmp_path / "a", [_student("zoe"), _student("amy")], "1/2", run_id="r")
    b = _write_shard(tmp_path / "b", [_student("bob", 0, "failed")], "2/2", run_id="r")
    (a / "proof" / "zoe").mkdir(parents=True)
    (a / "proof" / "zoe" / "aws-local.png").write_bytes(b"png")
    (a / "proof" / "zoe" / "link.png").symlink_to("/etc/passwd")       # never copied
    out, warnings, n = merge.merge(tmp_path / "out", [a, b], merge.ReportOptions(canvas=True))
    assert n == 3 and warnings == [      # no roster with Canvas ids: Canvas can match these rows only by name
        "canvas.csv: 3 of 3 students have no Canvas ID, SIS User ID or SIS Login ID (amy, bob, zoe): Canvas's grade "
        "import can match them only by their name, and asks you to match by hand each name it does not find; add "
        "the ID (or SIS Login ID) column of Canvas's gradebook export to the --roster file"]
    doc = json.loads((out / "report.json").read_text())
    assert [s["student"] for s in doc["students"]] == ["amy", "bob", "zoe"]
    assert doc["meta"]["merged_from"] == [str(a), str(b)] and doc["meta"]["run_id"] == "r"
    for f in ["grades.csv", "summary.md", "index.html", "canvas.csv", "results/amy.json", "results/bob.json"]:
        assert (out / f).is_file(), f
    assert (out / "proof" / "zoe" / "aws-local.png").read_bytes() == b"png"
    assert not (out / "proof" / "zoe" / "link.png").exists()


def test_missing_or_overlapping_shards_fail_naming_them(tmp_path, capsys):
    a = _write_shard(tmp_path / "a", [_student("amy"), _student("cat")], "1/3", class_students=CLASS)
    b = _write_shard(tmp_path / "b", [_student("amy", 0, "failed")], "3/3", class_students=CLASS)
    assert merge.main([str(tmp_path / "out"), str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "amy is in both" in err and "shard 2/3 missing" in err and "bob, zoe" in err and "--allow-partial" in err
    assert not (tmp_path / "out" / "report.json").exists()
    # --allow-partial writes the gradebook and says who is missing
    assert merge.main([str(tmp_path / "out"), str(a), str(b), "--allow-partial", "--canvas"]) == 0
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    by = {s["student"]: s for s in doc["students"]}
    assert doc["meta"]["missing_students"] == ["bob", "zoe"] and doc["meta"]["missing_shards"] == ["2/3"]
    assert "shard report is missing" in by["bob"]["error"] and by["amy"]["score"] == 1     # the first one kept
    assert "bob" in (tmp_path / "out" / "canvas.csv").read_text()
    assert "not graded: this student's shard report is missing" in (tmp_path / "out" / "summary.md").read_text()


def test_complete_shards_merge_in_class_order(tmp_path):
    a = _write_shard(tmp_path / "a", [_student("amy"), _student("cat")], "1/2", class_students=CLASS)
    b = _write_shard(tmp_path / "b", [_student("bob"), _student("zoe")], "2/2", class_students=CLASS)
    _, warnings, n = merge.merge(tmp_path / "out", [b, a])
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert warnings == [] and n == 4 and [s["student"] for s in doc["students"]] == CLASS


def test_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert merge.main([str(tmp_path / "out"), str(tmp_path / "empty")]) == 2
    assert "no report.json" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_text("{not json")
    assert merge.main([str(tmp_path / "out"), str(tmp_path / "bad")]) == 2
    assert "not a readable report.json" in capsys.readouterr().err


# ---------------------------------------------------------------- sharded == unsharded, for real

EXAMPLES = ["complete_aws", "complete_vertex", "no_deploy_folder", "no_readme", "externals_joblib"]
VOLATILE = re.compile(r"latency|elapsed|duration|seconds|time|started|finished|_ms$|_s$|^when$", re.I)


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items() if not VOLATILE.search(k)}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, str):
        return re.sub(r"\d+(\.\d+)?\s*(ms|s)\b", "<t>", x)
    return x


def _normal(doc):
    return sorted((_clean({k: v for k, v in s.items()}) for s in doc["students"]), key=lambda s: s["student"])


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "fixtures"))
    try:
        import build as fixtures_build
    finally:
        sys.path.pop(0)
    room = tmp_path_factory.mktemp("room") / "classroom"
    by_name = {e.name: e for e in fixtures_build.EXAMPLES}
    for name in EXAMPLES:
        fixtures_build.write(room / name, by_name[name].build())
    return room


@pytest.mark.slow
def test_three_shards_merged_equal_one_unsharded_run(classroom, tmp_path):
    runs = {"full": []} | {f"shard_{k}": ["--shard", f"{k}/3"] for k in (1, 2, 3)}
    procs = {}
    for name, extra in runs.items():
        procs[name] = subprocess.Popen(
            [str(PY), "-m", "pytest", "checks/", "--classroom", str(classroom), *extra,
             "--report", str(tmp_path / name), "-p", "no:cacheprovider", "-q"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for name, p in procs.items():
        out, _ = p.communicate(timeout=600)
        assert p.returncode in (0, 1), out[-3000:]
        assert (tmp_path / name / "report.json").is_file(), out[-3000:]
    shards = [tmp_path / f"shard_{k}" for k in (1, 2, 3)]
    sizes = [len(json.loads((d / "report.json").read_text())["students"]) for d in shards]
    assert sorted(sizes) == [1, 2, 2]                        # really sharded: 5 students over 3 slices

    p = subprocess.run([str(PY), "-m", "deploycheck.cli", "merge", str(tmp_path / "merged"), *map(str, shards)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "5 students" in p.stdout

    full = json.loads((tmp_path / "full" / "report.json").read_text())
    merged = json.loads((tmp_path / "merged" / "report.json").read_text())
    m, f = _normal(merged), _normal(full)
    assert [s["student"] for s in m] == [s["student"] for s in f]
    for ms, fs in zip(m, f):
        diff = {c["id"]: (c, d) for c, d in zip(ms.pop("checks"), fs.pop("checks")) if c != d}
        assert diff == {} and ms == fs, (ms["student"], diff)
    assert [s["student"] for s in merged["students"]] == sorted(EXAMPLES)
    assert merged["meta"]["shards"] == ["1/3", "2/3", "3/3"]
    # the same proof screenshots end up in the merged report
    pngs = lambda d: sorted(p.relative_to(d).as_posix() for p in (d / "proof").rglob("*.png")) if (d / "proof").is_dir() else []
    assert pngs(tmp_path / "merged") == pngs(tmp_path / "full")
    assert (tmp_path / "merged" / "index.html").is_file()
    assert (tmp_path / "merged" / "grades.csv").read_text() == (tmp_path / "full" / "grades.csv").read_text()


def test_a_merge_keeps_review_items_apart_with_their_screenshot(tmp_path):
    """Issue 23 across shards: a check awaiting review stays `review` (points kept) in the merged
    report.json, grades.csv, review.csv and the class page, whose review item shows the student's
    screenshot copied by the shard (the repo is on another machine) and its OCR text."""
    import csv
    import html
    import io
    rita = {"student": "rita", "repo": "/elsewhere/rita", "platform": "aws", "score": 1, "max_score": 1,
            "checks": [{"id": "proof.screenshot", "status": "review", "score": 1, "max_score": 1,
                        "message": "OCR could not read the output with confidence",
                        "screenshot": {"path": "aws_deploy/p.png", "ocr_text": "array([@, 2])"}}]}
    a = _write_shard(tmp_path / "a", [rita], "1/2", run_id="r")
    b = _write_shard(tmp_path / "b", [_student("bob", 0, "failed")], "2/2", run_id="r")
    (a / "proof" / "rita").mkdir(parents=True)
    (a / "proof" / "rita" / "own-p.png").write_bytes(b"png")
    out, _warnings, n = merge.merge(tmp_path / "out", [a, b], merge.ReportOptions())
    doc = {s["student"]: s for s in json.loads((out / "report.json").read_text())["students"]}
    assert doc["rita"]["review"] == ["proof.screenshot"] and doc["rita"]["score"] == 1 and "review" not in doc["bob"]
    grades = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text(), newline=""))}
    assert grades["rita"]["review"] == "proof.screenshot" and grades["rita"]["proof.screenshot"] == "1"
    rows = list(csv.DictReader(io.StringIO((out / "review.csv").read_text(), newline="")))
    assert [(r["student"], r["check"], r["ocr_text"]) for r in rows] == [("rita", "proof.screenshot", "array([@, 2])")]
    page = html.unescape((out / "index.html").read_text())
    item = page.split('<div class="review-item">')[1].split('<div class="shots">')[0]
    assert 'src="proof/rita/own-p.png"' in item and "array([@, 2])" in item and 'student = "rita"' in item
