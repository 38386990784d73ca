"""Real (or moto) cloud deployment checks; deselected unless --cloud / --audit-account is given
(see deploycheck/verdicts/cloud.py)."""
import pytest

from deploycheck.verdicts import cloud


@pytest.fixture(scope="session", autouse=True)
def _cloud_cleanup():
    """Whatever happens to the tests, nothing deployed by this process outlives the session."""
    yield
    cloud.teardown_all()


@pytest.mark.check("cloud.deploy")
def test_cloud_deploy(target, record, dc):
    record(cloud.cloud_deploy(target, dc))


@pytest.mark.check("cloud.predict")
def test_cloud_predict(target, record, dc):
    record(cloud.cloud_predict(target, dc))


@pytest.mark.check("cloud.teardown")
def test_cloud_teardown(target, record, dc):
    record(cloud.cloud_teardown(target, dc))


@pytest.mark.check("cloud.leftovers")
def test_cloud_leftovers(target, record, dc):
    record(cloud.cloud_leftovers(target, dc))


@pytest.mark.check("cloud.account_clean")
def test_cloud_account_clean(target, record, dc):
    record(cloud.cloud_account_clean(target, dc))


@pytest.mark.check("cloud.trail")
def test_cloud_trail(target, record, dc):
    record(cloud.cloud_trail(target, dc))
