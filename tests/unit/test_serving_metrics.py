"""The request metrics behind the alert rules and the serving dashboard, per runtime."""

from __future__ import annotations

import pytest

from mlops_iac.components import serving_metrics
from mlops_iac.spec import StackSpec


def spec_with(*runtimes: str) -> StackSpec:
    serving = [
        {"name": f"e{i}", "model": f"models:/m{i}@champion", "runtime": runtime}
        for i, runtime in enumerate(runtimes)
    ]
    return StackSpec.load(
        {
            "name": "demo",
            "target": {"kind": "kind", "preinstalled": ["kserve"]},
            "serving": serving,
        }
    )


@pytest.mark.parametrize(
    ("runtimes", "watched"),
    [
        ((), ["builtin"]),
        (("builtin",), ["builtin"]),
        (("mlflow",), ["builtin"]),
        (("kserve",), ["builtin"]),
        (("mlserver",), ["mlserver"]),
        (("mlserver", "builtin", "mlflow"), ["builtin", "mlserver"]),
    ],
)
def test_every_runtime_with_metrics_that_the_stack_runs_is_watched(runtimes, watched):
    assert [m.runtime for m in serving_metrics.watched(spec_with(*runtimes))] == watched


def test_one_runtime_gives_one_plain_query():
    query = serving_metrics.request_rate(spec_with("builtin"), "service", errors=True)

    assert query == (
        'sum by (service) (rate(inference_requests_total{namespace="mlops",code=~"5.."}[5m]))'
    )


def test_mixed_runtimes_are_joined_so_each_endpoint_appears_once():
    spec = spec_with("builtin", "mlserver")
    latency = serving_metrics.latency_quantile(spec, 0.99, "service")

    assert latency.startswith("histogram_quantile(0.99, (sum by (service, le) (rate(inference_")
    assert (
        ") or (sum by (service, le) (rate(rest_server_request_duration_seconds_bucket{" in latency
    )
    assert 'path=~"/v2/models/.+/infer"' in latency  # MLServer also counts its health checks
    ratio = serving_metrics.error_ratio(spec, "service")
    errors, total = ratio.split(" / ")
    assert 'status_code=~"5.."' in errors and 'code=~"5.."' in errors
    assert "5.." not in total


def test_failures_per_version_share_the_model_version_label():
    query = serving_metrics.failures_by_version(spec_with("builtin", "mlserver"))

    assert "sum by (model, model_version) (rate(inference_requests_total" in query
    assert "label_replace(sum by (model, version) (rate(model_infer_request_failure_total" in query
    assert '"model_version", "$1", "version"' in query
