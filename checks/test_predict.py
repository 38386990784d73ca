"""The student's own code and model, run the way the serving container would, answer a request."""
import pytest

from deploycheck.verdicts import predict


@pytest.mark.check("predict.local")
def test_predict_local(target, record, dc):
    record(predict.predict_local(target, dc))
