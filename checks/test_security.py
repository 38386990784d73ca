"""No cloud credentials committed anywhere in the repo."""
import pytest

from deploycheck.verdicts import security


@pytest.mark.check("security.secrets")
def test_security_secrets(target, record):
    record(security.security_secrets(target))
