"""What the stack's Helm values make the pinned charts grant: Grafana's sidecars read the
monitoring namespace's ConfigMaps only (no Secret anywhere), and Kueue's webhooks see only
the training namespace.

Each property is tested twice: on the values as data (always), and on what `helm template`
renders from the chart with those values, when a Helm binary (`helm` on PATH or
`$MLOPS_IAC_HELM`) and complete chart copies (`$MLOPS_IAC_CHARTS`, laid out as
mlops_iac.charts describes, subcharts included) are there; CI has neither, so there the
rendering tests skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_iac import charts
from mlops_iac.components import kueue, monitoring_values
from mlops_iac.spec import StackSpec

KUBE_VERSION = "1.35.0"
"""kube-prometheus-stack needs >= 1.25; `helm template` defaults to 1.20."""
RELEASES = {
    "kube-prometheus-stack": ("monitoring", "mlops-monitoring"),
    "kueue": ("kueue", "kueue-system"),
}
"""Release name and namespace of each chart, as the stack installs them."""
VENDORED_CHARTS = Path(__file__).resolve().parents[3] / "shared" / "vendor" / "charts"
UNSELECTED_WEBHOOK_RESOURCES = {
    "clusterqueues", "cohorts", "resourceflavors", "workloads", "workloads/status"
}  # fmt: skip
"""What Kueue's webhooks without a namespace selector see: cluster-scoped Kueue objects and
the Workloads Kueue itself creates."""


def stack(profile: str) -> StackSpec:
    return StackSpec.load(
        {
            "name": "shop",
            "profile": profile,
            "target": {"kind": "kind"},
            "training": {"kueue": True, "jobs": [{"name": "churn", "dataset": "s3://d/c.csv"}]},
            "monitoring": {},
        }
    )


# --- Grafana --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["local", "production"])
def test_grafana_sidecars_watch_configmaps_of_the_monitoring_namespace_only(profile):
    spec = stack(profile)
    grafana = monitoring_values.kube_prometheus_values(spec)["grafana"]

    for sidecar in ("dashboards", "datasources"):
        values = grafana["sidecar"][sidecar]
        assert values["searchNamespace"] == spec.monitoring_namespace, sidecar
        assert values["resource"] == "configmap", sidecar


@pytest.mark.parametrize("profile", ["local", "production"])
def test_grafana_gets_a_namespaced_role_on_configmaps_instead_of_the_charts(profile):
    """The chart's own Role and ClusterRole always add Secrets (whatever `resource` says):
    it is told to bind an existing Role, which the values bring as an extra object."""
    spec = stack(profile)
    grafana = monitoring_values.kube_prometheus_values(spec)["grafana"]

    assert grafana["rbac"]["namespaced"] is True
    (role,) = grafana["extraObjects"]
    assert role["kind"] == "Role"
    assert role["metadata"]["name"] == grafana["rbac"]["useExistingRole"]
    assert role["metadata"]["namespace"] == spec.monitoring_namespace
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
    ]


def test_kube_state_metrics_does_not_list_secrets():
    values = monitoring_values.kube_prometheus_values(stack("local"))

    assert "secrets" in values["kube-state-metrics"]["collectorsExclude"]


# --- Kueue ------------------------------------------------------------------------------


def manager_config(values: dict[str, Any]) -> dict[str, Any]:
    config = yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])
    assert isinstance(config, dict)
    return config


@pytest.mark.parametrize("profile", ["local", "production"])
def test_kueue_manages_jobs_of_the_training_namespace_only(profile):
    spec = stack(profile)
    config = manager_config(kueue.helm_values(spec.profile, spec.training_namespace))

    assert config["managedJobsNamespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": spec.training_namespace}
    }
    assert config.get("manageJobsWithoutQueueName", False) is False


def test_kueue_keeps_the_charts_other_manager_settings():
    """The chart takes its manager configuration as one YAML string: the values replace it
    whole, so all else in it must be the pinned chart's default (read from the chart)."""
    chart_values = yaml.safe_load((chart_folder(charts.KUEUE) / "values.yaml").read_text())
    default = yaml.safe_load(chart_values["managerConfig"]["controllerManagerConfigYaml"])
    config = manager_config(kueue.helm_values("production", "training"))

    assert default == kueue.CHART_MANAGER_CONFIG
    assert config.pop("managedJobsNamespaceSelector")
    assert config.pop("integrations") == {"frameworks": ["batch/job"]}
    default.pop("integrations")
    assert config == default


# --- rendered by Helm -------------------------------------------------------------------


def helm_binary() -> str:
    binary = os.environ.get("MLOPS_IAC_HELM") or shutil.which("helm")
    if not binary:
        pytest.skip("no Helm binary (set MLOPS_IAC_HELM or put helm on PATH)")
    return binary


def chart_folder(chart: charts.PinnedChart) -> Path:
    """The chart's local copy: under `$MLOPS_IAC_CHARTS`, else in ../shared/vendor/charts."""
    root = os.environ.get(charts.CHARTS_ENV) or str(VENDORED_CHARTS)
    folder = Path(root) / chart.folder_name
    if not (folder / "Chart.yaml").is_file():
        pytest.skip(f"{folder} is missing")
    return folder


def render(chart: charts.PinnedChart, values: dict[str, Any], tmp_path: Path) -> list[Any]:
    binary, folder = helm_binary(), chart_folder(chart)
    values_file = tmp_path / "values.json"
    values_file.write_text(json.dumps(values))
    result = subprocess.run(
        [binary, "template", RELEASES[chart.name][0], str(folder), "--kube-version", KUBE_VERSION,
         "--namespace", RELEASES[chart.name][1], "-f", str(values_file)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if "missing in charts/ directory" in result.stderr:
        pytest.skip(f"{folder} lacks its subcharts: {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def grants_secrets(rule: dict[str, Any]) -> bool:
    groups, resources = rule.get("apiGroups") or [], rule.get("resources") or []
    return ("" in groups or "*" in groups) and ("secrets" in resources or "*" in resources)


OPERATOR_NEEDS_SECRETS = "monitoring-kube-prometheus-operator"
"""The Prometheus Operator writes Prometheus' configuration Secrets and reads the Secrets
that ServiceMonitors reference (basic auth, TLS) in the namespaces it watches."""


@pytest.mark.parametrize("profile", ["local", "production"])
def test_rendered_grafana_reads_no_secret_and_nothing_cluster_wide(profile, tmp_path):
    spec = stack(profile)
    objects = render(
        charts.KUBE_PROMETHEUS_STACK, monitoring_values.kube_prometheus_values(spec), tmp_path
    )
    by_kind: dict[str, list[Any]] = {}
    for item in objects:
        by_kind.setdefault(item["kind"], []).append(item)

    cluster_secret_readers = sorted(
        role["metadata"]["name"]
        for role in by_kind.get("ClusterRole", [])
        if any(grants_secrets(rule) for rule in role.get("rules") or [])
    )
    assert cluster_secret_readers == [OPERATOR_NEEDS_SECRETS]
    grafana_bindings = [
        binding
        for kind in ("RoleBinding", "ClusterRoleBinding")
        for binding in by_kind.get(kind, [])
        if any(s.get("name") == "monitoring-grafana" for s in binding["subjects"])
    ]
    assert [(b["kind"], b["roleRef"]["name"]) for b in grafana_bindings] == [
        ("RoleBinding", monitoring_values.GRAFANA_SIDECAR_ROLE)
    ]
    (role,) = [r for r in by_kind["Role"] if r["metadata"]["name"] == "grafana-sidecar-configmaps"]
    assert role["metadata"]["namespace"] == spec.monitoring_namespace
    assert not any(grants_secrets(rule) for rule in role["rules"])
    (deployment,) = [
        d for d in by_kind["Deployment"] if d["metadata"]["name"] == "monitoring-grafana"
    ]
    pod = deployment["spec"]["template"]["spec"]
    sidecars = [c for c in pod["containers"] if c["name"].startswith("grafana-sc-")]
    assert sidecars
    for container in sidecars:
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert (container["name"], env["RESOURCE"], env["NAMESPACE"]) == (
            container["name"],
            "configmap",
            spec.monitoring_namespace,
        )


@pytest.mark.parametrize("profile", ["local", "production"])
def test_rendered_kueue_webhooks_select_the_training_namespace_only(profile, tmp_path):
    spec = stack(profile)
    objects = render(
        charts.KUEUE, kueue.helm_values(spec.profile, spec.training_namespace), tmp_path
    )

    configurations = [
        item
        for item in objects
        if item["kind"] in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    ]
    assert len(configurations) == 2
    namespaced = 0
    for configuration in configurations:
        for webhook in configuration["webhooks"]:
            scope = {r.get("scope", "*") for r in webhook["rules"]}
            resources = {res for r in webhook["rules"] for res in r["resources"]}
            if webhook.get("namespaceSelector") is None:
                # cluster-scoped Kueue objects and Kueue's own Workloads
                assert resources <= UNSELECTED_WEBHOOK_RESOURCES, (webhook["name"], scope)
                continue
            namespaced += 1
            assert webhook["namespaceSelector"] == {
                "matchLabels": {"kubernetes.io/metadata.name": spec.training_namespace}
            }, webhook["name"]
    assert namespaced >= 2  # at least mjob and vjob
    job_hooks = [
        w["name"] for c in configurations for w in c["webhooks"]
        if any("jobs" in r["resources"] and "batch" in r["apiGroups"] for r in w["rules"])
    ]  # fmt: skip
    assert sorted(job_hooks) == ["mjob.kb.io", "vjob.kb.io"]
