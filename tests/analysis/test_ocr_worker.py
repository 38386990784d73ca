"""The image worker as the world sees it: what a (fake) Tesseract started by it inherits, and that the
grader's Python start-up files and variables never run in it."""
import io
import stat

from PIL import Image, ImageDraw

from deploycheck.analysis import ocr

FAKE_TESSERACT = """#!/bin/sh
# a stand-in for tesseract: answers the probes, records what it inherited, "reads" a prediction
case "$1" in
  --version) echo "tesseract 5.3.0"; exit 0;;
  --list-langs) printf 'List of available languages (1):\\neng\\n'; exit 0;;
esac
{ env; echo "ULIMIT_V=$(ulimit -v)"; echo "ULIMIT_C=$(ulimit -c)"; echo "ARGS=$*"; } > "$DUMP_DIR/seen.txt" 2>&1
echo 'Out[3]: [0, 2]' > "$2.txt"
"""


def _screenshot() -> bytes:
    img = Image.new("RGB", (800, 450), "white")
    ImageDraw.Draw(img).text((20, 20), "predictor.predict(rows)", fill="black")
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()


def test_worker_and_tesseract_get_only_the_allowlisted_environment(tmp_path, monkeypatch):
    dump = tmp_path / "dump"
    dump.mkdir()
    fake = tmp_path / "tesseract"
    fake.write_text(FAKE_TESSERACT.replace("$DUMP_DIR", str(dump)))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "sitecustomize-ran"
    (site / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("PYTHONSTARTUP", str(site / "sitecustomize.py"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "sa.json"))
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", str(fake))
    monkeypatch.delenv("DEPLOYCHECK_OCR", raising=False)

    eng = ocr.engine()
    assert eng.available, eng.detail
    doc, cached, _ = ocr.read_image(_screenshot(), eng)

    assert not cached and doc.get("text", "").strip() == "Out[3]: [0, 2]", doc
    seen = (dump / "seen.txt").read_text()
    assert "wJalrXUtnFEMI" not in seen and "GOOGLE_APPLICATION_CREDENTIALS" not in seen
    assert "PYTHONPATH" not in seen and "PYTHONSTARTUP" not in seen
    assert "OMP_THREAD_LIMIT=1" in seen
    assert f"ULIMIT_V={ocr.MEMORY_BYTES // 1024}" in seen and "ULIMIT_C=0" in seen
    assert "--psm 6" in seen
    assert not marker.exists(), "the grader's PYTHONPATH reached the image worker"



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


def test_the_library_and_the_program_read_the_same_screenshot(tmp_path, monkeypatch):
    """DEPLOYCHECK_OCR=tesseract reads with tesserocr where its wheel is installed (no program per
    image), tesseract-cli with the program; both read the same text, and their results are cached
    apart."""
    import importlib.util

    import pytest
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
        texts.append(" ".join(doc.get("text", "").split()))
    assert all("Out[3]: [0, 2]" in t and "predictor.predict(rows)" in t for t in texts), texts


SLOW_TESSERACT = """#!/bin/sh
case "$1" in
  --version) echo "tesseract 5.3.0"; exit 0;;
  --list-langs) printf 'List of available languages (1):\\neng\\n'; exit 0;;
esac
echo $$ >> "$DUMP_DIR/pids"
sleep 60
"""


def test_a_timed_out_image_leaves_no_process_and_the_worker_goes_on(tmp_path, monkeypatch):
    """The image worker's child and the Tesseract it started are killed together when the wall
    clock runs out; the worker itself answers the next image."""
    import os
    import time

    dump = tmp_path / "dump"
    dump.mkdir()
    fake = tmp_path / "tesseract"
    fake.write_text(SLOW_TESSERACT.replace("$DUMP_DIR", str(dump)))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", str(fake))
    monkeypatch.delenv("DEPLOYCHECK_OCR", raising=False)
    monkeypatch.setattr(ocr, "WALL_SECONDS", 1.5)
    eng = ocr.engine()
    assert eng.available and eng.name == "tesseract", eng.detail
    for n in range(2):
        img = Image.new("RGB", (800, 450), "white")
        ImageDraw.Draw(img).text((20, 20 + n), "predictor.predict(rows)", fill="black")
        b = io.BytesIO()
        img.save(b, "PNG")
        t = time.monotonic()
        doc, cached, _ = ocr.read_image(b.getvalue(), eng)
        assert doc.get("ocr_error", "").startswith("timed out after"), doc
        assert time.monotonic() - t < 15
    pids = [int(x) for x in (dump / "pids").read_text().split()]
    assert len(pids) == 2
    time.sleep(0.2)
    for pid in pids:
        try:      # a zombie (killed, waiting for init to reap it) no longer runs
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "gone"
        assert state in ("gone", "Z", "X"), f"tesseract {pid} outlived its image ({state})"
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).startswith("sleep 60")], \
        "the program's own child outlived the image"


def _cmdline(pid: str) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        return ""
