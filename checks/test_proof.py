import pytest

from deploycheck import proof


@pytest.mark.check("proof.generated", points=1)
def test_proof_generated(target, record, dc):
    record(proof.proof_generated(target, dc))
