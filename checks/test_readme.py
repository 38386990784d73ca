"""README rubric: present, deployment instructions, clean-up instructions."""
import pytest

from deploycheck.verdicts import readme


@pytest.mark.check("readme.present")
def test_readme_present(target, record):
    record(readme.readme_present(target))


@pytest.mark.check("readme.instructions")
def test_readme_instructions(target, record):
    record(readme.readme_instructions(target))


@pytest.mark.check("readme.cleanup")
def test_readme_cleanup(target, record):
    record(readme.readme_cleanup(target))
