"""Run an inside job directly under a runtime environment's Python, in a subprocess, WITHOUT the
sandbox: trusted test code only (our own entry points and models). Stands in for
``sandbox.run(job, args, interpreter=env.interpreter(), folder=..., extract=...)`` until the sandbox
package lands, with the same ctx (folder copy as cwd, safely extracted archive, scratch dir) and
the same JSON-in/JSON-out contract."""
from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSIDE = Path(__file__).resolve().parents[2] / "deploycheck" / "inside"

DRIVER = r"""
import importlib, json, os, sys, traceback
req = json.loads(sys.stdin.read())
sys.path.insert(0, req["inside"])
class Ctx(object):
    pass
ctx = Ctx()
ctx.folder, ctx.extracted, ctx.tmp = req["folder"], req["extracted"], req["tmp"]
os.chdir(ctx.folder)
mod, fn = req["job"].split(":")
try:
    data = getattr(importlib.import_module(mod), fn)(ctx, **req["args"])
    res = {"status": "ok", "data": data}
except BaseException as e:
    res = {"status": "error", "error": "%s: %s" % (type(e).__name__, e), "error_type": type(e).__name__,
           "traceback": traceback.format_exc()}
sys.stdout.flush()
os.write(1, b"\n@@RESULT@@" + json.dumps(res).encode())
"""


@dataclass(frozen=True)
class DirectResult:
    status: str
    data: Any = None
    error: str = ""
    error_type: str = ""
    traceback: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""
    isolation: str = "none (direct test runner)"
    elapsed_ms: float = 0.0


def run(job: str, args: dict, *, python: str, folder: Path, extract: Path | None = None,
        timeout: float = 120.0) -> DirectResult:
    import time
    with tempfile.TemporaryDirectory(prefix="dc-direct-") as td:
        td = Path(td)
        work = td / "folder"
        shutil.copytree(folder, work, symlinks=False, ignore=shutil.ignore_patterns(".git"))
        extracted = None
        if extract is not None:
            extracted = td / "model"
            extracted.mkdir()
            with tarfile.open(extract) as tf:
                tf.extractall(extracted, filter="data")
        scratch = td / "tmp"
        scratch.mkdir()
        req = {"job": job, "args": args, "folder": str(work), "extracted": str(extracted) if extracted else None,
               "tmp": str(scratch), "inside": str(INSIDE)}
        t0 = time.perf_counter()
        p = subprocess.run([python, "-c", DRIVER], input=json.dumps(req), capture_output=True, text=True,
                           timeout=timeout, env={"PATH": "/usr/bin:/bin", "HOME": str(td), "LANG": "C.UTF-8"})
        ms = (time.perf_counter() - t0) * 1000
        out, _, result = p.stdout.rpartition("\n@@RESULT@@")
        if not result:
            return DirectResult("killed", error=f"exit {p.returncode}", stdout_tail=p.stdout[-4000:],
                                stderr_tail=p.stderr[-4000:], elapsed_ms=ms)
        r = json.loads(result)
        return DirectResult(r["status"], r.get("data"), r.get("error", ""), r.get("error_type", ""),
                            r.get("traceback", ""), out[-4000:], p.stderr[-4000:], elapsed_ms=ms)
