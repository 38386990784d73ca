"""Which provider serves a (cloud, platform) pair: the one table of provider factories.

    cloud  platform  provider
    aws    aws       AwsProvider on the real account (boto3's credential chain)
    gcp    gcp       GcpProvider on the real project (Application Default Credentials)
    moto   aws       AwsProvider against moto (ThreadedMotoServer on 127.0.0.1, dummy credentials)
    moto   gcp       GcpProvider against gcp-storage-emulator + the fake Vertex API (anonymous credentials)

Offline endpoints are those of :func:`offline.services` unless the caller names running ones
(``deploycheck sweep --endpoint-url ...``).
"""
from __future__ import annotations

from typing import Callable, Mapping

from deploycheck.cloud.base import CloudError, CloudOptions, Provider
from deploycheck.cloud.ledger import Ledger
from deploycheck.cloud.offline import OfflineServices, services

Factory = Callable[[CloudOptions, str, Ledger, "OfflineServices | None"], Provider]
OFFLINE_AWS_BUCKET = "deploycheck-offline"


def _aws(o: CloudOptions, run_id: str, ledger: Ledger, _: OfflineServices | None) -> Provider:
    from deploycheck.cloud.aws import AwsProvider
    return AwsProvider(o.aws_region, run_id=run_id, ledger=ledger, role_arn=o.aws_role_arn, bucket=o.aws_bucket,
                       instance_type=o.instance_type)


def _gcp(o: CloudOptions, run_id: str, ledger: Ledger, _: OfflineServices | None) -> Provider:
    from deploycheck.cloud.gcp import GcpProvider
    return GcpProvider(o.gcp_project, o.gcp_region, run_id=run_id, ledger=ledger, bucket=o.gcp_bucket,
                       instance_type=o.instance_type)


def _moto_aws(o: CloudOptions, run_id: str, ledger: Ledger, svc: OfflineServices | None) -> Provider:
    from deploycheck.cloud.aws import AwsProvider
    url = (svc or services()).moto_url
    return AwsProvider(o.aws_region, run_id=run_id, ledger=ledger, role_arn=o.aws_role_arn,
                       bucket=o.aws_bucket or OFFLINE_AWS_BUCKET, instance_type=o.instance_type,
                       endpoint_url=url, offline=True)


def _moto_gcp(o: CloudOptions, run_id: str, ledger: Ledger, svc: OfflineServices | None) -> Provider:
    from deploycheck.cloud.gcp import GcpProvider
    svc = svc or services()
    return GcpProvider(o.gcp_project or "deploycheck-offline", o.gcp_region, run_id=run_id, ledger=ledger,
                       bucket=o.gcp_bucket, instance_type=o.instance_type, api_endpoint=svc.vertex_url,
                       storage_endpoint=svc.storage_url, offline=True, retry_initial_s=0.05)


FACTORIES: Mapping[tuple[str, str], Factory] = {
    ("aws", "aws"): _aws, ("gcp", "gcp"): _gcp, ("moto", "aws"): _moto_aws, ("moto", "gcp"): _moto_gcp,
}


def provider(cloud: str, platform: str, options: CloudOptions, run_id: str, ledger: Ledger,
             endpoints: OfflineServices | None = None) -> Provider:
    """The provider deploying ``platform`` folders under ``--cloud cloud``; CloudError (one line) if the
    pair has none, or the provider cannot start (e.g. :class:`AccessError` without credentials)."""
    factory = FACTORIES.get((cloud, platform))
    if factory is None:
        raise CloudError(f"--cloud {cloud} does not deploy {platform} folders: use --cloud {platform} or --cloud moto")
    return factory(options, run_id, ledger, endpoints)
