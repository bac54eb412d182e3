"""Offline validation of synthesized manifests.

Built-in kinds: the upstream OpenAPI schemas shipped by `kubernetes-validate`, strict (an
unknown field fails). Custom resources: the CRD JSON Schemas under `mlops_iac/schemas/crds`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_KUBERNETES_VERSION = "1.37"
"""The Kubernetes minor of kind v0.33's default node image (kindest/node:v1.37.0)."""
SUPPORTED_KUBERNETES_VERSIONS = ("1.33", "1.34", "1.35", "1.36", "1.37")
"""The minors the stacks are validated against (CI checks every reference stack on each):
1.37, kind v0.33's default; 1.35, the EKS default of the AWS target, with 1.34 the other EKS
version in standard support (2026-12); 1.36; and 1.33 as the oldest existing cluster claimed
(EKS extended support since 2026-07). Older clusters may work but are not checked."""

CRD_SCHEMA_DIR = Path(__file__).parent / "schemas" / "crds"


@dataclass(frozen=True)
class ValidationFailure:
    """One manifest that did not validate."""

    source: str
    kind: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.kind}/{self.name}: {self.message}"


def crd_schema_path(api_version: str, kind: str) -> Path | None:
    """The JSON Schema file for a custom resource, or None for a built-in group."""
    if "/" not in api_version or _is_builtin_group(api_version):
        return None
    group, version = api_version.split("/", 1)
    return CRD_SCHEMA_DIR / group / f"{kind.lower()}_{version}.json"


@functools.cache
def _crd_validator(path: Path) -> Any:
    import jsonschema

    schema = json.loads(path.read_text())
    validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft7Validator)
    return validator_class(schema)


def validate_manifest(manifest: dict[str, Any], kubernetes_version: str) -> str | None:
    """None when the manifest is valid, else the first reason it is not."""
    import kubernetes_validate

    api_version = str(manifest.get("apiVersion", ""))
    kind = str(manifest.get("kind", ""))
    if not api_version or not kind:
        return "apiVersion and kind are required"
    schema_path = crd_schema_path(api_version, kind)
    if schema_path is not None:
        if not schema_path.exists():
            return f"no schema for custom resource {api_version} {kind} under {CRD_SCHEMA_DIR}"
        errors = sorted(
            _crd_validator(schema_path).iter_errors(manifest), key=lambda e: list(e.path)
        )
        if errors:
            first = errors[0]
            where = ".".join(str(part) for part in first.path) or "<root>"
            return f"{where}: {first.message}"
        return None
    try:
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "<root>"
        return f"{where}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError:
        return f"no Kubernetes {kubernetes_version} schema for {api_version} {kind}"
    except IndexError:
        return f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}"
    return duplicate_list_key(manifest, kubernetes_version)


def duplicate_list_key(manifest: dict[str, Any], kubernetes_version: str) -> str | None:
    """The first list whose schema says its items are keyed (`x-kubernetes-list-type: map`,
    such as a container's `env` by `name`) that holds two items with one key, else None.
    The JSON schema cannot say this, and server-side apply, which `pulumi up` uses, refuses
    such an object ("duplicate entries for key")."""
    from kubernetes_validate import utils

    version = [v for v in utils.all_versions() if utils.major_minor(v) <= kubernetes_version]
    folder = f"kubernetes-json-schema/v{version[-1]}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", str(manifest["apiVersion"]))
    kind = str(manifest["kind"]).lower()
    schema = _schema_file(f"{folder}/{kind}-{group_version}.json", kubernetes_version)
    definitions = _schema_file(f"{folder}/_definitions.json", kubernetes_version)
    return _first_duplicate(manifest, schema, definitions["$defs"], "")


@functools.cache
def _schema_file(path: str, kubernetes_version: str) -> Any:
    """One of kubernetes-validate's schema files, parsed once (the definitions are MBs);
    read only."""
    from kubernetes_validate import utils

    return utils.schema_contents(path, kubernetes_version)


def _first_duplicate(
    value: Any, schema: dict[str, Any], definitions: dict[str, Any], where: str
) -> str | None:
    while "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[1]]
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, item in value.items():
            extra = schema.get("additionalProperties")
            sub = properties.get(key) or (extra if isinstance(extra, dict) else None)
            found = sub and _first_duplicate(item, sub, definitions, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(value):
            if schema.get("x-kubernetes-list-type") == "map" and isinstance(item, dict):
                key = tuple(item.get(name) for name in keys)
                if key in seen:
                    named = ",".join(f"{n}={v!r}" for n, v in zip(keys, key, strict=True))
                    return f"{where.lstrip('.')}: duplicate entries for key [{named}]"
                seen.add(key)
            items = schema.get("items")
            found = items and _first_duplicate(item, items, definitions, f"{where}[{index}]")
            if found:
                return found
    return None


def _is_builtin_group(api_version: str) -> bool:
    """Core groups (`apps`, `batch`) and `*.k8s.io` ones, except the Gateway API's CRDs."""
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    if "." not in group:
        return True
    return group.endswith(".k8s.io") and group != "gateway.networking.k8s.io"


def load_manifests(directory: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    """Every YAML document under `directory` (recursively), with its file name."""
    for path in sorted(directory.rglob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield str(path.relative_to(directory)), document


def validate_directory(
    directory: Path, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
) -> tuple[int, list[ValidationFailure]]:
    """Validate every manifest under `directory` (or its `manifests/`): (count, failures)."""
    if (directory / "manifests").is_dir():
        directory = directory / "manifests"
    count = 0
    failures = []
    for source, manifest in load_manifests(directory):
        count += 1
        reason = validate_manifest(manifest, kubernetes_version)
        if reason is not None:
            name = str(manifest.get("metadata", {}).get("name", "?"))
            failures.append(ValidationFailure(source, str(manifest.get("kind")), name, reason))
    return count, failures
