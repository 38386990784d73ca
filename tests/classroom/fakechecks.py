"""A one-check rubric file for class runs through pytester: readme.present only (the class's
plumbing, not the verdicts, is what those tests look at)."""

README_PRESENT = '''
import pytest
from deploycheck.model import passed, failed

@pytest.mark.check("readme.present")
def test_readme_present(target, record):
    f = target.folder
    record(passed("ok") if f and f.find("README.md") else failed("no README in the deploy folder: add README.md"))
'''
