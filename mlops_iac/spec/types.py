"""Constrained scalar types shared by every part of the spec.

Each type validates on its own and says what is allowed, so an error names the field,
the bad value and the rule it broke.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOSTNAME = re.compile(
    r"^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
# https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
_QUANTITY = re.compile(
    r"^(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL: dict[str, Decimal | int] = {"m": Decimal("0.001"), "": 1, "k": 10**3, "M": 10**6}
_DECIMAL |= {"G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def _dns1123_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a valid Kubernetes name: use at most 63 characters, "
            "lower-case letters, digits and '-', starting and ending with a letter or digit"
        )
    return value


def _short_name(value: str) -> str:
    _dns1123_label(value)
    if len(value) > 40:
        raise ValueError(
            f"{value!r} is too long: at most 40 characters, so that derived names "
            "(such as '<name>-postgres-0') stay within Kubernetes' 63-character limit"
        )
    return value


def _bucket(value: str) -> str:
    if not _BUCKET.match(value) or ".." in value:
        raise ValueError(
            f"{value!r} is not a valid bucket name: 3-63 characters, lower-case letters, "
            "digits, '.' and '-', starting and ending with a letter or digit"
        )
    return value


def _hostname(value: str) -> str:
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid host name: lower-case DNS labels separated by '.', "
            "optionally starting with '*.'"
        )
    return value


def quantity_value(quantity: str) -> Decimal:
    """The numeric value of a Kubernetes quantity (`500m` -> 0.5, `2Gi` -> 2147483648)."""
    match = _QUANTITY.match(quantity)
    if match is None:
        raise ValueError(quantity)
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * Decimal(_DECIMAL[suffix])
    return number * Decimal(10) ** int(suffix[1:])


_QUANTITY_RULE = "a number with an optional suffix, e.g. '500m', '2', '512Mi', '10Gi'"


def _quantity_text(value: Any) -> Any:
    """A number as the string Kubernetes reads it (`4` -> '4', `0.5` -> '0.5', `2.0` -> '2'):
    YAML and JSON give unquoted quantities as numbers, and Kubernetes accepts them so.
    Strings pass unchanged; anything else (a bool, a list) is refused as no quantity."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a Kubernetes quantity: {_QUANTITY_RULE}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a Kubernetes quantity: {_QUANTITY_RULE}")
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def _quantity(value: str) -> str:
    text = value
    if text.startswith("-"):
        raise ValueError(f"{text!r} is negative; a quantity is zero or more, e.g. '0', '2'")
    try:
        quantity_value(text)
    except (ValueError, InvalidOperation):
        raise ValueError(f"{text!r} is not a Kubernetes quantity: {_QUANTITY_RULE}") from None
    return text


Dns1123Label = Annotated[str, AfterValidator(_dns1123_label)]
"""A Kubernetes object name: lower-case alphanumerics and '-', at most 63 characters."""

ShortName = Annotated[str, AfterValidator(_short_name)]
"""A DNS-1123 label short enough (<= 40) to prefix the names derived from it."""

BucketName = Annotated[str, AfterValidator(_bucket)]
"""An S3 bucket name."""

Hostname = Annotated[str, AfterValidator(_hostname)]
"""A DNS host name, optionally a wildcard (`*.example.com`)."""

Quantity = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_quantity)]
"""A Kubernetes resource quantity (`500m`, `2`, `512Mi`, `10Gi`); a number (`4`, `0.5`) is
taken as Kubernetes takes it and kept as its string form."""

ImageRef = Annotated[str, Field(pattern=r"^[^\s:@]+(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$")]
"""A container image: `repository[:tag][@sha256:digest]`."""


class SpecModel(BaseModel):
    """Base of every spec model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class ResourceRequirements(SpecModel):
    """CPU and memory for one container. Without explicit limits, the memory limit is the
    memory request and the CPU limit twice the CPU request (short bursts allowed; the request
    stays guaranteed)."""

    cpu: Quantity = Field(description="CPU request, e.g. '250m' or '2'.")
    memory: Quantity = Field(description="Memory request, e.g. '512Mi'.")
    cpu_limit: Quantity | None = Field(
        default=None, description="CPU limit; defaults to twice the request."
    )
    memory_limit: Quantity | None = Field(
        default=None, description="Memory limit; defaults to the request."
    )

    @model_validator(mode="after")
    def _limits_not_below_requests(self) -> ResourceRequirements:
        for request, limit, field in (
            (self.cpu, self.cpu_limit, "cpu_limit"),
            (self.memory, self.memory_limit, "memory_limit"),
        ):
            if limit is not None and quantity_value(limit) < quantity_value(request):
                raise ValueError(f"{field} {limit!r} is below the request {request!r}")
        return self

    def to_kubernetes(self) -> dict[str, dict[str, str]]:
        """The container `resources` block."""
        cpu_limit = self.cpu_limit or _format_cpu(quantity_value(self.cpu) * 2)
        return {
            "requests": {"cpu": self.cpu, "memory": self.memory},
            "limits": {"cpu": cpu_limit, "memory": self.memory_limit or self.memory},
        }


def _format_cpu(cores: Decimal) -> str:
    millicores = int(cores * 1000)
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def repeated_names(names: list[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted({name for name in names if names.count(name) > 1})
