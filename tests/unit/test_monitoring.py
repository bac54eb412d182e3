"""Monitoring under recording mocks: Helm values, alert rules, dashboards, drift monitors,
and what monitoring changes in the components it watches."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_iac import versions
from mlops_iac.spec import SpecError, StackSpec
from mlops_iac.testing import SynthResult, synth
from mlops_iac.validate import validate_manifest

MONITORING = {
    "prometheus": {"retention": "7d"},
    "grafana": {"enabled": True, "ingress": {"host": "grafana.localtest.me"}},
    "alerts": {"p99_latency_ms": 250, "error_rate": 0.01},
    "drift": {
        "endpoint": "churn",
        "reference": "training",
        "method": "psi",
        "threshold": 0.2,
        "schedule": "*/15 * * * *",
        "retrain_job": "churn",
    },
}


def stack_spec(monitoring: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": "shop",
        "target": {"kind": "kind"},
        "routing": {"mode": "gateway", "gateway_class": "eg"},
        "serving": [{"name": "churn", "model": "models:/churn@champion"}],
        "training": {"jobs": [{"name": "churn", "dataset": "s3://datasets/churn.parquet"}]},
        "monitoring": monitoring,
        **fields,
    }


def synth_stack(monitoring: dict[str, Any], **fields: Any) -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack

    spec = StackSpec.load(stack_spec(monitoring, **fields))
    return synth(lambda: MLOpsStack("shop", spec).export(), stack="shop")


@pytest.fixture(scope="module")
def stack() -> SynthResult:
    return synth_stack(MONITORING)


def release(result: SynthResult, chart: str) -> dict[str, Any]:
    (found,) = [
        r for r in result.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == chart
    ]
    return dict(found.inputs)


def test_every_object_validates_custom_resources_included(stack):
    kinds = {m["kind"] for m in stack.manifests}

    assert {"PrometheusRule", "ServiceMonitor", "ReferenceGrant", "HTTPRoute"} <= kinds
    assert [
        (m["kind"], validate_manifest(m, "1.37"))
        for m in stack.manifests
        if validate_manifest(m, "1.37")
    ] == []


def test_the_local_profile_fits_a_laptop(stack):
    chart = release(stack, versions.KUBE_PROMETHEUS_STACK_CHART)
    values = chart["values"]
    prometheus = values["prometheus"]["prometheusSpec"]

    assert (chart["version"], chart["repositoryOpts"]["repo"]) == (
        versions.KUBE_PROMETHEUS_STACK_VERSION,
        versions.PROMETHEUS_COMMUNITY_REPO,
    )
    assert prometheus["retention"] == "7d"
    assert "storageSpec" not in prometheus
    assert prometheus["resources"]["requests"] == {"cpu": "100m", "memory": "512Mi"}
    assert prometheus["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert prometheus["ruleSelectorNilUsesHelmValues"] is False
    for component in ("alertmanager", "nodeExporter", "kubeEtcd", "kubeScheduler", "kubeProxy"):
        assert values[component]["enabled"] is False, component
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert values["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    assert values["grafana"]["persistence"]["enabled"] is False


def test_production_keeps_samples_on_a_volume_and_runs_alertmanager():
    chart = release(synth_stack(MONITORING, profile="production"), "kube-prometheus-stack")
    values = chart["values"]

    storage = values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]
    assert storage["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert values["alertmanager"]["enabled"] is True
    assert values["nodeExporter"]["enabled"] is True


def test_raw_values_are_merged_over_the_generated_ones():
    monitoring = {**MONITORING, "values": {"prometheus": {"prometheusSpec": {"retention": "1d"}}}}
    values = release(synth_stack(monitoring), "kube-prometheus-stack")["values"]

    assert values["prometheus"]["prometheusSpec"]["retention"] == "1d"
    assert values["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is False


def test_grafana_admin_password_is_generated_and_secret(stack):
    secret = stack.manifest("Secret", "grafana-admin", "mlops-monitoring")

    assert secret["stringData"]["admin-password"] == "[secret]"
    revealed = [m for m in stack.revealed_manifests() if m["metadata"]["name"] == "grafana-admin"]
    assert len(revealed[0]["stringData"]["admin-password"]) == 32


def test_alert_rules_carry_the_thresholds_of_the_spec(stack):
    rules = {
        rule["alert"]: rule
        for group in stack.manifest("PrometheusRule", "shop-mlops")["spec"]["groups"]
        for rule in group["rules"]
    }

    assert set(rules) == {
        "EndpointHighP99Latency", "EndpointHighErrorRate", "PodRestartingOften",
        "ModelRegistryDown", "TrainingJobFailed", "FeatureDrift",
    }  # fmt: skip
    assert rules["EndpointHighP99Latency"]["expr"].endswith("> 0.25")
    assert "inference_request_duration_seconds_bucket" in rules["EndpointHighP99Latency"]["expr"]
    assert rules["EndpointHighErrorRate"]["expr"].endswith("> 0.01")
    assert 'code=~"5.."' in rules["EndpointHighErrorRate"]["expr"]
    assert rules["FeatureDrift"]["expr"] == 'mlops_drift_max_score{endpoint="churn"} > 0.2'
    assert (
        rules["TrainingJobFailed"]["expr"]
        == 'kube_job_status_failed{namespace="mlops-training"} > 0'
    )
    assert rules["EndpointHighP99Latency"]["for"] == "5m"


def test_dashboards_carry_the_sidecar_label_and_parse_as_json(stack):
    boards = [
        m
        for m in stack.manifests_of("ConfigMap")
        if m["metadata"]["name"].startswith("shop-dashboard-")
    ]

    assert sorted(m["metadata"]["name"] for m in boards) == [
        "shop-dashboard-drift", "shop-dashboard-serving", "shop-dashboard-training",
    ]  # fmt: skip
    for board in boards:
        assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
        (text,) = board["data"].values()
        dashboard = json.loads(text)
        assert dashboard["panels"] and all(panel["targets"] for panel in dashboard["panels"])
    serving = json.loads(
        stack.manifest("ConfigMap", "shop-dashboard-serving")["data"]["serving.json"]
    )
    titles = [panel["title"] for panel in serving["panels"]]
    assert titles == [
        "Requests per second", "Latency p50 / p99", "Errors per second (5xx)",
        "Failed inferences per model version",
    ]  # fmt: skip


def test_the_drift_monitor_runs_as_the_retrainer_with_the_spec_settings(stack):
    cronjob = stack.manifest("CronJob", "drift-churn", "mlops-training")["spec"]
    pod = cronjob["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert cronjob["schedule"] == "*/15 * * * *"
    assert cronjob["concurrencyPolicy"] == "Forbid"
    assert pod["serviceAccountName"] == "retrainer"
    assert pod["automountServiceAccountToken"] is True
    assert container["command"] == [
        "python", "-m", "mlops_iac.workloads.drift", "--endpoint=churn", "--model-name=churn",
        "--current=s3://inference-logs/inference", "--method=psi", "--threshold=0.2",
        "--window-hours=24", "--min-samples=50", "--cooldown-minutes=360",
        "--pushgateway=pushgateway-prometheus-pushgateway.mlops-monitoring.svc.cluster.local:9091",
        "--retrain-job=churn", "--namespace=mlops-training",
    ]  # fmt: skip
    role = stack.manifest("Role", "retrainer", "mlops-training")
    assert role["rules"] == [
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list"]},
    ]


def test_endpoints_get_the_inference_logger_in_front_and_a_service_monitor(stack):
    pod = stack.manifest("Deployment", "churn")["spec"]["template"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    service = stack.manifest("Service", "churn")["spec"]
    ingress = stack.manifest("NetworkPolicy", "churn-allow-ingress")["spec"]
    env = {e["name"]: e.get("value") for e in containers["inference-logger"]["env"]}

    assert service["ports"][0] == {"name": "http", "port": 8080, "targetPort": "logged"}
    assert env["UPSTREAM"] == "http://127.0.0.1:8080"
    assert env["LOG_LOCATION"] == "s3://inference-logs/inference"
    assert env["SAMPLE_RATE"] == "0.1"
    assert ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8090}]
    assert pod["metadata"]["labels"]["mlops-iac.dev/s3-client"] == "shop-s3"
    assert stack.manifest("ServiceMonitor", "churn")["spec"]["endpoints"][0]["port"] == "metrics"
    assert stack.manifest("ServiceMonitor", "mlflow")["spec"]["endpoints"][0]["port"] == "http"


def test_prometheus_may_scrape_the_stack_and_jobs_may_push(stack):
    scrape = stack.manifest("NetworkPolicy", "metrics-from-monitoring", "mlops")["spec"]
    push = stack.manifest("NetworkPolicy", "trainer-pushgateway-egress", "mlops-training")["spec"]
    trainer = stack.manifest("CronJob", "churn", "mlops-training")["spec"]["jobTemplate"]
    (container,) = trainer["spec"]["template"]["spec"]["containers"]

    assert scrape["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops-monitoring"}}}
    ]
    assert {p["port"] for p in scrape["ingress"][0]["ports"]} == {5000, 8000, 8082}
    assert push["egress"][0]["ports"] == [{"protocol": "TCP", "port": 9091}]
    assert {
        "name": "PUSHGATEWAY_URL",
        "value": "pushgateway-prometheus-pushgateway.mlops-monitoring.svc.cluster.local:9091",
    } in container["env"]


def test_grafana_is_routed_through_the_gateway_with_a_reference_grant(stack):
    route = stack.manifest("HTTPRoute", "grafana", "mlops")["spec"]
    grant = stack.manifest("ReferenceGrant", "grafana-from-routes", "mlops-monitoring")["spec"]

    assert route["hostnames"] == ["grafana.localtest.me"]
    assert route["rules"][0]["backendRefs"] == [
        {"name": "monitoring-grafana", "namespace": "mlops-monitoring", "port": 80, "weight": 100}
    ]
    assert grant["from"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "mlops"}
    ]
    assert stack.outputs["grafana_external_url"] == "http://grafana.localtest.me"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"drift": {"endpoint": "fraud"}},
            "monitoring.drift[0].endpoint 'fraud' is not an endpoint",
        ),
        (
            {"drift": {"endpoint": "churn", "retrain_job": "x"}},
            "retrain_job 'x' is not a training job",
        ),
        (
            {"drift": {"endpoint": "churn", "method": "wasserstein"}},
            "Input should be 'psi' or 'ks'",
        ),
        ({"drift": {"endpoint": "churn", "reference": "gs://b/x.csv"}}, "unsupported scheme 'gs'"),
        ({"prometheus": {"retention": "a week"}}, "should match pattern"),
        ({"alerts": {"error_rate": 2}}, "less than or equal to 1"),
        (
            {"drift": {"endpoint": "churn"}, "inference_log": {"enabled": False}},
            "enable monitoring.inference_log",
        ),
    ],
)
def test_monitoring_mistakes_are_spec_errors(change, message):
    with pytest.raises(SpecError) as caught:
        StackSpec.load(stack_spec(change))

    assert message in str(caught.value)


def test_grafana_ingress_needs_the_gateway():
    spec = stack_spec(
        {"grafana": {"ingress": {"host": "g.example.com"}}}, routing={"mode": "ingress"}
    )

    with pytest.raises(SpecError) as caught:
        StackSpec.load(spec)

    assert "monitoring.grafana.ingress needs routing.mode 'gateway'" in str(caught.value)


def test_dashboard_rates_follow_grafanas_window_and_alerts_keep_five_minutes(stack):
    """A panel's rate window is Grafana's `$__rate_interval` (four scrape intervals), so a
    rollout's one-minute steps show as steps; the process tier's picture of the serving
    dashboard smeared them over five minutes before. Alerts keep their steadier 5m."""
    serving = json.loads(
        stack.manifest("ConfigMap", "shop-dashboard-serving")["data"]["serving.json"]
    )
    rates = [t["expr"] for p in serving["panels"] for t in p["targets"] if "rate(" in t["expr"]]
    rules = [
        rule["expr"]
        for group in stack.manifest("PrometheusRule", "shop-mlops")["spec"]["groups"]
        for rule in group["rules"]
        if "rate(" in rule["expr"]
    ]

    assert rates and all("[$__rate_interval]" in e and "[5m]" not in e for e in rates)
    assert rules and all("[5m]" in e and "$__" not in e for e in rules)
