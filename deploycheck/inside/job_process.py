"""One job's process, forked by the sandbox's fork server (``server.py``) for every job. Python 3.7+,
standard library only; imported as a plain top-level module inside the sandbox.

* :func:`start` (in the server): moves the server's children into a new PID namespace
  (``unshare(CLONE_NEWPID)``), forks **J**, and moves them back (``setns`` to the server's own PID
  namespace, opened once at start-up): J is the init of a PID namespace of its own and the server's
  direct child, so the server waits for J itself. A separate keeper process per job (the first way
  this was built) cost a second fork and exit of the whole pre-warmed server: a third of every
  job's CPU time.
* **J** (:func:`_job_main`, PID 1 of the job's own PID namespace): keeps only the job's four pipes
  (fd 1 stdout, 2 stderr, 3 answer, 4 setup) and its end of the lifeline (fd 5), dropping everything
  else, in particular the control socket; takes a session and process group of its own (a signal to
  "my group" reaches only the job, never the server it was forked from); unshares mount, IPC, UTS
  and network namespaces; mounts a fresh ``/proc`` (``/proc/keys`` masked), a size-limited tmpfs on
  ``/job`` (the only writable place; ``/tmp``, ``/var/tmp`` and ``/dev/shm`` point into it), hides
  ``/jobs`` (where the grader put the job's prepared input) under an empty read-only tmpfs, drops to
  the job's own identity (a user namespace in which it is uid 1000 with no capability over any mount;
  as root, a private uid first), copies the input in, sets rlimits and the allowlisted environment,
  installs the seccomp filter (no keyring calls, no nested user namespace:
  ``sandbox_sys.filter_program``), writes ``R`` to the setup pipe and closes it, and
  only then runs the job function with a :class:`JobContext`. Its answer is one frame on fd 3:
  ``DCJ1`` + 8-byte big-endian length + JSON.

When J exits, the kernel kills every process left in its PID namespace (daemons, fork bombs) and
reaps them before the server's wait for J returns: nothing of the job survives it.
"""
import errno
import importlib
import json
import os
import resource
import select
import signal
import struct
import sys
import traceback

from sandbox_sys import (CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS,
                         MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, PR_SET_DUMPABLE,
                         PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, check, close_fds_except, drop_all_caps, filter_program,
                         install_filter, libc, mount, prctl, send_all, setrlimit, vmsize,
                         write_maps)

LIFELINE_FD = 5             # J's end of the pipe whose other end only the server holds
CHANNEL_FD = 6              # the job's end of the grader's conversation channel (sandbox.run(talk=...))
KEYRING_FILES = ("/proc/keys", "/proc/key-users")

FRAME_MAGIC = b"DCJ1"
JOB_UID = 1000              # what the job's code sees as its uid/gid (inside its user namespace)


class JobContext(object):
    """What a job function gets as ``ctx``: ``folder`` (the private copy of the deploy folder, also
    the cwd), ``extracted`` (the safely extracted model archive, or None), ``tmp`` (scratch),
    ``home``, ``channel`` (the descriptor of its conversation channel with the grader, a
    SOCK_SEQPACKET socket, when it was run with a ``talk``); ``work``/``model_dir``/``root`` are the
    same paths under their older names."""

    def __init__(self, root, folder, extracted, limits, channel=None):
        self.root = root
        self.channel = channel           # fd of the conversation channel with the grader, or None
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
                        send_all(fout, chunk)
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
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for masked in KEYRING_FILES:      # the keys' descriptions the job's uid may view: none
            if os.path.exists(masked):
                mount("/dev/null", masked, None, MS_BIND)
        root = "/job"
        size = int(msg["input_bytes"]) + int(limits["disk_mb"]) * 1024 * 1024 + (1 << 20)
        opts = "size=%d,nr_inodes=%d,mode=0755" % (size, int(msg["input_files"]) + 4096)
        if cfg["private_uid"] is not None:
            opts += ",uid=%d,gid=%d" % (cfg["private_uid"], cfg["private_uid"])
        mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, opts)
        for d in ("folder", "model", "home", "tmp"):
            os.mkdir(os.path.join(root, d), 0o1777 if d == "tmp" else 0o755)
            if cfg["private_uid"] is not None:
                os.chown(os.path.join(root, d), cfg["private_uid"], cfg["private_uid"])
        # the interpreter's own folders below /tmp (a grader installed there) stay visible
        keep = [(p, os.open(p, os.O_PATH)) for p in cfg.get("tmp_binds", []) if os.path.exists(p)]
        for shared in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(shared):
                mount(root + "/tmp", shared, None, MS_BIND)
        for p, fd in keep:
            if os.path.isdir("/proc/self/fd/%d" % fd):
                os.makedirs(p, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(p), exist_ok=True)
                open(p, "a").close()
            mount("/proc/self/fd/%d" % fd, p, None, MS_BIND | MS_REC)
            os.close(fd)
        src = os.open(os.path.join(cfg["jobs_dir"], job_id), os.O_RDONLY | os.O_DIRECTORY)
        # nothing of /jobs stays visible: an empty read-only tmpfs over it
        mount("tmpfs", cfg["jobs_dir"], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
        try:
            libc.sethostname(b"sandbox", 7)
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
            check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
            prctl(PR_SET_DUMPABLE, 1)
            write_maps(JOB_UID, outside_uid, outside_gid)
        # a change of credentials clears the parent-death signal: arm it again, then make sure
        # the server did not die in between (its end of the lifeline would be closed)
        prctl(PR_SET_DUMPABLE, 1)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        life = msg.get("_lifeline")
        if life is not None:
            r, _, _ = select.select([life], [], [], 0)
            if r:
                os._exit(0)
            os.close(life)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        drop_all_caps()
    else:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
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
        close_fds_except({0, 1, 2, 3, 4, src} | _channel(msg))
    else:
        folder = os.path.join(root, "folder") if msg.get("has_folder") else None
        extracted = os.path.join(root, "model") if msg.get("has_model") else None
    fd = os.open("args.json", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src)
    with os.fdopen(fd, "rb") as fh:
        args = json.loads(fh.read().decode("utf-8"))
    os.close(src)
    close_fds_except({0, 1, 2, 3, 4} | _channel(msg))
    # ---- limits and environment
    setrlimit(resource.RLIMIT_AS, vmsize() + int(limits["memory_mb"]) * 1024 * 1024)
    setrlimit(resource.RLIMIT_CPU, cpu_seconds(limits))
    setrlimit(resource.RLIMIT_FSIZE, int(limits["disk_mb"]) * 1024 * 1024)
    setrlimit(resource.RLIMIT_NOFILE, int(limits["nofile"]))
    setrlimit(resource.RLIMIT_CORE, 0)
    nproc = int(limits["nproc"])
    if not sandboxed and os.getuid() != 0:     # unsandboxed, the limit counts all our processes
        nproc += _count_own_processes()        # (root is exempt from it anyway)
    if sandboxed or os.getuid() != 0:
        setrlimit(resource.RLIMIT_NPROC, nproc)
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
    if cfg.get("keyring_filter"):
        # the last step before any job code: no keyring calls at all (and no nested user namespace)
        # for the job and everything it starts
        install_filter(filter_program())
    return JobContext(root, folder, extracted, limits, CHANNEL_FD if msg.get("channel") else None), args


def _channel(msg):
    return {CHANNEL_FD} if msg.get("channel") else set()


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


def cpu_seconds(limits):
    """The job's CPU time limit (RLIMIT_CPU, whole seconds): its CPU budget and 2 s of grace."""
    return int(float(limits["cpu"])) + 2


def _run_job(cfg, msg):
    """J's body: setup (reported on fd 4), then the job (answered on fd 3). Never returns."""
    try:
        ctx, args = _job_setup(cfg, msg)
        modname, _, fname = msg["job"].partition(":")
        fn = getattr(importlib.import_module(modname), fname)
    except BaseException as e:  # noqa: BLE001 - deploycheck's own failure, before any job code
        try:
            send_all(4, ("E%s: %s" % (type(e).__name__, e))[:4000].encode("utf-8", "replace"))
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
        send_all(3, FRAME_MAGIC + struct.pack(">Q", len(payload)) + payload)
    except OSError:
        pass
    os._exit(0)


def start(cfg, msg, fds, own_pidns):
    """In the server: fork J with the job's four pipes ``fds`` (stdout, stderr, answer, setup; then
    its end of the conversation channel when ``msg["channel"]``; the server closes its copies) and return ``(pid, lifeline)``; the server keeps ``lifeline`` (the
    write end J watches) open until it has reaped J. ``own_pidns``: a descriptor of the server's own
    PID namespace (sandboxed), None unsandboxed. Raises OSError when the PID namespace cannot be
    made (nothing is forked then)."""
    life_r, life_w = os.pipe()
    if own_pidns is not None:
        try:
            check(libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
        except OSError:
            os.close(life_r)
            os.close(life_w)
            raise
    pid = 0
    try:
        pid = os.fork()
        if pid == 0:
            try:
                _job_main(cfg, msg, fds, life_r)
            finally:
                os._exit(70)             # J never returns into the server's code, whatever happened
    finally:
        if own_pidns is not None and libc.setns(own_pidns, CLONE_NEWPID) != 0:
            # the server's next children would land in a namespace whose init is J: it cannot go on
            if pid > 0:
                _kill_and_reap(pid)
            os._exit(71)
    os.close(life_r)
    return pid, life_w


def _kill_and_reap(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


def _job_main(cfg, msg, fds, life_r):
    """J, just forked: its descriptors, its namespaces, then the job (:func:`_run_job`). Never returns."""
    setup_fd = fds[3]                    # the setup pipe: the grader's copy until the descriptors are in place
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        prctl(PR_SET_DUMPABLE, 1)        # the server is not dumpable; its /proc/self must be ours here
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        try:
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        import fcntl
        devnull = os.open(os.devnull, os.O_RDWR)
        # first out of the way (high numbers), then into place: no source is overwritten early
        # (0 /dev/null, 1-4 the pipes, 5 the lifeline, 6 the conversation channel when there is one)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 200) for fd in [devnull] + list(fds[:4]) + [life_r] + list(fds[4:5])]
        for dst, src in enumerate(high):
            os.dup2(src, dst)
        setup_fd = 4
        close_fds_except({0, 1, 2, 3, 4, LIFELINE_FD} | _channel(msg))
        # a session and process group of J's own: kill(0, ...) or killpg(getpgrp(), ...) in the job
        # reach only the job's processes, never the server (whose group J was forked into) or the
        # jobs of other students on it; unsandboxed, the server kills this group on a timeout
        os.setsid()
        if cfg["sandboxed"]:
            # the PID namespace is already J's own (J is its init); the rest are made here, in the
            # server's user namespace, whose CAP_SYS_ADMIN J still has until _job_setup drops it
            check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET), "unshare")
    except BaseException as e:  # noqa: BLE001
        try:
            send_all(setup_fd, ("Ejob set-up: %s: %s" % (type(e).__name__, e)).encode("utf-8", "replace"))
        except OSError:
            pass
        os._exit(97)
    msg["_lifeline"] = LIFELINE_FD
    _run_job(cfg, msg)


def exit_status(status, usage, limits, stopped):
    """The wait status the server reports for J: J's own, except that a SIGKILL the server did not
    send (``stopped`` False) after J and its reaped children used most of the CPU limit is reported
    as SIGXCPU. J is its PID namespace's init, which never gets the kernel's SIGXCPU: its CPU limit
    ends it with SIGKILL. ("Most", not "all": on a loaded machine the rusage of the reaped job has
    come back short of the limit it was killed at.)"""
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and not stopped:
        if usage.ru_utime + usage.ru_stime >= 0.5 * cpu_seconds(limits):
            return int(signal.SIGXCPU)
    return status
