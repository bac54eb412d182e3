"""Helpers that register Kubernetes resources which many components create the same way."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


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
