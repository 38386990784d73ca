"""Finding Chromium and keeping one browser per process (deploycheck.proof.browser)."""
import asyncio
import os
import stat
import subprocess
import sys

import pytest

from deploycheck.proof import browser as br


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


def test_launch_args_as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert br.launch_args() == ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                "--disable-component-update", "--no-first-run", "--disable-sync"]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "--no-sandbox" not in br.launch_args() and "--disable-gpu" in br.launch_args()


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
