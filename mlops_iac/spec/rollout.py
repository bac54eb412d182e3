"""Automatic progressive rollouts: when an endpoint's model alias moves to a new version,
the endpoint rolls to it step by step through the stack's Gateway, each step judged by the
endpoint's own metrics, and rolls back by itself when a step fails (Argo Rollouts)."""

from __future__ import annotations

from pydantic import Field, field_validator

from .types import SpecModel


class RolloutStepSpec(SpecModel):
    """One step of a rollout: a share of the endpoint's traffic for the new version, then a
    pause during which the analysis judges it."""

    weight: int = Field(
        ge=1, le=99, description="Percent of the endpoint's requests the new version answers."
    )
    pause_seconds: int | None = Field(
        default=60,
        ge=0,
        le=86400,
        description="How long to hold this weight before the next step; `null` holds it until "
        "someone promotes the rollout (`mlops-iac rollout promote`).",
    )


class AnalysisSpec(SpecModel):
    """How each step of a rollout is judged: the new version's own 5xx ratio, its 4xx ratio
    above the stable version's, and its p99 latency, queried from Prometheus while the step
    runs. A failed measurement aborts the rollout and
    every request goes back to the previous version."""

    error_rate: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Most share of the new version's requests that may fail (5xx), and most "
        "its share of rejected requests (4xx) may exceed the stable version's; "
        "`monitoring.alerts.error_rate` when unset.",
    )
    p99_latency_ms: float | None = Field(
        default=None,
        gt=0,
        description="Highest p99 latency of the new version; `monitoring.alerts.p99_latency_ms` "
        "when unset.",
    )
    interval_seconds: int = Field(
        default=30, ge=5, le=3600, description="Seconds between two measurements."
    )
    failure_limit: int = Field(
        default=1,
        ge=0,
        le=100,
        description="Failed measurements tolerated; one more aborts the rollout.",
    )
    prometheus_url: str | None = Field(
        default=None,
        pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$",
        description="The Prometheus the analysis queries; the stack's own (`monitoring`) when "
        "unset.",
    )


def _default_steps() -> list[RolloutStepSpec]:
    return [RolloutStepSpec(weight=10), RolloutStepSpec(weight=50)]


class RolloutSpec(SpecModel):
    """Roll every replica of the endpoint onto the version its model alias names, whenever the
    alias moves: no `pulumi up`, one version per rollout, steps through the Gateway route,
    automatic rollback. The endpoint's `model` must name an alias (`models:/NAME@ALIAS`)."""

    steps: list[RolloutStepSpec] = Field(
        default_factory=_default_steps,
        min_length=1,
        max_length=10,
        description="Weights the new version goes through before it takes every request "
        "(10% then 50% by default, a minute each); weights must grow.",
    )
    analysis: AnalysisSpec | None = Field(
        default_factory=AnalysisSpec,
        description="Judge each step by the new version's metrics; `null` rolls on by the "
        "steps' pauses alone.",
    )
    poll_seconds: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="How often the stack's promotion watcher asks the registry where the "
        "alias points.",
    )

    @field_validator("steps")
    @classmethod
    def _weights_grow(cls, steps: list[RolloutStepSpec]) -> list[RolloutStepSpec]:
        weights = [step.weight for step in steps]
        if weights != sorted(set(weights)):
            raise ValueError(f"step weights must grow from step to step; got {weights}")
        return steps
