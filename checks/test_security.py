"""No cloud credentials committed anywhere in the repo."""
import pytest

from deploycheck import secretscan


@pytest.mark.check("security.secrets", points=2)
def test_security_secrets(target, record):
    record(secretscan.security_secrets(target))
