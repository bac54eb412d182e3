"""What the in-cluster data services (Postgres, the S3 store) have in common: one pod in a
StatefulSet whose volume outlives it, reachable only from pods that carry a client label."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac.k8s import pods, resources
from mlops_iac.platforms.base import ClientNamespace
from mlops_iac.spec import ResourceRequirements


@dataclass(frozen=True)
class ServerSettings:
    """Where and how big one in-cluster data server is."""

    k8s_name: str
    """Name of its StatefulSet, Service and Secrets (`<stack>-<server>`)."""
    namespace: str
    storage: str
    """Size of its data volume."""
    storage_class: str | None
    resources: ResourceRequirements
    stateful: pulumi.ResourceOptions
    """`protect` / `retain_on_delete` for what holds data."""


def service(
    pulumi_name: str,
    *,
    settings: ServerSettings,
    labels: dict[str, str],
    match: dict[str, str],
    port_name: str,
    port: int,
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Service:
    """The server's Service: `port` to the pod's port of the same name."""
    return k8s.core.v1.Service(
        pulumi_name,
        metadata={"name": settings.k8s_name, "namespace": settings.namespace, "labels": labels},
        spec={
            "selector": match,
            "ports": [{"name": port_name, "port": port, "targetPort": port_name}],
        },
        opts=opts,
    )


VOLUME_TEMPLATE_FIELDS = ["spec.volumeClaimTemplates"]
"""StatefulSet fields the provider can only change by replacing the StatefulSet. A data
StatefulSet is never replaced (its replacement would be created beside the object it replaces,
under the same name, and fail halfway), so Pulumi ignores later changes to them: a volume's
size and class apply when its claim is first made. Growing an existing volume is a resize of
its claim (`kubectl patch pvc data-<statefulset>-0`), where the storage class allows it."""


def statefulset_options(keep: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
    """The options of a data StatefulSet: the data's protection, and no replacement."""
    return pulumi.ResourceOptions.merge(
        keep, pulumi.ResourceOptions(ignore_changes=VOLUME_TEMPLATE_FIELDS)
    )


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


def grant_client_namespace(
    pulumi_name: str,
    *,
    client: ClientNamespace,
    secret_name: str,
    string_data: dict[str, pulumi.Input[str]],
    labels: dict[str, str],
    server_namespace: str,
    server_labels: dict[str, str],
    client_labels: dict[str, str],
    port: int,
    parent: pulumi.Resource,
) -> k8s.core.v1.Secret:
    """Let pods of another namespace use a server: a copy of the credentials they need as a
    Secret in their namespace, and the NetworkPolicies that open `port` to those pods that
    carry `client_labels`. Returns the copy."""
    in_client = pulumi.ResourceOptions(parent=parent, depends_on=[client.resource])
    secret = k8s.core.v1.Secret(
        pulumi_name,
        metadata={"name": secret_name, "namespace": client.name, "labels": labels},
        type="Opaque",
        string_data=string_data,
        opts=in_client,
    )
    resources.allow_flow(
        pulumi_name,
        name=f"{server_labels['app.kubernetes.io/instance']}-from-{client.name}"[:54].rstrip("-"),
        labels=labels,
        server_namespace=server_namespace,
        server_labels=server_labels,
        client_namespace=client.name,
        client_labels=client_labels,
        port=port,
        opts=in_client,
    )
    return secret
