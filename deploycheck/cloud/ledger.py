"""The ledger: every cloud resource is written down *before* it is created, and again after it is
deleted, so that a crashed or killed run can always be swept (``deploycheck sweep --ledger FILE``).

One JSON object per line, appended with a single ``write`` and ``fsync``'d::

    {"ts": 1738330000.1, "run_id": "...", "student": "...", "provider": "aws", "kind": "sagemaker-model",
     "name": "dc-alice-aws-0123456789", "region": "us-east-1", "action": "create"}

Lines for ``action: "delete"`` close a ``create``; ``action: "reserve"`` lines count endpoints
against ``--max-deployments``. :func:`pending` replays a ledger and returns what
may still exist. Several processes (xdist workers) may append to the same file: each line is one
``O_APPEND`` write, and :meth:`Ledger.locked` serialises read-modify-append sections (the
deployment cap) with ``fcntl.flock``.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

from deploycheck.cloud.base import Resource

try:  # POSIX only; on other systems the cap is best effort
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]



def default_path(run_id: str, report_dir: Path | str | None = None) -> Path:
    """``<report>/cloud-ledger.jsonl`` with ``--report``, else ``~/.deploycheck/ledger/<run_id>.jsonl``."""
    if report_dir:
        return Path(report_dir) / "cloud-ledger.jsonl"
    return Path.home() / ".deploycheck" / "ledger" / f"{run_id}.jsonl"


class Ledger:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    def _append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def record(self, action: str, res: Resource, **extra: Any) -> None:
        entry = {"ts": round(time.time(), 3), "run_id": res.run_id, "student": res.student,
                 "provider": res.provider, "kind": res.kind, "name": res.name, "region": res.region,
                 "action": action}
        entry.update(extra)
        self._append(entry)

    def will_create(self, res: Resource) -> None:
        """Call right BEFORE the create API call."""
        self.record("create", res)

    def deleted(self, res: Resource, **extra: Any) -> None:
        self.record("delete", res, **extra)

    def entries(self) -> list[dict[str, Any]]:
        return read(self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock shared by every process using this ledger file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        with open(str(self.path) + ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def reserve_endpoint(self, res: Resource, cap: int) -> int:
        """Count this run's endpoint reservations and add one, atomically across processes.
        Returns how many existed before; raises CostGuardError when ``cap`` is reached."""
        from deploycheck.cloud.costs import check_cap
        with self.locked():
            n = sum(1 for e in self.entries() if e.get("action") == "reserve" and e.get("run_id") == res.run_id)
            check_cap(n, cap)
            self.record("reserve", res)
            return n


def read(path: Path | str) -> list[dict[str, Any]]:
    """All well-formed lines of a ledger (a torn last line after a SIGKILL is ignored)."""
    out: list[dict[str, Any]] = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and {"provider", "kind", "name", "action"} <= e.keys():
            out.append(e)
    return out


def pending(entries: list[dict[str, Any]], run_id: str | None = None) -> list[Resource]:
    """Resources created (or about to be) and not recorded as deleted, newest first — the order
    in which they must be deleted (endpoint before its config before its model)."""
    live: dict[tuple[str, str, str], Resource] = {}
    for e in entries:
        if run_id and e.get("run_id") != run_id:
            continue
        r = Resource(provider=e["provider"], kind=e["kind"], name=e["name"], region=e.get("region", ""),
                     run_id=e.get("run_id", ""), student=e.get("student", ""), created=e.get("ts"))
        if e["action"] == "create":
            live.pop(r.key(), None)
            live[r.key()] = r
        elif e["action"] == "delete":
            live.pop(r.key(), None)
    return list(reversed(list(live.values())))
