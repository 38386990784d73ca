"""Run by tests/analysis/test_ocr_sandbox.py in a process of its own (as root or as nobody).

    ocr_probe.py CHECKOUT            read a screenshot with a spying stand-in for tesseract (named by
                                     DEPLOYCHECK_TESSERACT) and a noise image
    ocr_probe.py CHECKOUT IMAGE      read IMAGE as proof.screenshot does (the real engine)

and print what came back as JSON."""
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from deploycheck.analysis import ocr  # noqa: E402

out: dict = {"euid": os.geteuid()}
if len(sys.argv) > 2:
    from deploycheck.analysis import screenshot as ss
    with open(sys.argv[2], "rb") as fh:
        data = fh.read()
    eng = ocr.engine()
    facts, _ = ss.examine_bytes(ss.Candidate("proof.png", "folder"), data, eng)
    out.update(engine=eng.label, cached=facts.cached, text=facts.text, classification=facts.classification,
               values=[str(v) for v in (facts.facts.values if facts.facts else ())],
               problem=facts.problem, variant=facts.variant)
else:
    from test_ocr_sandbox import _screenshot, noise_png  # noqa: E402
    doc, _, _ = ocr.read_image(_screenshot())
    out["spy"] = doc.get("text", "") or doc
    doc, _, _ = ocr.read_image(noise_png())
    out["noise"] = doc.get("problem", "") or doc
print(json.dumps(out))
