"""The pre-warmed fork server that runs INSIDE the sandbox, under the runtime's own Python (3.7+).

Standard library only; it never imports deploycheck (the grader side lives in
``deploycheck/sandbox/``). It is started by ``deploycheck.sandbox.forkserver`` as::

    bwrap ... -- PYTHON -I -B .../deploycheck/inside/server.py CONFIG_JSON

with a ``SOCK_SEQPACKET`` control socket to the grader (its fd number is in the config). It imports the Interpreter's modules
once (``preload``), proves once that per-job isolation works here (a self-test job), answers
``ready``, then for every job forks the job process as the init of a PID namespace of its own
(``job_process.py``; the Linux calls are in ``sandbox_sys.py``), waits for it, and reports its wait
status as the job's exit. The grader that started it may attach more control connections (one per
other grader process of the same run: ``deploycheck/sandbox/broker.py``); each connection sees and
stops only its own jobs, and its jobs are stopped when it closes.

Only the grader decides statuses and labels; the setup pipe is closed before any job code runs, so
the job cannot fake a failure of deploycheck.
"""
import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import warnings

# job_process.py and sandbox_sys.py sit next to this file. With -I the script's folder is not on
# sys.path (serve() adds the configured sys_path, this folder included, in its order): it is put
# first only while they are imported.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import job_process
    from sandbox_sys import (CLONE_NEWPID, CLONE_NEWUSER, PR_SET_DUMPABLE, check, filter_supported, libc, prctl,
                             vmsize, write_maps)
finally:
    del sys.path[0]

MAX_MSG = 1 << 20


def _recv(sock):
    fds = []
    data, anc, _flags, _addr = sock.recvmsg(MAX_MSG, socket.CMSG_LEN(16 * 4))
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            n = len(raw) - len(raw) % 4
            fds.extend(struct.unpack("%di" % (n // 4), raw[:n]))
    return data, fds


def _self_test_once(cfg):
    probe = os.path.join(cfg["jobs_dir"], cfg.get("probe_job") or "probe")
    if not os.path.isdir(probe):
        return "no probe job prepared"
    pipes = [os.pipe() for _ in range(4)]
    msg = {"id": cfg.get("probe_job") or "probe", "job": "server:_probe_job", "env": {"PATH": "/usr/bin:/bin"},
           "limits": {"timeout": 5, "cpu": 5, "memory_mb": 256, "disk_mb": 1, "nofile": 64, "nproc": 16},
           "input_bytes": 0, "input_files": 0, "has_folder": False, "has_model": False}
    try:
        pid, life = job_process.start(cfg, msg, [p[1] for p in pipes], cfg["_own_pidns"])
    except OSError as e:
        pid = life = None
        problem = str(e)
    for r, w in pipes:
        os.close(w)
    if pid is not None:
        _, status = os.waitpid(pid, 0)
        os.close(life)
        setup = os.read(pipes[3][0], 4096)
        problem = None
        if not (setup.startswith(b"R") and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            problem = setup[1:].decode("utf-8", "replace") or "per-job isolation failed (wait status %d)" % status
    for r, w in pipes:
        os.close(r)
    return problem


def _self_test(cfg):
    """Run the job setup once with an empty job: proves that per-job namespaces work here. As
    root, a user namespace per job is used where the kernel allows one ("auto")."""
    if not cfg["sandboxed"]:
        return None
    if cfg["job_userns"] == "auto":
        cfg["job_userns"] = True
        if _self_test_once(cfg) is None:
            return None
        cfg["job_userns"] = False
    return _self_test_once(cfg)


def _probe_job(ctx):
    return None


def _kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _tree_cpu(root):
    """CPU seconds used so far by the process ``root`` and every process below it (utime, stime and
    the counts of the children each has reaped, from /proc/N/stat: each process that ran is counted
    once, alive in its own fields or reaped in its reaper's). Read before a stopped job's J is killed:
    the kernel then reaps the job's other processes without adding their time to any count, so a
    fork bomb whose children computed would look idle. None when /proc cannot tell."""
    parent, used = {}, {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as fh:
                data = fh.read()
            rest = data[data.rindex(b")") + 2:].split()
            parent[int(name)] = int(rest[1])                             # ppid (field 4)
            used[int(name)] = sum(int(v) for v in rest[11:15])           # utime stime cutime cstime (14-17)
        except (OSError, ValueError, IndexError):
            continue
    if root not in used:
        return None
    below = {}
    for pid, ppid in parent.items():
        below.setdefault(ppid, []).append(pid)
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += used.get(pid, 0)
        stack.extend(below.get(pid, ()))
    return total / float(os.sysconf("SC_CLK_TCK"))


def _import(modules):
    """Import ``modules`` into the server (their warnings silenced): (imported, errors)."""
    done, errors = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mod in modules:
            try:
                importlib.import_module(mod)
                done.append(mod)
            except Exception as e:  # noqa: BLE001
                errors.append("%s: %s: %s" % (mod, type(e).__name__, e))
    return done, errors


def _own_namespaces(ctl_fd):
    """Unprivileged sandbox: the server becomes root of a user namespace and init of a PID namespace
    of its own, so that it may move its children into each job's new PID namespace and back
    (``setns`` needs CAP_SYS_ADMIN over the namespace it returns to, which bubblewrap's nested user
    namespace does not give). The first process stays, small, only to hold the sandbox open, and exits
    the way the server does."""
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(CLONE_NEWUSER | CLONE_NEWPID), "unshare(CLONE_NEWUSER|CLONE_NEWPID)")
    write_maps(0, uid, gid)
    pid = os.fork()
    if pid == 0:
        return
    os.close(ctl_fd)                      # the grader sees the server's end when the server exits
    _, status = os.waitpid(pid, 0)        # (retried across signals by Python itself, PEP 475)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def serve(cfg):
    import fcntl
    # the server's own descriptors live high, away from the 0-6 a job child sets up (a file object
    # of the server collected in a child must never close one of the job's descriptors)
    ctl_fd = fcntl.fcntl(cfg["ctl_fd"], fcntl.F_DUPFD_CLOEXEC, 100)
    os.close(cfg["ctl_fd"])
    ctl = socket.socket(fileno=ctl_fd)
    # stray prints of imported modules must not mix with anything: stdout goes to stderr
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(0, "r", closefd=False)
    sys.modules.setdefault("server", sys.modules[__name__])
    problem = None
    cfg["keyring_filter"] = filter_supported()      # jobs cannot use keyrings (job_process._job_setup)
    if cfg["sandboxed"] and cfg["private_uid"] is None:
        try:
            _own_namespaces(ctl_fd)       # before the imports: the process that stays is small
        except OSError as e:
            problem = str(e)
    for p in cfg.get("sys_path", []):
        if p not in sys.path:
            try:
                import site
                site.addsitedir(p)
            except Exception:  # noqa: BLE001
                sys.path.append(p)
    t0 = time.time()
    _done, errors = _import(cfg.get("preload", []))
    # the PID namespace every job's is made beside: the server's own (opened while it is dumpable)
    cfg["_own_pidns"] = None
    if cfg["sandboxed"] and problem is None:
        fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
        cfg["_own_pidns"] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
        os.close(fd)
    if cfg["sandboxed"]:
        prctl(PR_SET_DUMPABLE, 0)      # no job could attach to us even if it could address us
    problem = problem or _self_test(cfg)
    ctl.send(json.dumps({"op": "ready", "pid": os.getpid(), "python": sys.version.split()[0],
                            "preload_errors": errors, "import_s": round(time.time() - t0, 3),
                            "vmsize_kb": vmsize() // 1024, "job_isolation_error": problem,
                          "job_userns": bool(cfg.get("job_userns")), "keyring_filter": cfg["keyring_filter"]}).encode())
    wake_r, wake_w = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in os.pipe()]
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    jobs = {}                            # J's pid -> (job id, limits, lifeline, [stopped, its CPU then], connection)
    conns = [ctl]                        # the grader's, and those it attached for other grader processes

    def send(conn, obj):
        try:
            conn.send(json.dumps(obj).encode())
        except OSError:                   # that grader process is gone: nothing to tell it
            pass

    def stop(pid, job):
        if not job[3][0]:
            job[3][1] = _tree_cpu(pid)    # before the kill: what its processes computed
        job[3][0] = True
        # sandboxed: J is its PID namespace's init, and its exit empties that namespace before the
        # server can reap it; unsandboxed: the job's process group
        _killpg(pid) if not cfg["sandboxed"] else _kill(pid)

    def reap():
        """Report every job that has ended (its wait status) to its connection."""
        while jobs:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = jobs.pop(pid, None)
            if job is not None:
                job_id, limits, life, stopped, conn = job
                os.close(life)
                if not cfg["sandboxed"]:
                    _killpg(pid)          # stragglers of an unsandboxed job (best effort)
                status = job_process.exit_status(status, usage, limits, stopped[0])
                # the CPU time of all the job's processes: those J reaped, and for a stopped job those
                # still running when it was stopped (the kernel reaps them without a count)
                cpu_s = max(usage.ru_utime + usage.ru_stime, stopped[1] or 0.0)
                if conn in conns:
                    send(conn, {"op": "exit", "id": job_id, "status": status, "cpu_s": round(cpu_s, 3)})

    while True:
        try:
            ready, _, _ = select.select(conns + [wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            try:
                os.read(wake_r, 4096)
            except BlockingIOError:
                pass
        reap()
        for conn in [c for c in conns if c in ready]:
            try:
                data, fds = _recv(conn)
            except OSError:
                data, fds = b"", []
            if not data:
                if conn is ctl:
                    return 0
                conns.remove(conn)        # a grader process that went away: its jobs are stopped
                conn.close()
                for pid, job in list(jobs.items()):
                    if job[4] is conn:
                        stop(pid, job)
                continue
            msg = json.loads(data.decode("utf-8"))
            op = msg.get("op")
            if op == "attach" and conn is ctl and len(fds) == 1:
                conns.append(socket.socket(fileno=fcntl.fcntl(fds[0], fcntl.F_DUPFD_CLOEXEC, 100)))
                os.close(fds[0])
            elif op == "run":
                expected = 5 if msg.get("channel") else 4      # the pipes, and the conversation channel
                if len(fds) != expected:
                    for fd in fds:
                        os.close(fd)
                    send(conn, {"op": "exit", "id": msg.get("id"), "status": -1,
                                "error": "expected %d descriptors" % expected})
                    continue
                try:
                    pid, life = job_process.start(cfg, msg, fds, cfg["_own_pidns"])
                except OSError as e:
                    pid = None
                    try:                  # the grader reads why on the setup pipe
                        os.write(fds[3], ("Ejob set-up: %s" % e).encode("utf-8", "replace")[:4000])
                    except OSError:
                        pass
                for fd in fds:
                    os.close(fd)
                if pid is None:
                    send(conn, {"op": "exit", "id": msg["id"], "status": 97 << 8})
                    continue
                jobs[pid] = (msg["id"], msg["limits"], life, [False, None], conn)
                send(conn, {"op": "started", "id": msg["id"], "pid": pid})
            elif op == "kill":
                for pid, job in list(jobs.items()):
                    if job[0] == msg.get("id") and job[4] is conn:
                        stop(pid, job)
            elif op == "preload":
                # (other connections' finished jobs are reported first: an import takes a while)
                reap()
                # only the modules the grader configured as on-demand, never a name a job chose (one
                # that fails to import here fails again in the job, which reports it)
                done, errors = _import([m for m in msg.get("modules", []) if m in cfg.get("on_demand", ())])
                send(conn, {"op": "preloaded", "modules": done, "errors": errors})
            elif op == "info":
                send(conn, {"op": "info", "pid": os.getpid(), "vmsize_kb": vmsize() // 1024, "jobs": len(jobs),
                            "connections": len(conns),
                            "loaded": sorted(m for m in cfg.get("on_demand", ()) if m in sys.modules)})
            else:
                for fd in fds:
                    os.close(fd)


if __name__ == "__main__":
    sys.exit(serve(json.loads(sys.argv[1])))
