import pytest

from deploycheck import localpredict, sandbox

# Start this worker's pre-warmed sandbox server now (in the background) so that scikit-learn is
# imported while the static checks run; the first predict.local then finds it ready.
sandbox.prestart()


@pytest.mark.check("predict.local", points=3)
def test_predict_local(target, record, dc):
    record(localpredict.predict_local(target, dc))
