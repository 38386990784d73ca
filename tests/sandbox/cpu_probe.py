"""Run as root or as nobody by test_sb_cpu.py: a job whose children computed and still run when the
job is stopped at its timeout; prints what the grader's sandbox reports (JSON, last line)."""
import json
import os
import sys

sys.path.insert(0, sys.argv[1])

from deploycheck import sandbox  # noqa: E402

SRC = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        t = time.process_time()\n"
       "        while time.process_time() - t < 0.15:\n            pass\n        time.sleep(600)\n"
       "time.sleep(600)")
r = sandbox.run("sbjobs:code", {"src": SRC}, interpreter=sandbox.Interpreter(python=sys.executable, label="test"),
                job_paths=[os.path.join(sys.argv[1], "tests", "sandbox", "jobs")],
                limits=sandbox.Limits(timeout=10, memory_mb=256))
sandbox.shutdown()
print(json.dumps({"euid": os.geteuid(), "status": r.status, "cpu_used": r.cpu_used, "isolation": r.isolation}))
