"""What the world looks like, for tests that assert on it rather than on the grader's report
(standard library only: tests/hostile/driver.py imports it as another user)."""
import os
import sys
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


def _hidden_ancestor(path: str) -> str | None:
    """The highest folder above ``path`` that other users cannot enter (``/root``, a 0700 home), or None."""
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        d = os.path.join(*parts[:i])
        try:
            if not os.stat(d).st_mode & 0o001:
                return d
        except OSError:
            return None
    return None


def as_nobody(argv: list[str], stage: Path, need: tuple[str, ...] = ()) -> list[str]:
    """argv run as nobody in a private mount namespace where each folder nobody cannot enter that holds
    what the run needs (/root with pyenv's Pythons, the venv, the folders in ``need``: a checkout) is an
    empty tmpfs with only those paths bound back, readable, as on a laptop whose Python and checkout are
    readable by their user. Paths may hold spaces."""
    import shlex
    want = {os.path.realpath(os.path.join(sys.base_prefix, "..", "..")),      # pyenv (the venv's base)
            os.path.realpath(sys.prefix), *need}
    want = {p for p in want if not any(p != q and p.startswith(q + "/") for q in want)}
    hidden: dict[str, list[str]] = {}
    for p in sorted(want):
        top = _hidden_ancestor(p)
        if top is not None:
            hidden.setdefault(top, []).append(p)
    q = shlex.quote
    steps = []
    n = 0
    for top, paths in hidden.items():
        for p in paths:
            steps.append(f"mkdir -p {q(f'{stage}/{n}')} && mount --bind {q(p)} {q(f'{stage}/{n}')}")
            n += 1
    n = 0
    for top, paths in hidden.items():
        steps.append(f"mount -t tmpfs -o mode=0755,size=1m tmpfs {q(top)}")
        for p in paths:
            steps.append(f"mkdir -p {q(p)} && mount --move {q(f'{stage}/{n}')} {q(p)}")
            n += 1
    script = "".join(f"{s} && " for s in steps) + 'exec setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"] + argv


def probe_as(who: str, argv: list[str], home: Path, need: tuple[str, ...] = ()) -> dict:
    """Run the probe ``argv`` as ``who`` ("root": this user; "nobody": through :func:`as_nobody`;
    "root-userns-denied": this user where user namespaces are denied, tests/hostile/nouserns.py) with
    ``home`` as its HOME and working folder; the JSON object its last line of output prints. Skips
    the calling test when switching to nobody is not possible (the suite is not root)."""
    import json
    import subprocess
    if who == "nobody" and os.geteuid() != 0:
        import pytest
        pytest.skip("switching to nobody needs the suite to run as root")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home)}
    if who == "root-userns-denied":
        argv = [sys.executable, str(Path(__file__).parent / "hostile" / "nouserns.py"), *argv]
    if who == "nobody":
        os.chmod(home, 0o777)
        argv = as_nobody(argv, home / "stage", need)
    p = subprocess.run(argv, env=env, cwd=str(home), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])
