"""AWS: the SageMaker entry-point script (static analysis only, never imported)."""
import pytest

from deploycheck.verdicts import entry_point


@pytest.mark.check("entry_point.model_fn")
def test_entry_point_model_fn(target, record):
    record(entry_point.entry_point_model_fn(target))


@pytest.mark.check("entry_point.imports")
def test_entry_point_imports(target, record):
    record(entry_point.entry_point_imports(target))
