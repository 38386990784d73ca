"""Helpers for the sandbox tests (importable: pytest puts this folder on sys.path)."""
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
