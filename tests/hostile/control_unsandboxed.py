"""Control experiment, by hand only (never in CI): grade the hostile classroom with NO sandbox
(as nobody, user namespaces denied, --allow-unsandboxed) and print which attacks break through.
It shows that test_hostile_classroom.py's checks see real breaches. The two kill attacks are left
out (unsandboxed they would kill the grader). Run as root from this folder:

    ../../.venv/bin/python control_unsandboxed.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import classroom as cr  # noqa: E402

cr.ATTACKS = {k: v for k, v in cr.ATTACKS.items() if k not in ("kill_everything", "kill_parent_and_grader")}
cr.NAMES = list(cr.ATTACKS) + [cr.EVIL_SKLEARN_OS_SYSTEM, cr.EVIL_TAR_ESCAPE]
import test_hostile_classroom as T  # noqa: E402

run = T._run_mode("control-unsandboxed")
verdicts = T.verdicts(run)
for name, problems in verdicts.items():
    print("HELD  " if not problems else "BROKEN", name, problems[0][:150] if problems else "")
print(f"{sum(1 for p in verdicts.values() if not p)}/{len(verdicts)} held without the sandbox; "
      f"left in shared temp dirs: {run['temp_leftovers']}")
