"""What the endpoints' automatic rollouts need once per stack: the Argo Rollouts controller
(a Helm release, with the Gateway API traffic-router plugin) and the promotion watcher that
turns an alias move in the registry into a new rollout (mlops_iac.workloads.promotion_watch).

The per-endpoint parts (Rollout, AnalysisTemplate, canary Service) are made by
ServingEndpoint from mlops_iac.components.rollout_specs.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac import charts, versions
from mlops_iac.components.alert_rules import WATCHER_SERVICE
from mlops_iac.components.monitoring import CHECKOV_SKIP_ANNOTATION, api_server_rule
from mlops_iac.components.registry import ModelRegistry
from mlops_iac.components.rollout_specs import GATEWAY_PLUGIN
from mlops_iac.k8s import network, pods, resources
from mlops_iac.k8s.apis import ClusterApis
from mlops_iac.local.tools import platform_key
from mlops_iac.platforms.base import Platform
from mlops_iac.spec import Profile, StackSpec

CONTROLLER_NAMESPACE = "argo-rollouts"
"""Where the controller runs (one per cluster, like Kueue's)."""
WATCHER = WATCHER_SERVICE
"""The watcher's Deployment, Service, ServiceAccount, Role and ConfigMap name."""
TOKEN_NEEDED = (
    "CKV_K8S_38=the promotion watcher calls the Kubernetes API; its ServiceAccount may only get "
    "and patch the rolled endpoints' Deployments and get their Rollouts"
)
WATCHER_MODULE = "mlops_iac.workloads.promotion_watch"
WATCHER_CONFIG_DIR = "/etc/mlops-iac"
WATCHER_CONFIG_FILE = "promotion-watch.json"
WATCHER_METRICS_PORT = 8082
WATCHER_RESOURCES = {
    "requests": {"cpu": "20m", "memory": "192Mi"},
    "limits": {"cpu": "500m", "memory": "384Mi"},
}
"""One Python process polling the registry and the API server (MLflow's client and the
Kubernetes client imported)."""
LOCAL_CONTROLLER_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


def controller_values(profile: Profile, arch: str = "amd64") -> dict[str, Any]:
    """argo-rollouts chart values: the pinned controller with the Gateway API plugin, its
    CRDs, no dashboard; one replica on `local`, two (leader election) on `production`."""
    return {
        "installCRDs": True,
        "controller": {
            "replicas": 1 if profile == "local" else 2,
            "image": {"tag": versions.ARGO_ROLLOUTS_VERSION},
            "trafficRouterPlugins": [
                {
                    "name": GATEWAY_PLUGIN,
                    "location": versions.ROLLOUTS_GATEWAY_PLUGIN_URL.format(arch=arch),
                }
            ],
            **({"resources": LOCAL_CONTROLLER_RESOURCES} if profile == "local" else {}),
        },
        "providerRBAC": {"enabled": True, "providers": {"gatewayAPI": True}},
        "dashboard": {"enabled": False},
    }


def plugin_arch(spec: StackSpec, machine: str | None = None) -> str:
    """The CPU architecture of the plugin binary the controller downloads: on kind the
    nodes are containers of this machine's architecture (arm64 on Apple silicon); elsewhere
    amd64, the architecture of every node group the AWS target makes."""
    if spec.target.kind == "kind":
        return platform_key(machine=machine).rpartition("-")[2]
    return "amd64"


def watcher_config(spec: StackSpec, namespace: str) -> dict[str, Any]:
    """The watcher's JSON config: an entry per endpoint with a `rollout`, and the shortest
    poll any of them asks."""
    return {
        "endpoints": [
            {
                "endpoint": endpoint.name,
                "namespace": namespace,
                "deployment": endpoint.name,
                "rollout": endpoint.name,
                "model_uri": endpoint.model,
            }
            for endpoint in spec.rolled_endpoints
        ],
        "poll_seconds": min(e.rollout.poll_seconds for e in spec.rolled_endpoints if e.rollout),
    }


def watcher_rules(spec: StackSpec) -> list[dict[str, Any]]:
    """Read and patch exactly the rolled endpoints' Deployments; read their Rollouts."""
    names = [e.name for e in spec.rolled_endpoints]
    return [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": names,
            "verbs": ["get", "patch"],
        },
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["rollouts"],
            "resourceNames": names,
            "verbs": ["get"],
        },
    ]


class RolloutsController(pulumi.ComponentResource):
    """Argo Rollouts (Helm release, cluster-wide) with the Gateway API traffic-router plugin;
    it brings the `argoproj.io` API."""

    def __init__(
        self,
        name: str,
        *,
        apis: ClusterApis,
        profile: Profile,
        arch: str,
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__("mlops:index:RolloutsController", name, None, opts)
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name="argo-rollouts",
            **charts.ARGO_ROLLOUTS.release_args(),
            namespace=CONTROLLER_NAMESPACE,
            create_namespace=True,
            atomic=True,
            values=controller_values(profile, arch),
            opts=pulumi.ResourceOptions(parent=self),
        )
        apis.install(charts.ARGO_ROLLOUTS.name, release)
        self.register_outputs({"namespace": CONTROLLER_NAMESPACE})


class PromotionWatcher(pulumi.ComponentResource):
    """One Deployment that follows every rolled endpoint's model alias in the registry and
    pins each new version on the endpoint's pod template (which starts its rollout), with
    the ServiceAccount, Role and NetworkPolicies it needs and nothing more."""

    def __init__(
        self,
        name: str,
        *,
        spec: StackSpec,
        platform: Platform,
        registry: ModelRegistry,
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__("mlops:index:PromotionWatcher", name, None, opts)
        child = platform.child_options(self)
        namespace = platform.namespace
        labels = pods.labels(WATCHER, "rollouts", spec.name, versions.RUNTIME_VERSION)
        match = pods.selector(WATCHER, spec.name)
        metadata = {"name": WATCHER, "namespace": namespace, "labels": labels}
        account = k8s.core.v1.ServiceAccount(
            f"{name}-serviceaccount", metadata=metadata, opts=child
        )
        resources.service_account_role(
            f"{name}-role",
            f"{name}-rolebinding",
            metadata=metadata,
            rules=watcher_rules(spec),
            opts=child,
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata,
            data={WATCHER_CONFIG_FILE: json.dumps(watcher_config(spec, namespace), indent=2)},
            opts=child,
        )
        resources.network_policy(
            f"{name}-egress",
            name=f"{WATCHER}-egress",
            namespace=namespace,
            labels=labels,
            spec={
                "podSelector": {"matchLabels": match},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [network.pods_peer(registry.pod_selector)],
                        "ports": [{"protocol": "TCP", "port": registry.port}],
                    },
                    api_server_rule(spec),
                ],
            },
            opts=child,
        )
        container = {
            "name": "watcher",
            "image": platform.runtime_image,
            "command": [
                "python",
                "-m",
                WATCHER_MODULE,
                "--config",
                f"{WATCHER_CONFIG_DIR}/{WATCHER_CONFIG_FILE}",
                "--metrics-host",
                "0.0.0.0",
                "--metrics-port",
                str(WATCHER_METRICS_PORT),
            ],
            "env": [
                pods.env_value("MLFLOW_TRACKING_URI", registry.tracking_uri),
                pods.env_value("HOME", "/tmp"),
            ],
            "ports": [{"name": "metrics", "containerPort": WATCHER_METRICS_PORT}],
            "readinessProbe": pods.http_probe("/metrics", "metrics"),
            "livenessProbe": pods.http_probe("/metrics", "metrics", period=30),
            "resources": WATCHER_RESOURCES,
            "securityContext": pods.container_security_context(),
            "volumeMounts": [
                {"name": "config", "mountPath": WATCHER_CONFIG_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={**metadata, "annotations": {CHECKOV_SKIP_ANNOTATION: TOKEN_NEEDED}},
            spec={
                "replicas": 1,
                "selector": {"matchLabels": match},
                "strategy": {"type": "Recreate"},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": WATCHER,
                        "securityContext": pods.pod_security_context(versions.RUNTIME_UID),
                        "containers": [container],
                        "volumes": [
                            {"name": "config", "configMap": {"name": WATCHER}},
                            pods.scratch_volume("tmp"),
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[account, config])
            ),
        )
        if spec.monitoring is not None:
            # Its metrics (the pinned version, the state, the outcomes) feed the serving
            # dashboard and the EndpointRolloutRolledBack alert.
            k8s.core.v1.Service(
                f"{name}-service",
                metadata=metadata,
                spec={
                    "selector": match,
                    "ports": [
                        {"name": "metrics", "port": WATCHER_METRICS_PORT, "targetPort": "metrics"}
                    ],
                },
                opts=child,
            )
            resources.service_monitor(
                f"{name}-servicemonitor",
                apis=platform.apis,
                metadata=metadata,
                match=match,
                opts=child,
            )
        self.register_outputs({"deployment": WATCHER})
