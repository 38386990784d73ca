"""deploycheck.cloud.offline: the stand-ins listen on 127.0.0.1 only; the Vertex fake answers like the
real REST API; the tests' own loopback guard works."""
import socket
from urllib.parse import urlsplit

import pytest

from deploycheck.cloud import offline

from .netguard import sitecustomize as netguard


def test_services_start_once_on_loopback_and_can_be_shared_through_the_environment(monkeypatch):
    svc = offline.services()
    assert offline.services() is svc
    for url in (svc.moto_url, svc.storage_url, svc.vertex_url):
        assert urlsplit(url).hostname == "127.0.0.1"
        socket.create_connection((urlsplit(url).hostname, urlsplit(url).port)).close()
    offline.stop_services()
    monkeypatch.setenv("DEPLOYCHECK_MOTO_ENDPOINT", svc.moto_url)
    monkeypatch.setenv("DEPLOYCHECK_STORAGE_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("DEPLOYCHECK_VERTEX_ENDPOINT", "http://127.0.0.1:2")
    shared = offline.services()
    assert (shared.moto_url, shared.storage_url, shared.vertex_url) == (svc.moto_url, "http://127.0.0.1:1",
                                                                        "http://127.0.0.1:2")
    offline.stop_services()


def test_the_vertex_fake_denies_like_the_real_api():
    fv = offline.FakeVertex(lro_polls=0)
    fv.deny("aiplatform.models.upload")
    status, body = fv.dispatch("POST", "/v1/projects/p/locations/us-central1/models:upload", {"model": {}})
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"
    assert body["error"]["message"] == ("Permission 'aiplatform.models.upload' denied on resource "
                                        "'//aiplatform.googleapis.com/projects/p/locations/us-central1' "
                                        "(or it may not exist).")
    status, body = fv.dispatch("POST", "/v1/projects/p/locations/us-central1/endpoints", {"displayName": "e"})
    assert status == 200 and body["done"] is True
    fv.server.server_close()


def test_the_guard_refuses_everything_but_loopback():
    with pytest.raises(socket.gaierror, match="loopback only"):
        socket.getaddrinfo("example.com", 443)
    with socket.socket() as s, pytest.raises(ConnectionRefusedError, match="loopback only"):
        s.connect(("192.0.2.1", 80))              # TEST-NET-1: never routed anyway
    assert netguard.STATE["refused"] == ["getaddrinfo 'example.com'", "connect ('192.0.2.1', 80)"]
    netguard.STATE["refused"].clear()
    socket.getaddrinfo("localhost", 80)
