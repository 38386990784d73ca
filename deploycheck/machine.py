"""The facts about the grading machine that can change a verdict, for report.json's ``meta.machine``:
a student's CI and the instructor's run that disagree show why (another OCR engine, no sandbox,
another runtime environment, another deploycheck).

    {"deploycheck": "0.1.0", "python": "3.11.2", "platform": "Linux x86_64 (debian 12)",
     "user": "root" | "uid 1000", "ocr": "tesseract 5.3.0 (tesserocr)" | "none: ...",
     "sandbox": ["bwrap ..."], "runtimes": ["sagemaker-scikit-learn 1.2-1 (Python 3.9, ...)"],
     "results_cache": true, "settings": ["DEPLOYCHECK_OCR"]}

``sandbox`` and ``runtimes`` are what the run's predict.local checks reported (nothing is probed
for them here); the OCR engine is the one this process would use (the workers use the same).
"""
from __future__ import annotations

import os
import platform
from typing import Any, Iterable

from deploycheck.model import CheckRecord

# settings that change what is read or how: their names (never their values) go to the report
VERDICT_SETTINGS = ("DEPLOYCHECK_OCR", "DEPLOYCHECK_TESSERACT", "DEPLOYCHECK_ALLOW_UNSANDBOXED",
                    "DEPLOYCHECK_CHROMIUM", "DEPLOYCHECK_PYTHON_DOWNLOADS", "DEPLOYCHECK_CACHE_DIR")


def _version() -> str:
    from importlib import metadata
    try:
        return metadata.version("deploycheck")
    except metadata.PackageNotFoundError:
        return "unknown"


def _os() -> str:
    try:
        rel = platform.freedesktop_os_release()
        name = f" ({rel.get('ID', '')} {rel.get('VERSION_ID', '')})".rstrip(" ()") + ")" if rel.get("ID") else ""
    except OSError:
        name = ""
    return f"{platform.system()} {platform.machine()}{name}"


def _ocr() -> str:
    try:
        from deploycheck.analysis import ocr
        eng = ocr.engine()
        return eng.label if eng.available else f"none: {eng.detail}"
    except Exception as e:  # noqa: BLE001 - a fact for the report, never a reason to lose it
        return f"unknown ({type(e).__name__})"


def facts(records: Iterable[CheckRecord], results_cache: bool) -> dict[str, Any]:
    sandbox: set[str] = set()
    runtimes: set[str] = set()
    for r in records:
        if r.check == "predict.local" and r.outcome.data:
            d = r.outcome.data
            if d.get("isolation"):
                sandbox.add(str(d["isolation"]))
            if d.get("runtime"):
                runtimes.add(str(d["runtime"]) + (" [approximate]" if d.get("approximate") else ""))
    return {"deploycheck": _version(), "python": platform.python_version(), "platform": _os(),
            "user": "root" if os.geteuid() == 0 else f"uid {os.geteuid()}", "ocr": _ocr(),
            "sandbox": sorted(sandbox), "runtimes": sorted(runtimes), "results_cache": results_cache,
            "settings": sorted(k for k in VERDICT_SETTINGS if os.environ.get(k))}
