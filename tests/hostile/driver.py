"""Grade the hostile classroom the way an instructor would, as whatever user runs this script,
and write down what the world looked like after each student: ``driver.py WORLD_JSON OUT_JSON``.

After each student it scans /proc for processes carrying that attack's marker (in their name,
command line or environment): the sandbox must have left none. Set HOSTILE_ALLOW_CHECK=1 to
finish with one benign student graded with unsandboxed runs allowed (the refusal mode).
"""
import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.world import procs_with  # noqa: E402


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    out_path = Path(sys.argv[2])
    from deploycheck import sandbox
    from deploycheck.verdicts import predict
    from deploycheck.discovery import Target, load_submission
    dc = SimpleNamespace(sandbox_timeout=8, sandbox_memory_mb=1024)   # generous: a busy CI machine
    if os.environ.get("HOSTILE_CONTROL_UNSANDBOXED") == "1":     # control experiment: no sandbox at all
        sandbox.set_allow_unsandboxed(True)
    results = {"uid": os.getuid(), "pid": os.getpid(), "students": {}}
    order = [n for n in spec["repos"] if n != "benign"] + ["benign"]
    for name in order:
        repo = spec["repos"][name]
        sub = load_submission(f"s-{name}", repo)
        t0 = time.monotonic()
        o = predict.predict_local(Target(sub.student, "aws", sub, sub.student), dc)
        mark = spec["marks"].get(name)
        results["students"][name] = {
            "status": o.status, "message": o.message, "data": o.data, "seconds": round(time.monotonic() - t0, 2),
            "left": procs_with(mark) if mark else []}
    try:
        results["isolation"] = sandbox.isolation().label or sandbox.isolation().detail
    except Exception as e:  # noqa: BLE001
        results["isolation"] = f"{type(e).__name__}: {e}"
    if os.environ.get("HOSTILE_ALLOW_CHECK") == "1":
        sandbox.shutdown()
        sandbox.set_allow_unsandboxed(True)
        sub = load_submission("s-allowed", spec["repos"]["benign"])
        o = predict.predict_local(Target(sub.student, "aws", sub, sub.student), dc)
        results["allowed_benign"] = {"status": o.status, "message": o.message, "data": o.data}
    sandbox.shutdown()
    out_path.write_text(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
