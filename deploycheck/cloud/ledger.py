"""The ledger: every cloud resource is written down *before* it is created, and again after it is
deleted, so that a crashed or killed run can always be swept (``deploycheck sweep --ledger FILE``).

One JSON object per line (:class:`Entry`), appended with a single ``write`` and ``fsync``'d::

    {"action": "create", "kind": "sagemaker-model", "name": "dc-alice-aws-0123456789", "provider": "aws",
     "region": "us-east-1", "run_id": "...", "student": "...", "ts": 1738330000.1}

``delete`` lines close a ``create``; ``reserve`` lines count endpoints against
``--max-deployments``. :func:`pending` replays a ledger and returns what may still exist. Several
processes (xdist workers) may append to the same file: each line is one ``O_APPEND`` write, and
:meth:`Ledger.locked` serialises read-modify-append sections (the deployment cap) with ``fcntl.flock``.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Literal

from deploycheck.cloud.base import Resource
from deploycheck.cloud.costs import check_cap

Action = Literal["create", "delete", "reserve"]
_ACTIONS = ("create", "delete", "reserve")


@dataclass(frozen=True)
class Entry:
    action: Action
    provider: str
    kind: str
    name: str
    region: str = ""
    run_id: str = ""
    student: str = ""
    ts: float | None = None
    note: str = ""

    @property
    def resource(self) -> Resource:
        return Resource(self.provider, self.kind, self.name, self.region, self.run_id, self.student, self.ts)


def default_path(run_id: str, report_dir: Path | str | None = None) -> Path:
    """``<report>/cloud-ledger.jsonl`` with ``--report``, else ``~/.deploycheck/ledger/<run_id>.jsonl``."""
    if report_dir:
        return Path(report_dir) / "cloud-ledger.jsonl"
    return Path.home() / ".deploycheck" / "ledger" / f"{run_id}.jsonl"


class Ledger:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    def record(self, action: Action, res: Resource, note: str = "") -> None:
        e = Entry(action, res.provider, res.kind, res.name, res.region, res.run_id, res.student,
                  round(time.time(), 3), note)
        line = (json.dumps({k: v for k, v in asdict(e).items() if v != ""}, sort_keys=True) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def will_create(self, res: Resource) -> None:
        """Call right BEFORE the create API call."""
        self.record("create", res)

    def deleted(self, res: Resource, note: str = "") -> None:
        self.record("delete", res, note)

    def entries(self) -> list[Entry]:
        return read(self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock shared by every process using this ledger file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(self.path) + ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def reserve_endpoint(self, res: Resource, cap: int) -> int:
        """Count this run's endpoint reservations and add one, atomically across processes.
        Returns how many existed before; raises CostGuardError when ``cap`` is reached."""
        with self.locked():
            n = sum(1 for e in self.entries() if e.action == "reserve" and e.run_id == res.run_id)
            check_cap(n, cap)
            self.record("reserve", res)
            return n


def read(path: Path | str) -> list[Entry]:
    """All well-formed lines of a ledger (a torn last line after a SIGKILL is ignored)."""
    out: list[Entry] = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if not isinstance(d, dict) or d.get("action") not in _ACTIONS \
                or not all(isinstance(d.get(k), str) for k in ("provider", "kind", "name")):
            continue
        out.append(Entry(d["action"], d["provider"], d["kind"], d["name"], str(d.get("region") or ""),
                         str(d.get("run_id") or ""), str(d.get("student") or ""),
                         d["ts"] if isinstance(d.get("ts"), (int, float)) else None, str(d.get("note") or "")))
    return out


def pending(entries: list[Entry], run_id: str | None = None) -> list[Resource]:
    """Resources created (or about to be) and not recorded as deleted, newest first — the order
    in which they must be deleted (endpoint before its config before its model)."""
    live: dict[tuple[str, str, str], Resource] = {}
    for e in entries:
        if run_id and e.run_id != run_id:
            continue
        r = e.resource
        if e.action == "create":
            live.pop(r.key(), None)
            live[r.key()] = r
        elif e.action == "delete":
            live.pop(r.key(), None)
    return list(reversed(list(live.values())))
