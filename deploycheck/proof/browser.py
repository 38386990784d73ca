"""Find a Chromium for Playwright and keep one headless browser per process.

Order (the same as scripts/ensure-chromium.sh):

1. ``$DEPLOYCHECK_CHROMIUM`` (an executable file),
2. ``chromium`` / ``chromium-browser`` / ``google-chrome`` on ``PATH`` (Debian's ``chromium``
   package installs ``/usr/bin/chromium``; GitHub's Ubuntu runners ship ``google-chrome``),
3. Playwright's own download (``python -m playwright install chromium``).

If none is found, :func:`find_chromium` says what to install in one sentence and every caller
skips its screenshots with that sentence instead of erroring.

Playwright's sync API runs its own event loop in the thread that starts it (and refuses to
start inside a running asyncio loop), so every browser call goes through :func:`run`, which
executes it in one dedicated thread per process. That thread starts one browser lazily, reuses
it for every student and closes it at exit; under pytest-xdist that is one browser per worker.
Pages are reused too (:func:`with_page`): one per kind of screenshot, each in its own context,
so a class costs one browser start and a ``set_content`` + screenshot per card.

    python -m deploycheck.proof.browser --which                   # print the chosen executable
    python -m deploycheck.proof.browser --has-playwright-browser  # exit 0 iff Playwright's own browser exists
"""
from __future__ import annotations

import argparse
import atexit
import concurrent.futures
import os
import queue
import shutil
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:       # playwright is the optional "proof" extra: imported where it is used
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

T = TypeVar("T")

ENV_VAR = "DEPLOYCHECK_CHROMIUM"
PATH_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Flags for running as root in a container (verified with Debian's chromium 156, see FACTS.md).
ROOT_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync"]
# Harmless everywhere: no GPU in CI, no background traffic, no first-run UI.
COMMON_ARGS = ROOT_ARGS[1:]
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
    (Asking Playwright starts its driver, ~0.3 s: the answer is remembered per process.)"""
    if "path" in _probe and not refresh:
        return _probe["path"]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    result: list[str | None] = [None]

    def probe() -> None:
        try:
            with sync_playwright() as p:
                path = p.chromium.executable_path
                result[0] = path if _executable(path) else None
        except Exception:
            result[0] = None
    th = threading.Thread(target=probe, name="deploycheck-browser-probe", daemon=True)
    th.start()
    th.join(60)
    _probe["path"] = result[0]
    return result[0]


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
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return list(ROOT_ARGS if is_root else COMMON_ARGS)


def launch(playwright: Playwright) -> Browser:
    """Start headless Chromium with ``playwright`` (a sync Playwright object). Raises
    :class:`BrowserUnavailable` with the reason when no browser can be found or started."""
    path, how, reason = find_chromium()
    if how == "none":
        raise BrowserUnavailable(reason)
    kw: dict[str, Any] = {"headless": True, "args": launch_args(), "timeout": 30_000}
    if path:
        kw["executable_path"] = path
    try:
        return playwright.chromium.launch(**kw)
    except Exception as e:  # broken binary, missing libraries...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BrowserUnavailable(f"Chromium from {reason} did not start ({first[:200]}); "
                                 f"set {ENV_VAR} to a working Chromium") from e


# ---------------------------------------------------------------- one browser per process
#
# Playwright's sync API keeps its own asyncio loop marked as *running* in the thread that started
# it, for as long as it is started: any later `asyncio.run()` in that thread then fails ("cannot
# be called from a running event loop"), and Playwright refuses to start in a thread that already
# runs a loop. So all browser work happens in one dedicated daemon thread per process: callers
# hand it a function and wait for the result. The calling thread never sees Playwright's loop,
# works the same from async code, and the browser is started once and reused for every student.


class _Worker:
    def __init__(self) -> None:
        self.q: queue.Queue[tuple[Callable[[Browser], Any], concurrent.futures.Future[Any]] | None] = queue.Queue()
        self.failed: str | None = None
        self.browser: Browser | None = None
        self.pages: dict[str, tuple[BrowserContext, Page]] = {}      # kind -> (context, page), reused
        self.thread = threading.Thread(target=self._serve, name="deploycheck-browser", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        pw = None
        try:
            while True:
                item = self.q.get()
                if item is None:
                    return
                fn, fut = item
                if not fut.set_running_or_notify_cancel():
                    continue
                try:
                    if self.failed:
                        raise BrowserUnavailable(self.failed)
                    if self.browser is None or not self.browser.is_connected():
                        self.pages.clear()
                        if pw is None:
                            from playwright.sync_api import sync_playwright
                            pw = sync_playwright().start()
                        try:
                            self.browser = launch(pw)
                        except BrowserUnavailable as e:
                            self.failed = str(e)
                            raise
                    fut.set_result(fn(self.browser))
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    fut.set_exception(e)
        finally:
            for obj, meth in ((self.browser, "close"), (pw, "stop")):
                if obj is not None:
                    try:
                        getattr(obj, meth)()
                    except Exception:
                        pass
            self.browser = None

    def submit(self, fn: Callable[[Browser], T]) -> T:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.q.put((fn, fut))
        return fut.result()

    def stop(self, timeout: float = 10.0) -> None:
        self.q.put(None)
        self.thread.join(timeout)


_lock = threading.Lock()
_worker: _Worker | None = None


def _get_worker() -> _Worker:
    global _worker
    with _lock:
        if _worker is None or not _worker.thread.is_alive():
            _worker = _Worker()
        return _worker


def run(fn: Callable[[Browser], T]) -> T:
    """``fn(browser)`` in the browser thread, with this process's one shared headless Chromium
    (started on first use). Blocks until done; safe to call from any thread, also from inside a
    running asyncio loop (that loop waits). Raises :class:`BrowserUnavailable` without Chromium.
    Everything Playwright (pages, contexts) must be created and closed inside ``fn``."""
    w = _get_worker()
    if threading.current_thread() is w.thread:  # nested call from inside fn
        if w.failed:
            raise BrowserUnavailable(w.failed)
        assert w.browser is not None            # set before the outer fn was called
        return fn(w.browser)
    return w.submit(fn)


def with_page(kind: str, setup: Callable[[Browser], BrowserContext], fn: Callable[[Page], T]) -> T:
    """``fn(page)`` on this process's reused page of ``kind``; ``setup(browser)`` makes its context
    (viewport, JavaScript off, routes) and returns it, once. A page that crashed or was closed is
    made again; a failure inside ``fn`` drops the page so the next call starts clean."""
    def call(browser: Browser) -> T:
        w = _get_worker()
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


def available() -> tuple[bool, str]:
    """(True, how) when a Chromium can be found (not started), else (False, reason)."""
    w = _worker
    if w is not None and w.failed:
        return False, w.failed
    _, how, reason = find_chromium()
    return how != "none", reason


def close() -> None:
    """Close the shared browser (called at exit; safe to call twice; the next run() starts anew)."""
    global _worker
    with _lock:
        w, _worker = _worker, None
    if w is not None and w.thread.is_alive():
        w.stop()


atexit.register(close)


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
