"""Optional extras, off unless a rubric file enables them."""
import pytest

from deploycheck import extras


@pytest.mark.check("extras.custom_image", points=1, default=False)
def test_extras_custom_image(target, record):
    record(extras.custom_image(target))
