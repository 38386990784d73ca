"""Every local file the README or the deploy scripts name is in the deploy folder."""
import pytest

from deploycheck import readme


@pytest.mark.check("files.referenced", points=1)
def test_files_referenced(target, record):
    record(readme.files_referenced(target))
