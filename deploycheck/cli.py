"""The `deploycheck` console script: sub-commands live next to the code they drive.

    deploycheck grade ...     run the rubric (pytest checks/ ...) from an installed package
    deploycheck serve PATH    the model behind the serving container's own request path, on localhost
    deploycheck runtimes list|build|prune   the serving images' runtime environments
    deploycheck sweep ...     delete leftover cloud resources of a run / ledger / age
    deploycheck audit         list billable leftovers in an account or project
    deploycheck merge OUT DIR...  merge shard reports into one gradebook

`deploycheck grade` needs only `pip install deploycheck`; --cloud, --audit-account, sweep and
audit need `pip install 'deploycheck[cloud]'`, proof screenshots `deploycheck[proof]`.
"""
from __future__ import annotations

import importlib
import sys

from deploycheck import optional

COMMANDS = {
    "grade": ("deploycheck.gradecmd", "main"),
    "serve": ("deploycheck.serving.http", "main"),
    "runtimes": ("deploycheck.runtimes.cli", "main"),
    "sweep": ("deploycheck.cloud.cli", "sweep_main"),
    "audit": ("deploycheck.cloud.cli", "audit_main"),
    "merge": ("deploycheck.report.merge", "main"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-V"]):
        from deploycheck.gradecmd import version
        print(f"deploycheck {version()}")
        return 0
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    mod, fn = COMMANDS[argv[0]]
    needs = optional.missing_for_cloud_command(argv[0], argv[1:]) if argv[0] in ("sweep", "audit") else None
    if needs:
        print(needs, file=sys.stderr)
        return 4
    try:
        return int(getattr(importlib.import_module(mod), fn)(argv[1:]) or 0)
    except ModuleNotFoundError as e:
        extra = optional.extra_of(e.name or "")
        if extra is None:
            raise
        print(optional.hint(extra, f"deploycheck {argv[0]}"), file=sys.stderr)
        return 4


if __name__ == "__main__":
    sys.exit(main())
