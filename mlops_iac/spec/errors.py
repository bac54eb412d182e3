"""Spec errors that name the field, the bad value and what is allowed.

Every problem is one line, `<path>: <message>`: the path as the user wrote it
(`registry.replicas` in Python data, `mlops:registry.replicas` in Pulumi config), a rule
across fields naming the field it is about (`mlops:training.jobs[0]: ...`), an unknown key
naming the closest allowed one (`did you mean 'serving'?`).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Collection, Iterable, Sequence
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

    def in_namespace(self, namespace: str, fields: Collection[str]) -> SpecError:
        """The same problems with each bare spec path (one starting with one of `fields`,
        such as `feature_store.repo` from a check made while the stack is built) put in the
        config namespace: `mlops:feature_store.repo`. Other paths (files, `mlops:...`,
        `<project>:key`) are kept."""
        issues = [
            dataclasses.replace(issue, path=f"{namespace}:{issue.path}")
            if _is_bare_spec_path(issue.path, fields)
            else issue
            for issue in self.issues
        ]
        return self if issues == self.issues else SpecError(issues)


class SpecValidationError(ValidationError, SpecError):
    """What `StackSpec.model_validate` raises: pydantic's `ValidationError` (same `errors()`,
    caught by `except ValidationError`) that is also a :class:`SpecError`, and reads as one
    line per problem instead of pydantic's report."""

    issues: list[SpecIssue]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Made by `ValidationError.from_exception_data`; see :meth:`wrap`."""

    @classmethod
    def wrap(cls, error: ValidationError, readable: SpecError) -> SpecError:
        """`error` with `readable`'s issues, or `readable` itself when pydantic cannot
        rebuild the error (a custom error type)."""
        try:
            wrapped = cls.from_exception_data(
                error.title, typing.cast(Any, error.errors()), hide_input=False
            )
        except (TypeError, ValueError, KeyError):
            return readable
        wrapped.issues = readable.issues
        wrapped.args = readable.args
        return wrapped

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


def _is_bare_spec_path(path: str, fields: Collection[str]) -> bool:
    if ":" in path:
        return False
    match = _LEADING_PATH.match(path)
    return match is not None and match["first"] in fields


# A field path at the start of a message: `training.jobs[0]`, `monitoring.drift[0].endpoint`.
_LEADING_PATH = re.compile(
    r"^(?P<path>(?P<first>[a-z_][a-z0-9_]*)(?:\[\d+\])*(?:\.[a-z_][a-z0-9_]*(?:\[\d+\])*)*)"
)
_ANY_PATH = re.compile(r"(?<![\w.'\"-])" + _LEADING_PATH.pattern.removeprefix("^"))
# Subjects of rules across fields that name the section in words, not by its key.
_SUBJECT_WORDS = (
    ("endpoints ", "serving"),
    ("endpoint ", "serving"),
    ("training jobs ", "training.jobs"),
)


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
        message = detail["msg"].removeprefix("Value error, ")
        if not loc and detail["type"] == "value_error":
            # A rule across the stack's fields: name the field the message starts with.
            subject, message = _subject(message, model.model_fields)
            loc = (subject,) if subject else ()
        path = prefix + _format_path(loc) if loc else prefix.rstrip(":.")
        if detail["type"] == "extra_forbidden":
            message = _unknown_key(str(loc[-1]), _allowed_keys(model, loc[:-1], data))
        # A rule across fields reports the whole mapping as its input: not worth echoing.
        has_value = detail["type"] != "missing" and not isinstance(detail.get("input"), dict)
        issues.append(SpecIssue(path, message, detail.get("input"), has_value))
    return SpecError(issues)


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to `name` (a typo of it), or None."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _unknown_key(key: str, allowed: list[str]) -> str:
    if not allowed:
        return "unknown key"
    guess = did_you_mean(key, allowed)
    hint = f" did you mean {guess!r}?" if guess else ""
    return f"unknown key;{hint} allowed keys: {', '.join(allowed)}"


def _subject(message: str, fields: Collection[str]) -> tuple[str | None, str]:
    """The field a rule's message is about, and the message to show after it.

    `training.jobs[0] ('churn') has ...` is about `training.jobs[0]`; `monitoring.drift[0]:
    drift monitors ...` about `monitoring.drift[0]` (the message then drops that prefix);
    `endpoints churn set ...` about `serving`; else the first field the message names."""
    match = _LEADING_PATH.match(message)
    if match and match["first"] in fields:
        rest = message[match.end() :]
        if rest.startswith(":"):
            return match["path"], rest[1:].strip()
        return match["path"], message
    for words, field in _SUBJECT_WORDS:
        if message.startswith(words):
            return field, message
    for match in _ANY_PATH.finditer(message):
        if match["first"] in fields:
            return match["path"], message
    return None, message


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
    """The field names of the model found at `loc`, sorted, or [] where it cannot be told."""
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
