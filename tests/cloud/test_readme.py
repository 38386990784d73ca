"""README.md's 'Real cloud runs' section says exactly what the code needs."""
import json
import re

from deploycheck.cloud import aws, gcp
from tests.helpers import ROOT


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Real cloud runs")
    return text[start:text.index("\n## ", start + 3)]


def test_the_iam_policy_grants_exactly_the_actions_deploycheck_calls():
    block = re.search(r"#### IAM permissions.*?```json\n(.*?)```", _section(), re.S)[1]
    actions = set()
    for st in json.loads(block)["Statement"]:
        actions.update([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    assert actions == set(aws.REQUIRED_ACTIONS)


def test_the_gcp_roles_and_the_messages_agree():
    section = _section()
    for role in ("roles/aiplatform.user", "roles/storage.objectAdmin", "roles/storage.admin", "roles/compute.viewer"):
        assert role in section and role in gcp.NEEDS + str(gcp._ROLES)
    assert "#### GCP roles" in section and "#### IAM permissions" in section
    assert "exit status 3" in section
