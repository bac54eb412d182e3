"""From multi-language args to the StackSpec the Python API uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_iac.spec import StackSpec

STACK_FIELDS = ("profile", "namespace", "routing")


def plain(value: Any) -> Any:
    """`value` with integral floats as ints (other languages send every number as a float)
    and mappings and sequences copied into dicts and lists."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def to_spec(name: str, args: Mapping[str, Any], sections: Mapping[str, Any]) -> StackSpec:
    """The StackSpec for a component called `name`: the stack fields of `args["stack"]` and
    the given spec sections (`registry`, `serving`, ...); every problem is a SpecError."""
    stack = args.get("stack") or {}
    target = stack.get("target")
    if isinstance(target, Mapping) and "aws" in target:
        target = {**{k: v for k, v in target.items() if k != "aws"}, **(target["aws"] or {})}
    data: dict[str, Any] = {"name": stack.get("stack_name") or name, "target": target}
    for key in STACK_FIELDS:
        if stack.get(key) is not None:
            data[key] = stack[key]
    data.update({key: value for key, value in sections.items() if value is not None})
    return StackSpec.load(plain(data))
