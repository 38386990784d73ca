"""Every cloud entry point without credentials, with expired ones, or without a permission ends with
ONE line that says which credentials or role are needed: non-zero exit, no traceback, no secret."""
import json
import subprocess
import sys

import pytest

from deploycheck.cloud import cli
from deploycheck.cloud.offline import in_process_aws
from tests.helpers import ROOT

from .conftest import HANG, assert_loopback_only, guarded_env

CANARY_AWS = {"AWS_ACCESS_KEY_ID": "AKIACANARY0000000002", "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-7f3a9",
              "AWS_SESSION_TOKEN": "canary-aws-session-token-51c2"}
CANARY_GCP = {"private_key_id": "canary-gcp-key-id-0b7e", "client_email": "dc-canary@p.iam.gserviceaccount.com"}


def run(args, env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=HANG)


def one_line(r, *needles, secrets=()):
    """The run failed with one line on stderr holding every needle, no traceback, no secret."""
    out = r.stdout + r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode != 0, out
    assert "Traceback" not in out and len(lines) == 1, out
    for n in needles:
        assert n in lines[0], (n, lines[0])
    for s in secrets:
        assert s not in out
    return lines[0]


def test_audit_aws_without_credentials(tmp_path):
    r = run(["-m", "deploycheck.cli", "audit", "--provider", "aws"], guarded_env(tmp_path))
    line = one_line(r, "deploycheck audit: no AWS credentials found", "aws configure", "AWS_PROFILE",
                    "sagemaker:CreateModel", "IAM permissions")
    assert r.returncode == cli.EXIT_ACCESS, line
    assert_loopback_only(tmp_path)


def test_audit_and_sweep_gcp_without_application_default_credentials(tmp_path):
    """Issue 13: `deploycheck audit --provider gcp` without credentials printed a traceback."""
    for args in (["audit", "--provider", "gcp"], ["sweep", "--run-id", "r1", "--provider", "gcp", "--gcp-project", "p"]):
        r = run(["-m", "deploycheck.cli", *args], guarded_env(tmp_path))
        one_line(r, "no Application Default Credentials", "gcloud auth application-default login",
                 "roles/aiplatform.user", "roles/storage.objectAdmin")
        assert r.returncode == cli.EXIT_ACCESS
    assert_loopback_only(tmp_path)


def test_expired_aws_credentials_say_so_and_are_never_printed(tmp_path, answering):
    # what STS answers GetCallerIdentity (deploycheck's first call) for an expired session token
    url = answering(403, b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                         b'<Code>ExpiredToken</Code><Message>The security token included in the request is expired'
                         b'</Message></Error><RequestId>1</RequestId></ErrorResponse>', "text/xml")
    r = run(["-m", "deploycheck.cli", "audit", "--provider", "aws"],
            guarded_env(tmp_path, AWS_ENDPOINT_URL=url, **CANARY_AWS))
    one_line(r, "the AWS credentials have expired", "aws sso login", "IAM permissions", secrets=CANARY_AWS.values())
    assert_loopback_only(tmp_path)


def _revoked_key(tmp_path, token_url):
    """A service-account key file whose key the token endpoint no longer accepts (deleted or disabled)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"type": "service_account", "project_id": "p", "private_key": pem, "client_id": "1",
                               "token_uri": f"{token_url}/token", **CANARY_GCP}))
    return {"GOOGLE_APPLICATION_CREDENTIALS": str(key)}, pem


def test_revoked_google_credentials_say_so_and_are_never_printed(tmp_path, answering):
    url = answering(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    env, pem = _revoked_key(tmp_path, url)
    r = run(["-m", "deploycheck.cli", "audit", "--provider", "gcp"], guarded_env(tmp_path, **env))
    one_line(r, "the Google credentials have expired or were revoked", "gcloud auth application-default login",
             secrets=[CANARY_GCP["private_key_id"], pem.splitlines()[1]])
    assert r.returncode == cli.EXIT_ACCESS
    assert_loopback_only(tmp_path)


def test_a_permission_the_vertex_api_denies(fake, capsys):
    fake.deny("aiplatform.endpoints.list")
    assert cli.audit_main(["--provider", "gcp", "--gcp-api-endpoint", fake.url]) == cli.EXIT_ACCESS
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing GCP permission aiplatform.endpoints.list" in err
    assert "grant roles/aiplatform.user on the project" in err


def test_a_permission_aws_denies(monkeypatch, capsys):
    """moto's IAM enforcement answers AccessDenied for an identity without sagemaker:ListEndpoints."""
    import boto3
    from moto.core.authorization import enable_iam_authentication
    with in_process_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="student")
        iam.put_user_policy(UserName="student", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="student")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        monkeypatch.delenv("AWS_SESSION_TOKEN")
        with enable_iam_authentication():
            rc = cli.audit_main(["--provider", "aws"])
    out = capsys.readouterr()
    assert rc == cli.EXIT_ACCESS and out.err.count("\n") == 1, out
    assert "missing IAM permission sagemaker:ListEndpoints" in out.err and "IAM permissions" in out.err
    assert key["SecretAccessKey"] not in out.err + out.out and key["AccessKeyId"] not in out.err + out.out


@pytest.mark.parametrize("cloud, extra, needles", [
    ("aws", ["--aws-role-arn", "arn:aws:iam::123456789012:role/x"], ["no AWS credentials found", "aws configure"]),
    ("aws", [], ["--cloud aws needs --aws-role-arn"]),
    ("gcp", [], ["no Application Default Credentials", "roles/aiplatform.user"]),
])
def test_a_real_cloud_run_without_credentials_stops_at_once_with_one_line(tmp_path, reference, cloud, extra, needles):
    r = run(["-m", "pytest", "checks/", "--repo", str(reference), "--cloud", cloud, *extra, "-p", "no:cacheprovider",
             "-q", "--no-proof"], guarded_env(tmp_path))
    assert r.returncode == 4 and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    (line,) = [x for x in (r.stdout + r.stderr).splitlines() if x.strip()]
    assert line.startswith("ERROR: ") and all(n in line for n in needles), line
    assert_loopback_only(tmp_path)


def test_sweep_dry_run_needs_no_credentials(tmp_path):
    """What a crashed run's ledger lists is shown without any credential; the accounts that could not be
    listed are named with the reason; without a ledger there is nothing to show: the one line says so."""
    from deploycheck.cloud.base import Resource
    from deploycheck.cloud.ledger import Ledger
    ledger = tmp_path / "cloud-ledger.jsonl"
    for kind, name in (("sagemaker-model", "dc-alice-aws-r1"), ("sagemaker-endpoint", "dc-alice-aws-r1"),
                       ("s3-object", "s3://b/deploycheck/r1/alice/model.tar.gz")):
        Ledger(ledger).will_create(Resource("aws", kind, name, "us-east-1", "r1", "alice"))
    before = ledger.read_bytes()
    r = run(["-m", "deploycheck.cli", "sweep", "--ledger", str(ledger), "--dry-run"], guarded_env(tmp_path))
    assert r.returncode == cli.EXIT_OK and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["would remove sagemaker-endpoint dc-alice-aws-r1 (us-east-1)",
                         "would remove sagemaker-model dc-alice-aws-r1 (us-east-1)",
                         "would remove s3-object s3://b/deploycheck/r1/alice/model.tar.gz (us-east-1)"], r.stdout
    assert "3 resources would be removed" in r.stdout
    assert "the aws account was not listed (no AWS credentials found" in r.stdout
    assert ledger.read_bytes() == before                     # a dry run writes nothing
    r = run(["-m", "deploycheck.cli", "sweep", "--run-id", "r9", "--dry-run"], guarded_env(tmp_path))
    one_line(r, "deploycheck sweep: no AWS credentials found", "add --ledger FILE")
    assert r.returncode == cli.EXIT_ACCESS
    assert_loopback_only(tmp_path)


def test_sweep_and_audit_take_the_options_their_messages_name():
    """Every option a cloud message tells the user to pass is one that sweep and audit accept (grade's
    own names), apart from those only a deployment uses; audit --trail names its own --since/--until."""
    import re
    from deploycheck.cloud import trail
    named = set()
    for f in ("aws.py", "gcp.py", "base.py", "bundle.py"):
        named |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", (ROOT / "deploycheck" / "cloud" / f).read_text()))
    deploying = {"--aws-role-arn", "--instance-type", "--allow-instance-type", "--max-deployments", "--cloud",
                 "--endpoint-name", "--endpoint-config-name", "--model-name", "--deployed-model-id", "--model",
                 "--region", "--profile", "--shard", "--ledger", "--run-id", "--provider", "--endpoint-url"}
    for main in (cli.sweep_main, cli.audit_main):
        for opt in sorted(named - deploying):
            with pytest.raises(SystemExit) as e:           # the option is known: only the later --help exits
                main([opt, "x", "--help"] if opt not in ("--dry-run", "--trail") else [opt, "--help"])
            assert e.value.code == 0, (main.__name__, opt)
    assert {"--aws-region", "--gcp-project", "--gcp-bucket", "--gcp-region"} <= named
    with pytest.raises(ValueError, match=r"^--since 2024-13-01: not an ISO 8601 time"):
        trail.window("aws", "2024-13-01", None, flags=cli.AUDIT_FLAGS)
    with pytest.raises(SystemExit):
        cli.audit_main(["--trail", "--since", "2024-05-02", "--until", "2024-05-01"])
