"""One reader of the resource names a student's README and scripts use (analysis/names.py): the
screenshot's endpoint comparison and the class's integrity signals see the same names."""
from deploycheck.analysis.fingerprint import names_in
from deploycheck.analysis.names import resource_names
from deploycheck.analysis.screenshot import FolderInputs, named_endpoints

README_CODE = """\
aws sagemaker-runtime invoke-endpoint --endpoint-name iris-endpoint-2024 --content-type text/csv \\
    --body "5.1,3.5,1.4,0.2" out.json
predictor = sklearn_model.deploy(instance_type="ml.t2.medium", endpoint_name="iris-sklearn-ep")
sm.create_endpoint(EndpointName='my-endpoint', EndpointConfigName=cfg)
gcloud ai endpoints predict 4321987654 --region=us-central1 --json-request=request.json
gcloud ai endpoints create --display-name=vertex-iris-ep --region=us-central1
aws s3 cp model.tar.gz s3://iris-models-alice/model.tar.gz
sm.create_model(ModelName="iris-model-alice", PrimaryContainer=c)
aws sagemaker delete-endpoint --endpoint-name $ENDPOINT
"""


def test_every_form_of_a_name_is_read_once_with_its_line():
    got = {(n.kind, n.value): n.line for n in resource_names(README_CODE)}
    assert got == {("endpoint", "iris-endpoint-2024"): 1, ("endpoint", "iris-sklearn-ep"): 3,
                   ("endpoint", "my-endpoint"): 4, ("endpoint", "4321987654"): 5, ("endpoint", "vertex-iris-ep"): 6,
                   ("bucket", "iris-models-alice"): 7, ("model", "iris-model-alice"): 8}


def test_the_screenshot_and_the_integrity_signals_read_the_same_endpoints():
    inputs = FolderInputs("aws_deploy/README.md", (), (("aws_deploy/README.md", README_CODE, 10),))
    shown = set(named_endpoints(inputs))
    assert shown == {n.value for n in resource_names(README_CODE) if n.kind == "endpoint"}
    printed = {(p.kind, p.value) for p in names_in(README_CODE, "aws_deploy/README.md")}
    # the integrity signals leave placeholders out ("my-endpoint"), and only those
    assert {v for k, v in printed if k == "endpoint"} == shown - {"my-endpoint"}
    assert ("bucket", "iris-models-alice") in printed and ("model", "iris-model-alice") in printed
    assert all(p.where.startswith("aws_deploy/README.md line ") for p in names_in(README_CODE, "aws_deploy/README.md"))
