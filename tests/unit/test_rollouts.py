"""Automatic rollouts under recording mocks: an endpoint with `rollout` is run by an Argo
Rollouts Rollout from its Deployment's template, judged by an AnalysisTemplate, moved by the
Gateway API plugin on its HTTPRoute, and followed by the stack's promotion watcher."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_iac import charts, versions
from mlops_iac.components.rollout_specs import (
    GATEWAY_PLUGIN,
    MODEL_VERSION_ANNOTATION,
    canary_steps,
    error_ratio_query,
)
from mlops_iac.components.rollouts import controller_values
from mlops_iac.components.serving_metrics import BUILTIN
from mlops_iac.spec import RolloutSpec, SpecError, StackSpec
from mlops_iac.testing import SynthResult

ENDPOINT = {"name": "churn", "model": "models:/churn@champion", "replicas": 2}


def rolled_stack(**changes: Any) -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack
    from mlops_iac.testing import synth

    data: dict[str, Any] = {
        "name": "demo",
        "target": {"kind": "kind", "cluster": "mlops"},
        "monitoring": {"alerts": {"error_rate": 0.02, "p99_latency_ms": 300}},
        "serving": [{**ENDPOINT, "rollout": {}}],
        **changes,
    }
    spec = StackSpec.load(data)
    return synth(lambda: MLOpsStack("demo", spec).export(), stack="demo")


@pytest.fixture(scope="module")
def stack() -> SynthResult:
    return rolled_stack()


def test_the_rollout_runs_the_endpoint_pods_from_its_deployment_template(stack):
    rollout = stack.manifest("Rollout", "churn")["spec"]
    deployment = stack.manifest("Deployment", "churn")

    assert rollout["workloadRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "churn",
        "scaleDown": "never",
    }
    assert rollout["replicas"] == 2
    assert rollout["selector"] == deployment["spec"]["selector"]
    assert deployment["spec"]["replicas"] == 0
    # the Deployment has no pods to wait for: `up` waits only until it is seen
    assert deployment["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.status.observedGeneration}"
    }


def test_the_fetch_container_serves_the_version_the_watcher_pins_on_the_template(stack):
    fetch = stack.manifest("Deployment", "churn")["spec"]["template"]["spec"]["initContainers"][0]
    pinned = {e["name"]: e for e in fetch["env"]}["MODEL_VERSION"]

    assert pinned["valueFrom"]["fieldRef"]["fieldPath"] == (
        f"metadata.annotations['{MODEL_VERSION_ANNOTATION}']"
    )
    assert "models:/churn@champion" in fetch["command"]


def test_the_steps_go_through_the_stack_route_with_both_services_in_one_rule(stack):
    canary = stack.manifest("Rollout", "churn")["spec"]["strategy"]["canary"]
    route = stack.manifest("HTTPRoute", "churn")["spec"]

    assert (canary["stableService"], canary["canaryService"]) == ("churn", "churn-canary")
    assert canary["trafficRouting"] == {
        "plugins": {GATEWAY_PLUGIN: {"httpRoute": "churn", "namespace": "mlops"}}
    }
    assert canary["steps"] == [
        {"setWeight": 10},
        {"pause": {"duration": "60s"}},
        {"setWeight": 50},
        {"pause": {"duration": "60s"}},
    ]
    [rule] = route["rules"]
    assert rule["backendRefs"] == [
        {"name": "churn", "port": 8080, "weight": 100},
        {"name": "churn-canary", "port": 8080, "weight": 0},
    ]
    assert (
        stack.manifest("Service", "churn-canary")["spec"]["selector"]
        == (stack.manifest("Service", "churn")["spec"]["selector"])
    )


def test_the_analysis_judges_the_new_revision_by_the_alert_thresholds(stack):
    analysis = stack.manifest("AnalysisTemplate", "churn-rollout-analysis")["spec"]
    background = stack.manifest("Rollout", "churn")["spec"]["strategy"]["canary"]["analysis"]
    metrics = {m["name"]: m for m in analysis["metrics"]}

    assert background["templates"] == [{"templateName": "churn-rollout-analysis"}]
    assert background["args"] == [
        {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
    ]
    assert list(metrics) == ["error-ratio", "client-error-increase", "p99-latency"]
    assert metrics["error-ratio"]["successCondition"].endswith("result[0] <= 0.02")
    assert metrics["client-error-increase"]["successCondition"].endswith("result[0] <= 0.02")
    increase = metrics["client-error-increase"]["provider"]["prometheus"]["query"]
    assert 'rollouts_pod_template_hash="{{args.stable-hash}}"' in increase
    assert metrics["p99-latency"]["successCondition"].endswith("result[0] <= 0.3")
    for metric in metrics.values():
        query = metric["provider"]["prometheus"]["query"]
        assert 'rollouts_pod_template_hash="{{args.canary-hash}}"' in query
        assert metric["provider"]["prometheus"]["address"] == (
            "http://monitoring-kube-prometheus-prometheus.mlops-monitoring.svc.cluster.local:9090"
        )
        # an empty result or NaN (no requests yet) passes; anything else is measured
        assert metric["successCondition"].startswith("len(result) == 0 || isNaN(result[0])")


def test_prometheus_scrapes_every_pod_once_labelled_with_its_revision(stack):
    monitor = stack.manifest("ServiceMonitor", "churn-metrics")["spec"]
    scraped = stack.manifest("Service", "churn-metrics")

    assert monitor["podTargetLabels"] == ["rollouts-pod-template-hash"]
    # the series name the endpoint as `service`, like every other endpoint's
    assert monitor["endpoints"][0]["relabelings"] == [
        {
            "sourceLabels": ["__meta_kubernetes_service_label_mlops_iac_dev_endpoint"],
            "targetLabel": "service",
            "action": "replace",
        }
    ]
    assert scraped["metadata"]["labels"]["mlops-iac.dev/endpoint"] == "churn"
    assert scraped["spec"]["clusterIP"] == "None"
    assert scraped["spec"]["selector"] == stack.manifest("Service", "churn")["spec"]["selector"]
    selected = monitor["selector"]["matchLabels"]
    services = [
        s["metadata"]["name"]
        for s in stack.manifests_of("Service")
        if selected.items() <= s["metadata"]["labels"].items()
    ]
    assert services == ["churn-metrics"]
    assert all(p["name"] != "metrics" for p in stack.manifest("Service", "churn")["spec"]["ports"])


def test_the_autoscaler_scales_the_rollout_not_the_template():
    result = rolled_stack(
        serving=[{**ENDPOINT, "autoscaling": {"min": 2, "max": 6}, "rollout": {}}],
    )
    hpa = result.manifest("HorizontalPodAutoscaler", "churn")["spec"]

    assert hpa["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": "churn",
    }
    assert "replicas" not in result.manifest("Rollout", "churn")["spec"]


def test_the_stack_installs_the_pinned_controller_with_the_gateway_plugin(stack):
    [release] = [
        r
        for r in stack.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["chart"] == charts.ARGO_ROLLOUTS.name
    ]
    values = controller_values("local")

    assert release.inputs["version"] == versions.ARGO_ROLLOUTS_CHART_VERSION
    assert release.inputs["namespace"] == "argo-rollouts"
    assert release.inputs["values"]["controller"]["image"]["tag"] == "v1.10.2"
    [plugin] = values["controller"]["trafficRouterPlugins"]
    assert plugin == {
        "name": "argoproj-labs/gatewayAPI",
        "location": "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"
        "/releases/download/v0.15.0/gatewayapi-plugin-linux-amd64",
    }
    # custom resources of the argoproj.io API wait for the release that installs its CRDs
    for kind in ("Rollout", "AnalysisTemplate"):
        [resource] = [
            r for r in stack.of_type(f"kubernetes:argoproj.io/v1alpha1:{kind}") if r.custom
        ]
        assert release.urn in resource.depends_on


@pytest.mark.parametrize(
    ("target", "machine", "arch"),
    [
        ({"kind": "kind"}, "arm64", "arm64"),
        ({"kind": "kind"}, "aarch64", "arm64"),
        ({"kind": "kind"}, "x86_64", "amd64"),
        ({"kind": "kubernetes"}, "arm64", "amd64"),
    ],
)
def test_the_plugin_binary_fits_the_nodes(target, machine, arch):
    from mlops_iac.components.rollouts import plugin_arch

    spec = StackSpec.load({"name": "demo", "target": target})
    assert plugin_arch(spec, machine) == arch


def test_a_cluster_that_has_the_controller_gets_no_release():
    result = rolled_stack(
        target={"kind": "kubernetes", "preinstalled": ["argo-rollouts", "gateway-api"]}
    )

    assert not any(
        r.inputs.get("chart") == "argo-rollouts"
        for r in result.of_type("kubernetes:helm.sh/v3:Release")
    )
    assert result.manifest("Rollout", "churn")


def test_the_watcher_may_patch_only_the_rolled_deployments(stack):
    role = stack.manifest("Role", "promotion-watcher")
    config = json.loads(
        stack.manifest("ConfigMap", "promotion-watcher")["data"]["promotion-watch.json"]
    )
    watcher = stack.manifest("Deployment", "promotion-watcher")["spec"]["template"]["spec"]

    assert role["rules"] == [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": ["churn"],
            "verbs": ["get", "patch"],
        },
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["rollouts"],
            "resourceNames": ["churn"],
            "verbs": ["get"],
        },
    ]
    assert config == {
        "endpoints": [
            {
                "endpoint": "churn",
                "namespace": "mlops",
                "deployment": "churn",
                "rollout": "churn",
                "model_uri": "models:/churn@champion",
            }
        ],
        "poll_seconds": 30,
    }
    assert watcher["serviceAccountName"] == "promotion-watcher"
    env = {e["name"]: e.get("value") for e in watcher["containers"][0]["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc.cluster.local:5000"


def test_an_endpoint_without_rollout_is_unchanged_by_the_feature():
    result = rolled_stack(serving=[ENDPOINT])

    assert result.manifests_of("Rollout") == []
    assert result.manifest("Deployment", "churn")["spec"]["replicas"] == 2
    assert not [r for r in result.resources if "promotion-watcher" in r.name]
    assert not [r for r in result.resources if r.name == "demo-rollouts-release"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "models:/churn/3"}, "names a fixed version"),
        ({"runtime": "mlflow"}, "rollout needs runtime 'builtin' or 'mlserver'"),
        ({"canary": {"model": "models:/churn@challenger"}}, "rollout and canary"),
    ],
)
def test_rollouts_the_stack_cannot_run_are_refused_naming_the_endpoint(change, message):
    with pytest.raises(SpecError, match=message) as raised:
        rolled_stack(serving=[{**ENDPOINT, "rollout": {}, **change}])
    assert "serving[0]" in str(raised.value)


def test_a_rollout_without_prometheus_says_how_to_get_one():
    with pytest.raises(SpecError, match=r"add `monitoring`, set rollout\.analysis\.prometheus_url"):
        rolled_stack(monitoring=None)

    without_analysis = rolled_stack(
        monitoring=None, serving=[{**ENDPOINT, "rollout": {"analysis": None}}]
    )
    assert without_analysis.manifests_of("AnalysisTemplate") == []
    assert (
        "analysis"
        not in without_analysis.manifest("Rollout", "churn")["spec"]["strategy"]["canary"]
    )


@given(st.lists(st.integers(1, 99), min_size=1, max_size=10, unique=True).map(sorted))
def test_each_step_sets_its_weight_then_pauses(weights):
    rollout = RolloutSpec.model_validate({"steps": [{"weight": w} for w in weights]})
    steps = canary_steps(rollout)

    assert [s["setWeight"] for s in steps[::2]] == weights
    assert all("pause" in s for s in steps[1::2])


def test_the_error_ratio_never_returns_an_empty_vector():
    query = error_ratio_query(BUILTIN, "mlops", "120s")

    assert query.count("or vector(0)") == 2


def test_a_rollback_is_alerted_on_and_the_rollouts_are_on_the_serving_dashboard(stack):
    rules = stack.manifest("PrometheusRule", "demo-mlops")["spec"]["groups"]
    dashboard = json.loads(
        stack.manifest("ConfigMap", "demo-dashboard-serving")["data"]["serving.json"]
    )
    [monitor] = [
        m
        for m in stack.manifests_of("ServiceMonitor")
        if m["metadata"]["name"] == "promotion-watcher"
    ]

    [group] = [g for g in rules if g["name"] == "mlops-rollouts"]
    alerts = {rule["alert"]: rule["expr"] for rule in group["rules"]}
    assert alerts["EndpointRolloutRolledBack"] == (
        'mlops_rollout_state{namespace="mlops",state="aborted"} == 1'
    )
    assert alerts["PromotionWatcherDown"].startswith('up{namespace="mlops"')
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert "Requests per model version (rollouts)" in titles
    assert "Pinned model version and rollout state" in titles
    assert (
        monitor["spec"]["selector"]["matchLabels"]
        == (stack.manifest("Deployment", "promotion-watcher")["spec"]["selector"]["matchLabels"])
    )


def test_a_change_of_the_route_rules_replaces_the_route_but_weights_do_not():
    from mlops_iac.components.rollout_specs import rules_digest

    def rules(port: int, canary_weight: int) -> list[dict[str, Any]]:
        return [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {"name": "churn", "port": port, "weight": 100 - canary_weight},
                    {"name": "churn-canary", "port": port, "weight": canary_weight},
                ],
            }
        ]

    assert rules_digest(rules(8080, 0)) == rules_digest(rules(8080, 60))
    assert rules_digest(rules(8080, 0)) != rules_digest(rules(9000, 0))
    other_port = rolled_stack(serving=[{**ENDPOINT, "port": 9000, "rollout": {}}])
    annotation = "mlops-iac.dev/route-rules"
    assert other_port.manifest("HTTPRoute", "churn")["metadata"]["annotations"][
        annotation
    ] == rules_digest(other_port.manifest("HTTPRoute", "churn")["spec"]["rules"])
