"""What the world looks like, for tests that assert on it rather than on the grader's report
(standard library only: tests/hostile/driver.py imports it as another user)."""
import os
from pathlib import Path


def procs_with(marker: str) -> list[int]:
    """Pids of processes whose command line, name or environment holds ``marker``."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        for f in ("cmdline", "comm", "environ"):
            try:
                if marker.encode() in Path(f"/proc/{p}/{f}").read_bytes():
                    found.append(int(p))
                    break
            except OSError:
                pass
    return found


def status_field(pid: int, name: str) -> str:
    """One field of ``/proc/PID/status`` ("PPid", "NSpid"...), "" when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return ""
