"""Turn recorded Kubernetes registrations into manifests as the API server would get them."""

from __future__ import annotations

from typing import Any

from .mocks import Registration, is_secret

MASK = "[secret]"

# Types under the `kubernetes:` package that are not API objects themselves.
_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")
_SECRET_KINDS = {"Secret"}


def is_kubernetes_object(registration: Registration) -> bool:
    """Whether the registration is one Kubernetes API object (not a provider or a chart)."""
    return (
        registration.custom
        and registration.type.startswith("kubernetes:")
        and not registration.type.startswith(_NOT_OBJECTS)
        and "kind" in registration.inputs
    )


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
