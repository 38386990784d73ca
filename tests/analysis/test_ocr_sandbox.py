"""The OCR reader as the world sees it: it runs in the sandbox (what a fake Tesseract started by it sees and
can do), its limits (a wall clock that leaves no process, a CPU limit whose outcome is cached), the noise
image that used to keep Tesseract busy for minutes, and the library and the program reading alike."""
import io
import os
import stat
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from deploycheck import sandbox
from deploycheck.analysis import ocr

needs_sandbox = pytest.mark.skipif(not sandbox.isolation().sandboxed, reason="no sandbox on this machine")

SPY_TESSERACT = """#!/bin/sh
# a stand-in for tesseract: answers the probes, then "reads" what it sees of the world as TSV words
case "$1" in
  --version) echo "tesseract 5.3.0"; exit 0;;
  --list-langs) printf 'List of available languages (1):\\neng\\n'; exit 0;;
esac
word() { printf '5\\t1\\t1\\t1\\t%s\\t1\\t10\\t10\\t50\\t20\\t96\\t%s\\n' "$1" "$2"; }
printf 'level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\twidth\\theight\\tconf\\ttext\\n'
n=1
for v in AWS_SECRET_ACCESS_KEY GOOGLE_APPLICATION_CREDENTIALS PYTHONPATH PYTHONSTARTUP HOME; do
  eval "val=\\${$v-unset}"; word $n "$v=$val"; n=$((n+1))
done
word $n "hostname=$(cat /proc/sys/kernel/hostname)"; n=$((n+1))
word $n "interfaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,)"; n=$((n+1))
if touch "$SPY_DIR/written" 2>/dev/null; then word $n "wrote=yes"; else word $n "wrote=no"; fi; n=$((n+1))
word $n "ulimit_t=$(ulimit -t)"; n=$((n+1))
word $n "ulimit_c=$(ulimit -c)"; n=$((n+1))
word $n "args=$(echo "$*" | tr ' ' _)"
"""


def _fake(tmp_path, script: str) -> str:
    fake = tmp_path / "bin" / "tesseract"
    fake.parent.mkdir()
    fake.write_text(script.replace("$SPY_DIR", str(tmp_path)))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for d in (tmp_path, fake.parent):
        d.chmod(0o755)
    return str(fake)


def _screenshot(n: int = 0) -> bytes:
    img = Image.new("RGB", (800, 450), "white")
    ImageDraw.Draw(img).text((20, 20 + n), "predictor.predict(rows)", fill="black")
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()


@pytest.fixture
def spy_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPLOYCHECK_OCR", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "sa.json"))
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"open({str(tmp_path / 'sitecustomize-ran')!r}, 'w').write('ran')\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("PYTHONSTARTUP", str(site / "sitecustomize.py"))
    return tmp_path


@needs_sandbox
def test_the_reader_runs_in_the_sandbox(spy_env, monkeypatch):
    """Tesseract (and the job that decodes the image) run inside the sandbox: none of the grader's
    credentials or Python settings, no network but loopback, nothing outside written, the job's CPU limit
    and no core dumps."""
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", _fake(spy_env, SPY_TESSERACT))
    eng = ocr.engine()
    assert eng.available and eng.name == "tesseract", eng.detail
    doc, cached, _ = ocr.read_image(_screenshot(), eng)
    assert not cached and doc.get("read_by") == "tesseract", doc
    seen = dict(w.split("=", 1) for w in doc["text"].split())
    assert seen["AWS_SECRET_ACCESS_KEY"] == "unset" and seen["GOOGLE_APPLICATION_CREDENTIALS"] == "unset"
    assert seen["PYTHONPATH"] == "unset" and seen["PYTHONSTARTUP"] == "unset"
    assert seen["hostname"] == "sandbox" and seen["interfaces"] in ("lo,", "")
    assert not (spy_env / "written").exists()
    assert ocr.CPU_SECONDS <= int(seen["ulimit_t"]) <= ocr.CPU_SECONDS + 2 and seen["ulimit_c"] == "0"
    assert "--psm_6" in seen["args"]
    assert not (spy_env / "sitecustomize-ran").exists(), "the grader's PYTHONPATH reached the OCR job"


ROOT = Path(__file__).resolve().parents[2]


@needs_sandbox
@pytest.mark.parametrize("who", ["root", "nobody"])
def test_the_reader_runs_in_the_sandbox_as_root_and_as_a_user(who):
    """The same from a grader that is root and from one that is an ordinary user (nobody): the OCR job
    sees none of the grader's secrets, no network, cannot write the grader's files; noise is not read."""
    import json
    import shutil
    import subprocess
    import sys
    import tempfile
    if who == "nobody" and os.geteuid() != 0:
        pytest.skip("switching to nobody needs the suite to run as root")
    from tests.world import as_nobody
    base = Path(tempfile.mkdtemp(prefix="ocr-probe-", dir="/tmp"))      # traversable by nobody
    try:
        os.chmod(base, 0o777)
        fake = _fake(base, SPY_TESSERACT)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(base),
               "DEPLOYCHECK_TESSERACT": fake, "DEPLOYCHECK_CACHE_DIR": str(base / "cache"),
               "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
        argv = [sys.executable, str(ROOT / "tests" / "analysis" / "ocr_probe.py"), str(ROOT)]
        if who == "nobody":
            os.chmod(base, 0o777)
            argv = as_nobody(argv, base / "stage", (str(ROOT),))
        p = subprocess.run(argv, env=env, cwd=str(base), capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr[-3000:]
        res = json.loads(p.stdout.strip().splitlines()[-1])
        assert res["euid"] == (0 if who == "root" else 65534)
        seen = dict(w.split("=", 1) for w in res["spy"].split())
        assert seen["AWS_SECRET_ACCESS_KEY"] == "unset" and seen["hostname"] == "sandbox"
        assert seen["interfaces"] in ("lo,", "") and not (base / "written").exists()   # (a write, if any, stayed inside)
        assert res["noise"] == "noise"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@needs_sandbox
def test_an_ordinary_user_reads_a_screenshot_as_root_does():
    """The real reader (Tesseract's library or program and its English data, Pillow, the preparation of a
    dark terminal screenshot), started by a grader that is an ordinary user (nobody, with only its own
    cache and the checkout readable), reads a realistic screenshot to the same text, classification and
    values as root's: the same verdict on every machine."""
    import importlib.util
    import shutil
    import sys
    import tempfile
    from tests.world import probe_as
    spec = importlib.util.spec_from_file_location("fixture_screenshots", ROOT / "fixtures" / "screenshots.py")
    scenes = sys.modules.setdefault("fixture_screenshots", importlib.util.module_from_spec(spec))
    if not hasattr(scenes, "SCENES"):
        spec.loader.exec_module(scenes)
    base = Path(tempfile.mkdtemp(prefix="ocr-probe-", dir="/tmp"))      # traversable by nobody
    try:
        os.chmod(base, 0o755)
        image = base / "proof.png"
        image.write_bytes(scenes.load("terminal_invoke_endpoint"))
        image.chmod(0o644)
        argv = [sys.executable, str(ROOT / "tests" / "analysis" / "ocr_probe.py"), str(ROOT), str(image)]
        got = {}
        for who in ("root", "nobody"):
            (base / who).mkdir()                    # its HOME: its own OCR cache (~/.cache/deploycheck/ocr)
            got[who] = probe_as(who, argv, base / who, (str(ROOT),))
        assert (got["root"].pop("euid"), got["nobody"].pop("euid")) == (0, 65534)
        root = got["root"]
        assert root["classification"] == "prediction" and root["values"] == ["0", "2"], root
        assert root["engine"].startswith("tesseract 5") and not root["cached"]
        assert "invoke-endpoint" in root["text"]
        assert got["nobody"] == root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _clear_text_screenshot() -> bytes:
    from PIL import ImageFont
    img = Image.new("RGB", (900, 300), "white")
    font = ImageFont.load_default(size=28)
    d = ImageDraw.Draw(img)
    d.text((30, 40), "In [3]: predictor.predict(rows)", fill="black", font=font)
    d.text((30, 120), "Out[3]: [0, 2]", fill="black", font=font)
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()


@needs_sandbox
def test_the_library_and_the_program_read_the_same_screenshot(tmp_path, monkeypatch):
    """DEPLOYCHECK_OCR=tesseract reads with tesserocr where its wheel is installed (no program per
    image), tesseract-cli with the program; both read the same text, and their results are cached
    apart."""
    import importlib.util
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPLOYCHECK_TESSERACT", raising=False)
    monkeypatch.setenv("DEPLOYCHECK_OCR", "tesseract-cli")
    cli = ocr.engine()
    if not cli.available:
        pytest.skip(cli.detail)
    monkeypatch.setenv("DEPLOYCHECK_OCR", "tesseract")
    auto = ocr.engine()
    if importlib.util.find_spec("tesserocr") is None:
        assert auto == cli
        pytest.skip("tesserocr is not installed here: the program is used")
    assert (cli.name, auto.name) == ("tesseract", "tesserocr") and auto.tessdata
    assert auto.label.startswith("tesseract 5") and auto.cache_id != cli.cache_id
    data = _clear_text_screenshot()
    texts = []
    for eng in (auto, cli):
        before = ocr.STATS["ocr_runs"]
        doc, cached, _ = ocr.read_image(data, eng)
        assert not cached and ocr.STATS["ocr_runs"] == before + 1 and doc["read_by"] == eng.name, doc
        assert [c for _, c in doc["lines"]] and all(0 <= c <= 100 for _, c in doc["lines"])
        texts.append(" ".join(doc.get("text", "").split()))
    assert all("Out[3]: [0, 2]" in t and "predictor.predict(rows)" in t for t in texts), texts


SLOW_TESSERACT = """#!/bin/sh
case "$1" in
  --version) echo "tesseract 5.3.0"; exit 0;;
  --list-langs) printf 'List of available languages (1):\\neng\\n'; exit 0;;
esac
exec sleep 61
"""

BUSY_TESSERACT = """#!/bin/sh
case "$1" in
  --version) echo "tesseract 5.3.0"; exit 0;;
  --list-langs) printf 'List of available languages (1):\\neng\\n'; exit 0;;
esac
while :; do :; done
"""


def _cmdlines() -> list[str]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                out.append(open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return out


@needs_sandbox
def test_a_timed_out_read_leaves_no_process_is_not_cached_and_the_next_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", _fake(tmp_path, SLOW_TESSERACT))
    monkeypatch.delenv("DEPLOYCHECK_OCR", raising=False)
    monkeypatch.setattr(ocr, "WALL_SECONDS", 2.0)
    eng = ocr.engine()
    for n in range(2):
        doc, cached, _ = ocr.read_image(_screenshot(n), eng)
        assert "was still running after 2 s" in doc.get("ocr_error", "") and doc.get("transient"), doc
        doc, cached, _ = ocr.read_image(_screenshot(n), eng)
        assert not cached                                   # a busy machine's timeout is tried again
    time.sleep(0.3)
    assert not [c for c in _cmdlines() if c.startswith("sleep 61")], "the program outlived its image"
    assert not list((tmp_path / "cache").rglob("*.json"))


@needs_sandbox
def test_a_read_that_runs_out_of_cpu_is_cached(tmp_path, monkeypatch):
    """RLIMIT_CPU stops a read whatever the machine's load: the image's doing, so its outcome is kept and
    a re-grade does not pay again."""
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", _fake(tmp_path, BUSY_TESSERACT))
    monkeypatch.delenv("DEPLOYCHECK_OCR", raising=False)
    monkeypatch.setattr(ocr, "CPU_SECONDS", 1)
    eng = ocr.engine()
    doc, cached, _ = ocr.read_image(_screenshot(), eng)
    assert doc.get("limit") == "cpu" and "CPU" in doc.get("ocr_error", ""), doc
    before = ocr.STATS["worker_runs"]
    doc2, cached, _ = ocr.read_image(_screenshot(), eng)
    assert cached and doc2["limit"] == "cpu" and ocr.STATS["worker_runs"] == before


def noise_png(w: int = 6000, h: int = 6600) -> bytes:
    """Random black and white pixels, as a 1-bit PNG (~5 MB): under every size limit, and Tesseract
    used to read it for minutes."""
    img = Image.frombytes("1", (w, h), os.urandom((w + 7) // 8 * h))
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()


@needs_sandbox
def test_noise_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPLOYCHECK_OCR", raising=False)
    monkeypatch.delenv("DEPLOYCHECK_TESSERACT", raising=False)
    data = noise_png()
    assert len(data) < ocr.MAX_BYTES
    doc, cached, _ = ocr.read_image(data)
    assert doc.get("problem") == "noise" and "text" not in doc, doc
    doc, cached, _ = ocr.read_image(data)
    assert cached and doc["problem"] == "noise"


def test_without_the_sandbox_no_image_is_decoded(tmp_path, monkeypatch):
    """Where no isolation works (and unsandboxed runs are not allowed), nothing is decoded: the reason
    comes back, and it is not cached (the next run on a machine with a sandbox reads the image)."""
    from deploycheck.sandbox import client
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(client, "_ISOLATION", sandbox.Isolation("unavailable", "bubblewrap (bwrap) is not installed"))
    sandbox.set_allow_unsandboxed(False)
    try:
        before = ocr.STATS["worker_runs"]
        doc, cached, _ = ocr.read_image(_screenshot())
    finally:
        sandbox.set_allow_unsandboxed(None)
    assert "bubblewrap (bwrap) is not installed" in doc.get("machine_error", "") and doc.get("transient"), doc
    assert ocr.STATS["worker_runs"] == before + 1 and not list((tmp_path / "cache").rglob("*.json"))
