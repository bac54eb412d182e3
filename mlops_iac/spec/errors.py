"""Spec errors that name the field, the bad value and what is allowed."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec: where (`registry.replicas`), what, and the value given."""

    path: str
    message: str
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        shown = f" (got {_short_repr(self.value)})" if self.has_value else ""
        return f"{self.path or '<spec>'}: {self.message}{shown}"


class SpecError(ValueError):
    """The stack spec is invalid. `issues` lists every problem, each with its field path."""

    def __init__(self, issues: Sequence[SpecIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @property
    def paths(self) -> list[str]:
        """The field path of each problem, e.g. `mlops:registry.replicas`."""
        return [issue.path for issue in self.issues]

    @classmethod
    def single(cls, path: str, message: str, *values: Any) -> SpecError:
        """An error with one problem, optionally showing the bad value."""
        return cls([SpecIssue(path, message, values[0] if values else None, bool(values))])


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def from_validation_error(
    error: ValidationError, data: Any, model: type[BaseModel], prefix: str = ""
) -> SpecError:
    """Translate pydantic's error into paths as a user writes them (`serving[0].replicas`)."""
    issues = []
    for detail in error.errors(include_url=False):
        loc = _strip_discriminator_tags(detail["loc"], data)
        path = prefix + _format_path(loc) if loc else prefix.rstrip(":.")
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1], data)
            message = "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
        # A rule across fields reports the whole mapping as its input: not worth echoing.
        has_value = detail["type"] != "missing" and not isinstance(detail.get("input"), dict)
        issues.append(SpecIssue(path, message, detail.get("input"), has_value))
    return SpecError(issues)


def _strip_discriminator_tags(loc: Iterable[int | str], data: Any) -> tuple[int | str, ...]:
    """Pydantic puts a union member's tag (`target.kind.cluster`) in the path; drop it."""
    kept: list[int | str] = []
    node = data
    loc = tuple(loc)
    for position, item in enumerate(loc):
        if isinstance(item, str) and isinstance(node, dict):
            is_last = position == len(loc) - 1
            if node.get("kind") == item and (item not in node or not is_last):
                continue
            node = node.get(item)
        elif isinstance(item, int) and isinstance(node, list) and 0 <= item < len(node):
            node = node[item]
        else:
            node = None
        kept.append(item)
    return tuple(kept)


def _format_path(loc: Sequence[int | str]) -> str:
    path = ""
    for item in loc:
        if isinstance(item, int):
            path += f"[{item}]"
        else:
            path += f".{item}" if path else str(item)
    return path


def _allowed_keys(model: type[BaseModel], loc: Sequence[int | str], data: Any) -> list[str]:
    """The field names of the model found at `loc`, or [] where it cannot be told."""
    current: Any = model
    node = data
    for item in loc:
        if isinstance(item, int):
            node = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(item)
        if field is None:
            return []
        node = node.get(item) if isinstance(node, dict) else None
        current = _model_in(field.annotation, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _model_in(annotation: Any, node: Any) -> Any:
    """The BaseModel inside an annotation (Optional, list, union picked by `kind`)."""
    candidates = []
    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            candidates.append(item)
        elif typing.get_origin(item) in (typing.Union, types.UnionType, list, typing.Annotated):
            stack.extend(typing.get_args(item))
    if len(candidates) == 1:
        return candidates[0]
    tag = node.get("kind") if isinstance(node, dict) else None
    for candidate in candidates:
        field = candidate.model_fields.get("kind")
        if field is not None and tag in typing.get_args(field.annotation):
            return candidate
    return None
