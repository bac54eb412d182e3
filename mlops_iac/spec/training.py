"""Training: a quota-bound namespace where training jobs run on a schedule and on demand."""

from __future__ import annotations

import importlib.util
from typing import Any
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator

from .schedule import CronSchedule
from .types import (
    BucketName,
    Dns1123Label,
    ImageRef,
    Quantity,
    ResourceRequirements,
    ShortName,
    SpecModel,
    quantity_value,
    repeated_names,
)

BUNDLED_DATASETS = ("breast_cancer", "diabetes", "iris", "wine")
"""Datasets that scikit-learn ships in its wheel (`sklearn://NAME`), so they load offline."""

TRAINER_FIELDS = frozenset(
    {
        "dataset",
        "features",
        "target",
        "estimator",
        "params",
        "metric",
        "min_metric",
        "holdout_fraction",
    }
)
"""Job fields that only the built-in trainer reads (a job with `command` runs other code)."""


def check_dataset_uri(value: str) -> str:
    """`value` unchanged if the trainer can read it, else ValueError saying what is allowed."""
    parsed = urlparse(value)
    if parsed.scheme == "sklearn":
        name = parsed.netloc or parsed.path.lstrip("/")
        if name not in BUNDLED_DATASETS:
            raise ValueError(
                f"unknown bundled dataset {name!r}; allowed: {', '.join(BUNDLED_DATASETS)}"
            )
    elif parsed.scheme == "s3":
        if not parsed.netloc or not parsed.path.strip("/"):
            raise ValueError(f"{value!r} is not an S3 object; expected s3://BUCKET/KEY")
    elif parsed.scheme not in ("", "file"):
        raise ValueError(
            f"{value!r} has an unsupported scheme {parsed.scheme!r}; allowed: sklearn://NAME, "
            "s3://BUCKET/KEY, file:///PATH or a path inside the image"
        )
    return value


def s3_bucket_of(uri: str | None) -> str | None:
    """The bucket of an `s3://` URI, else None."""
    if uri is None:
        return None
    parsed = urlparse(uri)
    return parsed.netloc if parsed.scheme == "s3" else None


def _installed(import_path: str) -> bool:
    return importlib.util.find_spec(import_path.split(".", 1)[0]) is not None


class TrainerSettings(SpecModel):
    """What the built-in trainer fits and how it judges the result.

    The estimator and metric are checked against scikit-learn when it is installed where the
    spec is validated (it always is in the runtime image, where the trainer checks again).
    """

    dataset: str | None = Field(
        default=None,
        description="Training table: `s3://BUCKET/KEY.parquet|.csv` on the stack's object "
        "store (or S3), `sklearn://NAME` (a bundled dataset) or a path inside the image.",
    )
    target: str = Field(
        default="target", min_length=1, description="Label column; the rest are features."
    )
    estimator: str = Field(
        default="sklearn.ensemble.RandomForestClassifier",
        description="Import path of a scikit-learn compatible estimator class.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the estimator."
    )
    metric: str = Field(
        default="roc_auc",
        description="scikit-learn scorer name scored on the holdout; higher is better, so "
        "error metrics are the `neg_` variants (e.g. `neg_root_mean_squared_error`).",
    )
    min_metric: float | None = Field(
        default=None, description="Lowest holdout score a new version needs to become champion."
    )
    holdout_fraction: float = Field(
        default=0.25, gt=0, lt=1, description="Share of rows held out to score the versions."
    )
    seed: int = Field(default=42, description="Seed of the split and of the estimator.")

    @field_validator("dataset")
    @classmethod
    def _dataset_readable(cls, value: str | None) -> str | None:
        return None if value is None else check_dataset_uri(value)

    @field_validator("estimator")
    @classmethod
    def _estimator_importable(cls, value: str) -> str:
        if "." not in value.strip("."):
            raise ValueError(f"estimator {value!r} is not an import path like sklearn.svm.SVC")
        if _installed(value):
            from mlops_iac.workloads.estimators import check_estimator

            check_estimator(value)
        return value

    @field_validator("metric")
    @classmethod
    def _metric_known(cls, value: str) -> str:
        if _installed("sklearn"):
            from mlops_iac.workloads.estimators import check_metric

            check_metric(value)
        return value


class FeatureDataSpec(SpecModel):
    """Training data from the stack's feature store: entity rows joined point-in-time with a
    feature service's features (needs `feature_store`)."""

    service: str = Field(
        min_length=1, max_length=253, description="Name of a Feast feature service."
    )
    entities: str = Field(
        description="Parquet with the entity keys, `event_timestamp` and the label column: "
        "`s3://BUCKET/KEY.parquet` on the stack's object store, or a path in the image.",
    )

    @field_validator("entities")
    @classmethod
    def _entities_readable(cls, value: str) -> str:
        if value.startswith("sklearn://"):
            raise ValueError("entities must be a Parquet file (s3:// or a path), not sklearn://")
        return check_dataset_uri(value)


class TrainingJobSpec(TrainerSettings):
    """One training job: a CronJob template that runs on `schedule` and on demand."""

    name: ShortName = Field(description="Job name: the CronJob's name and `mlops-iac train NAME`.")
    model_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Registered model name in MLflow; the job name when unset.",
    )
    features: FeatureDataSpec | None = Field(
        default=None,
        description="Train on a feature service's features instead of `dataset`.",
    )
    schedule: CronSchedule | None = Field(
        default=None,
        description="Cron schedule (`0 3 * * *`, `@daily`); without one the job runs only "
        "on demand (its CronJob is suspended).",
    )
    time_zone: str = Field(
        default="Etc/UTC",
        pattern=r"^[A-Za-z]+(/[A-Za-z0-9_+-]+)*$",
        description="IANA time zone of the schedule.",
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="Trainer container resources; by profile when unset."
    )
    gpu: int = Field(
        default=0, ge=0, le=16, description="NVIDIA GPUs (`nvidia.com/gpu`) for the trainer."
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node labels the trainer's pod must run on."
    )
    image: ImageRef | None = Field(
        default=None, description="Training image; the stack's runtime image when unset."
    )
    command: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Run this instead of the built-in trainer (your own code in `image`). "
        "It gets MLFLOW_TRACKING_URI and the data bucket's S3 variables.",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables (not secrets)."
    )
    backoff_limit: int = Field(
        default=2, ge=0, le=10, description="Retries after a failed run (invalid config: none)."
    )
    deadline_minutes: int = Field(
        default=120, ge=1, le=7 * 24 * 60, description="A run is stopped after this long."
    )

    @model_validator(mode="after")
    def _trainer_or_command(self) -> TrainingJobSpec:
        if self.command is None:
            if (self.dataset is None) == (self.features is None):
                raise ValueError(
                    "the built-in trainer needs exactly one of `dataset` and `features`"
                )
            return self
        trainer_only = sorted(TRAINER_FIELDS & self.model_fields_set)
        if trainer_only:
            raise ValueError(
                f"{', '.join(trainer_only)}: built-in trainer settings, but the job runs "
                "its own `command`; remove them or remove `command`"
            )
        return self

    @property
    def registered_model(self) -> str:
        """The MLflow registered model this job trains."""
        return self.model_name or self.name


class TrainingQuota(SpecModel):
    """The most the training namespace may request at once (a ResourceQuota)."""

    cpu: Quantity = Field(default="8", description="CPU for all training pods together.")
    memory: Quantity = Field(default="32Gi", description="Memory for all training pods.")
    gpu: int = Field(default=0, ge=0, le=1024, description="NVIDIA GPUs for all training pods.")


class DistributedSpec(SpecModel):
    """Distributed training back ends."""

    ray: bool = Field(
        default=False,
        description="KubeRay for distributed training. Not available yet: `true` is "
        "rejected (see README, missing features).",
    )

    @field_validator("ray")
    @classmethod
    def _ray_not_yet(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "KubeRay is not supported yet; set `ray: false` (README lists it as missing)"
            )
        return value


class TrainingSpec(SpecModel):
    """The training environment: namespace, quota, data bucket and jobs."""

    namespace: Dns1123Label | None = Field(
        default=None, description="Namespace of the training pods; `<stack namespace>-training`."
    )
    quota: TrainingQuota = Field(
        default_factory=TrainingQuota, description="Resource quota of the namespace."
    )
    data_bucket: BucketName = Field(
        default="datasets",
        description="Bucket for training data, created on the stack's object store; training "
        "pods get credentials for it (and for every bucket a job's `s3://` dataset names).",
    )
    jobs: list[TrainingJobSpec] = Field(default_factory=list, description="Training jobs.")
    kueue: bool = Field(
        default=False,
        description="Queue jobs with Kueue (installed by a pinned Helm release): a "
        "ClusterQueue with the quota and a LocalQueue `training` in the namespace.",
    )
    distributed: DistributedSpec = Field(
        default_factory=DistributedSpec, description="Distributed training back ends."
    )

    @field_validator("jobs")
    @classmethod
    def _unique_job_names(cls, jobs: list[TrainingJobSpec]) -> list[TrainingJobSpec]:
        repeated = repeated_names([job.name for job in jobs])
        if repeated:
            raise ValueError(f"job names must be unique; repeated: {', '.join(repeated)}")
        return jobs

    @model_validator(mode="after")
    def _gpus_fit_the_quota(self) -> TrainingSpec:
        for job in self.jobs:
            if job.gpu > self.quota.gpu:
                raise ValueError(
                    f"job {job.name!r} asks for {job.gpu} GPU(s) but quota.gpu is "
                    f"{self.quota.gpu}; raise quota.gpu or lower the job's gpu"
                )
        return self

    def check_quota(self, default_resources: ResourceRequirements) -> None:
        """ValueError if a job's limits (its own or `default_resources`) exceed the quota:
        such a job could never start. The message says where the limit comes from: the
        job's `resources`, the CPU limit's default (twice the request without `cpu_limit`)
        or the profile."""
        for index, job in enumerate(self.jobs):
            resources = job.resources or default_resources
            limits = resources.to_kubernetes()["limits"]
            for resource in ("cpu", "memory"):
                allowed = getattr(self.quota, resource)
                if quantity_value(limits[resource]) <= quantity_value(allowed):
                    continue
                field = f"{resource}_limit"
                if job.resources is None:
                    origin = "the profile's default for training jobs"
                    fix = f"set the job's resources (cpu, memory and {field})"
                elif getattr(job.resources, field) is None and resource == "cpu":
                    origin = (
                        f"twice its cpu request {job.resources.cpu}, the default without "
                        "resources.cpu_limit"
                    )
                    fix = "set resources.cpu_limit"
                elif getattr(job.resources, field) is None:
                    origin = f"its {resource} request, the default without resources.{field}"
                    fix = f"lower resources.{resource}"
                else:
                    origin = f"resources.{field}"
                    fix = f"lower resources.{field}"
                raise ValueError(
                    f"training.jobs[{index}] ({job.name!r}) has a {resource} limit of "
                    f"{limits[resource]}, above training.quota.{resource} {allowed}: it could "
                    f"never start. The limit is {origin}: raise training.quota.{resource} or "
                    f"{fix}"
                )

    def job(self, name: str) -> TrainingJobSpec:
        """The job called `name`, or KeyError listing the jobs there are."""
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(job.name for job in self.jobs) or "none"
        raise KeyError(f"no training job {name!r}; jobs: {known}")

    def buckets(self) -> list[str]:
        """The data bucket and every bucket a job's dataset reads from, sorted, once each."""
        names = {self.data_bucket}
        for job in self.jobs:
            names.update(filter(None, [s3_bucket_of(job.dataset)]))
            if job.features is not None:
                names.update(filter(None, [s3_bucket_of(job.features.entities)]))
        return sorted(names)
