import pytest

from deploycheck import structure


@pytest.mark.check("structure.deploy_folder", points=1)
def test_deploy_folder(target, record):
    record(structure.deploy_folder(target))
