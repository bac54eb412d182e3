"""Sizes and defaults that a profile picks: `local` fits a laptop, `production` is HA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .types import ResourceRequirements

Profile = Literal["local", "production"]
DataProtection = Literal["protect", "retain", "none"]


@dataclass(frozen=True)
class ProfileDefaults:
    """Every default a profile decides."""

    registry_replicas: int
    registry_workers: int
    registry_resources: ResourceRequirements
    postgres_storage: str
    postgres_resources: ResourceRequirements
    object_store_storage: str
    object_store_resources: ResourceRequirements
    serving_replicas: int
    serving_workers: int
    serving_resources: ResourceRequirements
    training_resources: ResourceRequirements
    feature_server_replicas: int
    feature_server_resources: ResourceRequirements
    feast_job_resources: ResourceRequirements
    redis_storage: str
    redis_resources: ResourceRequirements
    data_protection: DataProtection
    spread_across_nodes: bool


_PROFILES: dict[str, ProfileDefaults] = {
    "local": ProfileDefaults(
        registry_replicas=1,
        registry_workers=1,
        registry_resources=ResourceRequirements(
            cpu="100m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"
        ),
        postgres_storage="2Gi",
        postgres_resources=ResourceRequirements(
            cpu="50m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"
        ),
        object_store_storage="5Gi",
        object_store_resources=ResourceRequirements(
            cpu="50m", memory="128Mi", cpu_limit="500m", memory_limit="512Mi"
        ),
        serving_replicas=1,
        serving_workers=1,
        serving_resources=ResourceRequirements(
            cpu="100m", memory="384Mi", cpu_limit="1", memory_limit="768Mi"
        ),
        training_resources=ResourceRequirements(
            cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi"
        ),
        feature_server_replicas=1,
        feature_server_resources=ResourceRequirements(
            cpu="100m", memory="384Mi", cpu_limit="1", memory_limit="1Gi"
        ),
        feast_job_resources=ResourceRequirements(
            cpu="100m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"
        ),
        redis_storage="1Gi",
        redis_resources=ResourceRequirements(
            cpu="50m", memory="64Mi", cpu_limit="500m", memory_limit="256Mi"
        ),
        data_protection="retain",
        spread_across_nodes=False,
    ),
    "production": ProfileDefaults(
        registry_replicas=2,
        registry_workers=4,
        registry_resources=ResourceRequirements(
            cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi"
        ),
        postgres_storage="20Gi",
        postgres_resources=ResourceRequirements(
            cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi"
        ),
        object_store_storage="100Gi",
        object_store_resources=ResourceRequirements(
            cpu="250m", memory="512Mi", cpu_limit="2", memory_limit="2Gi"
        ),
        serving_replicas=2,
        # benchmarks/serving.py: a 2nd `mlflow models serve` worker on 2 cores cut
        # concurrency-1 throughput 4x (60 -> 16 req/s) for +12% at concurrency 8.
        serving_workers=1,
        serving_resources=ResourceRequirements(
            cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi"
        ),
        training_resources=ResourceRequirements(
            cpu="1", memory="4Gi", cpu_limit="4", memory_limit="4Gi"
        ),
        feature_server_replicas=2,
        feature_server_resources=ResourceRequirements(
            cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi"
        ),
        feast_job_resources=ResourceRequirements(
            cpu="500m", memory="2Gi", cpu_limit="2", memory_limit="4Gi"
        ),
        redis_storage="10Gi",
        redis_resources=ResourceRequirements(
            cpu="250m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"
        ),
        data_protection="protect",
        spread_across_nodes=True,
    ),
}


def defaults_for(profile: Profile) -> ProfileDefaults:
    """The defaults of a profile."""
    return _PROFILES[profile]
