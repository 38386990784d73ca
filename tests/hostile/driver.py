"""Grade the hostile classroom the way an instructor would, as whatever user runs this script,
and write down what the world looked like after each student: ``driver.py WORLD_JSON OUT_JSON``.

After each student it scans /proc for processes carrying that attack's marker (in their name,
command line or environment): the sandbox must have left none; and it notes which sandbox servers
(their bubblewrap processes) were running, so that a student who killed one shows. Like a login
session, it runs in a session keyring of its own that holds the grader's token; at the end it lists
what that keyring holds. Set HOSTILE_ALLOW_CHECK=1 to finish with one benign student graded with
unsandboxed runs allowed (the refusal mode).
"""
import ctypes
import json
import os
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.world import procs_with  # noqa: E402


LIBC = ctypes.CDLL(None, use_errno=True)
KEYCALLS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}.get(os.uname().machine, (248, 249, 250))


def _keyctl(*args: object) -> int:
    return LIBC.syscall(ctypes.c_long(KEYCALLS[2]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])


def session_keyring(description: str, payload: str) -> int:
    """Join a new session keyring of our own (as pam_keyinit gives a login) holding the grader's token."""
    if _keyctl(1, b"deploycheck-hostile-session") < 0:                       # KEYCTL_JOIN_SESSION_KEYRING
        raise OSError(ctypes.get_errno(), "keyctl(JOIN_SESSION_KEYRING)")
    kid = LIBC.syscall(ctypes.c_long(KEYCALLS[0]), b"user", description.encode(), payload.encode(), len(payload),
                       ctypes.c_long(-3))                                     # add_key to @s
    if kid < 0:
        raise OSError(ctypes.get_errno(), "add_key")
    return kid


def session_keys() -> list[str]:
    """What our session keyring holds now: each key's "type;uid;gid;perm;description"."""
    ring = _keyctl(0, -3, 0)                                                  # KEYCTL_GET_KEYRING_ID
    buf = ctypes.create_string_buffer(4096)
    n = _keyctl(11, ring, buf, 4096)                                          # KEYCTL_READ: key ids
    out = []
    for (kid,) in struct.iter_unpack("i", buf.raw[:max(0, min(n, 4096)) // 4 * 4]):
        d = ctypes.create_string_buffer(1024)
        m = _keyctl(6, kid, d, 1024)                                          # KEYCTL_DESCRIBE
        out.append(d.raw[:max(m - 1, 0)].decode("latin-1") if m > 0 else f"key {kid}: errno {ctypes.get_errno()}")
    return out


def servers() -> list[int]:
    """The bubblewrap processes of this process's sandbox servers."""
    from deploycheck.sandbox import client
    return sorted(s.proc.pid for s in client._SERVERS.values() if getattr(s, "proc", None) is not None)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    token_key = session_keyring(spec["key_description"], spec["canary"] + "-keyring")
    out_path = Path(sys.argv[2])
    from deploycheck import sandbox
    from deploycheck.verdicts import predict
    from deploycheck.discovery import Target, load_submission
    from deploycheck.settings import Settings
    dc = Settings(sandbox_timeout=8, sandbox_memory_mb=1024)   # generous: a busy CI machine
    if os.environ.get("HOSTILE_CONTROL_UNSANDBOXED") == "1":     # control experiment: no sandbox at all
        sandbox.set_allow_unsandboxed(True)
    results = {"uid": os.getuid(), "pid": os.getpid(), "students": {}}
    order = [n for n in spec["repos"] if n != "benign"] + ["benign"]
    for name in order:
        repo = spec["repos"][name]
        sub = load_submission(f"s-{name}", repo)
        t0 = time.monotonic()
        before = servers()
        o = predict.predict_local(Target(sub.student, "aws", sub, sub.student), dc)
        mark = spec["marks"].get(name)
        results["students"][name] = {
            "status": o.status, "message": o.message, "data": o.data, "seconds": round(time.monotonic() - t0, 2),
            "left": procs_with(mark) if mark else [], "servers_before": before,
            "servers_gone": [p for p in before if not Path(f"/proc/{p}").exists() or _zombie(p)]}
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
    results["session_keys"] = session_keys()
    results["token_key"] = token_key
    out_path.write_text(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
