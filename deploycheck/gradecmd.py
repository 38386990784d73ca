"""`deploycheck grade ARGS...`: run the installed rubric with pytest (same options as `pytest checks/`)."""
from __future__ import annotations

from pathlib import Path

import pytest


def main(argv: list[str]) -> int:
    import deploycheck.checks as checks
    return int(pytest.main([str(Path(checks.__file__).parent), "-p", "no:cacheprovider", *argv]))
