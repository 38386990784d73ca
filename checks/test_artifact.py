import pytest

from deploycheck import artifacts


@pytest.mark.check("artifact.present", points=1)
def test_artifact_present(target, record):
    record(artifacts.artifact_present(target))


@pytest.mark.check("artifact.valid", points=2)
def test_artifact_valid(target, record):
    record(artifacts.artifact_valid(target))


@pytest.mark.check("artifact.version", points=2)
def test_artifact_version(target, record):
    record(artifacts.artifact_version(target))


@pytest.mark.check("artifact.safe", points=2)
def test_artifact_safe(target, record):
    record(artifacts.artifact_safe(target))
