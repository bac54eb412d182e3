"""Write the JSON Schemas `mlops-iac validate` checks custom resources against, from
CustomResourceDefinition manifests: each served version's `openAPIV3Schema`, with
`additionalProperties: false` added to every object that lists its properties and does not
preserve unknown fields (so a misspelled field fails), as the shared schema set does.

    python tools/crd_schemas.py CRD.yaml [CRD.yaml ...] [--out mlops_iac/schemas/crds]

Writes `<out>/<group>/<kind lowercased>_<version>.json` and prints each path.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "mlops_iac" / "schemas" / "crds"


def strict(schema: Any) -> Any:
    """`schema` with unknown fields refused wherever it lists an object's properties."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


def version_schemas(crd: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(group, kind, version, JSON Schema) for each served version of a CRD."""
    spec = crd["spec"]
    for version in spec["versions"]:
        if version.get("served", True):
            schema = version["schema"]["openAPIV3Schema"]
            yield spec["group"], spec["names"]["kind"], version["name"], strict(schema)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("crds", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for path in args.crds:
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") != "CustomResourceDefinition":
                continue
            for group, kind, version, schema in version_schemas(document):
                target = args.out / group / f"{kind.lower()}_{version}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
                print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
