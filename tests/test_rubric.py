"""THE rubric table (deploycheck/rubric.py): every check id, validated overrides, README's copy."""
import re
from pathlib import Path

import pytest

from deploycheck import rubric as rb

ROOT = Path(__file__).resolve().parents[1]


def test_readme_shows_the_rubric_table():
    text = (ROOT / "README.md").read_text()
    table = re.search(r"<!-- rubric-table -->\n(.*?)\n<!-- /rubric-table -->", text, re.S)
    assert table, "README.md lost its rubric-table markers"
    assert table.group(1).strip() == rb.markdown_table().strip(), \
        "README.md's rubric table differs from deploycheck/rubric.py: paste `python -m deploycheck.rubric`"


def test_every_check_in_checks_is_in_the_table_and_back():
    ids = set()
    for f in (ROOT / "checks").glob("test_*.py"):
        ids |= set(re.findall(r'@pytest\.mark\.check\("([^"]+)"\)', f.read_text()))
    assert ids == set(rb.CHECK_IDS)


def test_prerequisites_name_earlier_checks():
    for spec in rb.RUBRIC.values():
        for req in spec.requires:
            assert rb.RUBRIC[req].order < spec.order, (spec.id, req)


def test_scale_and_platform_maxima():
    r = rb.load(None)
    no_cloud = [c for c in rb.CHECK_IDS if rb.RUBRIC[c].option is None]
    assert r.platform_max("aws", no_cloud) == 23 and r.platform_max("gcp", no_cloud) == 20
    assert r.scale_total(no_cloud) == 23
    assert rb.parse({"total": 100}).scale_total(no_cloud) == 100
    with pytest.raises(rb.RubricError, match="total must be greater than 0"):
        rb.parse({"total": 0})
