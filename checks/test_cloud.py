"""Real (or moto) cloud deployment checks; deselected unless --cloud / --audit-account is given
(verdicts in deploycheck/verdicts/cloud.py)."""
import pytest

from deploycheck.rubric import RUBRIC
from deploycheck.verdicts import cloud


@pytest.fixture(scope="session", autouse=True)
def _cloud_cleanup():
    """Whatever happens to the tests, nothing deployed by this process outlives the session."""
    yield
    cloud.teardown_all()


@pytest.mark.check("cloud.deploy", points=RUBRIC["cloud.deploy"].points, requires="cloud")
def test_cloud_deploy(target, record, dc):
    record(cloud.cloud_deploy(target, dc))


@pytest.mark.check("cloud.predict", points=RUBRIC["cloud.predict"].points, requires="cloud")
def test_cloud_predict(target, record, dc):
    record(cloud.cloud_predict(target, dc))


@pytest.mark.check("cloud.teardown", points=RUBRIC["cloud.teardown"].points, requires="cloud")
def test_cloud_teardown(target, record, dc):
    record(cloud.cloud_teardown(target, dc))


@pytest.mark.check("cloud.leftovers", points=RUBRIC["cloud.leftovers"].points, requires="cloud")
def test_cloud_leftovers(target, record, dc):
    record(cloud.cloud_leftovers(target, dc))


@pytest.mark.check("cloud.account_clean", points=RUBRIC["cloud.account_clean"].points, requires="audit_account")
def test_cloud_account_clean(target, record, dc):
    record(cloud.cloud_account_clean(target, dc))
