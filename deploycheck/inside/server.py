"""The pre-warmed fork server that runs INSIDE the sandbox, under the runtime's own Python (3.7+).

Standard library only; it never imports deploycheck (the grader side lives in
``deploycheck/sandbox/``). It is started by ``deploycheck.sandbox.client`` as::

    bwrap ... -- PYTHON -I -B .../deploycheck/inside/server.py CONFIG_JSON

with a ``SOCK_SEQPACKET`` control socket to the grader (its fd number is in the config). It imports the Interpreter's modules
once (``preload``), answers ``ready``, then for every job forks:

* **C** (the job's keeper, outside the job): keeps only the job's four pipes (fd 1 stdout, 2
  stderr, 3 answer, 4 setup) and drops everything else, in particular the control socket; unshares
  mount, PID, IPC, UTS and network namespaces (plus a user namespace when the sandbox itself runs
  in one), forks **J**, waits for it and exits the way J did (so the server sees J's wait status).
* **J** (PID 1 of the job's own PID namespace): mounts a fresh ``/proc``, a size-limited tmpfs on
  ``/job`` (the only writable place; ``/tmp``, ``/var/tmp`` and ``/dev/shm`` point into it), hides
  ``/jobs`` (where the grader put the job's prepared input) under an empty read-only tmpfs, drops
  to the job's own identity (a user namespace in which it is uid 1000 with no capability over any
  mount; as root, a private uid first), copies the input in, sets rlimits and the allowlisted
  environment, writes ``R`` to the setup pipe and closes it, and only then runs the job function.
  Its answer is one frame on fd 3: ``DCJ1`` + 8-byte big-endian length + JSON.

When J exits, the kernel kills every process left in its PID namespace (daemons, fork bombs) and
waits for them: nothing of the job survives it. Only the grader decides statuses and labels; the
setup pipe is closed before any job code runs, so the job cannot fake a failure of deploycheck.
"""
import ctypes
import errno
import importlib
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
import traceback
import warnings

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
FRAME_MAGIC = b"DCJ1"
JOB_UID = 1000              # what the job's code sees as its uid/gid (inside its user namespace)
MAX_MSG = 1 << 20

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def _mount(src, target, fstype, flags, data=None):
    def enc(x):
        return x.encode() if x is not None else None
    _check(_libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           "mount %s" % target)


def _prctl(option, arg):
    _libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def _write_maps(inside_id, outside_uid, outside_gid):
    """Map ``inside_id`` of the user namespace just created to our own uid/gid outside it (the
    one mapping an unprivileged process may write for itself, user_namespaces(7))."""
    with open("/proc/self/setgroups", "w") as fh:
        fh.write("deny")
    with open("/proc/self/uid_map", "w") as fh:
        fh.write("%d %d 1" % (inside_id, outside_uid))
    with open("/proc/self/gid_map", "w") as fh:
        fh.write("%d %d 1" % (inside_id, outside_gid))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_all_caps():
    hdr = _CapHeader(0x20080522, 0)          # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(hdr), data), "capset")


def _vmsize():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _setrlimit(which, value):
    try:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def _close_fds_except(keep):
    try:
        fds = [int(x) for x in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _send_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class JobContext(object):
    """What a job function gets as ``ctx``: ``folder`` (the private copy of the deploy folder, also
    the cwd), ``extracted`` (the safely extracted model archive, or None), ``tmp`` (scratch),
    ``home``; ``work``/``model_dir``/``root`` are the same paths under their older names."""

    def __init__(self, root, folder, extracted, limits):
        self.root = root
        self.folder = folder
        self.extracted = extracted
        self.tmp = os.path.join(root, "tmp")
        self.home = os.path.join(root, "home")
        self.timeout = limits.get("timeout")
        self.memory_mb = limits.get("memory_mb")
        self.work = folder
        self.model_dir = extracted


# ------------------------------------------------------------------------------ the job (J)

def _copy_in(src_fd, dst, max_bytes):
    """Copy the prepared regular files below ``src_fd`` to ``dst`` (no links are followed)."""
    total = 0
    for dirpath, dirnames, filenames, dfd in os.fwalk(".", dir_fd=src_fd, follow_symlinks=False):
        rel = os.path.normpath(dirpath)
        target_dir = dst if rel == "." else os.path.join(dst, rel)
        if rel != ".":
            os.makedirs(target_dir, exist_ok=True)
        for name in filenames:
            try:
                fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
            except OSError:
                continue
            try:
                fout = os.open(os.path.join(target_dir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    while True:
                        chunk = os.read(fin, 1 << 20)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > max_bytes:
                            raise OSError(errno.EFBIG, "job input larger than announced")
                        _send_all(fout, chunk)
                finally:
                    os.close(fout)
            finally:
                os.close(fin)


def _job_setup(cfg, msg):
    """In J, before any job code: namespaces' contents, identity, input, limits. Returns ctx."""
    sandboxed = cfg["sandboxed"]
    job_id = msg["id"]
    limits = msg["limits"]
    if sandboxed:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        root = "/job"
        size = int(msg["input_bytes"]) + int(limits["disk_mb"]) * 1024 * 1024 + (1 << 20)
        opts = "size=%d,nr_inodes=%d,mode=0755" % (size, int(msg["input_files"]) + 4096)
        if cfg["private_uid"] is not None:
            opts += ",uid=%d,gid=%d" % (cfg["private_uid"], cfg["private_uid"])
        _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, opts)
        for d in ("folder", "model", "home", "tmp"):
            os.mkdir(os.path.join(root, d), 0o1777 if d == "tmp" else 0o755)
            if cfg["private_uid"] is not None:
                os.chown(os.path.join(root, d), cfg["private_uid"], cfg["private_uid"])
        # the interpreter's own folders below /tmp (a grader installed there) stay visible
        keep = [(p, os.open(p, os.O_PATH)) for p in cfg.get("tmp_binds", []) if os.path.exists(p)]
        for shared in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(shared):
                _mount(root + "/tmp", shared, None, MS_BIND)
        for p, fd in keep:
            if os.path.isdir("/proc/self/fd/%d" % fd):
                os.makedirs(p, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(p), exist_ok=True)
                open(p, "a").close()
            _mount("/proc/self/fd/%d" % fd, p, None, MS_BIND | MS_REC)
            os.close(fd)
        src = os.open(os.path.join(cfg["jobs_dir"], job_id), os.O_RDONLY | os.O_DIRECTORY)
        # nothing of /jobs stays visible: an empty read-only tmpfs over it
        _mount("tmpfs", cfg["jobs_dir"], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
        try:
            _libc.sethostname(b"sandbox", 7)
        except Exception:  # noqa: BLE001
            pass
        if cfg["private_uid"] is not None:     # root: become the private uid first
            uid = cfg["private_uid"]
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            outside_uid = outside_gid = uid
        else:
            outside_uid, outside_gid = os.getuid(), os.getgid()
        if cfg["job_userns"]:
            _check(_libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
            _prctl(PR_SET_DUMPABLE, 1)
            _write_maps(JOB_UID, outside_uid, outside_gid)
        # a change of credentials clears the parent-death signal: arm it again, then make sure
        # the keeper C did not die in between (its end of the lifeline would be closed)
        _prctl(PR_SET_DUMPABLE, 1)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        life = msg.get("_lifeline")
        if life is not None:
            r, _, _ = select.select([life], [], [], 0)
            if r:
                os._exit(0)
            os.close(life)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _drop_all_caps()
    else:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        root = os.path.join(cfg["jobs_dir"], job_id)
        src = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    folder = extracted = None
    if sandboxed:
        budget = int(msg["input_bytes"])
        if msg.get("has_folder"):
            folder = os.path.join(root, "folder")
            _copy_in(os.open("folder", os.O_RDONLY | os.O_DIRECTORY, dir_fd=src), folder, budget)
        if msg.get("has_model"):
            extracted = os.path.join(root, "model")
            _copy_in(os.open("model", os.O_RDONLY | os.O_DIRECTORY, dir_fd=src), extracted, budget)
        _close_fds_except({0, 1, 2, 3, 4, src})
    else:
        folder = os.path.join(root, "folder") if msg.get("has_folder") else None
        extracted = os.path.join(root, "model") if msg.get("has_model") else None
    fd = os.open("args.json", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src)
    with os.fdopen(fd, "rb") as fh:
        args = json.loads(fh.read().decode("utf-8"))
    os.close(src)
    _close_fds_except({0, 1, 2, 3, 4})
    # ---- limits and environment
    _setrlimit(resource.RLIMIT_AS, _vmsize() + int(limits["memory_mb"]) * 1024 * 1024)
    cpu = int(float(limits["timeout"])) + 2
    _setrlimit(resource.RLIMIT_CPU, cpu)
    _setrlimit(resource.RLIMIT_FSIZE, int(limits["disk_mb"]) * 1024 * 1024)
    _setrlimit(resource.RLIMIT_NOFILE, int(limits["nofile"]))
    _setrlimit(resource.RLIMIT_CORE, 0)
    nproc = int(limits["nproc"])
    if not sandboxed and os.getuid() != 0:     # unsandboxed, the limit counts all our processes
        nproc += _count_own_processes()        # (root is exempt from it anyway)
    if sandboxed or os.getuid() != 0:
        _setrlimit(resource.RLIMIT_NPROC, nproc)
    env = dict(msg["env"])
    env["HOME"] = os.path.join(root, "home")
    for k in ("TMPDIR", "TMP", "TEMP"):
        env[k] = os.path.join(root, "tmp")
    os.environ.clear()
    os.environ.update(env)
    import tempfile
    tempfile.tempdir = None
    os.umask(0o022)
    os.chdir(folder or root)
    return JobContext(root, folder, extracted, limits), args


def _count_own_processes():
    uid = os.getuid()
    n = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.stat("/proc/" + p).st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, bytes):
        return o.decode("latin-1")
    return str(o)


def _tb_tail(n=15):
    lines = traceback.format_exc().rstrip().splitlines()
    return "\n".join(lines[-n:])


def _run_job(cfg, msg):
    """J's body: setup (reported on fd 4), then the job (answered on fd 3). Never returns."""
    try:
        ctx, args = _job_setup(cfg, msg)
        modname, _, fname = msg["job"].partition(":")
        fn = getattr(importlib.import_module(modname), fname)
    except BaseException as e:  # noqa: BLE001 - deploycheck's own failure, before any job code
        try:
            _send_all(4, ("E%s: %s" % (type(e).__name__, e))[:4000].encode("utf-8", "replace"))
        except OSError:
            pass
        os._exit(97)
    os.write(4, b"R")
    os.close(4)
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="replace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="replace")
    sys.stdin = open(0, "r", closefd=False)
    try:
        data = fn(ctx, **args)
        answer = {"ok": True, "data": data}
    except MemoryError as e:
        answer = {"ok": False, "memory": True, "error_type": "MemoryError",
                  "error": "MemoryError: %s" % (e,), "traceback": _tb_tail()}
    except BaseException as e:  # noqa: BLE001 - everything the job does becomes its answer
        answer = {"ok": False, "error_type": type(e).__name__,
                  "error": ("%s: %s" % (type(e).__name__, e))[:4000], "traceback": _tb_tail()}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    try:
        payload = json.dumps(answer, default=_json_default).encode("utf-8")
    except (TypeError, ValueError) as e:
        payload = json.dumps({"ok": False, "error_type": "TypeError",
                              "error": "the job's result is not JSON: %s" % e}).encode()
    except MemoryError:
        payload = b'{"ok": false, "memory": true, "error_type": "MemoryError", "error": "MemoryError"}'
    try:
        _send_all(3, FRAME_MAGIC + struct.pack(">Q", len(payload)) + payload)
    except OSError:
        pass
    os._exit(0)


def _keeper(cfg, msg, fds):
    """C: the job's keeper, forked by the server. Never returns."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _prctl(PR_SET_DUMPABLE, 1)        # the server is not dumpable; its /proc/self must be ours here
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        try:
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        import fcntl
        life_r, life_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDWR)
        # first out of the way (high numbers), then into place: no source is overwritten early
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 200) for fd in [devnull] + list(fds) + [life_r, life_w]]
        for dst, src in enumerate(high):
            os.dup2(src, dst)
        _close_fds_except({0, 1, 2, 3, 4, 5, 6})
        if not cfg["sandboxed"]:
            os.setsid()                   # the server kills the whole group on a timeout
        else:
            flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET
            uid, gid = os.getuid(), os.getgid()
            if cfg["private_uid"] is None:
                flags |= CLONE_NEWUSER
            _check(_libc.unshare(flags), "unshare")
            if cfg["private_uid"] is None:
                _write_maps(0, uid, gid)
    except BaseException as e:  # noqa: BLE001
        try:
            _send_all(4, ("Ejob keeper: %s: %s" % (type(e).__name__, e)).encode("utf-8", "replace"))
        except OSError:
            pass
        os._exit(97)
    # SIGTERM from the server means "stop the job": C kills J, then waits for it as usual, so C's
    # exit (what the server reports) comes only after J's PID namespace is empty. Blocked until
    # the handler is in place; J unblocks it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    pid = os.fork()
    if pid == 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        os.close(6)
        msg["_lifeline"] = 5
        _run_job(cfg, msg)
        os._exit(70)

    def stop_job(*_):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    signal.signal(signal.SIGTERM, stop_job)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    os.close(5)
    for fd in (1, 2, 3, 4):
        os.dup2(0, fd)                    # only J and its descendants hold the job's pipes now
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        _setrlimit(resource.RLIMIT_CORE, 0)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)


# ------------------------------------------------------------------------------ the server

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
    pid = os.fork()
    if pid == 0:
        msg = {"id": cfg.get("probe_job") or "probe", "job": "server:_probe_job", "env": {"PATH": "/usr/bin:/bin"},
               "limits": {"timeout": 5, "memory_mb": 256, "disk_mb": 1, "nofile": 64, "nproc": 16},
               "input_bytes": 0, "input_files": 0, "has_folder": False, "has_model": False}
        _keeper(cfg, msg, [p[1] for p in pipes])
    for r, w in pipes:
        os.close(w)
    _, status = os.waitpid(pid, 0)
    setup = os.read(pipes[3][0], 4096)
    for r, w in pipes:
        os.close(r)
    if setup.startswith(b"R") and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    return setup[1:].decode("utf-8", "replace") or "per-job isolation failed (wait status %d)" % status


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
    for p in cfg.get("sys_path", []):
        if p not in sys.path:
            try:
                import site
                site.addsitedir(p)
            except Exception:  # noqa: BLE001
                sys.path.append(p)
    errors = []
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mod in cfg.get("preload", []):
            try:
                importlib.import_module(mod)
            except Exception as e:  # noqa: BLE001
                errors.append("%s: %s: %s" % (mod, type(e).__name__, e))
    if cfg["sandboxed"]:
        _prctl(PR_SET_DUMPABLE, 0)      # no job could attach to us even if it could address us
    problem = _self_test(cfg)
    ctl.send(json.dumps({"op": "ready", "pid": os.getpid(), "python": sys.version.split()[0],
                            "preload_errors": errors, "import_s": round(time.time() - t0, 3),
                            "vmsize_kb": _vmsize() // 1024, "job_isolation_error": problem,
                          "job_userns": bool(cfg.get("job_userns"))}).encode())
    wake_r, wake_w = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in os.pipe()]
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    jobs = {}                            # keeper pid -> job id
    while True:
        try:
            ready, _, _ = select.select([ctl, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            try:
                os.read(wake_r, 4096)
            except BlockingIOError:
                pass
        while jobs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            job_id = jobs.pop(pid, None)
            if job_id is not None:
                if not cfg["sandboxed"]:
                    _killpg(pid)          # stragglers of an unsandboxed job (best effort)
                ctl.send(json.dumps({"op": "exit", "id": job_id, "status": status}).encode())
        if ctl in ready:
            try:
                data, fds = _recv(ctl)
            except OSError:
                return 0
            if not data:
                return 0
            msg = json.loads(data.decode("utf-8"))
            if msg.get("op") == "run":
                if len(fds) != 4:
                    for fd in fds:
                        os.close(fd)
                    ctl.send(json.dumps({"op": "exit", "id": msg.get("id"), "status": -1,
                                            "error": "expected 4 descriptors"}).encode())
                    continue
                pid = os.fork()
                if pid == 0:
                    _keeper(cfg, msg, fds)
                    os._exit(70)
                for fd in fds:
                    os.close(fd)
                jobs[pid] = msg["id"]
                ctl.send(json.dumps({"op": "started", "id": msg["id"], "pid": pid}).encode())
            elif msg.get("op") == "kill":
                for pid, job_id in list(jobs.items()):
                    if job_id == msg.get("id"):
                        # sandboxed: C kills J and exits once J's PID namespace is empty;
                        # unsandboxed: the job's process group
                        _killpg(pid) if not cfg["sandboxed"] else _kill(pid, signal.SIGTERM)
            elif msg.get("op") == "info":
                ctl.send(json.dumps({"op": "info", "pid": os.getpid(), "vmsize_kb": _vmsize() // 1024,
                                        "jobs": len(jobs)}).encode())


if __name__ == "__main__":
    sys.exit(serve(json.loads(sys.argv[1])))
