"""Audit-trail proof (issue 26): each deployed resource's timeline in the lab window, from the
account's own audit trail, with what it cost at list price and the deletes that are missing.

AWS: boto3's CloudTrail client with botocore's Stubber (moto has no ``lookup_events``), which checks
every request and response against CloudTrail's service model; the events are CloudTrail records
in the shape AWS documents (``eventTime``, ``eventName``, ``requestParameters``...). GCP: Google's
logging client (``google-cloud-logging``, its HTTP transport) against a local fake of the Logging
API's ``entries:list``, with Admin Activity entries (``protoPayload`` = AuditLog)."""
from __future__ import annotations

import datetime as dt
import io
import json
from argparse import Namespace
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import ANY, Stubber  # noqa: E402

from deploycheck.cloud import trail  # noqa: E402
from deploycheck.cloud.ledger import Ledger  # noqa: E402
from tests.helpers import json_server  # noqa: E402

UTC = dt.timezone.utc
START = dt.datetime(2021, 4, 19, tzinfo=UTC)
END = dt.datetime(2021, 4, 21, 18, 0, tzinfo=UTC)
ACCOUNT = "111122223333"


def _record(name: str, when: str, params: dict, error: str | None = None) -> dict:
    rec = {"eventVersion": "1.08",
           "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": ACCOUNT,
                            "arn": f"arn:aws:iam::{ACCOUNT}:user/student", "userName": "student"},
           "eventTime": when, "eventSource": "sagemaker.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
           "sourceIPAddress": "198.51.100.7", "userAgent": "Boto3/1.17.54 Python/3.8.8 sagemaker/2.38.0",
           "requestParameters": params, "responseElements": None if error else {"ok": True},
           "requestID": "11111111-2222-3333-4444-555555555555", "eventID": f"id-{name}-{when}",
           "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
           "recipientAccountId": ACCOUNT, "eventCategory": "Management"}
    if error:
        rec.update(errorCode="ValidationException", errorMessage="Cannot create already existing endpoint")
    return rec


def _event(name: str, when: str, params: dict, resource: str = "", error: str | None = None) -> dict:
    """One ``lookup_events`` result: the fields CloudTrail's API returns around the record."""
    rec = _record(name, when, params, error)
    return {"EventId": rec["eventID"], "EventName": name, "ReadOnly": "false", "AccessKeyId": "AKIAEXAMPLE",
            "EventTime": dt.datetime.fromisoformat(when.replace("Z", "+00:00")), "EventSource": "sagemaker.amazonaws.com",
            "Username": "student", "Resources": [{"ResourceType": "AWS::SageMaker::Endpoint", "ResourceName": resource}]
            if resource else [], "CloudTrailEvent": json.dumps(rec)}


VARIANT = [{"VariantName": "AllTraffic", "ModelName": "iris-model", "InitialInstanceCount": 1,
            "InstanceType": "ml.t2.medium", "InitialVariantWeight": 1.0}]
VARIANT_CT = [{"variantName": "AllTraffic", "modelName": "iris-model", "initialInstanceCount": 1,
               "instanceType": "ml.t2.medium", "initialVariantWeight": 1.0}]

PAGE1 = [
    _event("CreateModel", "2021-04-20T13:58:40Z", {"modelName": "iris-model", "executionRoleArn":
                                                    f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
                                                    "primaryContainer": {"image": "683313688378.dkr.ecr.us-east-1"
                                                                         ".amazonaws.com/sagemaker-scikit-learn:0.23-1"}}),
    _event("CreateEndpointConfig", "2021-04-20T13:59:02Z", {"endpointConfigName": "iris-ep-config",
                                                             "productionVariants": VARIANT_CT}),
    _event("CreateEndpoint", "2021-04-20T14:02:11Z", {"endpointName": "iris-ep", "endpointConfigName": "iris-ep-config"},
           resource="iris-ep"),
    # a retry that failed: nothing was created
    _event("CreateEndpoint", "2021-04-20T14:03:00Z", {"endpointName": "iris-ep", "endpointConfigName": "iris-ep-config"},
           error="ValidationException"),
]
PAGE2 = [
    _event("DeleteEndpoint", "2021-04-20T14:40:30Z", {"endpointName": "iris-ep"}),
    _event("DeleteEndpointConfig", "2021-04-20T14:40:45Z", {"endpointConfigName": "iris-ep-config"}),
    # the model is never deleted: a missing delete to name
]


def _stubbed(pages: list[list[dict]]):
    client = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    stub = Stubber(client)
    for i, page in enumerate(pages):
        expected = {"LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": "sagemaker.amazonaws.com"}],
                    "StartTime": ANY, "EndTime": ANY}
        if i:
            expected["NextToken"] = f"token-{i}"
        resp = {"Events": page}
        if i < len(pages) - 1:
            resp["NextToken"] = f"token-{i + 1}"
        stub.add_response("lookup_events", resp, expected)
    stub.activate()
    return client, stub


def test_aws_timeline_from_cloudtrail_names_the_missing_delete():
    client, stub = _stubbed([PAGE1, PAGE2])
    events = trail.aws_events(client, START, END)
    stub.assert_no_pending_responses()          # both pages were read, each request as the model allows
    rep = trail.TrailReport("aws", "AWS us-east-1", START, END, tuple(trail.timelines(events)))
    lines = rep.evidence()
    ep = next(t for t in rep.lines if t.kind == "endpoint")
    assert ep.instance_type == "ml.t2.medium" and round(ep.minutes(END)) == 38
    assert ("endpoint iris-ep created 2021-04-20 14:02 UTC, deleted 14:40 (38 min, ~$0.04 at list price on "
            "ml.t2.medium)") in lines
    assert [t.name for t in rep.missing] == ["iris-model"]
    assert any(ln.startswith("model iris-model created 2021-04-20 13:58 UTC, never deleted") for ln in lines)
    assert len([t for t in rep.lines if t.kind == "endpoint"]) == 1       # the failed retry created nothing
    assert trail.delete_command("aws", rep.missing[0], "us-east-1") == \
        "aws sagemaker delete-model --model-name iris-model --region us-east-1"


def test_an_endpoint_never_deleted_costs_until_the_end_of_the_window():
    client, _stub = _stubbed([PAGE1])
    rep = trail.TrailReport("aws", "AWS us-east-1", START, END, tuple(trail.timelines(trail.aws_events(client, START, END))))
    ep = next(t for t in rep.lines if t.kind == "endpoint")
    assert ep.missing_delete() and {t.name for t in rep.missing} == {"iris-model", "iris-ep-config", "iris-ep"}
    text = ep.describe("aws", END)
    # 14:02 on the 20th to 18:00 on the 21st: 27 h 58 min at $0.056/h
    assert "never deleted (still there at 2021-04-21 18:00 UTC)" in text and "27 h 58 min so far" in text
    assert "~$1.57 at list price" in text


def test_stubber_holds_requests_and_responses_to_cloudtrails_model():
    """The Stubber validates against CloudTrail's service model: a lookup attribute without its value,
    or an event whose fields have the wrong types, fails here, not first on a real account."""
    from botocore.exceptions import ParamValidationError
    client = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(client) as stub:
        stub.add_response("lookup_events", {"Events": []}, {"LookupAttributes": ANY, "StartTime": ANY, "EndTime": ANY})
        with pytest.raises(ParamValidationError, match="AttributeValue"):
            client.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource"}], StartTime=START, EndTime=END)
        with pytest.raises(ParamValidationError, match="EventTime|ReadOnly"):
            stub.add_response("lookup_events", {"Events": [{"EventName": "CreateEndpoint", "EventTime": "yesterday",
                                                            "ReadOnly": False}]})


def _aws_provider(pages):
    from deploycheck.cloud.aws import AwsProvider
    prov = AwsProvider("us-east-1", run_id="t", ledger=Ledger(Path("/nonexistent/ledger.jsonl")),
                       endpoint_url="http://127.0.0.1:9")
    client, _stub = _stubbed(pages)
    prov._clients["cloudtrail"] = client
    return prov


def test_audit_trail_command_prints_the_timeline_and_fails_on_a_missing_delete():
    from deploycheck.cloud.cli import EXIT_LEFT, EXIT_OK, audit_trail
    out = io.StringIO()
    a = Namespace(since="2021-04-19", until="2021-04-21T18:00:00Z", region="us-east-1")
    assert audit_trail(_aws_provider([PAGE1, PAGE2]), a, out) == EXIT_LEFT
    text = out.getvalue()
    assert "audit trail of AWS us-east-1, 2021-04-19 00:00 UTC to 2021-04-21 18:00 UTC:" in text
    assert "endpoint iris-ep created 2021-04-20 14:02 UTC, deleted 14:40 (38 min" in text
    assert "1 never deleted; delete them with:\n  aws sagemaker delete-model --model-name iris-model" in text
    done = PAGE2 + [_event("DeleteModel", "2021-04-20T14:41:00Z", {"modelName": "iris-model"})]
    out = io.StringIO()
    assert audit_trail(_aws_provider([PAGE1, done]), a, out) == EXIT_OK
    assert "everything created in the window was deleted (~$0.04 at list price)" in out.getvalue()


def test_cloud_trail_verdict_passes_fails_and_asks_for_review(monkeypatch):
    from deploycheck.discovery import Target, load_submission
    from deploycheck.settings import Settings
    from deploycheck.verdicts import cloud as vc
    root = Path(__file__).resolve().parents[2] / "fixtures" / "built" / "classroom" / "complete_aws"
    t = Target("amy", "aws", load_submission("amy", str(root)), "amy")
    dc = Settings(audit_trail=True, trail_since="2021-04-19", trail_until="2021-04-21T18:00:00Z")
    pages: list[list[list[dict]]] = []

    class Session:
        def provider(self, platform, cloud):
            return _aws_provider(pages[-1])

        def slot(self, student, platform):
            return None
    monkeypatch.setattr(vc.sessions, "session_for", lambda o: Session())
    pages.append([PAGE1, PAGE2])
    o = vc.cloud_trail(t, dc)
    assert o.status == "failed" and "1 resource(s) never deleted: model iris-model" in o.message
    assert "aws sagemaker delete-model --model-name iris-model" in o.message
    assert any("endpoint iris-ep created" in ln for ln in o.data["trail"])
    pages.append([PAGE1, PAGE2 + [_event("DeleteModel", "2021-04-20T14:41:00Z", {"modelName": "iris-model"})]])
    o = vc.cloud_trail(t, dc)
    assert o.status == "passed" and "endpoint iris-ep created 2021-04-20 14:02 UTC, deleted 14:40 (38 min" in o.message
    pages.append([[]])
    o = vc.cloud_trail(t, dc)
    assert o.status == "review" and "shows no endpoint deployed" in o.message


# ---------------------------------------------------------------- GCP: the real logging client, a local fake

PROJECT = "ml-lab-2024"
EP = f"projects/{PROJECT}/locations/us-central1/endpoints/1234567890123456789"


def _entry(method: str, when: str, resource: str, request: dict | None = None, op: dict | None = None) -> dict:
    """A LogEntry as the Logging API returns it: protoPayload is a google.cloud.audit.AuditLog."""
    e = {"logName": f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Factivity",
         "resource": {"type": "audited_resource", "labels": {"service": "aiplatform.googleapis.com",
                                                             "method": method, "project_id": PROJECT}},
         "timestamp": when, "receiveTimestamp": when, "severity": "NOTICE", "insertId": f"{method}-{when}",
         "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                          "authenticationInfo": {"principalEmail": "student@example.com"},
                          "requestMetadata": {"callerIp": "198.51.100.7"},
                          "serviceName": "aiplatform.googleapis.com", "methodName": method,
                          "resourceName": resource, "request": request or {}}}
    if op:
        e["operation"] = op
    return e


GCP_ENTRIES = [
    _entry("google.cloud.aiplatform.v1.ModelService.UploadModel", "2024-04-20T13:55:00Z",
           f"projects/{PROJECT}/locations/us-central1/models/555", {"model": {"displayName": "wine"}},
           {"id": "op1", "producer": "aiplatform.googleapis.com", "first": True}),
    _entry("google.cloud.aiplatform.v1.EndpointService.CreateEndpoint", "2024-04-20T13:57:00Z",
           f"projects/{PROJECT}/locations/us-central1/endpoints/1234567890123456789",
           {"endpoint": {"displayName": "wine-endpoint"}}),
    _entry("google.cloud.aiplatform.v1.EndpointService.DeployModel", "2024-04-20T14:00:00Z", EP,
           {"endpoint": EP, "deployedModel": {"model": f"projects/{PROJECT}/locations/us-central1/models/555",
                                              "dedicatedResources": {"machineSpec": {"machineType": "e2-standard-2"},
                                                                     "minReplicaCount": 1}}},
           {"id": "op2", "producer": "aiplatform.googleapis.com", "first": True}),
    _entry("google.cloud.aiplatform.v1.EndpointService.DeployModel", "2024-04-20T14:12:00Z", EP, {},
           {"id": "op2", "producer": "aiplatform.googleapis.com", "last": True}),
    _entry("google.cloud.aiplatform.v1.EndpointService.UndeployModel", "2024-04-20T15:30:00Z", EP,
           {"endpoint": EP, "deployedModelId": "777"}),
    _entry("google.cloud.aiplatform.v1.EndpointService.DeleteEndpoint", "2024-04-20T15:31:00Z", EP, {}),
]


@pytest.fixture
def logging_api():
    """A local fake of the Logging API's entries:list, two pages."""
    seen: list[dict] = []

    def route(method, path, headers, body):
        doc = json.loads(body or b"{}")
        seen.append({"path": path, "body": doc})
        if method != "POST" or path.split("?")[0] != "/v2/entries:list":
            return 404, {"error": {"code": 404}}, None
        first = doc.get("pageToken") is None
        return 200, ({"entries": GCP_ENTRIES[:3], "nextPageToken": "page-2"} if first else
                     {"entries": GCP_ENTRIES[3:]}), None
    url, stop = json_server(route)
    yield url, seen
    stop()


def test_gcp_timeline_from_admin_activity_logs_through_the_logging_client(logging_api):
    pytest.importorskip("google.cloud.logging")
    from deploycheck.cloud.gcp import GcpProvider
    url, seen = logging_api
    prov = GcpProvider(PROJECT, "us-central1", run_id="t", ledger=Ledger(Path("/nonexistent/ledger.jsonl")),
                       offline=True, api_endpoint="http://127.0.0.1:9", logging_endpoint=url)
    start, end = dt.datetime(2024, 4, 19, tzinfo=UTC), dt.datetime(2024, 4, 22, tzinfo=UTC)
    rep = prov.trail(start, end)
    # what the client sent: the project, the Admin Activity log of Vertex AI / AI Platform, the window
    assert [s["path"].split("?")[0] for s in seen] == ["/v2/entries:list", "/v2/entries:list"]
    body = seen[0]["body"]
    assert body["resourceNames"] == [f"projects/{PROJECT}"] and body["orderBy"] == "timestamp asc"
    assert 'logName="projects/ml-lab-2024/logs/cloudaudit.googleapis.com%2Factivity"' in body["filter"]
    assert 'protoPayload.serviceName=("aiplatform.googleapis.com" OR "ml.googleapis.com")' in body["filter"]
    assert 'timestamp>="2024-04-19T00:00:00Z"' in body["filter"] and seen[1]["body"]["pageToken"] == "page-2"
    lines = rep.evidence()
    assert ("endpoint 1234567890123456789 created 2024-04-20 13:57 UTC, deployed 14:00, undeployed 15:30, "
            "deleted 15:31 (1 h 30 min, ~$0.12 at list price on e2-standard-2)") in lines, lines
    assert [t.name for t in rep.missing] == ["555"] and lines[0].startswith("model 555 created 2024-04-20 13:55 UTC")
    assert trail.delete_command("gcp", rep.missing[0], "us-central1") == "gcloud ai models delete 555 --region us-central1"


def test_lab_window_parsing():
    now = dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert trail.window("aws", None, None, now) == (now - dt.timedelta(days=90), now)
    assert trail.window("aws", "2024-04-15", "2024-04-20T12:00:00+02:00", now) == (
        dt.datetime(2024, 4, 15, tzinfo=UTC), dt.datetime(2024, 4, 20, 10, tzinfo=UTC))
    with pytest.raises(ValueError, match="give the time zone"):
        trail.window("aws", "2024-04-15T09:00:00", None, now)
    with pytest.raises(ValueError, match="not before"):
        trail.window("gcp", "2024-04-20", "2024-04-19", now)
