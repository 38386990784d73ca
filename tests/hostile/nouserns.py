"""``python nouserns.py CMD ARGS...``: run CMD where user namespaces are DENIED.

Installs a seccomp filter (hand-assembled classic BPF, x86_64 and aarch64) that makes
``unshare(2)`` and ``clone(2)`` fail with EPERM when their flags hold ``CLONE_NEWUSER``, and
``clone3(2)`` fail with ENOSYS (its flags live in memory a filter cannot read; glibc then falls
back to ``clone``) -- what a container runtime's default profile or a hardened kernel does. The
filter is inherited by everything CMD starts, bubblewrap included. Standard library only.
"""
import ctypes
import os
import platform
import struct
import sys

CLONE_NEWUSER = 0x10000000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_W_ABS, JEQ_K, JSET_K, RET_K = 0x20, 0x15, 0x45, 0x06
ARCHES = {  # machine: (AUDIT_ARCH, unshare, clone, clone3)
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}


def program() -> bytes:
    arch, nr_unshare, nr_clone, nr_clone3 = ARCHES[platform.machine()]
    # index: instruction (jt/jf are relative jumps)
    insns = [
        (LD_W_ABS, 0, 0, 4),                 # 0: A = arch
        (JEQ_K, 0, 6, arch),                 # 1: other arch -> allow (8)
        (LD_W_ABS, 0, 0, 0),                 # 2: A = syscall nr
        (JEQ_K, 7, 0, nr_clone3),            # 3: clone3 -> ENOSYS (11)
        (JEQ_K, 1, 0, nr_unshare),           # 4: unshare -> check flags (6)
        (JEQ_K, 0, 2, nr_clone),             # 5: clone -> check flags (6), else allow (8)
        (LD_W_ABS, 0, 0, 16),                # 6: A = low word of args[0] (flags)
        (JSET_K, 1, 0, CLONE_NEWUSER),       # 7: CLONE_NEWUSER -> EPERM (9)
        (RET_K, 0, 0, RET_ALLOW),            # 8
        (RET_K, 0, 0, RET_ERRNO | 1),        # 9: EPERM
        (RET_K, 0, 0, RET_ALLOW),            # 10 (unused)
        (RET_K, 0, 0, RET_ERRNO | 38),       # 11: ENOSYS
    ]
    return b"".join(struct.pack("HBBI", *i) for i in insns)


def install() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    code = program()
    buf = ctypes.create_string_buffer(code, len(code))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    prog = Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


if __name__ == "__main__":
    install()
    os.execvp(sys.argv[1], sys.argv[1:])
