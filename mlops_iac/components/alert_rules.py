"""The stack's alert rules as a PrometheusRule spec (pure; thresholds from the spec).

With automatic rollouts, the promotion watcher's `mlops_rollout_state` and its `up`.

Metric names are the ones the stack's parts export: the serving runtimes' request metrics
(mlops_iac.components.serving_metrics, for every runtime the stack runs), kube-state-metrics
(`kube_pod_container_status_restarts_total`, `kube_job_status_failed`), the drift monitor
(`mlops_drift_max_score`, via the Pushgateway) and Prometheus' own `up`.
"""

from __future__ import annotations

from typing import Any

from mlops_iac.components.serving_metrics import error_ratio, latency_quantile
from mlops_iac.spec import StackSpec

WATCHER_SERVICE = "promotion-watcher"
"""The promotion watcher's Service (mlops_iac.components.rollouts.WATCHER)."""


def _rule(name: str, expr: str, minutes: int, severity: str, summary: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": f"{minutes}m",
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    }


def alert_groups(spec: StackSpec) -> list[dict[str, Any]]:
    """Rule groups: serving (latency, errors), platform (restarts, registry up), training
    (failed Jobs) and drift (one rule per monitor)."""
    assert spec.monitoring is not None
    alerts, namespace = spec.monitoring.alerts, spec.namespace
    wait = alerts.for_minutes
    serving = [
        _rule(
            "EndpointHighP99Latency",
            f"{latency_quantile(spec, 0.99, 'namespace, service')} "
            f"> {alerts.p99_latency_ms / 1000:g}",
            wait,
            "warning",
            f"p99 latency of {{{{ $labels.service }}}} is above {alerts.p99_latency_ms:g} ms",
        ),
        _rule(
            "EndpointHighErrorRate",
            f"{error_ratio(spec, 'namespace, service')} > {alerts.error_rate:g}",
            wait,
            "critical",
            f"more than {alerts.error_rate:.2%} of requests to {{{{ $labels.service }}}} fail",
        ),
    ]
    watched = "|".join(sorted({namespace, spec.training_namespace}))
    platform = [
        _rule(
            "PodRestartingOften",
            f'increase(kube_pod_container_status_restarts_total{{namespace=~"{watched}"}}[15m]) '
            f"> {alerts.pod_restarts}",
            0,
            "warning",
            "{{ $labels.namespace }}/{{ $labels.pod }} restarted more than "
            f"{alerts.pod_restarts} times in 15 minutes",
        ),
        _rule(
            "ModelRegistryDown",
            f'up{{namespace="{namespace}",service="{spec.registry.service_name}"}} == 0',
            wait,
            "critical",
            "the MLflow registry does not answer Prometheus",
        ),
    ]
    groups = [
        {"name": "mlops-serving", "rules": serving},
        {"name": "mlops-platform", "rules": platform},
    ]
    if spec.training is not None:
        training = [
            _rule(
                "TrainingJobFailed",
                f'kube_job_status_failed{{namespace="{spec.training_namespace}"}} > 0',
                0,
                "warning",
                "training Job {{ $labels.job_name }} failed",
            )
        ]
        groups.append({"name": "mlops-training", "rules": training})
    if spec.rolled_endpoints:
        watched = f'namespace="{namespace}"'
        rollouts = [
            _rule(
                "EndpointRolloutRolledBack",
                f'mlops_rollout_state{{{watched},state="aborted"}} == 1',
                0,
                "warning",
                "the rollout of a new model version to {{ $labels.endpoint }} failed its "
                "analysis and was rolled back: `mlops-iac rollout status {{ $labels.endpoint }}`",
            ),
            _rule(
                "PromotionWatcherDown",
                f'up{{{watched},service="{WATCHER_SERVICE}"}} == 0',
                wait,
                "warning",
                "the promotion watcher does not answer: new champions are not rolled out",
            ),
        ]
        groups.append({"name": "mlops-rollouts", "rules": rollouts})
    drift = [
        _rule(
            "FeatureDrift",
            f'mlops_drift_max_score{{endpoint="{monitor.endpoint}"}} > {monitor.threshold:g}',
            0,
            "warning",
            f"inputs of {monitor.endpoint} drifted ({monitor.method} above {monitor.threshold:g})",
        )
        for monitor in spec.monitoring.drift
    ]
    if drift:
        groups.append({"name": "mlops-drift", "rules": drift})
    return groups
