"""The model registry: an MLflow tracking server with a model registry."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .routing import ExposeSpec
from .types import BucketName, Dns1123Label, ImageRef, ResourceRequirements, SpecModel

AllowedHost = Annotated[str, Field(pattern=r"^[a-z0-9*]([a-z0-9.*-]*[a-z0-9*])?(:([0-9]+|\*))?$")]
"""A Host header pattern MLflow accepts: `name`, `name:port` or with `*` wildcards."""


class RegistrySpec(SpecModel):
    """MLflow tracking server + model registry on Postgres, artifacts in the object store."""

    enabled: bool = Field(default=True, description="Deploy the registry.")
    image: ImageRef | None = Field(
        default=None,
        description="MLflow image; the pinned `ghcr.io/mlflow/mlflow:v<ver>-full` when unset.",
    )
    replicas: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="Server replicas; by profile (local 1, production 2).",
    )
    workers: int | None = Field(
        default=None, ge=1, le=32, description="Server worker processes; by profile (1 / 4)."
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="Container resources; by profile when unset."
    )
    database: Dns1123Label = Field(
        default="mlflow", description="Database name in the stack's Postgres."
    )
    artifact_bucket: BucketName = Field(
        default="mlflow-artifacts", description="Bucket holding run artifacts and models."
    )
    allowed_hosts: list[AllowedHost] = Field(
        default_factory=list,
        description="Extra Host header values the server accepts (MLflow 3 `--allowed-hosts`); "
        "in-cluster names and the external host are always allowed.",
    )
    ingress: ExposeSpec | None = Field(
        default=None, description="Expose the UI and API outside the cluster."
    )
    service_name: Dns1123Label = Field(
        default="mlflow", description="Kubernetes Service name (and in-cluster host name)."
    )
    port: int = Field(default=5000, ge=1, le=65535, description="Service port.")
