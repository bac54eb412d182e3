"""TeamNamespace: what a platform stack makes for one team that deploys its own stack.

The platform stack owns the namespace, its quota, the Role its team works through, and
every network path into the platform's services; the team's stack (`spec.platform`) owns
only the endpoints it creates inside that namespace.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac.components.monitoring import scrape_policy
from mlops_iac.components.registry import ModelRegistry
from mlops_iac.components.serving_runtime import METRICS_PORT
from mlops_iac.k8s import pods, resources
from mlops_iac.platforms.base import ClientNamespace, Platform
from mlops_iac.spec import StackSpec, TeamQuota, TeamSpec

TEAM_ROLE = "mlops-team"
"""The Role (in each team's namespace) that the team's group is bound to."""
SERVING_CLIENT_LABELS = {"app.kubernetes.io/name": "model-server"}
"""The label every endpoint pod carries: the registry admits a team's pods by it."""
READ = ["get", "list", "watch"]
MANAGE = [*READ, "create", "update", "patch", "delete"]


def team_rules() -> list[dict[str, Any]]:
    """What a team's stack may do in its own namespace: manage the objects its endpoints
    are made of, and read what the Kubernetes provider watches while it waits for them.

    Nothing cluster-scoped, no Roles or RoleBindings (the team cannot widen its own rights),
    no ResourceQuota or LimitRange (the platform sets them), and no Pod writes (pods come
    from Deployments, so Pod Security and the quota judge every one)."""
    return [
        {
            "apiGroups": [""],
            "resources": ["configmaps", "secrets", "services", "serviceaccounts"],
            "verbs": MANAGE,
        },
        {
            "apiGroups": [""],
            "resources": ["pods", "pods/log", "events", "endpoints"],
            "verbs": READ,
        },
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": MANAGE},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": READ},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": MANAGE},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": MANAGE},
        {
            "apiGroups": ["networking.k8s.io"],
            "resources": ["networkpolicies", "ingresses"],
            "verbs": MANAGE,
        },
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": MANAGE},
        {"apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors"], "verbs": MANAGE},
        {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"], "verbs": MANAGE},
    ]


def team_quota_hard(quota: TeamQuota) -> dict[str, str]:
    """ResourceQuota `hard` limits of a team's namespace (requests and limits alike)."""
    return {
        "requests.cpu": quota.cpu,
        "limits.cpu": quota.cpu,
        "requests.memory": quota.memory,
        "limits.memory": quota.memory,
        "pods": str(quota.pods),
    }


class TeamNamespace(pulumi.ComponentResource):
    """A team's namespace (Pod Security `restricted`, default-deny network, ResourceQuota),
    the `mlops-team` Role bound to the team's group, the network path from its endpoint
    pods to the platform's registry and, with monitoring, Prometheus's path to their
    metrics port.

    Outputs: `reference`, what the team's stack reads through its `StackReference`: the
    namespace, the group, the registry's in-cluster tracking URI and the Gateway its routes
    attach to."""

    reference: pulumi.Output[dict[str, Any]]
    """`{"namespace", "group", "registry": {"tracking_uri"}, "gateway": {"name",
    "namespace"}}`: the platform stack's `teams.<name>` output."""

    def __init__(
        self,
        name: str,
        team: TeamSpec,
        *,
        stack: StackSpec,
        platform: Platform,
        registry: ModelRegistry,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:TeamNamespace", name, None, opts)
        namespace = stack.team_namespace(team)
        labels = {**pods.labels("mlops-iac", "team", stack.name), "mlops-iac.dev/team": team.name}
        child = platform.child_options(self)
        namespace_resource = resources.hardened_namespace(
            name, name=namespace, labels=labels, opts=child
        )
        inside = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[namespace_resource])
        )
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata={"name": "team", "namespace": namespace, "labels": labels},
            spec={"hard": team_quota_hard(team.quota)},
            opts=inside,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata={"name": TEAM_ROLE, "namespace": namespace, "labels": labels},
            rules=team_rules(),
            opts=inside,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-role-binding",
            metadata={"name": TEAM_ROLE, "namespace": namespace, "labels": labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": TEAM_ROLE},
            subjects=[
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": team.group_name}
            ],
            opts=pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(depends_on=[role])),
        )
        registry.allow_clients(
            f"{name}-registry",
            client=ClientNamespace(namespace, namespace_resource),
            client_labels=SERVING_CLIENT_LABELS,
            opts=child,
        )
        if stack.monitoring is not None:
            # The team's endpoints' ServiceMonitors (`service_monitor: true`) are picked up
            # by the platform's Prometheus, which watches every namespace; this opens the path.
            resources.network_policy(
                f"{name}-scrape",
                name="metrics-from-monitoring",
                namespace=namespace,
                labels=labels,
                spec=scrape_policy(stack.monitoring_namespace, [METRICS_PORT]),
                opts=inside,
            )
        routing = stack.routing
        self.reference = pulumi.Output.from_input(
            {
                "namespace": namespace,
                "group": team.group_name,
                "registry": {"tracking_uri": registry.tracking_uri},
                "gateway": {
                    "name": routing.gateway_name,
                    "namespace": platform.gateway_namespace,
                },
            }
        )
        self.register_outputs({"reference": self.reference})
