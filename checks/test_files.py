"""Every local file the README or the deploy scripts name is in the deploy folder."""
import pytest

from deploycheck.verdicts import files


@pytest.mark.check("files.referenced")
def test_files_referenced(target, record):
    record(files.files_referenced(target))
