"""AWS: the SageMaker entry-point script (static analysis only, never imported)."""
import pytest

from deploycheck import entrypoint


@pytest.mark.check("entry_point.model_fn", points=2)
def test_entry_point_model_fn(target, record):
    record(entrypoint.entry_point_model_fn(target))


@pytest.mark.check("entry_point.imports", points=1)
def test_entry_point_imports(target, record):
    record(entrypoint.entry_point_imports(target))
