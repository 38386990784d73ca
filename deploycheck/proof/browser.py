"""Find a Chromium for Playwright and keep one headless browser per process.

Order (the same as scripts/ensure-chromium.sh):

1. ``$DEPLOYCHECK_CHROMIUM`` (an executable file),
2. ``chromium`` / ``chromium-browser`` / ``google-chrome`` on ``PATH`` (Debian's ``chromium``
   package installs ``/usr/bin/chromium``; GitHub's Ubuntu runners ship ``google-chrome``),
3. Playwright's own download (``python -m playwright install chromium``).

If none is found, :func:`find_chromium` says what to install in one sentence and every caller
skips its screenshots with that sentence instead of erroring.

**Chromium never runs as root without its sandbox, and never with the network** (issue 21): student
READMEs, images, CSS and fonts go to its parsers. Playwright starts a two-line wrapper instead of the
browser, which runs :mod:`deploycheck.proof.chromium_jail`: bubblewrap (new user/PID/mount/network/IPC/UTS
namespaces, a read-only view of ``/usr`` and the fonts, only the browser's profile folder writable) and,
as root, a uid no account uses; Chromium's own sandbox on inside it when it can start there, else
bubblewrap alone. Without bubblewrap, an ordinary user's Chromium runs with its own sandbox and root's
as that unprivileged uid with its own sandbox (``setpriv``); where neither works, no proof image is
rendered and the note says why (they carry no points). :func:`mode` says which was used.

Playwright's sync API runs its own event loop in the thread that starts it (and refuses to
start inside a running asyncio loop), so every browser call goes through :func:`run`, which
executes it in one dedicated thread per process. That thread starts one browser lazily, reuses
it for every student and closes it at exit; under pytest-xdist that is one browser per worker.

That thread never ends. Playwright's sync API runs on greenlet, which frees a thread's greenlet state
in a C++ thread-exit destructor, without the GIL; when that destructor ran while the interpreter
finalized (the browser thread stopped by the exit-time close, or a new one started then by a late
warm-up, on a loaded machine) the grader died with SIGSEGV after writing its report (greenlet issue
#411). So the browser thread closes the browser and stops Playwright, then waits for ever with every
signal blocked; the exit-time close returns only once it waits (or after :data:`STOP_SECONDS`, the
longest a Playwright call in flight can take), calls asked for but not started by then are refused
(no Chromium is started at exit only to be closed), and no browser thread starts after it. Asking whether
Playwright has its own Chromium (:func:`playwright_browser_path`) runs in that thread too.
Pages are reused too (:func:`with_page`): one per kind of screenshot, each in its own context,
so a class costs one browser start and a ``set_content`` + screenshot per card.

    python -m deploycheck.proof.browser --which                   # print the chosen executable
    python -m deploycheck.proof.browser --has-playwright-browser  # exit 0 iff Playwright's own browser exists
"""
from __future__ import annotations

import argparse
import atexit
import concurrent.futures
import json
import os
import queue
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, TypeVar

if TYPE_CHECKING:       # playwright is the optional "proof" extra: imported where it is used
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

T = TypeVar("T")

ENV_VAR = "DEPLOYCHECK_CHROMIUM"
PATH_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Harmless everywhere: no GPU in CI, no background traffic, no first-run UI. (--no-sandbox is added only
# inside bubblewrap, when Chromium's own sandbox cannot start there.)
COMMON_ARGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
               "--disable-sync"]
JAIL = Path(__file__).resolve().with_name("chromium_jail.py")
JAIL_UID_BASE = 1_800_000_000           # root: Chromium runs as this + pid % 10**6, a uid no account uses
NOT_FOUND = ("no Chromium found for proof screenshots: install one (Debian/Ubuntu: "
             "`apt-get install chromium`; or `python -m playwright install chromium`) "
             f"or set {ENV_VAR} to a Chromium/Chrome executable")


class BrowserUnavailable(RuntimeError):
    """No Chromium could be found or started; ``str(e)`` is the one-line reason."""


def _executable(p: str | None) -> bool:
    if not p:
        return False
    return os.path.isfile(p) and os.access(p, os.X_OK)


_probe: dict[str, str | None] = {}


def playwright_browser_path(refresh: bool = False) -> str | None:
    """Path of Playwright's own downloaded Chromium when it exists on disk, else None.
    (Asking Playwright starts its driver, ~0.3 s, in the browser thread: the answer is remembered per process.)"""
    if "path" in _probe and not refresh:
        return _probe["path"]
    from deploycheck import optional
    if not optional.importable("playwright"):
        return None
    try:
        path: str | None = run_playwright(lambda pw: pw.chromium.executable_path, timeout=60)
    except Exception:  # noqa: BLE001 - no driver, a timeout, the grader exiting: no Playwright browser
        path = None
    _probe["path"] = path if _executable(path) else None
    return _probe["path"]


def find_chromium() -> tuple[str | None, str, str]:
    """``(path or None, how, reason)``. ``how`` is one of ``"env"``, ``"path"``, ``"playwright"``,
    ``"none"``; ``path`` is None for ``"playwright"`` (Playwright picks its own binary) and for
    ``"none"``. ``reason`` is a sentence fit for a skip message or a log line."""
    from deploycheck import optional
    if not optional.importable("playwright"):
        return None, "none", optional.hint("proof", "proof screenshots")
    note = ""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        if _executable(env):
            return env, "env", f"{ENV_VAR}={env}"
        note = f"{ENV_VAR}={env} is not an executable file; "
    for name in PATH_NAMES:
        p = shutil.which(name)
        if p:
            return p, "path", f"{note}{name} on PATH ({p})"
    pw = playwright_browser_path()
    if pw:
        return None, "playwright", f"{note}Playwright's own Chromium ({pw})"
    return None, "none", note + NOT_FOUND


def launch_args() -> list[str]:
    return list(COMMON_ARGS)


_MODE: dict[str, str] = {}


def mode() -> str:
    """How this process's Chromium was started ("" before it was): "bubblewrap + Chromium's sandbox",
    "bubblewrap", "Chromium's sandbox (unprivileged uid)", "Chromium's sandbox"."""
    return _MODE.get("mode", "")


def jail_config(executable: str, no_sandbox: bool, use_bwrap: bool = True) -> dict[str, Any]:
    """The configuration :mod:`deploycheck.proof.chromium_jail` starts ``executable`` with."""
    from deploycheck.sandbox.isolation import find_bwrap
    real = os.path.realpath(executable)
    binds = [os.path.dirname(real)] if not real.startswith("/usr/") else []
    return {"chromium": executable, "bwrap": (find_bwrap() or "") if use_bwrap else "",
            "root": os.geteuid() == 0, "uid": JAIL_UID_BASE + os.getpid() % 1_000_000,
            "setpriv": shutil.which("setpriv") or "/usr/bin/setpriv", "no_sandbox": no_sandbox, "ro_binds": binds}


def _wrapper(cfg: dict[str, Any]) -> str:
    """A private executable that Playwright starts as "the browser": it runs the jail."""
    d = tempfile.mkdtemp(prefix="deploycheck-chromium-")            # 0700, this process's
    _WRAPPERS.append(d)
    conf, path = os.path.join(d, "jail.json"), os.path.join(d, "chromium")
    with open(conf, "w") as fh:
        json.dump(cfg, fh)
    cmd = " ".join(shlex.quote(x) for x in (sys.executable, "-I", str(JAIL), conf))
    with open(path, "w") as fh:
        fh.write(f'#!/bin/sh\nexec {cmd} "$@"\n')
    os.chmod(path, 0o700)
    return path


def launch(playwright: Playwright) -> Browser:
    """Start headless Chromium with ``playwright`` (a sync Playwright object), jailed (see the module's
    text). Raises :class:`BrowserUnavailable` with the reason when no browser can be found or started."""
    path, how, reason = find_chromium()
    if how == "none":
        raise BrowserUnavailable(reason)
    executable = path or playwright.chromium.executable_path
    from deploycheck.sandbox.isolation import find_bwrap
    root = os.geteuid() == 0
    have_bwrap = sys.platform.startswith("linux") and find_bwrap() is not None
    attempts: list[tuple[str, dict[str, Any] | None]] = []
    if have_bwrap:
        attempts += [("bubblewrap + Chromium's sandbox", jail_config(executable, False)),
                     ("bubblewrap", jail_config(executable, True))]
    if root and sys.platform.startswith("linux") and shutil.which("setpriv"):
        attempts.append(("Chromium's sandbox (unprivileged uid)", jail_config(executable, False, use_bwrap=False)))
    elif not root:
        attempts.append(("Chromium's sandbox", None))
    errors: list[str] = []
    for label, cfg in attempts:
        kw: dict[str, Any] = {"headless": True, "args": launch_args(), "timeout": 60_000, "chromium_sandbox": True,
                              "executable_path": _wrapper(cfg) if cfg is not None else executable}
        try:
            b = playwright.chromium.launch(**kw)
        except Exception as e:  # broken binary, missing libraries, a sandbox that cannot start here...
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            errors.append(f"{label}: {first[:160]}")
            continue
        _MODE["mode"] = label
        return b
    if not attempts:
        raise BrowserUnavailable(f"Chromium from {reason} is not started: as root it needs bubblewrap or setpriv to "
                                 "run without root's rights (install bubblewrap)")
    raise BrowserUnavailable(f"Chromium from {reason} did not start in its sandbox ({'; '.join(errors)}); "
                             f"install bubblewrap, or set {ENV_VAR} to a working Chromium")


# ---------------------------------------------------------------- one browser per process
#
# Playwright's sync API keeps its own asyncio loop marked as *running* in the thread that started
# it, for as long as it is started: any later `asyncio.run()` in that thread then fails ("cannot
# be called from a running event loop"), and Playwright refuses to start in a thread that already
# runs a loop. So all browser work happens in one dedicated daemon thread per process: callers
# hand it a function and wait for the result. The calling thread never sees Playwright's loop,
# works the same from async code, and the browser is started once and reused for every student.


STOP_SECONDS = 120.0       # the longest a Playwright call in flight at exit can take (launch: 60 s, a page action: 30 s)
_here = threading.local()  # .worker: the _Worker whose thread this is


class _Worker:
    def __init__(self) -> None:
        self.q: queue.Queue[tuple[Callable[[Any], Any], concurrent.futures.Future[Any], bool] | None] = queue.Queue()
        self.failed: str | None = None
        self.pw: Playwright | None = None
        self.browser: Browser | None = None
        self.pages: dict[str, tuple[BrowserContext, Page]] = {}      # kind -> (context, page), reused
        self.parked = threading.Event()        # the browser and Playwright are closed; the thread waits for ever
        self._stopping = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, name="deploycheck-browser", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        _here.worker = self
        try:
            while True:
                item = self.q.get()
                if item is None:
                    return
                fn, fut, wants_browser = item
                if not fut.set_running_or_notify_cancel():
                    continue
                try:
                    fut.set_result(fn(self.started_browser() if wants_browser else self.started_playwright()))
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    fut.set_exception(e)
        finally:
            for obj, meth in ((self.browser, "close"), (self.pw, "stop")):
                if obj is not None:
                    try:
                        getattr(obj, meth)()
                    except Exception:
                        pass
            self.browser = self.pw = None
            self._park()

    def _park(self) -> NoReturn:
        """Wait for ever (the module's text says why this thread never ends). No signal is delivered to
        this thread, so nothing wakes it to take the GIL while the interpreter finalizes."""
        self.parked.set()
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        never = threading.Lock()
        never.acquire()
        never.acquire()
        raise AssertionError("unreachable")

    def started_playwright(self) -> Playwright:
        if self.pw is None:
            from playwright.sync_api import sync_playwright
            self.pw = sync_playwright().start()
        return self.pw

    def started_browser(self) -> Browser:
        if self.failed:
            raise BrowserUnavailable(self.failed)
        if self.browser is None or not self.browser.is_connected():
            self.pages.clear()
            try:
                self.browser = launch(self.started_playwright())
            except BrowserUnavailable as e:
                self.failed = str(e)
                raise
        return self.browser

    def submit(self, fn: Callable[[Any], T], wants_browser: bool = True, timeout: float | None = None) -> T:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._stopping:
                raise BrowserUnavailable("the browser was closed (deploycheck is exiting)")
            self.q.put((fn, fut, wants_browser))
        return fut.result(timeout)

    def stop(self, timeout: float) -> bool:
        """Close the browser and Playwright once the call in progress is done; True once the thread waits.
        Calls asked for but not started get :class:`BrowserUnavailable` (a warm-up queued late would
        otherwise start Chromium while deploycheck exits, only to close it)."""
        with self._lock:
            if not self._stopping:
                self._stopping = True
                while True:
                    try:
                        item = self.q.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None and item[1].set_running_or_notify_cancel():
                        item[1].set_exception(BrowserUnavailable("the browser was closed (deploycheck is exiting)"))
                self.q.put(None)
        return self.parked.wait(timeout)


_lock = threading.Lock()
_worker: _Worker | None = None
_exiting = False


def _get_worker() -> _Worker:
    global _worker
    with _lock:
        if _exiting:       # a late warm-up: a browser thread started now could end while the interpreter finalizes
            raise BrowserUnavailable("no browser is started while deploycheck exits")
        if _worker is None or _worker.parked.is_set():
            _worker = _Worker()
        return _worker


def run(fn: Callable[[Browser], T]) -> T:
    """``fn(browser)`` in the browser thread, with this process's one shared headless Chromium
    (started on first use). Blocks until done; safe to call from any thread, also from inside a
    running asyncio loop (that loop waits). Raises :class:`BrowserUnavailable` without Chromium.
    Everything Playwright (pages, contexts) must be created and closed inside ``fn``."""
    here: _Worker | None = getattr(_here, "worker", None)
    if here is not None:                        # nested call from inside fn
        return fn(here.started_browser())
    return _get_worker().submit(fn)


def run_playwright(fn: Callable[[Playwright], T], timeout: float | None = None) -> T:
    """``fn(playwright)`` in the browser thread, without starting a browser (like :func:`run`)."""
    here: _Worker | None = getattr(_here, "worker", None)
    if here is not None:
        return fn(here.started_playwright())
    return _get_worker().submit(fn, wants_browser=False, timeout=timeout)


def with_page(kind: str, setup: Callable[[Browser], BrowserContext], fn: Callable[[Page], T]) -> T:
    """``fn(page)`` on this process's reused page of ``kind``; ``setup(browser)`` makes its context
    (viewport, JavaScript off, routes) and returns it, once. A page that crashed or was closed is
    made again; a failure inside ``fn`` drops the page so the next call starts clean."""
    def call(browser: Browser) -> T:
        w: _Worker = _here.worker                 # the browser thread's own (never a new one)
        ctx_page = w.pages.get(kind)
        if ctx_page is None or ctx_page[1].is_closed():
            ctx = setup(browser)
            ctx_page = (ctx, ctx.new_page())
            w.pages[kind] = ctx_page
        try:
            return fn(ctx_page[1])
        except BaseException:
            w.pages.pop(kind, None)
            try:
                ctx_page[0].close()
            except Exception:  # noqa: BLE001
                pass
            raise
    return run(call)


LOCAL_ORIGIN = "http://grader-files.deploycheck.invalid"


def serve_folder(ctx: BrowserContext, folder: str | os.PathLike[str]) -> str:
    """Let the pages of ``ctx`` read the grader's own files under ``folder`` (a report, say) at the URL
    prefix this returns. Chromium runs in a jail that has none of the grader's files, so ``file://`` URLs
    open nothing there: the files are read here and handed over through Playwright's routing (nothing
    outside ``folder``, no symlink out of it)."""
    from urllib.parse import unquote, urlsplit
    root = Path(folder).resolve()

    def handle(route: Any) -> None:
        rel = unquote(urlsplit(route.request.url).path).lstrip("/")
        p = (root / rel).resolve()
        if root in p.parents and p.is_file():
            route.fulfill(path=str(p))
        else:
            route.fulfill(status=404, body=b"")
    ctx.route(LOCAL_ORIGIN + "/**", handle)
    return LOCAL_ORIGIN + "/"


def available() -> tuple[bool, str]:
    """(True, how) when a Chromium can be found (not started), else (False, reason)."""
    w = _worker
    if w is not None and w.failed:
        return False, w.failed
    _, how, reason = find_chromium()
    return how != "none", reason


def close(timeout: float = STOP_SECONDS) -> None:
    """Close the shared browser and stop Playwright, and wait until the browser thread has done so
    (safe to call twice; the next run() starts anew, except at exit)."""
    global _worker
    with _lock:
        w, _worker = _worker, None
    if w is None:
        return
    inside = getattr(_here, "worker", None) is w      # from inside fn: it parks once fn returns
    if not w.stop(0 if inside else timeout) and not inside:
        print(f"deploycheck: the browser thread was still busy {timeout:.0f} s after the end of the run",
              file=sys.stderr)


def _at_exit() -> None:
    global _exiting
    with _lock:
        _exiting = True
    close()


_WRAPPERS: list[str] = []      # the jail wrappers' folders, removed at exit once the browser is closed


def _remove_wrappers() -> None:
    for d in _WRAPPERS:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_wrappers)      # atexit runs the last registered first: this after _at_exit
atexit.register(_at_exit)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deploycheck.proof.browser", description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--has-playwright-browser", action="store_true",
                   help="exit 0 iff Playwright's own downloaded Chromium is present")
    g.add_argument("--which", action="store_true", help="print the Chromium deploycheck would use")
    a = ap.parse_args(argv)
    if a.has_playwright_browser:
        p = playwright_browser_path()
        if p:
            print(p)
        return 0 if p else 1
    path, how, reason = find_chromium()
    if how == "none":
        print(reason, file=sys.stderr)
        return 1
    print(path or playwright_browser_path() or "playwright")
    if not a.which:
        print(f"({reason})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
