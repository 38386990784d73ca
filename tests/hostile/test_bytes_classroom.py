"""Bytes, not text, at every boundary: file names that are not UTF-8 (a zip made on Windows, an old
cp1252 tool), control characters in names, READMEs in cp1252 or UTF-16, a latin-1 entry point and a
student folder whose own name is not UTF-8 reach every check, the results cache, the report and the
terminal without an exception. Each such student costs at most one clear note; nobody else is touched.

Before: ``aws_deploy/r\\xe9sultat.png`` gave its student 0/23 ("internal error ... UnicodeEncodeError"
in the cache key), and with ``--no-cache --report`` the run ended in a traceback without report.json
for anyone.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploycheck import files
from deploycheck.report import ReportError, RunMeta, write_all
from deploycheck.report import html as html_writer
from deploycheck.model import CheckResult, StudentResult

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fixtures"))
import build as fixtures_build  # noqa: E402

ODD = b"r\xe9sultat.png"             # "résultat.png" saved in cp1252
STUDENTS = ("alice", "bob", "carol", "dave", "frank", "\udce9mile")


def _put(root: bytes, rel: bytes, data: bytes) -> None:
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as fh:
        fh.write(data)


def build_class(room: Path) -> Path:
    base = fixtures_build.aws_files()
    for name in STUDENTS:
        fixtures_build.write(Path(os.fsdecode(os.path.join(os.fsencode(room), os.fsencode(name)))), base)
    r = os.fsencode(room)
    shot = base["aws_deploy/screenshot.png"]
    assert isinstance(shot, bytes)
    # alice: one extra screenshot whose name is cp1252
    _put(r, b"alice/aws_deploy/" + ODD, shot)
    # carol: her only screenshot has that name, and her README (cp1252 too) links to it
    os.rename(os.path.join(r, b"carol/aws_deploy/screenshot.png"), os.path.join(r, b"carol/aws_deploy/" + ODD))
    readme = os.path.join(r, b"carol/aws_deploy/README.md")
    text = open(readme, "rb").read().replace(b"screenshot.png", ODD)
    _put(r, b"carol/aws_deploy/README.md", text + b"\n\nCaf\xe9 na\xefve \x93test\x94\n")
    # dave: an odd sub-folder and script, escape sequences and a newline in names, a symlink whose
    # target is not UTF-8, a repo-level file of raw bytes
    _put(r, b"dave/aws_deploy/donn\xe9es/x\xff.csv", b"a,b\n1,2\n")
    _put(r, b"dave/aws_deploy/util\xe9.py", b"# caf\xe9\nX = 1\n")
    _put(r, b"dave/aws_deploy/evil\x1b[31mred\x1b[0m.png", b"\x89PNG\r\n\x1a\nnot really a png")
    _put(r, b"dave/aws_deploy/two\nlines.txt", b"hi\n")
    os.symlink(b"/nowhere/\xe9\xff", os.path.join(r, b"dave/aws_deploy/lien\xe9"))
    _put(r, b"dave/notes\xe9.md", b"AKIA\xe9\xff\x00\n")
    # frank: a latin-1 entry point (with its coding cookie: Python, so the container, reads it) and a
    # UTF-16 README with CRLF line ends (Notepad's "Unicode")
    inf = os.path.join(r, b"frank/aws_deploy/inference.py")
    _put(r, b"frank/aws_deploy/inference.py",
         b"# -*- coding: latin-1 -*-\n# mod\xe8le entra\xeen\xe9\n" + open(inf, "rb").read())
    md = open(os.path.join(r, b"frank/aws_deploy/README.md"), "rb").read().decode()
    _put(r, b"frank/aws_deploy/README.md", md.replace("\n", "\r\n").encode("utf-16"))
    return room


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("bytes")
    room = build_class(base / "room")
    env = {**os.environ, "DEPLOYCHECK_CACHE_DIR": str(base / "cache")}
    env.pop("DEPLOYCHECK_NO_CACHE", None)            # the results cache is one of the boundaries
    runs = []
    for n in (1, 2):                                 # 1 fills the results cache, 2 reads it back
        out = base / f"report{n}"
        p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--classroom", str(room), "-n", "2",
                            "--report", str(out)], cwd=base, env=env, capture_output=True, timeout=900)
        runs.append((p, out))
    return runs


def _students(out: Path) -> dict[str, dict]:
    raw = (out / "report.json").read_bytes()
    doc = json.loads(raw.decode("utf-8"))            # strict UTF-8: no escaped byte got through
    return {s["student"]: s for s in doc["students"]}


@pytest.mark.parametrize("run", [0, 1], ids=["fresh", "from-cache"])
def test_every_student_graded_with_no_internal_error(graded, run):
    p, out = graded[run]
    stdout, stderr = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
    assert "Traceback" not in stdout + stderr, stdout[-3000:] + stderr[-3000:]
    students = _students(out)
    assert set(students) == {"alice", "bob", "carol", "dave", "frank", "_mile"}, stdout[-2000:]
    for sid, s in students.items():
        bad = [(c["id"], c["message"]) for c in s["checks"] if c["status"] != "passed"]
        assert not bad, (sid, bad)
        assert s["score"] == s["max_score"] == 23, sid
    assert "internal error" not in json.dumps(students)
    assert p.returncode == 0, stdout[-2000:]
    for name in ("grades.csv", "summary.md", "index.html", *(f"results/{s}.json" for s in students)):
        (out / name).read_bytes().decode("utf-8")
    assert "\x1b" not in stdout                      # the escape sequence in dave's file name never reaches the terminal
    if run == 1:
        assert "reused" in stdout


def test_an_odd_name_costs_one_clear_note(graded):
    students = _students(graded[0][1])
    alice = students["alice"]["notes"]
    assert len(alice) == 1 and "aws_deploy/résultat.png" in alice[0] and "not UTF-8" in alice[0] \
        and "rename" in alice[0], alice
    assert students["carol"]["notes"] and "résultat.png" in students["carol"]["notes"][0]
    dave = " ".join(students["dave"]["notes"])
    assert "aws_deploy/utilé.py" in dave and "données" in dave
    assert not students["bob"].get("notes") and not students["frank"].get("notes")
    assert students["_mile"]["name"] == "émile"      # the folder's name, in its display form


def test_printable():
    assert files.printable("r\udce9sultat.png") == "résultat.png"
    assert files.printable("caf\u00e9 \udc81") == "café \x81"        # not cp1252: latin-1
    assert files.printable("\ud800x") == "\ufffdx"                   # a lone surrogate that is no byte
    plain = "plain ☃ text"
    assert files.printable(plain) is plain
    assert files.printable_data({"k\udce9": ["\udce9", 1, {"x": "\udce9"}]}) == {"ké": ["é", 1, {"x": "é"}]}
    for s in ("a\udcff\udcfeb", "\udce9" * 5):
        files.printable(s).encode("utf-8")


def test_one_failing_writer_never_keeps_report_json_from_anyone(tmp_path, monkeypatch):
    students = [StudentResult(s, f"/r/{s}", "aws", 1.0, 1.0, (CheckResult("readme.present", "passed", 1.0, 1.0),))
                for s in ("a", "b")]

    def boom(*a, **k):
        raise RuntimeError("template exploded")
    monkeypatch.setattr(html_writer, "write", boom)
    with pytest.raises(ReportError, match="index.html: RuntimeError: template exploded"):
        write_all(students, tmp_path, RunMeta())
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [s["student"] for s in doc["students"]] == ["a", "b"]
    assert (tmp_path / "grades.csv").is_file() and (tmp_path / "summary.md").is_file()
