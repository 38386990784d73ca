"""Fixtures of the cloud tests: no credentials of this machine, no network but loopback (checked by
an audit hook in this process and in every process the tests start), the offline stand-ins of
deploycheck.cloud.offline, a built copy of reference_deploys/."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from deploycheck.cloud import offline, session
from tests.helpers import ROOT, build_reference

from .netguard import sitecustomize as netguard

netguard.STATE["active"] = False    # in this process: only while a cloud test runs (see _isolated)
NETGUARD_DIR = Path(__file__).resolve().parent / "netguard"
HANG = 1800     # seconds: only ends a child process that hangs; never a measure of speed
_CLOUD_ENV = ("AWS_", "GOOGLE_", "GCE_", "CLOUDSDK_", "DEPLOYCHECK_", "STORAGE_EMULATOR_HOST", "NO_GCE_CHECK")


def no_credentials_env(home: Path) -> dict[str, str]:
    """This machine's environment without any cloud credential or setting: the SDKs find nothing, and
    neither boto3 nor google-auth asks a metadata server (169.254.169.254) for one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLOUD_ENV) and not k.startswith("PYTEST_")}
    env.update(HOME=str(home), AWS_CONFIG_FILE=str(home / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"), AWS_EC2_METADATA_DISABLED="true",
               CLOUDSDK_CONFIG=str(home / "gcloud"), NO_GCE_CHECK="true", GCE_METADATA_HOST="127.0.0.1:9",
               GCE_METADATA_IP="127.0.0.1:9")
    return env


def guarded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """:func:`no_credentials_env` for a child process, with the loopback-only guard loaded in it
    (refusals go to ``tmp_path/net.log``: see :func:`assert_loopback_only`)."""
    env = no_credentials_env(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(NETGUARD_DIR), str(ROOT)])
    env["DEPLOYCHECK_NETLOG"] = str(tmp_path / "net.log")
    env.update(extra)
    return env


def assert_loopback_only(tmp_path: Path) -> None:
    log = tmp_path / "net.log"
    assert not log.exists(), f"a child process tried to leave 127.0.0.1: {log.read_text()}"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every cloud test: no credentials, HOME in tmp, loopback only; nothing deployed survives it."""
    for k, v in no_credentials_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    for k in list(os.environ):
        if k.startswith(_CLOUD_ENV) and k not in no_credentials_env(tmp_path):
            monkeypatch.delenv(k)
    netguard.STATE["active"], netguard.STATE["refused"] = True, []
    yield
    try:
        session.reset()
    finally:
        netguard.STATE["active"] = False
    assert not netguard.STATE["refused"], f"the test tried to leave 127.0.0.1: {netguard.STATE['refused']}"


@pytest.fixture(scope="session")
def moto_url():
    url, stop = offline.start_moto_server()
    yield url
    stop()


@pytest.fixture(scope="session")
def gcs_url():
    url, stop = offline.start_storage_emulator()
    yield url
    stop()


@pytest.fixture
def fake():
    with offline.FakeVertex(lro_polls=1) as fv:
        yield fv


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Path:
    """A freshly built copy of reference_deploys/ (aws_deploy/ and gcp_deploy/)."""
    d = tmp_path_factory.mktemp("ref") / "reference_deploys"
    build_reference(d)
    return d


def settings(tmp_path: Path, **kw: Any) -> SimpleNamespace:
    """The run settings the verdicts read (the names of the plugin's options), for ``--cloud moto``."""
    base: dict[str, Any] = dict(cloud="moto", cloud_assets=None, report=tmp_path / "out",
                                run_id=f"t-{secrets.token_hex(4)}", aws_region="us-east-1",
                                gcp_region="us-central1", max_deployments=3, instance_type=None,
                                allow_instance_type=False, audit_account=False, sandbox_timeout=60.0,
                                sandbox_memory_mb=2048)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.fixture
def answering():
    """``answering(status, body, content_type)``: a 127.0.0.1 HTTP server that answers every request so
    (an expired-token AWS endpoint, a token endpoint that refuses a refresh); yields its URL."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    stops = []

    def start(status: int, body: Any, content_type: str = "application/json") -> str:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            do_GET = do_POST = _answer

        url, stop = offline.serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        stops.append(stop)
        return url
    yield start
    for stop in stops:
        stop()
