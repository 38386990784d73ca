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

