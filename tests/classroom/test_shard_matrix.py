"""The class matrix on deploycheck's own flags (issue 26): each ``--shard K/N`` run lists the whole
roster, clones only its own slice, reports a repo it cannot fetch as "not graded" (never a zero),
and ``deploycheck merge`` joins the shards into one gradebook with every student."""
from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakechecks import README_PRESENT  # noqa: E402
from gitrepos import make_repo  # noqa: E402

from deploycheck.classroom import list_refs, resolve_sources, shard_refs  # noqa: E402

pytest_plugins = ["pytester"]

FAKE_CHECKS = README_PRESENT

STUDENTS = ["amy", "bob", "cat", "dan", "eve"]


@pytest.fixture
def roster(tmp_path):
    src = tmp_path / "github"
    rows = []
    for name in STUDENTS:
        if name != "dan":                                      # dan's repository was never pushed
            make_repo(src / name, [("2024-04-28T10:00:00+02:00", {"aws_deploy/README.md": f"# {name}"})])
        rows.append((name, (src / name).as_uri()))
    path = tmp_path / "roster.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "url"])
        w.writerows(rows)
    return path


def _cloned(cache: Path) -> set[str]:
    # clone folders are named <host_path>-<hash> (deploycheck.classroom.git.cache_key): ..._github_amy-1a2b3c4d5e
    return {p.name.rsplit("-", 1)[0].rsplit("_", 1)[-1] for p in cache.iterdir() if p.is_dir()} if cache.exists() else set()


def test_each_shard_clones_only_its_slice_and_the_slices_partition_the_class(roster, tmp_path):
    listed, _w = list_refs([], None, [str(roster)])
    everyone = sorted(r.student for r in listed)
    assert everyone == STUDENTS
    seen: list[str] = []
    for k in (1, 2):
        cache = tmp_path / f"cache{k}"
        refs, _w, cloned = resolve_sources([], None, [str(roster)], clone_dir=cache, shard=(k, 2))
        mine = [r.student for r in refs]
        assert mine == [r.student for r in shard_refs(listed, (k, 2))]
        seen += mine
        # only this slice's repos were cloned (dan's clone failed, so it left nothing)
        assert _cloned(cache) == {s for s in mine if s != "dan"}
        for r in refs:
            assert (r.error is not None) == (r.student == "dan")
            if r.error:
                assert r.error.startswith("could not fetch the repository") and r.path == ""
    assert sorted(seen) == everyone                        # every student in exactly one shard


def test_matrix_shards_merge_into_one_gradebook_with_the_failed_clone_not_graded(pytester, roster, tmp_path):
    pytester.makepyfile(test_fake_checks=FAKE_CHECKS)
    shards = []
    for k in (1, 2):
        out = tmp_path / f"shard{k}"
        res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--roster", str(roster), "--shard", f"{k}/2",
                                            "--clone-dir", str(tmp_path / f"cache{k}"), "--report", str(out))
        assert res.ret in (0, 1), res.stdout.str() + res.stderr.str()
        doc = json.loads((out / "report.json").read_text())
        assert doc["meta"]["shard"] == f"{k}/2" and doc["meta"]["class_students"] == STUDENTS
        shards.append(out)
    from deploycheck.report.merge import main as merge_main
    assert merge_main([str(tmp_path / "book"), *map(str, shards)]) in (0, 1)
    doc = json.loads((tmp_path / "book" / "report.json").read_text())
    by = {s["student"]: s for s in doc["students"]}
    assert sorted(by) == STUDENTS
    assert by["dan"]["error"].startswith("could not fetch the repository") and by["dan"]["checks"] == []
    assert all(by[s]["score"] == by[s]["max_score"] > 0 for s in STUDENTS if s != "dan")
    with open(tmp_path / "book" / "grades.csv", newline="") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert rows["dan"]["score"] == "" and rows["dan"]["error"].startswith("could not fetch")   # not graded, no zero
    assert rows["amy"]["score"] not in ("", "0")


def test_shard_option_is_validated(pytester, roster):
    pytester.makepyfile(test_fake_checks=FAKE_CHECKS)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--roster", str(roster), "--shard", "3/2")
    assert res.ret == 4 and "--shard 3/2: K must be between 1 and N" in res.stderr.str()
    assert os.path.exists(roster)
