"""``python nouserns.py CMD ARGS...``: run CMD where user namespaces are DENIED.

Installs a seccomp filter that makes ``unshare(2)`` and ``clone(2)`` fail with EPERM when their
flags hold ``CLONE_NEWUSER``, and ``clone3(2)`` fail with ENOSYS (its flags live in memory a filter
cannot read; glibc then falls back to ``clone``) -- what a container runtime's default profile or a
hardened kernel does. The filter is inherited by everything CMD starts, bubblewrap included. It is
the user-namespace half of the sandbox's own per-job filter (``deploycheck/inside/sandbox_sys.py``,
loaded by path: standard library only, no deploycheck import).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploycheck", "inside"))
import sandbox_sys  # noqa: E402

if __name__ == "__main__":
    sandbox_sys.install_filter(sandbox_sys.filter_program(keyrings=False, userns=True))
    del sys.path[0]
    os.execvp(sys.argv[1], sys.argv[1:])
