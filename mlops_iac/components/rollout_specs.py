"""What an endpoint's automatic rollout is made of, as data (pure): the Argo Rollouts
`Rollout` that takes over the endpoint's pods, the `AnalysisTemplate` that judges each step,
and the names and labels they share with the promotion watcher.

How the parts fit (docs/serving.md, "Automatic rollouts"):

- Pulumi owns the endpoint's Deployment as the pod template, at 0 replicas. The Rollout
  points at it (`workloadRef`) and runs the pods itself, `replicas` of them.
- The promotion watcher (mlops_iac.workloads.promotion_watch) resolves the endpoint's alias
  in the registry and writes the version into one pod-template annotation of that
  Deployment (MODEL_VERSION_ANNOTATION). The fetch-model init container reads it through the
  downward API and downloads exactly that version. A new value is a new pod template: the
  Rollout starts a revision.
- The revision walks the spec's steps on the stack's HTTPRoute, whose two backends (the
  stable and the canary Service) the Gateway API plugin weighs, while the analysis queries
  the new pods' own 5xx ratio and p99 latency (their series carry the pod-template hash).
- A failed measurement aborts: every request goes back to the stable pods and the new
  ones are scaled away.

Who owns which field (server-side apply, which `pulumi up` uses): Pulumi owns what it
declares; the watcher owns one annotation key of the Deployment's template (a map entry
Pulumi never sets, so no `pulumi up` touches it); the controller owns the stable and canary
Services' `spec.selector` (an atomic map: adding the pod-template hash takes all of it) and
the plugin the HTTPRoute's `spec.rules` (an atomic list: changing a weight takes all of it).
A plain apply of those objects during a rollout would be refused as a field conflict, and a
forced one would reset the weights. So Pulumi ignores exactly those two fields
(IGNORED_SERVICE_FIELDS, IGNORED_ROUTE_FIELDS): for an ignored field that another manager
owns, the Kubernetes provider leaves it out of its apply (pulumi-kubernetes
pkg/await/await.go, handleSSAIgnoreFields). A change of the route's rules themselves (the
endpoint's port) replaces the route instead (ROUTE_RULES_ANNOTATION). The control-plane tier
runs all of it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlops_iac.components.serving_metrics import BY_RUNTIME, RequestMetrics
from mlops_iac.spec import AlertsSpec, AnalysisSpec, EndpointSpec, RolloutSpec, StackSpec

ROLLOUT_API = "argoproj.io/v1alpha1"
GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"
"""The name the Gateway API traffic-router plugin is registered under in the controller's
config (argo-rollouts-config `trafficRouterPlugins`) and used under in a Rollout."""
MODEL_VERSION_ANNOTATION = "mlops-iac.dev/model-version"
"""On the endpoint Deployment's pod template: the registry version its pods serve, written
by the promotion watcher (absent until the first promotion: the pods then follow the alias)."""
MODEL_VERSION_ENV = "MODEL_VERSION"
"""The fetch-model container's copy of MODEL_VERSION_ANNOTATION (downward API)."""
POD_HASH_LABEL = "rollouts-pod-template-hash"
"""What Argo Rollouts labels each revision's pods with and adds to the Services' selectors."""
POD_HASH_METRIC_LABEL = "rollouts_pod_template_hash"
"""The same label on scraped series (ServiceMonitor `podTargetLabels`, sanitized)."""
CANARY_HASH_ARG = "canary-hash"
STABLE_HASH_ARG = "stable-hash"

IGNORED_SERVICE_FIELDS = ["spec.selector"]
"""The stable and canary Services' selector, the controller's once it narrows it to a
revision (the endpoint's pod selector never changes)."""
IGNORED_ROUTE_FIELDS = ["spec.rules"]
"""The route's rules, the plugin's once it weighs them."""
ROUTE_RULES_ANNOTATION = "mlops-iac.dev/route-rules"
"""A digest of the route's rules without their weights: when it changes (a new port), Pulumi
replaces the route (ignoring `spec.rules` would otherwise keep the old backends)."""


def rules_digest(rules: list[dict[str, Any]]) -> str:
    """The digest of `rules` with every backend's weight left out."""
    unweighted = [
        {
            **rule,
            "backendRefs": [
                {k: v for k, v in ref.items() if k != "weight"} for ref in rule["backendRefs"]
            ],
        }
        for rule in rules
    ]
    encoded = json.dumps(unweighted, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def canary_service_name(service: str) -> str:
    """The Service that selects only the new revision's pods during a rollout."""
    return f"{service}-canary"


def metrics_service_name(service: str) -> str:
    """A headless Service over every pod of the endpoint, whatever its revision: what
    Prometheus scrapes (the stable and canary Services' selectors change during a rollout,
    and both select the same pods after one, which would count every series twice)."""
    return f"{service}-metrics"


def analysis_template_name(service: str) -> str:
    """The endpoint's AnalysisTemplate."""
    return f"{service}-rollout-analysis"


def rate_window(analysis: AnalysisSpec) -> str:
    """The range of the analysis' `rate()`s: at least two minutes (two scrapes of
    kube-prometheus-stack's default 30 s interval, with room), and two intervals."""
    return f"{max(120, 2 * analysis.interval_seconds)}s"


def _series(metrics: RequestMetrics, namespace: str, argument: str, *extra: str) -> str:
    return metrics.selector(namespace, f'{POD_HASH_METRIC_LABEL}="{{{{args.{argument}}}}}"', *extra)


def _ratio(metrics: RequestMetrics, namespace: str, window: str, argument: str, codes: str) -> str:
    """The share of one revision's answers whose status matches `codes`: NaN without
    requests (0/0), never empty."""
    matching = _series(metrics, namespace, argument, f'{metrics.status_label}=~"{codes}"')
    answered = _series(metrics, namespace, argument)
    return (
        f"(sum(rate({metrics.requests}{matching}[{window}])) or vector(0))"
        f" / (sum(rate({metrics.requests}{answered}[{window}])) or vector(0))"
    )


def error_ratio_query(metrics: RequestMetrics, namespace: str, window: str) -> str:
    """The new revision's share of 5xx answers: NaN without requests (0/0), never empty."""
    return _ratio(metrics, namespace, window, CANARY_HASH_ARG, "5..")


def client_error_increase_query(metrics: RequestMetrics, namespace: str, window: str) -> str:
    """How much larger the new revision's share of 4xx answers is than the stable one's: a
    version that rejects what clients send (a new required column, a stricter schema) answers
    4xx, not 5xx; requests that every version rejects do not count against it. NaN while
    either revision has no requests."""
    canary = _ratio(metrics, namespace, window, CANARY_HASH_ARG, "4..")
    stable = _ratio(metrics, namespace, window, STABLE_HASH_ARG, "4..")
    return f"({canary}) - ({stable})"


def p99_latency_query(metrics: RequestMetrics, namespace: str, window: str) -> str:
    """The new revision's p99 request latency in seconds: 0 before its first scrape, NaN
    while it has no requests."""
    buckets = f"{metrics.duration_bucket}{_series(metrics, namespace, CANARY_HASH_ARG)}"
    return f"histogram_quantile(0.99, sum by (le) (rate({buckets}[{window}]))) or vector(0)"


def analysis_thresholds(spec: StackSpec, analysis: AnalysisSpec) -> tuple[float, float]:
    """(error ratio, p99 latency in seconds): the analysis' own, else the alert rules' (their
    defaults without `monitoring`)."""
    alerts = spec.monitoring.alerts if spec.monitoring else AlertsSpec()
    error_rate = analysis.error_rate or alerts.error_rate
    latency_ms = analysis.p99_latency_ms or alerts.p99_latency_ms
    return error_rate, latency_ms / 1000


def prometheus_address(spec: StackSpec, analysis: AnalysisSpec) -> str:
    """The Prometheus the analysis asks: the spec's, else kube-prometheus-stack's in-cluster
    Service (mlops_iac.components.monitoring names its release `monitoring`)."""
    if analysis.prometheus_url:
        return analysis.prometheus_url
    return (
        f"http://monitoring-kube-prometheus-prometheus.{spec.monitoring_namespace}"
        ".svc.cluster.local:9090"
    )


def analysis_template_spec(
    spec: StackSpec, endpoint: EndpointSpec, analysis: AnalysisSpec
) -> dict[str, Any]:
    """Three metrics, each measured every `interval_seconds` while the rollout runs: the new
    revision's 5xx ratio, its 4xx ratio above the stable revision's (both against the error
    rate) and its p99 latency. No requests (NaN, or an empty result, which Argo
    Rollouts would count as an error) passes: a step with no traffic has nothing to judge."""
    metrics = BY_RUNTIME[endpoint.runtime]
    address = prometheus_address(spec, analysis)
    window = rate_window(analysis)
    error_rate, latency = analysis_thresholds(spec, analysis)

    def metric(name: str, query: str, limit: float) -> dict[str, Any]:
        return {
            "name": name,
            "interval": f"{analysis.interval_seconds}s",
            "failureLimit": analysis.failure_limit,
            "successCondition": f"len(result) == 0 || isNaN(result[0]) || result[0] <= {limit:g}",
            "provider": {"prometheus": {"address": address, "query": query}},
        }

    namespace = spec.namespace
    return {
        "args": [{"name": CANARY_HASH_ARG}, {"name": STABLE_HASH_ARG}],
        "metrics": [
            metric("error-ratio", error_ratio_query(metrics, namespace, window), error_rate),
            metric(
                "client-error-increase",
                client_error_increase_query(metrics, namespace, window),
                error_rate,
            ),
            metric("p99-latency", p99_latency_query(metrics, namespace, window), latency),
        ],
    }


def canary_steps(rollout: RolloutSpec) -> list[dict[str, Any]]:
    """`setWeight` then `pause` for each step (a pause without duration waits for a manual
    promote); the rollout goes to 100% after the last."""
    steps: list[dict[str, Any]] = []
    for step in rollout.steps:
        steps.append({"setWeight": step.weight})
        pause = {} if step.pause_seconds is None else {"duration": f"{step.pause_seconds}s"}
        steps.append({"pause": pause})
    return steps


def rollout_spec(
    rollout: RolloutSpec,
    *,
    namespace: str,
    deployment: str,
    service: str,
    route: str,
    match: dict[str, str],
    replicas: int | None,
) -> dict[str, Any]:
    """The Rollout that runs the endpoint's pods from its Deployment's template.

    `replicas` None leaves the count to the endpoint's HorizontalPodAutoscaler, which then
    scales the Rollout. The Deployment is scaled down by Pulumi itself (0 replicas), so
    `scaleDown: never` (the controller never writes it)."""
    canary: dict[str, Any] = {
        "stableService": service,
        "canaryService": canary_service_name(service),
        "trafficRouting": {
            "plugins": {GATEWAY_PLUGIN: {"httpRoute": route, "namespace": namespace}}
        },
        "steps": canary_steps(rollout),
    }
    if rollout.analysis is not None:
        canary["analysis"] = {
            "templates": [{"templateName": analysis_template_name(service)}],
            "args": [
                {"name": CANARY_HASH_ARG, "valueFrom": {"podTemplateHashValue": "Latest"}},
                {"name": STABLE_HASH_ARG, "valueFrom": {"podTemplateHashValue": "Stable"}},
            ],
            "startingStep": 1,
        }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": match},
        "workloadRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment,
            "scaleDown": "never",
        },
        "strategy": {"canary": canary},
        "revisionHistoryLimit": 3,
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return spec
