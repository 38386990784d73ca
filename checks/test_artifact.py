"""The model archive / model file and the pickle inside it (never unpickled here)."""
import pytest

from deploycheck.verdicts import artifact


@pytest.mark.check("artifact.present")
def test_artifact_present(target, record):
    record(artifact.artifact_present(target))


@pytest.mark.check("artifact.valid")
def test_artifact_valid(target, record):
    record(artifact.artifact_valid(target))


@pytest.mark.check("artifact.version")
def test_artifact_version(target, record):
    record(artifact.artifact_version(target))


@pytest.mark.check("artifact.safe")
def test_artifact_safe(target, record):
    record(artifact.artifact_safe(target))
