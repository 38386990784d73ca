"""A real, non-blank screenshot of a prediction is in the deploy folder (or embedded by its README)."""
import pytest

from deploycheck import images


@pytest.mark.check("proof.screenshot", points=1)
def test_proof_screenshot(target, record):
    record(images.proof_screenshot(target))
