"""Helpers that register Kubernetes resources which many components create the same way."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac.k8s import network
from mlops_iac.k8s.apis import ClusterApis

PSS_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
"""Namespace labels that enforce the `restricted` Pod Security Standard."""


def network_policy(
    pulumi_name: str,
    *,
    name: str,
    namespace: str,
    labels: dict[str, str],
    spec: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    """A NetworkPolicy `name` in `namespace` with the given spec (see `k8s.network`)."""
    return k8s.networking.v1.NetworkPolicy(
        pulumi_name,
        metadata={"name": name, "namespace": namespace, "labels": labels},
        spec=spec,
        opts=opts,
    )


def service_account_role(
    role_name: str,
    binding_name: str,
    *,
    metadata: dict[str, Any],
    rules: list[dict[str, Any]],
    opts: pulumi.ResourceOptions,
) -> k8s.rbac.v1.Role:
    """A Role with `rules` and its RoleBinding to the ServiceAccount of the same name and
    namespace as `metadata` (Pulumi names `role_name`, `binding_name`)."""
    role = k8s.rbac.v1.Role(role_name, metadata=metadata, rules=rules, opts=opts)
    k8s.rbac.v1.RoleBinding(
        binding_name,
        metadata=metadata,
        role_ref={
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role.metadata.name,
        },
        subjects=[
            {"kind": "ServiceAccount", "name": metadata["name"], "namespace": metadata["namespace"]}
        ],
        opts=opts,
    )
    return role


def disruption_budget(
    pulumi_name: str,
    *,
    metadata: dict[str, Any],
    match: dict[str, str],
    replicas: int,
    opts: pulumi.ResourceOptions,
) -> k8s.policy.v1.PodDisruptionBudget | None:
    """With 2 or more replicas, a PodDisruptionBudget keeping all but one available (one
    replica gets none: a budget of 1 would block every node drain)."""
    if replicas < 2:
        return None
    return k8s.policy.v1.PodDisruptionBudget(
        pulumi_name,
        metadata=metadata,
        spec={"minAvailable": replicas - 1, "selector": {"matchLabels": match}},
        opts=opts,
    )


def hardened_namespace(
    pulumi_prefix: str,
    *,
    name: str,
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
    namespace_opts: pulumi.ResourceOptions | None = None,
) -> k8s.core.v1.Namespace:
    """A namespace that enforces Pod Security `restricted`, denies all traffic by default
    and lets its pods resolve DNS. Pulumi names: `<prefix>-namespace`, `<prefix>-default-deny`,
    `<prefix>-allow-dns`; the policies are created after the namespace. `namespace_opts` are
    merged into the namespace's own options: a namespace holding data gets the data's
    protection, since deleting a namespace deletes everything in it."""
    namespace = k8s.core.v1.Namespace(
        f"{pulumi_prefix}-namespace",
        metadata={"name": name, "labels": {**labels, **PSS_LABELS}},
        opts=pulumi.ResourceOptions.merge(opts, namespace_opts or pulumi.ResourceOptions()),
    )
    inside = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
    for policy, policy_spec in (
        ("default-deny", network.default_deny()),
        ("allow-dns", network.allow_dns_egress()),
    ):
        network_policy(
            f"{pulumi_prefix}-{policy}",
            name=policy,
            namespace=name,
            labels=labels,
            spec=policy_spec,
            opts=inside,
        )
    return namespace


def allow_flow(
    pulumi_name: str,
    *,
    name: str,
    labels: dict[str, str],
    server_namespace: str,
    server_labels: dict[str, str],
    client_namespace: str,
    client_labels: dict[str, str],
    port: int,
    opts: pulumi.ResourceOptions,
) -> None:
    """Open TCP `port` from the client pods to the server pods, and nothing else: an
    ingress policy `<name>-ingress` beside the server and an egress policy `<name>-egress`
    beside the clients (the same namespace or two)."""
    same = server_namespace == client_namespace
    client_peer = network.pods_peer(client_labels, None if same else client_namespace)
    server_peer = network.pods_peer(server_labels, None if same else server_namespace)
    for direction, namespace, spec in (
        ("ingress", server_namespace, network.allow_ingress(server_labels, port, [client_peer])),
        ("egress", client_namespace, network.allow_egress(client_labels, port, [server_peer])),
    ):
        network_policy(
            f"{pulumi_name}-{direction}",
            name=f"{name}-{direction}",
            namespace=namespace,
            labels=labels,
            spec=spec,
            opts=opts,
        )


def service_monitor(
    pulumi_name: str,
    *,
    apis: ClusterApis,
    metadata: dict[str, Any],
    match: dict[str, str],
    opts: pulumi.ResourceOptions,
    port: str = "metrics",
    pod_target_labels: list[str] | None = None,
    relabelings: list[dict[str, Any]] | None = None,
) -> k8s.apiextensions.CustomResource:
    """A Prometheus Operator ServiceMonitor scraping `/metrics` on the named Service port of
    the Services labelled `match`, every 30 s (after what installs the operator's CRDs);
    `pod_target_labels` copies those pod labels onto every series, `relabelings` rewrite the
    target's labels."""
    endpoint: dict[str, Any] = {"port": port, "path": "/metrics", "interval": "30s"}
    if relabelings:
        endpoint["relabelings"] = relabelings
    spec: dict[str, Any] = {"selector": {"matchLabels": match}, "endpoints": [endpoint]}
    if pod_target_labels:
        spec["podTargetLabels"] = pod_target_labels
    return apis.custom_resource(
        pulumi_name,
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata=metadata,
        spec=spec,
        opts=opts,
    )
