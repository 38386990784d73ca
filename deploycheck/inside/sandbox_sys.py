"""Linux calls the sandbox's fork server and its jobs make (``deploycheck/inside/server.py``,
``job_process.py``), through ctypes: mount, prctl, unshare's user-namespace maps, dropping every
capability, rlimits, closing descriptors and the job's seccomp filter.
Python 3.7+, standard library only; imported as a plain top-level module inside the sandbox (never
as ``deploycheck.inside.*``; ``tests/hostile/nouserns.py`` loads it by path for its own filter).
"""
import ctypes
import os
import platform
import resource
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38

libc = ctypes.CDLL(None, use_errno=True)


def check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def mount(src, target, fstype, flags, data=None):
    def enc(x):
        return x.encode() if x is not None else None
    check(libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
          "mount %s" % target)


def prctl(option, arg):
    libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def write_maps(inside_id, outside_uid, outside_gid):
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


def drop_all_caps():
    hdr = _CapHeader(0x20080522, 0)          # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    check(libc.capset(ctypes.byref(hdr), data), "capset")


def vmsize():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def setrlimit(which, value):
    try:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def close_fds_except(keep):
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


def send_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ------------------------------------------------------------------ keyrings and the seccomp filter
# Kernel keyrings are not namespaced by bubblewrap's namespaces: a job would reach the keyrings its
# credentials carry (the grader's session keyring, the user keyring of its uid) and could leave keys
# there for the next job or the next run. Every job therefore installs a seccomp filter under which
# keyctl, add_key and request_key fail with ENOSYS ("no keyrings here"), and /proc/keys is masked
# (job_process.py); new user namespaces fail too (a nested one would give the job capabilities over
# fresh mounts: kernel surface no model needs).
#
# Syscall numbers per architecture (the kernel's syscall tables: arch/x86/entry/syscalls/syscall_64.tbl
# and syscall_32.tbl, include/uapi/asm-generic/unistd.h for arm64):
#   machine: (AUDIT_ARCH_*, add_key, request_key, keyctl, unshare, clone, clone3, x32 bit)
SYSCALLS = {
    "x86_64": (0xC000003E, 248, 249, 250, 272, 56, 435, 0x40000000),
    "aarch64": (0xC00000B7, 217, 218, 219, 97, 220, 435, 0),
    "i686": (0x40000003, 286, 287, 288, 310, 120, 435, 0),
    "i386": (0x40000003, 286, 287, 288, 310, 120, 435, 0),
}
ENOSYS, EPERM = 38, 1
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


def machine():
    """This Python's architecture as the tables above name it."""
    m = platform.machine()
    if m == "x86_64" and struct.calcsize("P") == 4:
        return "i686"                     # a 32-bit Python on a 64-bit kernel
    return m


def filter_supported():
    return machine() in SYSCALLS


def _assemble(program):
    """Classic BPF from (op, jt, jf, k) with jt/jf as label names (or 0), labels as plain strings."""
    labels, insns = {}, []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(insns)
        else:
            insns.append(item)
    out = []
    for i, (op, jt, jf, k) in enumerate(insns):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out.append(struct.pack("HBBI", op, jt, jf, k))
    return b"".join(out)


def filter_program(keyrings=True, userns=True, arch=None):
    """The seccomp program: keyring calls -> ENOSYS (``keyrings``); unshare/clone with CLONE_NEWUSER
    -> EPERM and clone3 -> ENOSYS (``userns``; its flags live in memory a filter cannot read, and
    glibc falls back to clone on ENOSYS); calls of another architecture's ABI (x32, i386 from a
    64-bit process) -> ENOSYS; everything else allowed."""
    audit, add_key, request_key, keyctl, unshare, clone, clone3, x32 = SYSCALLS[arch or machine()]
    p = [(_LD_W_ABS, 0, 0, 4), (_JEQ_K, 0, "enosys", audit), (_LD_W_ABS, 0, 0, 0)]
    if x32:
        p.append((_JGE_K, "enosys", 0, x32))
    if keyrings:
        p += [(_JEQ_K, "enosys", 0, n) for n in (add_key, request_key, keyctl)]
    if userns:
        p += [(_JEQ_K, "enosys", 0, clone3), (_JEQ_K, "flags", 0, unshare), (_JEQ_K, "flags", 0, clone)]
    p += [(_RET_K, 0, 0, _RET_ALLOW)]
    if userns:                            # the flags are args[0] of unshare and clone (low word: +16)
        p += ["flags", (_LD_W_ABS, 0, 0, 16), (_JSET_K, "eperm", 0, CLONE_NEWUSER), (_RET_K, 0, 0, _RET_ALLOW),
              "eperm", (_RET_K, 0, 0, _RET_ERRNO | EPERM)]
    p += ["enosys", (_RET_K, 0, 0, _RET_ERRNO | ENOSYS)]
    return _assemble(p)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(code):
    """Install a seccomp program (``filter_program``) on this process and everything it starts."""
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)),
          "prctl(PR_SET_NO_NEW_PRIVS)")
    check(libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(prog), ctypes.c_ulong(0),
                     ctypes.c_ulong(0)), "prctl(PR_SET_SECCOMP)")
