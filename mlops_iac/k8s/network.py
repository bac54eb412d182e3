"""Pure builders for NetworkPolicy specs: default deny, then explicit allows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def default_deny() -> dict[str, Any]:
    """Deny all ingress and egress for every pod in the namespace."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def allow_dns_egress() -> dict[str, Any]:
    """Let every pod in the namespace resolve names through the cluster DNS."""
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": dns_ports,
            }
        ],
    }


def namespace_peer(namespace: str) -> dict[str, Any]:
    """A peer matching every pod of one namespace."""
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}


def namespaces_selector(namespaces: Iterable[str]) -> dict[str, Any]:
    """A label selector matching exactly these namespaces, by name."""
    return {
        "matchExpressions": [
            {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(set(namespaces))}
        ]
    }


def stack_and_proxy_peers(namespace: str, proxy_namespace: str) -> list[dict[str, Any]]:
    """Peers of a service the stack and the outside world call: every pod of the stack's
    namespace, and the Gateway's (or Ingress controller's) proxies."""
    return [namespace_peer(namespace), namespace_peer(proxy_namespace)]


def pods_peer(match_labels: dict[str, str], namespace: str | None = None) -> dict[str, Any]:
    """A peer matching pods by label: in the policy's own namespace, or in `namespace`."""
    peer: dict[str, Any] = {"podSelector": {"matchLabels": match_labels}}
    if namespace is not None:
        peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}
    return peer


def allow_ingress(
    pod_labels: dict[str, str], port: int, peers: list[dict[str, Any]]
) -> dict[str, Any]:
    """Allow TCP traffic to `port` of the selected pods from the given peers only."""
    return {
        "podSelector": {"matchLabels": pod_labels},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": port}]}],
    }


def allow_egress(
    pod_labels: dict[str, str], port: int, peers: list[dict[str, Any]]
) -> dict[str, Any]:
    """Allow TCP traffic from the selected pods to `port` of the given peers only."""
    return {
        "podSelector": {"matchLabels": pod_labels},
        "policyTypes": ["Egress"],
        "egress": [{"to": peers, "ports": [{"protocol": "TCP", "port": port}]}],
    }


def allow_egress_to_cidrs(
    pod_labels: dict[str, str], port: int, cidrs: list[str]
) -> dict[str, Any]:
    """Allow TCP traffic from the selected pods to `port` of addresses outside the cluster
    (managed services in the VPC, AWS APIs)."""
    return {
        "podSelector": {"matchLabels": pod_labels},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": cidr}} for cidr in cidrs],
                "ports": [{"protocol": "TCP", "port": port}],
            }
        ],
    }
