"""Real cloud deployments behind one small interface per provider.

base.py        Bundle, Deployment, Resource, BillableResource, CloudError; names, tags, labels
aws.py         AwsProvider (boto3 only: S3, SageMaker, SageMaker runtime, EC2 for the audit)
gcp.py         GcpProvider (google-cloud-storage + google-cloud-aiplatform, REST transport)
fake_vertex.py a small local fake of the Vertex AI REST API, for offline tests and --cloud moto
ledger.py      JSON-lines ledger written before every create (crash-safe sweeping)
costs.py       instance-type allowlist, approximate prices, estimates, the deployment cap
checks.py      the cloud.* check functions and the per-process deployment state
cli.py         `deploycheck sweep` and `deploycheck audit`

Heavy SDKs are imported lazily, so importing this package is cheap.
"""
