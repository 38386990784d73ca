"""Run by tests/analysis/test_ocr_sandbox.py in a process of its own (as root or as nobody): read a
screenshot with a spying stand-in for tesseract and a noise image, and print what came back as JSON."""
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from deploycheck.analysis import ocr  # noqa: E402
from test_ocr_sandbox import _screenshot, noise_png  # noqa: E402

out = {"euid": os.geteuid()}
doc, _, _ = ocr.read_image(_screenshot())
out["spy"] = doc.get("text", "") or doc
doc, _, _ = ocr.read_image(noise_png())
out["noise"] = doc.get("problem", "") or doc
print(json.dumps(out))
