"""Optional extras, off unless a rubric file enables them."""
import pytest

from deploycheck.verdicts import extras


@pytest.mark.check("extras.custom_image")
def test_extras_custom_image(target, record):
    record(extras.custom_image(target))
