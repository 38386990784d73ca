"""What isolation this machine gives, and the bubblewrap command line that gives it.

Two ways of running the sandbox with bubblewrap (``bwrap``, Debian/Ubuntu/Fedora package
``bubblewrap``), both with the same per-job isolation inside (``deploycheck/inside/job_process.py``):

* **root** (CI containers): bwrap runs as root *without* a user namespace (so it also works where
  user namespaces are switched off); the server keeps ``CAP_SYS_ADMIN``/``CAP_SETUID``/
  ``CAP_SETGID`` only to build each job's namespaces (``CAP_KILL`` to stop one), and every job drops to a private uid of its
  own server (never root: ``RLIMIT_NPROC`` counts, the grader's 0700 files stay closed, no signal
  or ptrace reaches root's processes) and, where user namespaces work, into a user namespace.
* **unprivileged** (an instructor's laptop): bwrap with ``--unshare-all`` (a user namespace) as the
  user; the server makes a user and PID namespace of its own at start-up (in which it may build each
  job's namespaces), and each job gets a nested user namespace of its own.

Where neither works (no bwrap; not root and no unprivileged user namespaces; not Linux), student
code is refused with :func:`how_to_fix`, unless unsandboxed runs are allowed
(``--allow-unsandboxed`` -> :func:`set_allow_unsandboxed`, or ``DEPLOYCHECK_ALLOW_UNSANDBOXED=1``).
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

SANDBOX_UID = 1000          # the uid the sandbox (and the job) sees
PRIVATE_UID_BASE = 1_900_000_000   # root mode: uids no account uses (uid maps reject >= 2**31)
NAMESPACES = "user,pid,mount,net,ipc,uts"
ENV_ALLOW = "DEPLOYCHECK_ALLOW_UNSANDBOXED"

# The environment every sandboxed process starts from (an allowlist: nothing else passes).
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/nonexistent",
    "TMPDIR": "/tmp",
    # single-threaded BLAS: faster for tiny predictions, and threads would count against NPROC
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1", "LOKY_MAX_CPU_COUNT": "1",
    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
}
# Copied from the grader's environment when set: machine facts old OpenBLAS builds need to run
# correctly on some processors (not secrets).
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

_ALLOW_OVERRIDE: bool | None = None


@dataclass(frozen=True)
class Isolation:
    """What the sandbox gives on this machine. ``mode``: bwrap | unsandboxed | unavailable.
    ``label`` is what every result and report shows (decided here, never by a job)."""
    mode: str
    detail: str
    how_to_fix: str = ""
    label: str = ""
    root: bool = False

    @property
    def sandboxed(self) -> bool:
        return self.mode == "bwrap"


class IsolationUnavailable(RuntimeError):
    """No isolation works here and unsandboxed runs are not allowed: student code is refused."""

    def __init__(self, isolation: Isolation):
        self.isolation = isolation
        super().__init__(f"deploycheck refuses to run student code without isolation: "
                         f"{isolation.detail}. {isolation.how_to_fix}")


def set_allow_unsandboxed(allow: bool | None) -> None:
    """``--allow-unsandboxed``: run student code even where no isolation works (None: use the
    environment variable again)."""
    global _ALLOW_OVERRIDE
    _ALLOW_OVERRIDE = allow


def allow_unsandboxed() -> bool:
    if _ALLOW_OVERRIDE is not None:
        return _ALLOW_OVERRIDE
    from deploycheck.settings import env_flag
    return env_flag("ALLOW_UNSANDBOXED")


def find_bwrap() -> str | None:
    found = shutil.which("bwrap")
    if found:
        return found
    for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"):
        if os.access(p, os.X_OK):
            return p
    return None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def userns_blockers() -> list[str]:
    """Known switches that stop unprivileged user namespaces (each named with its value)."""
    out = []
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        out.append("user.max_user_namespaces is 0")
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        out.append("kernel.unprivileged_userns_clone is 0")
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        out.append("kernel.apparmor_restrict_unprivileged_userns is 1")
    return out


def how_to_fix(cause: str = "") -> str:
    """The refusal's advice: how to get isolation, and how to run anyway."""
    fixes = []
    if cause == "no-bwrap":
        fixes.append("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; "
                     "Fedora: `sudo dnf install bubblewrap`)")
    if cause in ("", "userns"):
        fixes.append("allow unprivileged user namespaces (`sudo sysctl -w kernel.unprivileged_userns_clone=1` "
                     "where that setting exists, `sudo sysctl -w user.max_user_namespaces=15000`; Ubuntu 23.10+: "
                     "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`)")
    if cause == "not-linux":
        fixes.append("run deploycheck in a Linux container or VM (macOS and Windows have no bubblewrap)")
    else:
        fixes.append("or run deploycheck as root in a Linux container or VM with bubblewrap installed")
    return ("To get isolation: " + "; ".join(fixes) + ". To run student code WITHOUT isolation anyway "
            f"(only for code you trust), pass --allow-unsandboxed or set {ENV_ALLOW}=1.")


def static_check() -> Isolation | None:
    """An Isolation of mode "unavailable" when something is certainly missing; None when bwrap
    should work (the server's start then proves it)."""
    if not sys.platform.startswith("linux"):
        return Isolation("unavailable", f"this is {sys.platform}, and bubblewrap needs Linux", how_to_fix("not-linux"))
    if find_bwrap() is None:
        return Isolation("unavailable", "bubblewrap (bwrap) is not installed", how_to_fix("no-bwrap"))
    if os.geteuid() != 0:
        blockers = userns_blockers()
        if blockers:
            return Isolation("unavailable", "unprivileged user namespaces are switched off ("
                             + ", ".join(blockers) + ")", how_to_fix("userns"))
    return None


def sandboxed_isolation(root: bool, ready: Mapping[str, Any] | None = None) -> Isolation:
    """The isolation a sandboxed server gives, from what its self-test found (its ``ready`` message:
    a user namespace per job, the keyring filter; None: what is asked for before the test)."""
    ready = ready or {}
    job_userns = bool(ready.get("job_userns", True))
    keyrings = bool(ready.get("keyring_filter", True))
    per_job = ("user," if job_userns else "") + "pid,mount,net,ipc,uts" + ("; no keyrings" if keyrings else "")
    if root:
        label = (f"bubblewrap (as root, private uid): pid,mount,net,ipc,uts; per job: {per_job}; "
                 "read-only file system, job tmpfs")
        detail = "bubblewrap as root; every job under a private uid"
    else:
        label = f"bubblewrap: {NAMESPACES}; per job: {per_job}; read-only file system, job tmpfs"
        detail = "bubblewrap with unprivileged user namespaces"
    if not job_userns:
        detail += " (no user namespace per job: user namespaces are not available)"
    if not keyrings:
        detail += (" (kernel keyrings are reachable from jobs: deploycheck has no seccomp filter for this "
                   "processor architecture)")
    return Isolation("bwrap", detail, "", label, root)


def unsandboxed_isolation(reason: Isolation) -> Isolation:
    return Isolation("unsandboxed", reason.detail, reason.how_to_fix,
                     f"UNSANDBOXED: student code ran without isolation ({reason.detail}); "
                     "allowed by --allow-unsandboxed", os.geteuid() == 0)


def private_uid(seq: int) -> int:
    """Root mode: a uid of this grader process's ``seq``-th server that no account uses."""
    return PRIVATE_UID_BASE + (os.getpid() % 1_000_000) * 64 + seq % 64


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(BASE_ENV)
    for k in PASS_THROUGH:
        if os.environ.get(k):
            env[k] = os.environ[k]
    env.update(extra or {})
    return env


def _system_binds() -> list[str]:
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives"):
        args += ["--ro-bind-try", f, f]
    return args


def minimal_binds(paths: list[str]) -> list[str]:
    """Existing absolute paths, resolved, without those inside another one or inside /usr."""
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.isabs(p) and os.path.exists(p)})
    keep: list[str] = []
    for p in real:
        if p == "/" or p == "/usr" or p.startswith("/usr/"):
            continue
        if any(p == k or p.startswith(k.rstrip("/") + "/") for k in keep):
            continue
        keep.append(p)
    return keep


def bwrap_argv(bwrap: str, *, root: bool, ro_binds: list[str], jobs_dir: str,
               env: dict[str, str], argv: list[str]) -> list[str]:
    """The bubblewrap command line of a fork server: every namespace, the whole file system
    read-only (only what the interpreter needs, at its own path), no view of the grader's files,
    a fresh /proc, a minimal /dev, the jobs' input read-only at /jobs, the environment exactly
    ``env``."""
    a = [bwrap]
    if root:
        a += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
              "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
              "--cap-add", "CAP_KILL"]
    else:
        a += ["--unshare-all", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    a += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    a += _system_binds()
    a += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
          "--dir", "/tmp", "--dir", "/var/tmp", "--dir", "/job", "--dir", "/jobs",
          "--ro-bind", jobs_dir, "/jobs"]
    binds = minimal_binds(ro_binds)
    made: set[str] = {"/", "/tmp", "/var/tmp", "/job", "/jobs"}
    for p in binds:          # traversable parents (bwrap would copy a 0700 /root's mode)
        for parent in reversed(Path(p).parents):
            if str(parent) not in made:
                made.add(str(parent))
                a += ["--perms", "0755", "--dir", str(parent)]
    for p in binds:
        a += ["--ro-bind", p, p]
    a += ["--remount-ro", "/", "--clearenv"]
    for k, v in sorted(env.items()):
        a += ["--setenv", k, v]
    a += ["--chdir", "/", "--"] + argv
    return a
