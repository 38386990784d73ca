"""Loopback-only guard for the cloud tests: an audit hook (PEP 578) that refuses every socket
connection and name lookup except to 127.0.0.1 / ::1 / localhost / unix sockets, and writes each
refused attempt to $DEPLOYCHECK_NETLOG. The tests' conftest installs it in the pytest process; as
`sitecustomize` on PYTHONPATH it also guards the processes the tests start."""
import ipaddress
import os
import socket
import sys

STATE = {"active": True, "refused": []}


def _loopback(host):
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what):
    STATE["refused"].append(what)
    log = os.environ.get("DEPLOYCHECK_NETLOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()} {what}\n")


def _hook(event, args):
    if not STATE["active"]:
        return
    if event == "socket.connect":
        addr = args[1]
        if isinstance(addr, tuple) and not _loopback(addr[0]):
            _refuse(f"connect {addr!r}")
            raise ConnectionRefusedError(f"cloud tests: connection to {addr!r} refused (loopback only)")
    elif event == "socket.getaddrinfo":
        if not _loopback(args[0]):
            _refuse(f"getaddrinfo {args[0]!r}")
            raise socket.gaierror(f"cloud tests: name lookup of {args[0]!r} refused (loopback only)")


if not getattr(sys, "_deploycheck_netguard", False):
    sys._deploycheck_netguard = True
    sys.addaudithook(_hook)
