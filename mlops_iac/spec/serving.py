"""Serving endpoints: HTTP inference services that load models from the stack's registry."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .rollout import RolloutSpec
from .routing import ExposeSpec
from .types import ImageRef, ResourceRequirements, ShortName, SpecModel

_MODEL_URI = re.compile(
    r"^models:/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>[0-9]+))$"
)


def _model_uri(value: str) -> str:
    if not _MODEL_URI.match(value):
        raise ValueError(
            f"{value!r} is not a registry model URI; allowed: models:/NAME@ALIAS "
            "(e.g. models:/churn@champion) or models:/NAME/VERSION"
        )
    return value


def registered_model_of(uri: str) -> str:
    """The registered model's name in a `models:/NAME@ALIAS` or `models:/NAME/VERSION` URI."""
    match = _MODEL_URI.match(uri)
    if match is None:
        raise ValueError(f"{uri!r} is not a registry model URI")
    return match["name"]


ModelUri = Annotated[str, AfterValidator(_model_uri)]
"""`models:/NAME@ALIAS` or `models:/NAME/VERSION` in the stack's MLflow registry."""

Runtime = Literal["builtin", "mlserver", "mlflow", "kserve"]
"""Serving runtimes, all in the stack's runtime image. `builtin` (default): the stack's own
model server (mlops_iac.workloads.model_server: the MLflow pyfunc over the Open Inference
Protocol v2, `/v2/health/ready` and `/v2/models/<endpoint>/infer`, adaptive batching,
Prometheus metrics), the fastest maintained runtime on benchmarks/serving.py (1.46x
MLServer's requests/s at concurrency 8, with a seventh of its p99). `mlserver`: MLServer
1.7.1's MLflow runtime, same protocol (MLServer has had no release since June 2025).
`mlflow`: `mlflow models serve` (`/health`, `/invocations`), MLflow's own scoring server.
`kserve`: the builtin server's pod as an InferenceService in KServe's `Standard` deployment
mode (no Knative); KServe then owns the Deployment, Service (`<name>-predictor`, port 80)
and autoscaler. Needs KServe installed."""


class AutoscalingSpec(SpecModel):
    """A HorizontalPodAutoscaler on CPU utilisation."""

    min: int = Field(ge=1, le=100, description="Fewest replicas.")
    max: int = Field(ge=1, le=100, description="Most replicas; at least `min`.")
    target_cpu: int = Field(
        default=70, ge=1, le=100, description="Average CPU utilisation (% of requests) to keep."
    )

    @model_validator(mode="after")
    def _max_at_least_min(self) -> AutoscalingSpec:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        return self


class CanarySpec(SpecModel):
    """A challenger model served beside the stable one, behind the stack's Gateway."""

    model: ModelUri = Field(description="The challenger, e.g. `models:/churn@challenger`.")
    weight: int = Field(
        default=10,
        ge=0,
        le=100,
        description="Percent of external requests the challenger answers (`split` mode): "
        "0 sends it none, 100 sends it all.",
    )
    mode: Literal["split", "shadow"] = Field(
        default="split",
        description="`split` shares traffic by `weight`; `shadow` mirrors every request to "
        "the challenger and answers only from the stable model.",
    )
    replicas: int = Field(default=1, ge=1, le=20, description="Challenger replicas.")


class EndpointSpec(SpecModel):
    """One inference endpoint."""

    @model_validator(mode="after")
    def _metrics_need_a_metrics_runtime(self) -> EndpointSpec:
        if self.service_monitor and self.runtime not in ("builtin", "mlserver"):
            raise ValueError(
                "service_monitor needs runtime 'builtin' or 'mlserver' (`mlflow models serve` "
                "exposes no Prometheus metrics; KServe's predictor Service has no metrics port)"
            )
        return self

    name: ShortName = Field(description="Endpoint name: Service, Deployment and route name.")
    model: ModelUri = Field(description="The model to serve, e.g. `models:/churn@champion`.")
    runtime: Runtime = Field(
        default="builtin",
        description="Serving runtime: `builtin` (default), `mlserver`, `mlflow` or `kserve`.",
    )
    image: ImageRef | None = Field(
        default=None,
        description="Serving image; the stack's runtime image when unset.",
    )
    replicas: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Replicas without autoscaling; by profile (local 1, production 2).",
    )
    workers: int | None = Field(
        default=None, ge=1, le=32, description="Server worker processes per pod; by profile."
    )
    autoscaling: AutoscalingSpec | None = Field(
        default=None, description="Scale on CPU between `min` and `max` replicas."
    )
    canary: CanarySpec | None = Field(default=None, description="Serve a challenger too.")
    resources: ResourceRequirements | None = Field(
        default=None, description="Container resources; by profile when unset."
    )
    ingress: ExposeSpec | None = Field(
        default=None, description="Expose the endpoint outside the cluster."
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Service port.")
    service_monitor: bool = Field(
        default=False,
        description="Create a Prometheus Operator ServiceMonitor for the runtime's metrics "
        "(port 8082 of `builtin` and `mlserver`); needs the monitoring.coreos.com CRDs in the "
        "cluster.",
    )
    feature_server: bool = Field(
        default=False,
        description="Give the model server the stack's Feast feature server: its in-cluster "
        "URL in FEATURE_SERVER_URL and a network path to it (for your own serving code or "
        "image); needs `feature_store`.",
    )
    model_revision: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="The manual override: bump to roll the pods onto what the model URI now "
        "points at (e.g. the new champion's version after the alias moved); it is a pod "
        "annotation, so changing it restarts pods one at a time and changes nothing else. "
        "With `rollout` the endpoint follows its alias by itself.",
    )
    rollout: RolloutSpec | None = Field(
        default=None,
        description="Follow the model alias automatically: when it moves, roll every replica "
        "to the new version step by step through the Gateway route, judged by the new "
        "version's metrics, with automatic rollback (Argo Rollouts; docs/serving.md).",
    )

    @model_validator(mode="after")
    def _a_rollout_follows_an_alias(self) -> EndpointSpec:
        if self.rollout is None:
            return self
        if "@" not in self.model:
            raise ValueError(
                f"rollout follows a model alias, and {self.model!r} names a fixed version; "
                "use models:/NAME@ALIAS (e.g. models:/churn@champion)"
            )
        if self.runtime not in ("builtin", "mlserver"):
            raise ValueError(
                f"rollout needs runtime 'builtin' or 'mlserver' (got {self.runtime!r}): the "
                "analysis reads their request metrics and Argo Rollouts owns their pods"
            )
        if self.canary is not None:
            raise ValueError(
                "rollout and canary both set the route's weights: use `rollout` to move to "
                "each new version of the alias, or `canary` to serve a second model beside it"
            )
        return self
