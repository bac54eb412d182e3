"""The request metrics each serving runtime exports, and PromQL over every runtime a stack
runs (pure). Alert rules and the serving dashboard are built from this, so a stack that mixes
runtimes is watched on all of them, and a runtime's metric names live in one place."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_iac.spec import StackSpec

WINDOW = "5m"
"""The rate window of alert rules: steady enough to alert on."""
DASHBOARD_WINDOW = "$__rate_interval"
"""Grafana's own rate window: four scrape intervals at least, wider when zoomed out, so a
panel shows a rollout's minutes-long steps instead of smearing them over five minutes."""


@dataclass(frozen=True)
class RequestMetrics:
    """How one runtime counts inference requests."""

    runtime: str
    requests: str
    """Counter of answered requests, one series per status code."""
    duration_bucket: str
    """Histogram buckets of request latency, in seconds."""
    status_label: str
    """The counter's label holding the HTTP status code."""
    matchers: str
    """Label matchers that keep inference requests only (not health checks), or ""."""
    version_label: str
    """The label that names the model version (renamed `model_version` on the dashboard)."""

    def selector(self, namespace: str, *extra: str) -> str:
        """`{namespace="…",…}` for this runtime's inference series."""
        matchers = [f'namespace="{namespace}"', *([self.matchers] if self.matchers else [])]
        return "{" + ",".join([*matchers, *extra]) + "}"


BUILTIN = RequestMetrics(
    runtime="builtin",
    requests="inference_requests_total",
    duration_bucket="inference_request_duration_seconds_bucket",
    status_label="code",
    matchers="",
    version_label="model_version",
)
"""mlops_iac.workloads.model_server: it counts inference requests only."""
MLSERVER = RequestMetrics(
    runtime="mlserver",
    requests="rest_server_requests_total",
    duration_bucket="rest_server_request_duration_seconds_bucket",
    status_label="status_code",
    matchers='path=~"/v2/models/.+/infer"',
    version_label="version",
)
"""MLServer 1.7.1's REST middleware (starlette_exporter: labels method, path, status_code);
its per-model failures are `model_infer_request_failure_total{model,version}`."""
BY_RUNTIME = {m.runtime: m for m in (BUILTIN, MLSERVER)}


def watched(spec: StackSpec) -> list[RequestMetrics]:
    """The metrics of every runtime the stack's endpoints run that exports any (`kserve`
    predictors run the builtin server); the builtin's when none does, so the rules exist for
    the endpoints a user adds later."""
    runtimes = {"builtin" if e.runtime == "kserve" else e.runtime for e in spec.serving}
    found = [BY_RUNTIME[r] for r in sorted(runtimes) if r in BY_RUNTIME]
    return found or [BUILTIN]


def _union(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else " or ".join(f"({t})" for t in terms)


def request_rate(spec: StackSpec, by: str, *, errors: bool = False, window: str = WINDOW) -> str:
    """Inference requests/s summed `by` the given labels; only 5xx answers with `errors`."""
    terms = []
    for m in watched(spec):
        extra = [f'{m.status_label}=~"5.."'] if errors else []
        series = m.requests + m.selector(spec.namespace, *extra)
        terms.append(f"sum by ({by}) (rate({series}[{window}]))")
    return _union(terms)


def latency_quantile(spec: StackSpec, quantile: float, by: str, window: str = WINDOW) -> str:
    """The `quantile` of request latency in seconds, per `by`."""
    buckets = _union(
        [
            f"sum by ({by}, le) (rate({m.duration_bucket}{m.selector(spec.namespace)}[{window}]))"
            for m in watched(spec)
        ]
    )
    return f"histogram_quantile({quantile:g}, {buckets})"


def error_ratio(spec: StackSpec, by: str) -> str:
    """The share of inference requests answered 5xx, per `by`."""
    return f"({request_rate(spec, by, errors=True)}) / ({request_rate(spec, by)})"


def failures_by_version(spec: StackSpec, window: str = WINDOW) -> str:
    """Failed inferences/s per endpoint and model version, labelled `model`, `model_version`."""
    terms = []
    for m in watched(spec):
        if m is MLSERVER:
            series = f'model_infer_request_failure_total{{namespace="{spec.namespace}"}}'
            rate = f"sum by (model, version) (rate({series}[{window}]))"
            terms.append(f'label_replace({rate}, "model_version", "$1", "version", "(.*)")')
        else:
            selector = m.selector(spec.namespace, f'{m.status_label}=~"5.."')
            terms.append(
                f"sum by (model, {m.version_label}) (rate({m.requests}{selector}[{window}]))"
            )
    return _union(terms)
