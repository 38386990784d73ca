"""Job preparation on the grader side: bounded private copies and safe extraction."""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from deploycheck.sandbox import jobs


def test_copy_is_bounded_and_skips_links_and_specials(tmp_path):
    src = tmp_path / "src"
    (src / ".git").mkdir(parents=True)
    (src / ".git" / "config").write_text("[remote] url = https://TOKEN@x")
    for i in range(5):
        (src / f"f{i}.txt").write_text("x" * 10)
    (src / "link").symlink_to("/etc/passwd")
    (src / "ldir").symlink_to("/etc")
    os.mkfifo(src / "fifo")
    files, total, notes = jobs.copy_folder(src, tmp_path / "dst", max_files=3)
    assert files == 3 and total == 30 and len(notes) == 2
    assert sorted(os.listdir(tmp_path / "dst")) == ["f0.txt", "f1.txt", "f2.txt"]
    assert oct((tmp_path / "dst" / "f0.txt").stat().st_mode & 0o777) == "0o644"


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tf:
        for name, data, kind in members:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(data)
                ti.mode = 0o600
                tf.addfile(ti, io.BytesIO(data))
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tf.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                tf.addfile(ti)
            elif kind == "dev":
                ti.type = tarfile.CHRTYPE
                tf.addfile(ti)
    return path


@pytest.mark.parametrize("use_filter", [True, False])
def test_extraction_keeps_files_and_drops_links(tmp_path, use_filter):
    tp = _tar(tmp_path / "m.tar.gz", [("model.joblib", b"m", "file"), ("code/inference.py", b"x", "file"),
                                       ("evil", "/etc/passwd", "sym"), ("hard", "model.joblib", "hard"),
                                       ("null", b"", "dev")])
    files, total = jobs.extract_archive(tp, tmp_path / "out", use_filter=use_filter)
    assert (files, total) == (2, 2)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["code", "inference.py", "model.joblib"]
    assert oct((tmp_path / "out" / "model.joblib").stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("use_filter", [True, False])
def test_extraction_limits(tmp_path, monkeypatch, use_filter):
    monkeypatch.setattr(jobs, "TAR_MEMBERS", 3)
    tp = _tar(tmp_path / "m.tar.gz", [(f"f{i}", b"x", "file") for i in range(5)])
    with pytest.raises(jobs.ExtractError, match="too large"):
        jobs.extract_archive(tp, tmp_path / "out", use_filter=use_filter)


def test_not_an_archive(tmp_path):
    (tmp_path / "m.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(jobs.ExtractError):
        jobs.extract_archive(tmp_path / "m.tar.gz", tmp_path / "out")


def test_oldest_python_without_filters(tmp_path):
    """Debian 12's python3 (3.11.2) has no extraction filters: the validated path is used there."""
    py = "/usr/bin/python3"
    if not os.path.exists(py):
        pytest.skip("no /usr/bin/python3")
    tp = _tar(tmp_path / "m.tar.gz", [("model.joblib", b"m", "file"), ("../x", b"x", "file")])
    ok = _tar(tmp_path / "ok.tar.gz", [("model.joblib", b"m", "file"), ("l", "/etc", "sym")])
    root = str(Path(jobs.__file__).resolve().parents[2])
    code = ("import sys, tarfile; sys.path.insert(0, %r)\n"
            "import importlib.util as u\n"
            "spec = u.spec_from_file_location('jobs', %r); jobs = u.module_from_spec(spec); sys.modules['jobs'] = jobs; spec.loader.exec_module(jobs)\n"
            "print(jobs.HAS_DATA_FILTER, jobs.extract_archive(__import__('pathlib').Path(%r), __import__('pathlib').Path(%r)))\n"
            "try:\n    jobs.extract_archive(__import__('pathlib').Path(%r), __import__('pathlib').Path(%r))\n"
            "except jobs.ExtractError as e:\n    print('refused', e)\n"
            % (root, jobs.__file__, str(ok), str(tmp_path / "o1"), str(tp), str(tmp_path / "o2")))
    out = subprocess.run([py, "-I", "-c", code], capture_output=True, text=True, check=True).stdout
    has_filter = subprocess.run([py, "-c", "import tarfile; print(hasattr(tarfile, 'data_filter'))"],
                                capture_output=True, text=True).stdout.strip()
    assert out.splitlines()[0] == f"{has_filter} (1, 1)"
    assert "refused" in out and "outside" in out
    assert not (tmp_path / "x").exists()
