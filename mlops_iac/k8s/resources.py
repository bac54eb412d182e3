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
