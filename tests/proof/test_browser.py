"""Finding Chromium and keeping one browser per process (deploycheck.proof.browser)."""
import asyncio
import os
import stat
import subprocess
import sys

import pytest

from deploycheck.proof import browser as br
from tests.world import as_nobody


def _fake_exe(path):
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def empty_path(tmp_path, monkeypatch):
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))
    monkeypatch.delenv(br.ENV_VAR, raising=False)
    monkeypatch.setattr(br, "playwright_browser_path", lambda: None)
    return d


def test_env_var_wins(tmp_path, empty_path, monkeypatch):
    exe = _fake_exe(tmp_path / "my-chrome")
    _fake_exe(empty_path / "chromium")
    monkeypatch.setenv(br.ENV_VAR, str(exe))
    assert br.find_chromium() == (str(exe), "env", f"{br.ENV_VAR}={exe}")


def test_path_then_note_about_bad_env_var(tmp_path, empty_path, monkeypatch):
    exe = _fake_exe(empty_path / "chromium-browser")
    monkeypatch.setenv(br.ENV_VAR, str(tmp_path / "nope"))
    path, how, reason = br.find_chromium()
    assert (path, how) == (str(exe), "path")
    assert "is not an executable file" in reason and "chromium-browser on PATH" in reason


def test_playwright_own_browser_when_nothing_else(empty_path, monkeypatch):
    monkeypatch.setattr(br, "playwright_browser_path", lambda: "/pw/chrome")
    assert br.find_chromium()[:2] == (None, "playwright")


def test_nothing_found_gives_one_clear_reason(empty_path):
    path, how, reason = br.find_chromium()
    assert (path, how) == (None, "none")
    assert "apt-get install chromium" in reason and br.ENV_VAR in reason and "playwright install" in reason
    assert br.available() == (False, reason)


def test_the_jail_as_root_and_as_a_user():
    """chromium_jail's command line: every namespace (the network too), the profile folder the only
    writable folder of the grader's, as root a private uid with no capability, --no-sandbox only when asked."""
    from deploycheck.proof import chromium_jail as jail
    cfg = {"bwrap": "/usr/bin/bwrap", "root": True, "uid": 1800000042, "setpriv": "/usr/bin/setpriv",
           "chromium": "/usr/bin/chromium", "no_sandbox": False, "ro_binds": []}
    a = jail.argv(cfg, ["--headless", "--user-data-dir=/tmp/playwright_chromiumdev_profile-x", "--remote-debugging-pipe"])
    assert a[0] == "/usr/bin/bwrap" and "--unshare-net" in a and "--unshare-pid" in a and "--die-with-parent" in a
    assert [a[i + 1] for i, x in enumerate(a) if x == "--bind"] == ["/tmp/playwright_chromiumdev_profile-x"]
    i = a.index("/usr/bin/setpriv")
    assert a[i:i + 5] == ["/usr/bin/setpriv", "--reuid", "1800000042", "--regid", "1800000042"]
    assert "--inh-caps=-all" in a and "--no-sandbox" not in a and a[-3:] == [
        "--headless", "--user-data-dir=/tmp/playwright_chromiumdev_profile-x", "--remote-debugging-pipe"]
    a = jail.argv(dict(cfg, root=False, no_sandbox=True), ["--headless"])
    assert "--unshare-all" in a and "/usr/bin/setpriv" not in a and a[-2:] == ["--no-sandbox", "--headless"]
    a = jail.argv(dict(cfg, bwrap=""), ["--headless"])             # root without bubblewrap: setpriv alone
    assert a[0] == "/usr/bin/setpriv" and a[-2:] == ["/usr/bin/chromium", "--headless"]


def test_launch_without_browser_raises_unavailable(empty_path):
    class PW:  # never reached: nothing to launch
        chromium = None
    with pytest.raises(br.BrowserUnavailable, match="no Chromium found"):
        br.launch(PW())


def test_cli_which_and_has_playwright_browser(tmp_path):
    exe = _fake_exe(tmp_path / "chrome")
    env = {**os.environ, br.ENV_VAR: str(exe)}
    p = subprocess.run([sys.executable, "-m", "deploycheck.proof.browser", "--which"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == str(exe)
    p = subprocess.run([sys.executable, "-m", "deploycheck.proof.browser", "--has-playwright-browser"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == (0 if br.playwright_browser_path() else 1)


needs_chromium = pytest.mark.skipif(not br.available()[0], reason=br.available()[1])


@needs_chromium
def test_one_browser_per_process_reused_and_harmless_to_asyncio():
    b1 = br.run(lambda b: b)
    assert br.run(lambda b: b) is b1 and br.run(lambda b: b.is_connected())
    # the caller's thread never sees Playwright's event loop: asyncio keeps working here ...
    assert asyncio.run(asyncio.sleep(0, result="ok")) == "ok"

    async def inside_loop():
        # ... and the browser is usable from inside a running loop too
        def add(b):
            page = b.new_page()
            try:
                return page.evaluate("1 + 1")
            finally:
                page.close()
        return br.run(add)
    assert asyncio.run(inside_loop()) == 2
    assert br.run(lambda b: b) is b1


@needs_chromium
def test_errors_in_the_callback_reach_the_caller():
    def boom(b):
        raise ValueError("nope")
    with pytest.raises(ValueError, match="nope"):
        br.run(boom)
    assert br.run(lambda b: b.is_connected())


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@needs_chromium
@pytest.mark.parametrize("who", ["root", "nobody"])
def test_chromium_never_runs_as_root_and_has_no_network(tmp_path, who):
    """Issue 21: Chromium parses student files. It runs as an unprivileged uid (never 0), in a network
    namespace of its own (a page cannot reach a server on the grader's loopback), and renders."""
    if who == "nobody" and os.geteuid() != 0:
        pytest.skip("switching to nobody needs the suite to run as root")
    argv = [sys.executable, os.path.join(ROOT, "tests", "proof", "jail_probe.py"), ROOT]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(tmp_path)}
    if who == "nobody":
        os.chmod(tmp_path, 0o777)
        argv = as_nobody(argv, tmp_path / "stage", (ROOT,))
    p = subprocess.run(argv, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    res = __import__("json").loads(p.stdout.strip().splitlines()[-1])
    assert res["euid"] == (0 if who == "root" else 65534)
    assert res["png"] > 100 and res["procs"], res
    assert all(x["uid"] != 0 for x in res["procs"]), res["procs"]
    if res["mode"].startswith("bubblewrap"):
        assert all(x["own_net"] for x in res["procs"]) and not res["reached"] and res["hits"] == [], res
    if not res["mode"].startswith("bubblewrap"):          # no bubblewrap here: Chromium's own sandbox, always
        assert not any(x["no_sandbox"] for x in res["procs"]), res


EXIT_PROBE = r"""
import atexit, json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
started = []                                   # the name of every thread this process starts
_start = threading.Thread.start
def start(self):
    started.append(self.name)
    return _start(self)
threading.Thread.start = start

def children():
    out = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/stat") as fh:
                if int(fh.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                    out.append(d)
        except (OSError, ValueError, IndexError):
            pass
    return out

def after_close():                             # atexit is LIFO: this runs after the browser's own close
    t = seen.pop("thread")
    seen["ran playwright, then"] = "alive" if t.is_alive() and os.path.exists(f"/proc/self/task/{t.native_id}") else "ended"
    try:                                       # prefetch's warm-up, asking late on a loaded machine
        browser.run(lambda b: b.is_connected())
        seen["late warm-up"] = "a browser"
    except browser.BrowserUnavailable as e:
        seen["late warm-up"] = str(e)
    queued.join(10)
    seen["slow call"] = slow_result
    seen["threads started"] = [n for n in started if n.startswith("deploycheck-browser")]
    seen["children"] = children()
    print(json.dumps(seen), flush=True)
atexit.register(after_close)

from deploycheck.proof import browser
seen = {"probe": browser.playwright_browser_path(refresh=True) is not None}
seen["thread"] = browser.run(lambda b: threading.current_thread())

# at exit, one call is in progress and another waits for it: the first finishes, the second is refused.
# The first starts a browser again while deploycheck exits (as a launch's second attempt would).
running, slow_result = threading.Event(), []
def slow(b):
    running.set()
    time.sleep(2)
    b.close()
    return browser.run(lambda again: "done" if again.is_connected() else "not connected")
def queued_call():
    try:
        browser.run(lambda b: seen.__setitem__("queued call", "ran"))
    except browser.BrowserUnavailable as e:
        seen["queued call"] = str(e)
threading.Thread(target=lambda: slow_result.append(browser.run(slow)), daemon=True).start()
running.wait(60)
queued = threading.Thread(target=queued_call, daemon=True)
queued.start()
while browser._worker.q.qsize() == 0:
    time.sleep(0.01)
"""


@needs_chromium
def test_a_thread_that_ran_playwright_never_ends_and_none_starts_at_exit(tmp_path):
    """Playwright's sync API runs on greenlet, whose per-thread state a C++ thread-exit destructor frees
    without the GIL: when it ran while the interpreter finalized, `deploycheck grade` died with SIGSEGV
    after writing its report (on a loaded machine: the exit-time close ended the browser thread while
    prefetch's late warm-up started another). At exit the browser is closed (no child process is left)
    but its thread lives on, the probe for Playwright's own Chromium runs in that same thread, and a
    warm-up asking after the close gets no browser (and no thread). A call in progress at exit finishes; one
    still waiting for it is refused (a late warm-up must not start Chromium only to close it); the jail's
    wrapper folders are removed."""
    script = tmp_path / "exit_probe.py"
    script.write_text(EXIT_PROBE)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    p = subprocess.run([sys.executable, str(script), ROOT], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, TMPDIR=str(tmp)))
    assert p.returncode == 0 and "Fatal Python error" not in p.stderr, p.stderr[-3000:]
    assert not list(tmp.glob("deploycheck-chromium-*")), "the jail's wrapper is left in the temp folder"
    seen = __import__("json").loads(p.stdout.strip().splitlines()[-1])
    assert seen["ran playwright, then"] == "alive", seen
    assert seen["threads started"] == ["deploycheck-browser"], seen        # one, the probe's included
    assert seen["late warm-up"] == "no browser is started while deploycheck exits", seen
    assert seen["children"] == [], seen                                    # Playwright's driver is stopped
    assert (seen["slow call"], seen["queued call"]) == (["done"], "the browser was closed (deploycheck is exiting)"), seen
