"""structure.deploy_folder: where the deployment is."""
import pytest

from deploycheck.verdicts import structure


@pytest.mark.check("structure.deploy_folder")
def test_structure_deploy_folder(target, record):
    record(structure.deploy_folder(target))
