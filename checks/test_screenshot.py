"""A screenshot of a prediction from the deployed model is in the deploy folder (or embedded by its README)."""
import pytest

from deploycheck.verdicts import proof


@pytest.mark.check("proof.screenshot")
def test_proof_screenshot(target, record, dc):
    record(proof.proof_screenshot(target, dc))
