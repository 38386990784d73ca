"""Cost guard: which instance types deploycheck may start, what they roughly cost, and a cap on
how many endpoints one run may create.

Prices are APPROXIMATE on-demand USD per hour (AWS us-east-1, GCP us-central1), transcribed from
the public price pages (https://aws.amazon.com/sagemaker/pricing/, https://aws.amazon.com/ec2/pricing/on-demand/,
https://cloud.google.com/vertex-ai/pricing, https://cloud.google.com/compute/vm-instance-pricing)
as of PRICES_AS_OF. They are for warnings and estimates only; other regions cost more or less.

Default Vertex machine type: the prebuilt scikit-learn container serves on any machine type of the
"custom-trained models" table of https://cloud.google.com/vertex-ai/docs/predictions/configure-compute,
which lists the E2 series; e2-standard-2 is the cheapest general-purpose type there (n1-standard-2,
the SDK's own default in aiplatform/models.py `_DEFAULT_MACHINE_TYPE`, costs ~40% more).
AWS: ml.t2.medium is the instance the SageMaker free tier covered for hosting.
"""
from __future__ import annotations

from deploycheck.cloud.base import CostGuardError

PRICES_AS_OF = "2025-01 (approximate)"

DEFAULT_INSTANCE = {"aws": "ml.t2.medium", "gcp": "e2-standard-2"}

# endpoint instance types deploycheck starts without --allow-instance-type
ALLOWED = {
    "aws": {"ml.t2.medium", "ml.t2.large", "ml.m5.large"},
    "gcp": {"e2-standard-2", "e2-standard-4", "n1-standard-2", "n1-standard-4"},
}

# SageMaker real-time inference hosting (us-east-1)
SAGEMAKER_HOSTING = {
    "ml.t2.medium": 0.056, "ml.t2.large": 0.111, "ml.t2.xlarge": 0.223,
    "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461,
    "ml.c5.large": 0.102, "ml.c5.xlarge": 0.204,
    "ml.g4dn.xlarge": 0.736, "ml.p3.2xlarge": 3.825,
}
# SageMaker notebook instances (us-east-1)
SAGEMAKER_NOTEBOOK = {
    "ml.t2.medium": 0.0464, "ml.t3.medium": 0.05, "ml.t3.large": 0.10, "ml.t3.xlarge": 0.20,
    "ml.m5.xlarge": 0.23, "ml.c5.xlarge": 0.204, "ml.g4dn.xlarge": 0.736,
}
# EC2 Linux on-demand (us-east-1)
EC2 = {
    "t2.micro": 0.0116, "t2.small": 0.023, "t2.medium": 0.0464, "t2.large": 0.0928,
    "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832,
    "m5.large": 0.096, "m5.xlarge": 0.192, "c5.large": 0.085, "g4dn.xlarge": 0.526,
}
# Vertex AI online prediction, per node hour (us-central1)
VERTEX_PREDICTION = {
    "e2-standard-2": 0.0771, "e2-standard-4": 0.1541, "e2-standard-8": 0.3082,
    "n1-standard-2": 0.1095, "n1-standard-4": 0.219, "n1-standard-8": 0.438,
    "n1-highmem-2": 0.1363, "n1-highcpu-4": 0.1612,
}
# Compute Engine VMs (Workbench / a Jupyter VM), us-central1
GCE = {
    "e2-micro": 0.0084, "e2-small": 0.0168, "e2-medium": 0.0335, "e2-standard-2": 0.067,
    "e2-standard-4": 0.134, "n1-standard-1": 0.0475, "n1-standard-2": 0.095, "n1-standard-4": 0.19,
    "n2-standard-2": 0.0971, "n2-standard-4": 0.1942,
}

TABLES = {
    "sagemaker-endpoint": SAGEMAKER_HOSTING, "sagemaker-notebook": SAGEMAKER_NOTEBOOK,
    "ec2-instance": EC2, "vertex-endpoint": VERTEX_PREDICTION,
    "gce-instance": GCE, "workbench-instance": GCE,
}


def default_instance_type(provider: str) -> str:
    return DEFAULT_INSTANCE[provider]


def hourly(kind: str, instance_type: str) -> float | None:
    """Approximate USD/hour of one instance of ``instance_type`` for a billable ``kind``."""
    return TABLES.get(kind, {}).get(instance_type)


def endpoint_hourly(provider: str, instance_type: str) -> float | None:
    return hourly("sagemaker-endpoint" if provider == "aws" else "vertex-endpoint", instance_type)


def check_instance_type(provider: str, instance_type: str, allow_any: bool = False) -> None:
    """Raise :class:`CostGuardError` for a type outside the allowlist (unless ``allow_any``)."""
    if allow_any or instance_type in ALLOWED[provider]:
        return
    allowed = ", ".join(sorted(ALLOWED[provider]))
    price = endpoint_hourly(provider, instance_type)
    cost = f" (~${price:.2f}/h)" if price else ""
    raise CostGuardError(f"instance type {instance_type}{cost} is not in deploycheck's cost allowlist ({allowed}): "
                         f"use one of those, or pass --allow-instance-type if you really mean it.")


def estimate(provider: str, instance_type: str, deployments: int = 1, minutes: float = 15.0) -> str:
    """One line: what ``deployments`` endpoints of this type cost for ``minutes`` (billing is per
    second on AWS and per 30 s on Vertex, but a stuck endpoint bills until deleted)."""
    price = endpoint_hourly(provider, instance_type)
    if price is None:
        return f"estimated cost: unknown for {instance_type} (not in the price table of {PRICES_AS_OF})"
    total = price * deployments * minutes / 60.0
    return (f"estimated cost: ~${total:.3f} for {deployments} x {instance_type} for {minutes:.0f} min "
            f"(~${price:.3f}/h each; prices {PRICES_AS_OF})")


def check_cap(already: int, cap: int) -> None:
    if cap >= 0 and already >= cap:
        raise CostGuardError(f"refusing to create endpoint number {already + 1} in this run: --max-deployments is {cap}. "
                             "Raise --max-deployments if you really want more endpoints at once, or grade in smaller "
                             "batches (--shard).")
