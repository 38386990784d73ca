"""Real cloud deployments (and their offline stand-ins) behind one Provider protocol.

base.py          frozen records (CloudOptions, ServingImage, Bundle, Resource, Deployment, BillableResource),
                 THE Provider protocol, the errors (StudentError, AccessError, CostGuardError, TeardownError),
                 names/tags/labels, answer decoding, redaction of credential values
registry.py      (cloud, platform) -> provider factory: aws, gcp, and moto (offline AWS and GCP)
aws.py           AwsProvider: boto3 only (S3, SageMaker, SageMaker runtime, STS, EC2 for the audit)
gcp.py           GcpProvider: google-cloud-storage + google-cloud-aiplatform (REST transport offline)
bundle.py        what to deploy from a deploy folder; the serving image from THE catalog (one adapter)
offline.py       moto (in-process / ThreadedMotoServer), gcp-storage-emulator, the fake Vertex REST API
session.py       per-run state of a process: run id, ledger, providers, deployments, teardown finalizers,
                 the credential preflight of a real run
ledger.py        JSON-lines ledger written before every create (crash-safe sweeping)
costs.py         instance-type allowlist, approximate prices, estimates, the deployment cap
cli.py           `deploycheck sweep` and `deploycheck audit`
pytest_plugin.py `--cloud aws|gcp`: the credential check at start-up (one-line error)

The verdicts (cloud.deploy, cloud.predict, ...) are in deploycheck/verdicts/cloud.py. Heavy SDKs are
imported lazily, so importing this package is cheap.
"""
