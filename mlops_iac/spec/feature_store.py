"""The feature store: Feast with a SQL registry, an online store, an offline store on the
object store, scheduled materialization and a feature server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .routing import ExposeSpec
from .schedule import CronSchedule
from .types import BucketName, Dns1123Label, ImageRef, ResourceRequirements, SpecModel

FeastProject = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,63}$")]
"""A Feast project name: letters, digits and underscores."""

OnlineStore = Literal["redis"]
"""Online stores: `redis` (an in-cluster Redis on kind and existing clusters; ElastiCache on
AWS once that target exists)."""

OfflineStore = Literal["file"]
"""Offline stores: `file` (Parquet files on the stack's object store, read by Feast's file
offline store)."""


class MaterializeSpec(SpecModel):
    """Incremental materialization of the feature views into the online store (a CronJob)."""

    schedule: CronSchedule = Field(
        default="*/30 * * * *", description="Cron schedule of `feast materialize-incremental`."
    )
    time_zone: str = Field(
        default="Etc/UTC",
        pattern=r"^[A-Za-z]+(/[A-Za-z0-9_+-]+)*$",
        description="IANA time zone of the schedule.",
    )
    deadline_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A run is stopped after this long."
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="Resources of `feast apply` and materialization; by profile."
    )


class FeatureServerSpec(SpecModel):
    """The Feast feature server (`feast serve`): online features over HTTP."""

    replicas: int | None = Field(
        default=None, ge=1, le=20, description="Replicas; by profile (local 1, production 2)."
    )
    workers: int = Field(default=1, ge=1, le=16, description="Worker processes per pod.")
    resources: ResourceRequirements | None = Field(
        default=None, description="Container resources; by profile when unset."
    )
    ingress: ExposeSpec | None = Field(
        default=None, description="Expose the feature server outside the cluster."
    )
    port: int = Field(default=6566, ge=1, le=65535, description="Service port.")
    service_monitor: bool = Field(
        default=False,
        description="Create a Prometheus Operator ServiceMonitor for the server's metrics "
        "(Feast serves them on port 8000); needs the monitoring.coreos.com CRDs.",
    )


class FeatureStoreSpec(SpecModel):
    """Feast: registry in the stack's Postgres, online store, offline store on the object
    store, `feast apply` whenever the feature repo changes, materialization on a schedule,
    and a feature server."""

    repo: str = Field(
        min_length=1,
        description="Folder of the Feast feature repo (Python files defining entities, "
        "feature views, feature services), relative to the program's working directory "
        "(Pulumi runs a program in its `main` folder). Its `feature_store.yaml`, if any, is "
        "replaced by the one the stack generates.",
    )
    project: FeastProject | None = Field(
        default=None,
        description="Feast project name; the stack name with '-' as '_' when unset.",
    )
    online_store: OnlineStore = Field(default="redis", description="Online store type.")
    offline_store: OfflineStore = Field(default="file", description="Offline store type.")
    materialize: MaterializeSpec = Field(
        default_factory=MaterializeSpec, description="Scheduled materialization."
    )
    server: FeatureServerSpec = Field(
        default_factory=FeatureServerSpec, description="The feature server."
    )
    bucket: BucketName = Field(
        default="feast-offline",
        description="Bucket of the offline store's Parquet files on the stack's object store; "
        "feature views find it in MLOPS_FEAST_DATA (`s3://<bucket>`).",
    )
    database: Dns1123Label = Field(
        default="feast", description="Database of the Feast registry in the stack's Postgres."
    )
    image: ImageRef | None = Field(
        default=None,
        description="Image with Feast at /opt/feast; the stack's runtime image when unset.",
    )
