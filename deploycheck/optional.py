"""deploycheck's optional dependencies (extras) and the one line that says which one to install.

``pip install deploycheck`` brings what grading one repo needs. Real or offline cloud runs
(``--cloud``, ``--audit-account``, ``deploycheck sweep|audit``) need the ``cloud`` extra (boto3, the
Google Cloud clients, moto and the Cloud Storage emulator); deploycheck's own proof cards and
README snapshots need the ``proof`` extra (Playwright). Nothing outside those code paths imports
them (tests/student/test_install.py grades with them blocked).
"""
from __future__ import annotations

import importlib.util
from typing import Sequence

# extra -> top-level modules it provides (the first dotted part is what an ImportError names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "cloud": ("boto3", "botocore", "moto", "google.cloud.storage", "google.cloud.aiplatform",
              "gcp_storage_emulator", "google.auth", "google.api_core"),
    "proof": ("playwright",),
}
# what each --cloud choice imports
CLOUD_MODULES: dict[str, tuple[str, ...]] = {
    "aws": ("boto3",),
    "gcp": ("google.cloud.storage", "google.cloud.aiplatform"),
    "moto": ("boto3", "moto", "google.cloud.storage", "google.cloud.aiplatform", "gcp_storage_emulator"),
}


def extra_of(module: str) -> str | None:
    """The extra that provides ``module`` (a dotted name from an ImportError), else None."""
    for extra, mods in EXTRAS.items():
        for m in mods:
            if module == m or module.startswith(m + ".") or m.startswith(module + "."):
                return extra
    return None


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):        # a parent package is missing or broken
        return False


def hint(extra: str, what: str) -> str:
    """One line: what needs which extra, and the command that installs it."""
    return (f"{what} needs deploycheck's `{extra}` extra, which is not installed here: "
            f"pip install 'deploycheck[{extra}]' (in a checkout of deploycheck: pip install -e '.[{extra}]')")


def missing(modules: Sequence[str]) -> list[str]:
    return [m for m in modules if not importable(m)]


def _option(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name VALUE`` / ``--name=VALUE`` in argv (the last one wins), else None."""
    value = None
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def missing_for_grade(argv: Sequence[str]) -> str | None:
    """``deploycheck grade``'s options that need an extra which is missing: the one-line hint, else None."""
    cloud = _option(argv, "--cloud")
    if cloud in CLOUD_MODULES and missing(CLOUD_MODULES[cloud]):
        return hint("cloud", f"deploycheck grade --cloud {cloud}")
    if "--audit-account" in argv and missing(CLOUD_MODULES["aws"]) and missing(CLOUD_MODULES["gcp"]):
        return hint("cloud", "deploycheck grade --audit-account")
    return None


def missing_for_cloud_command(command: str, argv: Sequence[str]) -> str | None:
    """``deploycheck sweep|audit``: the one-line hint when the provider's SDK is missing, else None."""
    if "-h" in argv or "--help" in argv:
        return None
    provider = _option(argv, "--provider")
    if provider in ("aws", "gcp"):
        gone = missing(CLOUD_MODULES[provider])
    else:   # the ledger's providers, else aws
        gone = missing(CLOUD_MODULES["aws"]) and missing(CLOUD_MODULES["gcp"])
    return hint("cloud", f"deploycheck {command}") if gone else None
