"""The sandbox's grader side against a real fork server: results, statuses, limits, isolation."""
from __future__ import annotations

import io
import json
import os
import socket
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from deploycheck import sandbox
from deploycheck.sandbox import client
from tests.world import procs_with, status_field

pytestmark = pytest.mark.skipif(not sandbox.isolation().sandboxed,
                                reason=f"no isolation on this machine: {sandbox.isolation().detail}")


def test_result_comes_back_as_json_from_the_private_copy(run, tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b")
    (tmp_path / "link.txt").symlink_to("/etc/passwd")
    (tmp_path / "dirlink").symlink_to("/etc")
    r = run(job="sbjobs:echo", args={"x": [1, 2]}, folder=tmp_path)
    assert r.ok, r
    assert r.data["args"] == {"x": [1, 2]}
    assert r.data["files"] == ["a.txt", "sub"]           # no links, copied or followed
    assert r.data["cwd"] == r.data["folder"] != str(tmp_path)
    assert r.data["pid"] == 1 and r.data["ppid"] == 0 and r.data["procs"] == ["1"]
    assert r.isolation == sandbox.isolation().label and r.isolation.startswith("bubblewrap")


def test_copy_is_private_and_writable(run, tmp_path):
    (tmp_path / "f.txt").write_text("orig")
    r = run("open('f.txt','w').write('changed'); result = open('f.txt').read()", folder=tmp_path)
    assert r.data == "changed" and (tmp_path / "f.txt").read_text() == "orig"


def test_environment_is_an_allowlist(run, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:SBSECRET1@db/x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SBSECRET2")
    monkeypatch.setenv("SOMETHING_ELSE", "SBSECRET3")
    sandbox.shutdown()                     # the next server starts from this environment
    r = run("import os\nresult = [dict(os.environ), open('/proc/self/environ','rb').read().decode('latin1'),"
            " open('/proc/1/environ','rb').read().decode('latin1')]",
            env={"SAGEMAKER_PROGRAM": "inference.py"})
    assert r.ok, r
    assert "SBSECRET" not in json.dumps(r.data)
    env = r.data[0]
    assert set(env) <= set(sandbox.job_environment()) | {"HOME", "TMPDIR", "TMP", "TEMP", "SAGEMAKER_PROGRAM"}
    assert env["HOME"].startswith("/job/") and env["SAGEMAKER_PROGRAM"] == "inference.py"


def test_job_env_names_are_checked(run):
    with pytest.raises(ValueError, match="not a serving variable"):
        run("result = 1", env={"AWS_SECRET_ACCESS_KEY": "x"})


def test_timeout_kills_every_process_of_the_job(run):
    marker = f"sbmark{uuid.uuid4().hex[:8]}"
    src = (f"import os, ctypes\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
           "for _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n        break\nwhile True: pass")
    r = run(src, limits=sandbox.Limits(timeout=1.5, memory_mb=256))
    assert r.status == "timeout" and "still running after 1.5 s" in r.describe()
    assert procs_with(marker) == []


def test_each_job_is_the_servers_own_child_and_its_pid_namespaces_init(run):
    """One fork of the (large, pre-warmed) server per job: no per-job process between the two."""
    parents = []
    for _ in range(2):
        marker = f"sbinit{uuid.uuid4().hex[:6]}"
        src = f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\ntime.sleep(2)\nresult = 1"
        out: list = []
        t = threading.Thread(target=lambda: out.append(run(src)))
        t.start()
        seen: list[tuple[int, bytes]] = []      # (the job's parent, that parent's command line)
        while t.is_alive() and not seen:
            for p in procs_with(marker):
                ppid = status_field(p, "PPid")
                if status_field(p, "NSpid").split()[-1:] == ["1"] and ppid:
                    seen.append((int(ppid), Path(f"/proc/{ppid}/cmdline").read_bytes()))
        t.join()
        assert out[0].ok and len(seen) == 1, out
        assert b"inside/server.py" in seen[0][1]
        parents.append(seen[0][0])
    assert parents[0] == parents[1]             # the server itself, not a process made for the job


def test_cpu_time_is_limited_apart_from_the_wall_clock(run):
    # the kernel's RLIMIT_CPU (cpu_s + 2 s) stops a loop long before the 120 s wall clock, on any load
    r = run("while True: pass", limits=sandbox.Limits(timeout=120, cpu_s=0.5, memory_mb=256))
    assert r.status == "timeout" and r.signal_name == "SIGXCPU" and r.cpu_exhausted, r
    assert "more than 0.5 s of CPU time" in r.describe()
    assert r.elapsed_ms < 100_000
    r = run("import time\ntime.sleep(3)\nresult = 'slept'", limits=sandbox.Limits(timeout=120, cpu_s=0.5))
    assert r.ok and r.data == "slept"              # sleeping uses no CPU time


def test_daemon_does_not_outlive_its_job(run):
    marker = f"sbdaemon{uuid.uuid4().hex[:6]}"
    src = (f"import os, ctypes, time\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
           "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\n"
           "result = 'parent done'")
    r = run(src)
    assert r.ok and r.data == "parent done"
    assert procs_with(marker) == []


def test_memory_limit():
    r = sandbox.run("sbjobs:code", {"src": "x = bytearray(8 * 1024**3)"}, job_paths=[str(Path(__file__).parent / "jobs")],
                    interpreter=sandbox.Interpreter(python=sys.executable), limits=sandbox.Limits(memory_mb=256))
    assert r.status == "memory"


def test_exit_code_and_signal(run):
    r = run("import os\nos._exit(7)")
    assert r.status == "killed" and r.exit_code == 7
    r = run("import ctypes\nctypes.string_at(0)")
    assert r.status == "killed" and r.signal_name == "SIGSEGV"


def test_exception_is_error_with_traceback(run):
    r = run("def f():\n    raise KeyError('nope')\nf()")
    assert r.status == "error" and r.error_type == "KeyError" and "nope" in r.error and "line 2" in r.traceback


def test_output_is_captured_and_bounded(run):
    r = run("import sys\nprint('hello out')\nsys.stderr.write('e' * 200000)\nresult = 1")
    assert r.ok and "hello out" in r.stdout_tail
    assert len(r.stderr_tail) <= sandbox.OUTPUT_TAIL + 200 and "bytes cut" in r.stderr_tail
    r = run("import sys\nfor _ in range(40):\n    sys.stdout.write('x' * 1024 * 1024)\nresult = 1")
    assert r.status == "error" and r.error_type == "BrokenPipeError" and "output stopped" in r.stdout_tail


def test_disk_is_limited(run):
    r = run("n = 0\ntry:\n    with open('big', 'wb') as fh:\n        for _ in range(200):\n"
            "            fh.write(b'x' * 1024 * 1024)\n            n += 1\nexcept OSError as e:\n    result = [n, str(e)]")
    assert r.ok and r.data[0] <= 64, r.data


def test_no_network_not_even_loopback_of_the_host(run):
    got = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                got.append(srv.accept())
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    r = run("import socket\ntry:\n    socket.create_connection(('127.0.0.1', %d), timeout=2)\n    result='connected'\n"
            "except OSError as e:\n    result=str(e)" % port)
    stop.set()
    t.join()
    srv.close()
    assert r.ok and r.data != "connected" and got == []


def test_forged_answer_is_rejected_and_labels_are_the_graders(run):
    forged = json.dumps({"ok": True, "data": "FORGED", "isolation": "none", "status": "ok"}).encode()
    src = ("import os, struct\nf = %r\nos.write(3, b'DCJ1' + struct.pack('>Q', len(f)) + f)\nresult = 'real'" % forged)
    r = run(src)
    assert r.status == "error" and r.error_type == "ResultInvalid"
    assert r.isolation == sandbox.isolation().label
    r = run("import os\nos.write(3, b'garbage')\nos._exit(0)")
    assert r.status == "error" and r.error_type == "ResultInvalid"


def test_job_cannot_fake_a_machine_failure(run):
    r = run("import os\ntry:\n    os.write(4, b'Eboom')\nexcept OSError as e:\n    result = str(e)\nos._exit(97)")
    assert r.status == "killed" and r.exit_code == 97       # the student's own crash, not deploycheck's


def test_next_job_is_unaffected_by_leftovers(run):
    run("import os\nopen('/tmp/left.txt','w').write('x')\nopen('/dev/shm/left','w').write('x')\nresult = 1")
    r = run("import os\nresult = [os.path.exists('/tmp/left.txt'), os.path.exists('/dev/shm/left')]")
    assert r.data == [False, False]


def _tar(path: Path, members: dict[str, bytes], link: tuple[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o600
            tf.addfile(ti, io.BytesIO(data))
        if link:
            ln = tarfile.TarInfo(link[0])
            ln.type, ln.linkname = tarfile.SYMTYPE, link[1]
            tf.addfile(ln)
    return path


@pytest.mark.parametrize("use_filter", [True, False])
def test_tar_extracted_safely(run, tmp_path, monkeypatch, use_filter):
    monkeypatch.setattr("deploycheck.sandbox.jobs.HAS_DATA_FILTER", use_filter)
    tp = _tar(tmp_path / "m.tar.gz", {"model.joblib": b"m", "code/inference.py": b"x=1"}, ("evil", "/etc/passwd"))
    r = run(job="sbjobs:echo", extract=tp)
    assert r.ok and r.data["model_files"] == ["code", "model.joblib"]


@pytest.mark.parametrize("use_filter", [True, False])
@pytest.mark.parametrize("name", ["../../escape.txt", "/abs/escape.txt"])
def test_tar_with_escaping_member_is_refused(run, tmp_path, monkeypatch, use_filter, name):
    monkeypatch.setattr("deploycheck.sandbox.jobs.HAS_DATA_FILTER", use_filter)
    tp = _tar(tmp_path / "m.tar.gz", {name: b"x"})
    r = run(job="sbjobs:echo", extract=tp)
    assert r.status == "error" and r.error_type == "ExtractError" and "outside" in r.error
    assert not (tmp_path.parent / "escape.txt").exists() and not Path("/abs/escape.txt").exists()


@pytest.mark.parametrize("version", ["3.7.16", "3.8.18", "3.9.18", "3.10.13"])
def test_old_pythons_run_the_server(version, tmp_path):
    python = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions" / version / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no Python {version} at {python}")
    (tmp_path / "f.txt").write_text("x")
    r = sandbox.run("sbjobs:echo", {}, interpreter=sandbox.Interpreter(python=str(python), label=version),
                    folder=tmp_path, job_paths=[str(Path(__file__).parent / "jobs")])
    assert r.ok, r
    assert r.data["python"] == version and r.data["files"] == ["f.txt"] and r.data["pid"] == 1


def test_grader_installed_under_tmp(tmp_path):
    """A grader whose venv and checkout live under /tmp keeps them inside the sandbox."""
    import shutil
    import subprocess
    import deploycheck
    assert str(tmp_path).startswith("/tmp/")
    venv = tmp_path / "venv"
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    checkout = tmp_path / "checkout"
    shutil.copytree(Path(deploycheck.__file__).parent, checkout / "deploycheck",
                    ignore=shutil.ignore_patterns("__pycache__"))
    site = [p for p in sandbox.Interpreter.grader().sys_path if p.endswith("site-packages")]
    interp = sandbox.Interpreter(python=str(venv / "bin" / "python"), sys_path=tuple(site),
                                 packages=(str(checkout / "deploycheck"),), preload=("numpy", "deploycheck.serving"))
    r = sandbox.run("sbjobs:code", {"src": "import sys, numpy, deploycheck.serving as s\n"
                                            "result = [sys.prefix, s.__file__, numpy.__version__]"},
                    interpreter=interp, job_paths=[str(Path(__file__).parent / "jobs")])
    assert r.ok, r
    assert r.data[0] == str(venv) and r.data[1].startswith(str(checkout))


def test_a_server_started_from_a_short_lived_thread_outlives_it():
    """bubblewrap's --die-with-parent fires when the *thread* that started the sandbox ends: the
    warm-up thread starts a server and ends; that server process must live on and run the job."""
    import time
    interp = sandbox.Interpreter(python=sys.executable, label=f"thread-{uuid.uuid4().hex[:6]}")

    def warm_up():
        sandbox.prestart(interp)
        time.sleep(1.0)                                   # bubblewrap has set PR_SET_PDEATHSIG by now
    started = threading.Thread(target=warm_up)
    started.start()
    started.join()                                        # the thread that started it is gone
    srv = next(v for k, v in client._SERVERS.items() if k[0] == interp)
    pid = srv.proc.pid
    time.sleep(0.5)
    with open(f"/proc/{pid}/stat") as fh:                  # the bubblewrap process on this host
        assert fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"), "the sandbox died with its thread"
    assert sandbox.server_info(interp)["jobs"] == 0          # it answers
    assert next(v for k, v in client._SERVERS.items() if k[0] == interp).proc.pid == pid   # not restarted


def test_on_demand_modules_are_imported_by_the_server_only_when_asked_and_only_those():
    interp = sandbox.Interpreter(python=sys.executable, label="on-demand", on_demand=("colorsys",))
    probe = "import sys\nresult = sorted(m for m in ('colorsys', 'wave') if m in sys.modules)"
    jobs = [str(Path(__file__).parent / "jobs")]
    first = sandbox.run("sbjobs:code", {"src": probe}, interpreter=interp, job_paths=jobs)
    # a job names what it will import; the server imports only what the grader configured as on demand
    second = sandbox.run("sbjobs:code", {"src": probe}, interpreter=interp, job_paths=jobs, preload=("colorsys", "wave"))
    assert first.ok and first.data == [] and second.ok and second.data == ["colorsys"], (first, second)
    assert sandbox.server_info(interp, tuple(jobs))["loaded"] == ["colorsys"]


def test_a_job_whose_server_dies_under_it_runs_again_on_a_new_server(run, interp):
    """A server that goes away while a job runs (killed from outside here; no job can signal it) takes
    the job with it: the job is run again on a new server, never reported as the student's or as an
    error of the run."""
    marker = f"sbrerun{uuid.uuid4().hex[:6]}"
    # (long enough that the job is still running when the server is killed, however busy the machine)
    src = f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\ntime.sleep(8)\nresult = 'done'"
    run("result = 0")                                       # the server is up
    (old,) = [s for k, s in client._SERVERS.items() if k[0] == interp]
    assert old.proc is not None
    out: list = []
    t = threading.Thread(target=lambda: out.append(run(src)))
    t.start()
    while t.is_alive() and not procs_with(marker):
        time.sleep(0.02)
    os.killpg(old.proc.pid, 9)
    t.join()
    assert out[0].ok and out[0].data == "done", out[0]
    (new,) = [s for k, s in client._SERVERS.items() if k[0] == interp]
    assert new is not old and new.alive()


KEYRING_PROBE = r'''
import ctypes, os, platform
libc = ctypes.CDLL(None, use_errno=True)
add_key, request_key, keyctl = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}[platform.machine()]
def call(nr, *a):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) if isinstance(x, int) else x for x in a])
    return r if r >= 0 else -ctypes.get_errno()
result = {
    "add_key": call(add_key, b"user", b"sbplant", b"x", 1, -3),
    "request_key": call(request_key, b"user", b"sbplant", None, 0),
    "keyctl_session": call(keyctl, 0, -3, 0),                  # KEYCTL_GET_KEYRING_ID of @s
    "keyctl_user": call(keyctl, 0, -4, 1),
    "proc_keys": open("/proc/keys").read(), "proc_key_users": open("/proc/key-users").read(),
    "unshare_userns": libc.unshare(0x10000000) == 0,
}
'''


def test_no_job_reaches_a_keyring_nor_makes_a_user_namespace(run):
    """Keyrings are not namespaced: every keyring call fails (ENOSYS) in a job, which starts from an
    empty session keyring of its own and sees no key in /proc/keys; a nested user namespace is
    refused. The label says so. (The hostile classroom plants and reads keys through the grader's
    session keyring as root and as an ordinary user.)"""
    r = run(KEYRING_PROBE)
    assert r.ok, r
    enosys = -38
    assert r.data == {"add_key": enosys, "request_key": enosys, "keyctl_session": enosys, "keyctl_user": enosys,
                      "proc_keys": "", "proc_key_users": "", "unshare_userns": False}, r.data
    assert "no keyrings" in r.isolation


def test_the_kernel_shared_channels_are_the_jobs_own(run):
    """SysV IPC, POSIX message queues, abstract unix sockets and /dev/shm: what one job makes there the
    next job does not see (each job has its own IPC and network namespaces and /dev/shm), and no
    cgroup file system is reachable."""
    plant = r'''
import ctypes, os, socket, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mq_open.restype = ctypes.c_int
made = [libc.shmget(0x5B0C0FFE, 4096, 0o1666) >= 0, libc.msgget(0x5B0C0FFE, 0o1666) >= 0,
        libc.semget(0x5B0C0FFE, 1, 0o1666) >= 0,
        libc.mq_open(b"/sbplanted", os.O_CREAT | os.O_WRONLY, 0o666, None) >= 0]
open("/dev/shm/sbplanted", "w").write("x")
s = socket.socket(socket.AF_UNIX)
s.bind("\0sbplanted")
s.listen(1)
if os.fork() == 0:            # holds them while the next job looks (it dies with its job)
    time.sleep(5)
    os._exit(0)
result = made
'''
    look = r'''
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.mq_open.restype = ctypes.c_int
seen = [libc.shmget(0x5B0C0FFE, 0, 0) >= 0, libc.msgget(0x5B0C0FFE, 0) >= 0, libc.semget(0x5B0C0FFE, 0, 0) >= 0,
        libc.mq_open(b"/sbplanted", os.O_RDONLY, 0, None) >= 0, os.path.exists("/dev/shm/sbplanted"),
        os.path.exists("/sys/fs/cgroup")]
try:
    socket.socket(socket.AF_UNIX).connect("\0sbplanted")
    seen.append(True)
except OSError:
    seen.append(False)
result = seen
'''
    r1 = run(plant)
    assert r1.ok and r1.data == [True, True, True, True], r1
    r2 = run(look)
    assert r2.ok and r2.data == [False] * 7, r2
    host = Path("/proc/sysvipc/msg").read_text() + Path("/proc/sysvipc/shm").read_text()
    assert str(0x5B0C0FFE) not in host and not Path("/dev/shm/sbplanted").exists()


def test_the_cpu_time_of_the_job_is_the_servers_count(run):
    """The server reports the CPU time of the job's process and of every child it waited for (its
    rusage as the server reaps it), also for a job it stopped: predict.local tells a job that computed
    (an endless loop, a fork bomb forking) from one a busy machine kept waiting, without asking the job.
    (Small amounts, so that they are spent well within the timeout on a loaded machine: 0.6 s and
    0.8 s; a count leaves out at most a few of the kernel's ticks. Children still running when a job
    is stopped: test_sb_cpu.py.)"""
    spin = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        t = time.process_time()\n"
            "        while time.process_time() - t < 0.2:\n            pass\n        os._exit(0)\n"
            "for _ in range(3):\n    os.wait()\n")
    r = run(spin + "result = 1")
    assert r.ok and r.cpu_used is not None and r.cpu_used >= 0.5, r
    r = run(spin + "t = time.process_time()\nwhile time.process_time() - t < 0.2:\n    pass\ntime.sleep(600)",
            limits=sandbox.Limits(timeout=10, memory_mb=256))
    assert r.status == "timeout" and r.cpu_used is not None and r.cpu_used >= 0.7, r
