"""``deploycheck grade ARGS...``: run the installed rubric with pytest, on deploycheck's own
configuration only.

The same options as ``pytest checks/`` (``--repo``, ``--classroom``, ``--report``, ``-n``, ``-k``...),
and the same results from any working directory: the Action runs it from inside the student's
repo, whose own pytest set-up must not change a verdict. So the run

* reads only ``deploycheck/pytest.ini`` (``-c``), with its rootdir beside the rubric (``--rootdir``);
* imports no ``conftest.py`` (``--noconftest``: the rubric's wiring is the plugin, loaded with ``-p``);
* loads exactly the plugins it needs (:data:`PLUGINS`) with third-party auto-loading off
  (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``) and without ``PYTEST_ADDOPTS`` / ``PYTEST_PLUGINS`` from the
  caller's environment (xdist workers inherit the same environment);
* writes no ``.pytest_cache`` (cacheprovider off) and no rewritten bytecode (``--assert=plain``: the
  checks record verdicts, they do not assert);
* leaves out pytest's unraisable-exception plugin, whose full garbage collections at the end of every
  process (two per xdist worker, each over the whole class's facts) only report exceptions in
  ``__del__`` methods;
* prints the rubric's own "fix this first" summary instead of pytest's file-by-file progress and
  per-test failure sections (``-q --tb=no -rE``; add ``-v --tb=short`` to see them).

Exit statuses are pytest's (0 all passed, 1 a check failed, 2 interrupted, 3 internal error,
4 usage error); a command that needs an extra that is not installed says which one and exits 4.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from deploycheck import optional

PACKAGE_DIR = Path(__file__).resolve().parent
INI = PACKAGE_DIR / "pytest.ini"
# pytest plugins a grading run needs, loaded explicitly (nothing else is auto-loaded)
PLUGINS = ("deploycheck.plugin", "xdist.plugin")
# removed from the environment of the run: they would add options or plugins behind our back
SCRUBBED_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
SET_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
# defaults a student's terminal reads well with; later arguments override them (-q only when the
# caller sets no verbosity of their own, so -v means verbose)
TERMINAL_DEFAULTS = ("--tb=no", "-rE")
QUIET = "-q"


def checks_dir() -> Path:
    """The rubric's test files: ``deploycheck/checks`` when installed, ``checks/`` in a checkout."""
    # importlib: setuptools installs checks/ as deploycheck.checks (package-dir), which mypy cannot follow
    checks = importlib.import_module("deploycheck.checks")
    return Path(str(checks.__file__)).resolve().parent


def pytest_args(argv: Sequence[str]) -> list[str]:
    """The complete pytest command line of ``deploycheck grade argv``."""
    rubric = checks_dir()
    args = ["-c", str(INI), "--rootdir", str(rubric.parent), "--noconftest", "-p", "no:cacheprovider",
            "-p", "no:unraisableexception",
            "--assert=plain"]
    for p in PLUGINS:
        args += ["-p", p]
    verbosity_set = any(a in ("--quiet", "--verbose") or re.fullmatch(r"-[vq]+", a) for a in argv)
    return [*args, *TERMINAL_DEFAULTS, *(() if verbosity_set else (QUIET,)), str(rubric), *argv]


@contextmanager
def isolated_environ() -> Iterator[None]:
    """``os.environ`` for the run (pytest reads it in-process, xdist workers inherit it); restored after."""
    saved = {k: os.environ.get(k) for k in (*SCRUBBED_ENV, *SET_ENV)}
    for k in SCRUBBED_ENV:
        os.environ.pop(k, None)
    os.environ.update(SET_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def version() -> str:
    from importlib import metadata
    try:
        return metadata.version("deploycheck")
    except metadata.PackageNotFoundError:
        return "unknown"


def short_help(full: str) -> str:
    """``grade --help``: the usage line, deploycheck's own option groups and the few pytest options
    a grader uses, from pytest's full help (``--help-pytest`` shows all of it)."""
    lines = full.splitlines()
    out = ["usage: deploycheck grade --repo PATH | --classroom DIR | --roster FILE.csv [options]", ""]
    keep, section = False, list[str]()
    for ln in lines:
        if ln and not ln.startswith(" ") and ln.endswith(":"):
            if keep:
                out += section + [""]
            keep, section = ln.startswith("deploycheck"), [ln]
        elif keep:
            section.append(ln)
    if keep:
        out += section + [""]
    out += ["pytest options that work here too:",
            "  -n N|auto             grade with N worker processes (a class)",
            "  -k EXPRESSION         only the checks/students matching it, e.g. -k readme or -k alice",
            "  -v --tb=short         every check and its traceback",
            "  --junitxml FILE       a JUnit XML report",
            "",
            "deploycheck grade --help-pytest shows every pytest option; deploycheck --help the other commands."]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if "--version" in argv or "-V" in argv:
        import pytest
        print(f"deploycheck {version()} (pytest {pytest.__version__})")
        return 0
    if "--help-pytest" in argv:
        argv = [a if a != "--help-pytest" else "--help" for a in argv]
    elif "-h" in argv or "--help" in argv:
        import contextlib
        import io

        import pytest
        buf = io.StringIO()
        with isolated_environ(), contextlib.redirect_stdout(buf):
            pytest.main(pytest_args(["--help"]))
        print(short_help(buf.getvalue()))
        return 0
    missing = optional.missing_for_grade(argv)
    if missing:
        print(missing, file=sys.stderr)
        return 4
    import pytest
    with isolated_environ():
        return int(pytest.main(pytest_args(argv)))
