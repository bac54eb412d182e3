"""Grafana dashboards as JSON (pure): serving, drift and training. Grafana's dashboard
sidecar loads every ConfigMap labelled `grafana_dashboard: "1"`."""

from __future__ import annotations

import json
from typing import Any

from mlops_iac.components.serving_metrics import (
    DASHBOARD_WINDOW,
    failures_by_version,
    latency_quantile,
    request_rate,
)
from mlops_iac.spec import StackSpec

SIDECAR_LABEL = {"grafana_dashboard": "1"}
DATASOURCE = {"type": "prometheus"}
"""The default Prometheus datasource kube-prometheus-stack provisions."""


def _panel(
    title: str, targets: list[tuple[str, str]], x: int, y: int, unit: str = "short"
) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": 12, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(65 + i), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "uid": uid,
            "title": title,
            "tags": ["mlops-iac"],
            "schemaVersion": 39,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "30s",
            "panels": panels,
        },
        indent=2,
        sort_keys=True,
    )


def serving_dashboard(spec: StackSpec) -> str:
    """Requests/s, p50/p99 latency and errors per endpoint; failures per model version."""
    return _dashboard(
        f"{spec.name}-serving",
        f"{spec.name}: serving",
        [
            _panel(
                "Requests per second",
                [(request_rate(spec, "service", window=DASHBOARD_WINDOW), "{{service}}")],
                0,
                0,
                "reqps",
            ),
            _panel(
                "Latency p50 / p99",
                [
                    (latency_quantile(spec, 0.5, "service", DASHBOARD_WINDOW), "p50 {{service}}"),
                    (latency_quantile(spec, 0.99, "service", DASHBOARD_WINDOW), "p99 {{service}}"),
                ],
                12,
                0,
                "s",
            ),
            _panel(
                "Errors per second (5xx)",
                [
                    (
                        request_rate(spec, "service", errors=True, window=DASHBOARD_WINDOW),
                        "{{service}}",
                    )
                ],
                0,
                8,
                "reqps",
            ),
            _panel(
                "Failed inferences per model version",
                [(failures_by_version(spec, DASHBOARD_WINDOW), "{{model}} {{model_version}}")],
                12,
                8,
                "reqps",
            ),
            *_rollout_panels(spec),
        ],
    )


def _rollout_panels(spec: StackSpec) -> list[dict[str, Any]]:
    """With automatic rollouts: each version's share of the requests (a rollout's steps),
    and the promotion watcher's record (pinned version, state, outcomes)."""
    if not spec.rolled_endpoints:
        return []
    watched = f'{{namespace="{spec.namespace}"}}'
    return [
        _panel(
            "Requests per model version (rollouts)",
            [
                (
                    request_rate(spec, "model, model_version", window=DASHBOARD_WINDOW),
                    "{{model}} v{{model_version}}",
                )
            ],
            0,
            16,
            "reqps",
        ),
        _panel(
            "Pinned model version and rollout state",
            [
                (f"mlops_rollout_model_version{watched}", "{{endpoint}} pinned version"),
                (f"mlops_rollout_state{watched} == 1", "{{endpoint}} {{state}}"),
                (
                    f"sum by (endpoint, outcome) (increase(mlops_rollout_total{watched}[1d]))",
                    "{{endpoint}} {{outcome}} (24 h)",
                ),
            ],
            12,
            16,
        ),
    ]


def drift_dashboard(spec: StackSpec) -> str:
    """Drift score per feature over time, and each endpoint's largest score."""
    return _dashboard(
        f"{spec.name}-drift",
        f"{spec.name}: drift",
        [
            _panel(
                "PSI per feature",
                [('mlops_drift_score{method="psi"}', "{{endpoint}} {{feature}}")],
                0,
                0,
            ),
            _panel(
                "KS statistic per feature",
                [('mlops_drift_score{method="ks"}', "{{endpoint}} {{feature}}")],
                12,
                0,
            ),
            _panel(
                "Largest score and threshold",
                [
                    ("mlops_drift_max_score", "score {{endpoint}}"),
                    ("mlops_drift_threshold", "threshold {{endpoint}}"),
                ],
                0,
                8,
            ),
            _panel("Live rows compared", [("mlops_drift_samples", "{{endpoint}}")], 12, 8),
        ],
    )


def training_dashboard(spec: StackSpec) -> str:
    """Last run, promoted or not, holdout score; Job outcomes from kube-state-metrics."""
    namespace = spec.training_namespace
    return _dashboard(
        f"{spec.name}-training",
        f"{spec.name}: training",
        [
            _panel(
                "Last run (seconds ago)",
                [("time() - mlops_training_last_run_timestamp_seconds", "{{model}}")],
                0,
                0,
                "s",
            ),
            _panel(
                "Promoted (1) or kept the champion (0)",
                [("mlops_training_promoted", "{{model}}")],
                12,
                0,
            ),
            _panel(
                "Holdout score",
                [("mlops_training_holdout_score", "{{model}} {{metric}}")],
                0,
                8,
            ),
            _panel(
                "Training Jobs succeeded / failed",
                [
                    (f'sum(kube_job_status_succeeded{{namespace="{namespace}"}})', "succeeded"),
                    (f'sum(kube_job_status_failed{{namespace="{namespace}"}})', "failed"),
                ],
                12,
                8,
            ),
        ],
    )


def dashboards(spec: StackSpec) -> dict[str, str]:
    """Every dashboard of the stack, by file name."""
    result = {"serving.json": serving_dashboard(spec), "drift.json": drift_dashboard(spec)}
    if spec.training is not None:
        result["training.json"] = training_dashboard(spec)
    return result
