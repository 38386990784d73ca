"""Integrity signals across a class (issue 26): two students who hand in the same archive and
screenshot are flagged to each other with the evidence, an independent student is not, a class that
shares the course's starter files is not flooded with pairs, the signals travel through a shard's
report to ``deploycheck merge``, and no point depends on them."""
from __future__ import annotations

import io
import json
import pickle
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fixtures"))
sys.path.insert(0, str(Path(__file__).parent))

from fakechecks import README_PRESENT  # noqa: E402

from deploycheck.analysis import fingerprint  # noqa: E402
from deploycheck.analysis.pickles import scan_pickle  # noqa: E402
from deploycheck.classroom import integrity  # noqa: E402
from deploycheck.discovery import load_submission  # noqa: E402

pytest_plugins = ["pytester"]

N = 12
COPIED, COPIER = 3, 7          # student007 hands in student003's deploy folder


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    import integrity_class
    return integrity_class.build(tmp_path_factory.mktemp("integrity") / "room", N, [(COPIED, COPIER)])


def _name(i: int) -> str:
    return f"student{i:03d}"


def _prints(room: Path) -> list[fingerprint.Fingerprint]:
    return [fingerprint.of_submission(load_submission(p.name, str(p))) for p in sorted((room / "class").iterdir())]


def _model(seed_rows: int = 150):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = load_iris(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[:seed_rows], y[:seed_rows])


def _joblib(obj, **kw) -> bytes:
    import joblib
    buf = io.BytesIO()
    joblib.dump(obj, buf, **kw)
    return buf.getvalue()


def test_fitted_parameters_are_read_without_loading_and_survive_repickling():
    m = _model()
    forms = [pickle.dumps(m, 2), pickle.dumps(m, 4), pickle.dumps(m, 5), _joblib(m), _joblib(m, compress=3)]
    digests = {scan_pickle(b).params for b in forms}
    assert len(digests) == 1 and None not in digests
    m.set_params(logisticregression__n_jobs=3)                       # a hyper-parameter, not a fitted one
    assert scan_pickle(_joblib(m)).params in digests
    assert scan_pickle(_joblib(_model(140))).params not in digests   # fitted on other rows
    from sklearn.linear_model import LogisticRegression
    assert scan_pickle(pickle.dumps(LogisticRegression(), 4)).params is None   # nothing fitted: no signal
    # random forests: each tree's nodes count (they are not "fitted attributes" by name)
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier
    X, y = load_wine(return_X_y=True)
    a, b = (scan_pickle(_joblib(RandomForestClassifier(n_estimators=5, random_state=s).fit(X, y))).params for s in (0, 1))
    assert a and b and a != b


def test_hostile_pickles_never_raise():
    deep = b"\x80\x04" + b"]" * 3000 + b"." + b""              # 3000 nested lists, unterminated appends
    for data in (deep, b"\x80\x04(" * 5000 + b".", b"\x80\x04B\xff\xff\xff\x7f"):
        scan = scan_pickle(data)
        assert scan.params is None


def test_copied_archive_and_screenshot_are_flagged_with_the_evidence_and_nobody_else(klass):
    prints = _prints(klass)
    res = integrity.compare(prints, integrity.starter_print(klass / "starter"))
    assert list(res.pairs) == [(_name(COPIED), _name(COPIER))]
    ev = res.pairs[(_name(COPIED), _name(COPIER))]
    kinds = {e.kind for e in ev}
    assert {"archive", "fitted_model", "screenshot", "readme"} <= kinds, ev
    shot = next(e for e in ev if e.kind == "screenshot")
    # the copy was re-compressed as JPEG, scaled and cropped: near-identical, not the same bytes
    assert shot.mine.endswith(f"{_name(COPIED)}-prediction.png") and shot.theirs.endswith(f"{_name(COPIER)}-prediction.jpg")
    assert "near-identical screenshots" in shot.text
    arch = [e for e in ev if e.kind == "archive"]
    assert {e.mine for e in arch} == {"aws_deploy/model.tar.gz", "aws_deploy/model.joblib"}
    # each student's view in report.json's shape
    mine = res.of(_name(COPIER))
    assert [p["with"] for p in mine] == [_name(COPIED)]
    assert {"kind", "mine", "theirs", "text"} <= set(mine[0]["evidence"][0])
    assert res.of(_name(4)) == []


def test_a_class_sharing_the_starter_files_is_not_flooded(klass):
    prints = [p for p in _prints(klass) if p.student != _name(COPIER)]          # independent students only
    assert integrity.compare(prints, integrity.starter_print(klass / "starter")).pairs == {}
    # without --starter what all of them share (the template README, inference.py) is common, not pairs
    res = integrity.compare(prints, None)
    assert res.pairs == {}
    # and the starter's own files are never evidence, however few students keep them
    two = [p for p in prints if p.student in (_name(0), _name(1))]
    assert integrity.compare(two, integrity.starter_print(klass / "starter")).pairs == {}


def test_a_screenshot_of_the_same_page_is_not_a_copy(klass):
    """Two students' terminals running the lab's command look alike to any image hash: only the names
    and values they show tell them apart."""
    prints = {p.student: p for p in _prints(klass)}
    a, b = prints[_name(0)].shots[0], prints[_name(3)].shots[0]
    assert integrity._shot_distance(a, b) <= integrity.SHOT_BITS          # the picture alone cannot tell
    assert not integrity._shots_match(a, b, set(), set())[0]


FAKE_CHECKS = README_PRESENT


def test_report_json_class_page_and_merge_across_shards(pytester, klass, tmp_path):
    room = tmp_path / "room"
    for i in (COPIED, 4, COPIER):
        shutil.copytree(klass / "class" / _name(i), room / _name(i))
    pytester.makepyfile(test_fake_checks=FAKE_CHECKS)
    env = ["-p", "no:cacheprovider", "--classroom", str(room), "--starter", str(klass / "starter")]
    out = tmp_path / "whole"
    res = pytester.runpytest_subprocess(*env, "--report", str(out))
    assert res.ret == 0, res.stdout.str() + res.stderr.str()
    doc = json.loads((out / "report.json").read_text())
    by = {s["student"]: s for s in doc["students"]}
    assert [p["with"] for p in by[_name(COPIER)]["integrity"]] == [_name(COPIED)]
    assert by[_name(4)]["integrity"] == []
    assert all(s["score"] == s["max_score"] for s in doc["students"])            # no point depends on it
    assert doc["meta"]["integrity"]["pairs"] == 1 and doc["meta"]["integrity"]["starter"] is True
    page = (out / "index.html").read_text()
    assert "Integrity signals: 1 pair of 3 students" in page and "near-identical screenshots" in page
    assert f"proof/{_name(COPIED)}/evidence-{_name(COPIED)}-prediction.png" in page
    assert (out / f"proof/{_name(COPIER)}/evidence-{_name(COPIER)}-prediction.jpg").is_file()
    # three shards, one student each: only the merge sees the pair
    shards = []
    for k in (1, 2, 3):
        d = tmp_path / f"shard{k}"
        r = pytester.runpytest_subprocess(*env, "--shard", f"{k}/3", "--report", str(d))
        assert r.ret == 0, r.stdout.str() + r.stderr.str()
        sdoc = json.loads((d / "report.json").read_text())
        assert all(s["integrity"] == [] for s in sdoc["students"]) and sdoc["meta"]["integrity"]["scope"]
        shards.append(d)
    from deploycheck.report.merge import main as merge_main
    assert merge_main([str(tmp_path / "book"), *map(str, shards)]) == 0
    book = json.loads((tmp_path / "book" / "report.json").read_text())
    mby = {s["student"]: s for s in book["students"]}
    assert [p["with"] for p in mby[_name(COPIED)]["integrity"]] == [_name(COPIER)]
    assert book["meta"]["integrity"]["pairs"] == 1
    assert "Integrity signals: 1 pair" in (tmp_path / "book" / "index.html").read_text()
