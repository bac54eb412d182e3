"""Helm values of the monitoring releases (pure), by profile, plus the raw-values escape hatch.

Keys from the charts' values.yaml (prometheus-community/helm-charts: kube-prometheus-stack,
prometheus-pushgateway; grafana/helm-charts for the Grafana subchart).
"""

from __future__ import annotations

import copy
from typing import Any

from mlops_iac.spec import ResourceRequirements, StackSpec

GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_SIDECAR_ROLE = "grafana-sidecar-configmaps"
"""The Role Grafana's sidecars get instead of the chart's: the chart's own Role and
ClusterRole always grant Secrets with the ConfigMaps (whatever the sidecars' `resource`),
and cluster-wide unless `rbac.namespaced`."""
PUSHGATEWAY_RELEASE = "pushgateway"
PUSHGATEWAY_PORT = 9091
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}

_LOCAL = {
    "prometheus": ResourceRequirements(
        cpu="100m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"
    ),
    "operator": ResourceRequirements(
        cpu="50m", memory="64Mi", cpu_limit="200m", memory_limit="256Mi"
    ),
    "kube-state-metrics": ResourceRequirements(
        cpu="20m", memory="64Mi", cpu_limit="200m", memory_limit="128Mi"
    ),
    "grafana": ResourceRequirements(
        cpu="50m", memory="128Mi", cpu_limit="500m", memory_limit="384Mi"
    ),
    "pushgateway": ResourceRequirements(
        cpu="10m", memory="32Mi", cpu_limit="100m", memory_limit="64Mi"
    ),
}
_PRODUCTION = {
    "prometheus": ResourceRequirements(cpu="500m", memory="2Gi", memory_limit="4Gi"),
    "operator": ResourceRequirements(cpu="100m", memory="128Mi", memory_limit="512Mi"),
    "kube-state-metrics": ResourceRequirements(cpu="50m", memory="128Mi", memory_limit="256Mi"),
    "grafana": ResourceRequirements(cpu="100m", memory="256Mi", memory_limit="512Mi"),
    "pushgateway": ResourceRequirements(cpu="50m", memory="64Mi", memory_limit="128Mi"),
}


def pushgateway_address(spec: StackSpec) -> str:
    """`host:port` of the Pushgateway, where batch jobs push their metrics."""
    return (
        f"{PUSHGATEWAY_RELEASE}-prometheus-pushgateway.{spec.monitoring_namespace}"
        f".svc.cluster.local:{PUSHGATEWAY_PORT}"
    )


def component_resources(spec: StackSpec) -> dict[str, ResourceRequirements]:
    """Requests and limits of each monitoring component, by profile (Prometheus' own may
    be set in the spec)."""
    assert spec.monitoring is not None
    chosen = dict(_LOCAL if spec.profile == "local" else _PRODUCTION)
    if spec.monitoring.prometheus.resources is not None:
        chosen["prometheus"] = spec.monitoring.prometheus.resources
    return chosen


def grafana_sidecar_role(namespace: str) -> dict[str, Any]:
    """Read-only access to the ConfigMaps of `namespace`: what the dashboard and datasource
    sidecars need, and nothing else (no Secret, no other namespace)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {
            "name": GRAFANA_SIDECAR_ROLE,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "grafana",
                "app.kubernetes.io/part-of": "mlops-iac",
            },
        },
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
        ],
    }


def grafana_sidecars(namespace: str) -> dict[str, Any]:
    """The dashboard and datasource sidecars load ConfigMaps (not Secrets) from the
    monitoring namespace only, where the stack's dashboards and the chart's datasource
    live. The chart's default for kube-prometheus-stack is every namespace (`ALL`), and
    `both` kinds: a ClusterRole reading every Secret in the cluster."""
    return {
        "dashboards": {
            "enabled": True,
            "label": "grafana_dashboard",
            "labelValue": "1",
            "searchNamespace": namespace,
            "resource": "configmap",
        },
        "datasources": {"searchNamespace": namespace, "resource": "configmap"},
    }


def node_exporter_enabled(spec: StackSpec) -> bool:
    """Node metrics need hostNetwork/hostPID pods: production only."""
    return spec.profile == "production"


def kube_prometheus_values(spec: StackSpec) -> dict[str, Any]:
    """kube-prometheus-stack values: the `local` profile leaves out Alertmanager, node
    exporter and the control-plane scrapes that kind does not expose, keeps samples in an
    emptyDir, and picks up every ServiceMonitor, PodMonitor and PrometheusRule in the
    cluster (not only the release's). Grafana reads only the monitoring namespace's
    ConfigMaps (`grafana_sidecars`, `grafana_sidecar_role`); kube-state-metrics does not
    list Secrets (its `secrets` collector would read every Secret in the cluster)."""
    monitoring = spec.monitoring
    assert monitoring is not None
    resources = component_resources(spec)
    production = spec.profile == "production"
    prometheus_spec: dict[str, Any] = {
        "retention": monitoring.prometheus.retention,
        "resources": resources["prometheus"].to_kubernetes(),
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False,
        "probeSelectorNilUsesHelmValues": False,
    }
    storage = monitoring.prometheus.storage or ("50Gi" if production else None)
    if storage:
        prometheus_spec["storageSpec"] = {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": storage}},
                }
            }
        }
    values: dict[str, Any] = {
        "alertmanager": {"enabled": production},
        "kubeEtcd": {"enabled": False},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "nodeExporter": {"enabled": node_exporter_enabled(spec)},
        "defaultRules": {
            "rules": {
                "etcd": False,
                "kubeControllerManager": False,
                "kubeSchedulerAlerting": False,
                "kubeSchedulerRecording": False,
                "kubeProxy": False,
                "nodeExporterAlerting": production,
                "nodeExporterRecording": production,
            }
        },
        "prometheus": {"prometheusSpec": prometheus_spec},
        "prometheusOperator": {"resources": resources["operator"].to_kubernetes()},
        "kube-state-metrics": {
            "resources": resources["kube-state-metrics"].to_kubernetes(),
            "collectorsExclude": ["secrets"],
        },
        "grafana": {
            "enabled": monitoring.grafana.enabled,
            "defaultDashboardsEnabled": production,
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "persistence": {"enabled": False},
            "resources": resources["grafana"].to_kubernetes(),
            "sidecar": grafana_sidecars(spec.monitoring_namespace),
            "rbac": {"namespaced": True, "useExistingRole": GRAFANA_SIDECAR_ROLE},
            "extraObjects": [grafana_sidecar_role(spec.monitoring_namespace)],
        },
    }
    return deep_merge(values, monitoring.values)


def pushgateway_values(spec: StackSpec) -> dict[str, Any]:
    """The Pushgateway for batch jobs (drift monitor, trainer): scraped with honorLabels,
    restricted security context, no persistence."""
    return {
        "resources": component_resources(spec)["pushgateway"].to_kubernetes(),
        "serviceMonitor": {
            "enabled": True,
            "namespace": spec.monitoring_namespace,
            "honorLabels": True,
        },
        "persistentVolume": {"enabled": False},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": RESTRICTED_CONTAINER,
    }


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`base` with `override` merged in: mappings recursively, anything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
