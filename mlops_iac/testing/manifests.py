"""Turn recorded Kubernetes registrations into manifests as the API server would get them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .mocks import Registration, is_secret

MASK = "[secret]"

# Types under the `kubernetes:` package that are not API objects themselves.
_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")
_SECRET_KINDS = {"Secret"}

CLUSTER_SCOPED_KINDS = frozenset(
    {
        # Kubernetes 1.37 built-ins
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IPAddress",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
        # custom resources the stacks use or may meet
        "ClusterIssuer",
        "ClusterQueue",
        "ClusterServingRuntime",
        "ClusterStorageContainer",
        "Cohort",
        "GatewayClass",
        "ResourceFlavor",
        "Topology",
        "VolumeSnapshotClass",
        "VolumeSnapshotContent",
    }
)
"""Kinds whose objects have no namespace: `metadata.namespace` on them is ignored."""


def is_kubernetes_object(registration: Registration) -> bool:
    """Whether the registration is one Kubernetes API object (not a provider or a chart)."""
    return (
        registration.custom
        and registration.type.startswith("kubernetes:")
        and not registration.type.startswith(_NOT_OBJECTS)
        and "kind" in registration.inputs
    )


@dataclass(frozen=True, order=True)
class ObjectIdentity:
    """What the API server tells objects apart by: API group, kind, namespace and name.

    Two versions of one group and kind (`autoscaling/v1` and `autoscaling/v2`) are one
    object; the namespace of a cluster-scoped kind is empty.
    """

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        if not self.namespace:
            return f"{kind} {self.name} (cluster-scoped)"
        return f"{kind} {self.namespace}/{self.name}"


def object_identity(manifest: dict[str, Any]) -> ObjectIdentity:
    """The identity of the object a manifest declares."""
    api_version = str(manifest.get("apiVersion", ""))
    group = api_version.rpartition("/")[0]
    kind = str(manifest.get("kind", ""))
    metadata = manifest.get("metadata") or {}
    namespace = "" if kind in CLUSTER_SCOPED_KINDS else str(metadata.get("namespace") or "")
    return ObjectIdentity(group, kind, namespace, str(metadata.get("name") or ""))


def duplicate_objects(
    registrations: Iterable[Registration],
) -> list[tuple[ObjectIdentity, list[str]]]:
    """Each Kubernetes identity that more than one resource declares, with their URNs.

    Patch resources (`...Patch` types) change an object declared elsewhere: not counted.
    """
    urns: dict[ObjectIdentity, list[str]] = {}
    for registration in registrations:
        if is_kubernetes_object(registration) and not registration.type.endswith("Patch"):
            identity = object_identity(to_manifest(registration))
            urns.setdefault(identity, []).append(registration.urn)
    return sorted((identity, found) for identity, found in urns.items() if len(found) > 1)


def mask_secrets(value: Any) -> Any:
    """Replace every Pulumi secret inside `value` with "[secret]"."""
    if is_secret(value):
        return MASK
    if isinstance(value, dict):
        return {key: mask_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def unwrap_secrets(value: Any) -> Any:
    """Replace every Pulumi secret inside `value` with its plain value."""
    if is_secret(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {key: unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(item) for item in value]
    return value


def mask_secret_data(kind: Any, inputs: dict[str, Any], masked: dict[str, Any]) -> None:
    """Mask every value of a Secret's `data` and `stringData`, keeping the key names."""
    if kind not in _SECRET_KINDS:
        return
    for field in ("data", "stringData"):
        values = unwrap_secrets(inputs.get(field))
        if isinstance(values, dict):
            masked[field] = dict.fromkeys(values, MASK)


def canonical(value: Any) -> Any:
    """Floats that hold integers back to ints (Pulumi's wire format has only doubles) and
    mapping keys sorted (the wire format's maps have no order), so output is byte-stable."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def to_manifest(registration: Registration, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """The object as sent to the API server; secrets and Secret data masked unless
    `reveal_secrets` (for applying to a throwaway test cluster)."""
    if reveal_secrets:
        manifest = unwrap_secrets(registration.inputs)
    else:
        manifest = mask_secrets(registration.inputs)
        mask_secret_data(manifest.get("kind"), registration.inputs, manifest)
    metadata = dict(manifest.get("metadata") or {})
    if not metadata.get("name"):
        metadata["name"] = registration.outputs.get("metadata", {}).get("name")
    manifest = canonical({**manifest, "metadata": metadata})
    ordered = {key: manifest[key] for key in ("apiVersion", "kind", "metadata") if key in manifest}
    ordered.update({key: value for key, value in manifest.items() if key not in ordered})
    return ordered


def manifest_filename(manifest: dict[str, Any]) -> str:
    """`<namespace>.<kind>.<name>.yaml` (`_cluster` for cluster-scoped objects)."""
    metadata = manifest.get("metadata", {})
    namespace = metadata.get("namespace") or "_cluster"
    return f"{namespace}.{manifest.get('kind', 'Unknown')}.{metadata.get('name', 'unnamed')}.yaml"


def manifest_filenames(manifests: Sequence[dict[str, Any]]) -> list[str]:
    """One distinct file name per manifest: `manifest_filename`, with the API group before
    `.yaml` where two objects of different groups share a kind, a namespace and a name."""
    names = [manifest_filename(manifest) for manifest in manifests]
    shared = {name for name, count in Counter(names).items() if count > 1}
    result = []
    for name, manifest in zip(names, manifests, strict=True):
        if name in shared:
            group = str(manifest.get("apiVersion", "")).rpartition("/")[0] or "core"
            name = f"{name.removesuffix('.yaml')}.{group}.yaml"
        result.append(name)
    clashes = sorted(name for name, count in Counter(result).items() if count > 1)
    if clashes:
        raise ValueError(f"more than one object would be written to {', '.join(clashes)}")
    return result
