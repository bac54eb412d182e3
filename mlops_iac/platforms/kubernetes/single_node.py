"""What the in-cluster data services (Postgres, the S3 store) have in common: one pod in a
StatefulSet whose volume outlives it, reachable only from pods that carry a client label."""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_iac.k8s import pods, resources


def statefulset_spec(
    *,
    k8s_name: str,
    labels: dict[str, str],
    match: dict[str, str],
    uid: int,
    container: dict[str, Any],
    volumes: list[Any],
    storage: str,
    storage_class: str | None,
) -> dict[str, Any]:
    """A one-replica StatefulSet spec with a `data` volume claim that is kept when the
    StatefulSet is deleted or scaled down."""
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
    }
    if storage_class:
        claim_spec["storageClassName"] = storage_class
    return {
        "serviceName": k8s_name,
        "replicas": 1,
        "selector": {"matchLabels": match},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": pods.pod_security_context(uid),
                "containers": [container],
                "volumes": volumes,
            },
        },
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim_spec}],
    }


def client_network_policies(
    name: str,
    *,
    k8s_name: str,
    namespace: str,
    labels: dict[str, str],
    match: dict[str, str],
    client_labels: dict[str, str],
    port: int,
    opts: pulumi.ResourceOptions,
) -> None:
    """Let pods of `namespace` labelled `client_labels` reach the server's `port`, and
    nothing else in."""
    resources.allow_flow(
        f"{name}-allow",
        name=f"{k8s_name}-allow",
        labels=labels,
        server_namespace=namespace,
        server_labels=match,
        client_namespace=namespace,
        client_labels=client_labels,
        port=port,
        opts=opts,
    )
