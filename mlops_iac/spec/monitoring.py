"""Monitoring: Prometheus, Grafana, alert rules, inference logging and drift monitors."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from .routing import ExposeSpec
from .schedule import CronSchedule
from .training import check_dataset_uri
from .types import BucketName, Dns1123Label, Quantity, ResourceRequirements, ShortName, SpecModel


class PrometheusSpec(SpecModel):
    """The Prometheus server of kube-prometheus-stack."""

    retention: str = Field(
        default="7d",
        pattern=r"^[0-9]+(ms|s|m|h|d|w|y)$",
        description="How long samples are kept, e.g. `7d`, `12h`.",
    )
    storage: Quantity | None = Field(
        default=None,
        description="Volume for the samples; none (an emptyDir) on `local`, 50Gi on "
        "`production` when unset.",
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="Prometheus container resources; by profile when unset."
    )


class GrafanaSpec(SpecModel):
    """Grafana with the stack's dashboards; the admin password is generated."""

    enabled: bool = Field(default=True, description="Deploy Grafana.")
    ingress: ExposeSpec | None = Field(
        default=None, description="Expose Grafana outside the cluster."
    )


class AlertsSpec(SpecModel):
    """Thresholds of the alert rules (PrometheusRule)."""

    p99_latency_ms: float = Field(
        default=250, gt=0, description="Alert when an endpoint's p99 latency passes this."
    )
    error_rate: float = Field(
        default=0.01, gt=0, le=1, description="Alert when this share of requests fails (5xx)."
    )
    pod_restarts: int = Field(
        default=3, ge=1, description="Alert when a pod restarts this often within 15 minutes."
    )
    for_minutes: int = Field(
        default=5, ge=0, le=1440, description="How long a condition must hold before it fires."
    )


class InferenceLogSpec(SpecModel):
    """Sampled inference requests and responses, kept on the object store for drift."""

    enabled: bool = Field(
        default=True,
        description="Run the inference logger sidecar in every endpoint not on KServe.",
    )
    sample_rate: float = Field(
        default=0.1, gt=0, le=1, description="Share of inference requests kept."
    )
    bucket: BucketName = Field(default="inference-logs", description="Bucket of the records.")
    flush_records: int = Field(default=200, ge=1, le=100_000, description="Records per batch.")
    flush_seconds: int = Field(
        default=60, ge=1, le=3600, description="Write a batch at least this often."
    )


class DriftSpec(SpecModel):
    """A drift monitor for one endpoint: a CronJob in the training namespace."""

    endpoint: ShortName = Field(description="The endpoint whose live inputs are watched.")
    model_name: str | None = Field(
        default=None,
        description="Registered model whose champion's training data is the reference; by "
        "default the model of the endpoint's `models:/NAME@...` URI.",
    )
    reference: str = Field(
        default="training",
        description="`training` (the features the champion was trained on, which the trainer "
        "logs) or a dataset URI (`s3://...`, `sklearn://...`).",
    )
    target: str | None = Field(
        default=None, description="Label column to drop from a `reference` dataset URI."
    )
    method: Literal["psi", "ks"] = Field(
        default="psi",
        description="Score compared with `threshold`: `psi` (population stability index) or "
        "`ks` (Kolmogorov-Smirnov statistic). Both are computed and exported.",
    )
    threshold: float = Field(default=0.2, gt=0, description="Drift when a feature passes this.")
    schedule: CronSchedule = Field(default="*/15 * * * *", description="How often to check.")
    window_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="How far back live records are read."
    )
    min_samples: int = Field(
        default=50, ge=1, description="Fewer live rows than this never count as drift."
    )
    retrain_job: ShortName | None = Field(
        default=None, description="Training job started when drift is detected."
    )
    cooldown_minutes: int = Field(
        default=360, ge=0, description="No new retraining within this long of the last run."
    )

    @field_validator("reference")
    @classmethod
    def _reference_readable(cls, value: str) -> str:
        return value if value == "training" else check_dataset_uri(value)


class MonitoringSpec(SpecModel):
    """kube-prometheus-stack (Prometheus, Grafana, kube-state-metrics, the operator) and a
    Pushgateway by pinned Helm releases, the stack's alert rules and dashboards, inference
    logging and drift monitors."""

    namespace: Dns1123Label | None = Field(
        default=None, description="Namespace of the monitoring stack; `<namespace>-monitoring`."
    )
    prometheus: PrometheusSpec = Field(default_factory=PrometheusSpec, description="Prometheus.")
    grafana: GrafanaSpec = Field(default_factory=GrafanaSpec, description="Grafana.")
    alerts: AlertsSpec = Field(default_factory=AlertsSpec, description="Alert thresholds.")
    inference_log: InferenceLogSpec = Field(
        default_factory=InferenceLogSpec, description="Inference logging for drift."
    )
    drift: list[DriftSpec] = Field(default_factory=list, description="Drift monitors.")
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="Raw kube-prometheus-stack Helm values, merged over the generated ones "
        "(the escape hatch; not validated).",
    )

    @field_validator("drift", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value
