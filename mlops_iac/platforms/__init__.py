"""Targets: what each one provides to components (provider, database, buckets, routing)."""

from __future__ import annotations

import pulumi

from mlops_iac.spec import StackSpec

from .base import (
    BucketAccess,
    ClientNamespace,
    DatabaseConnection,
    Platform,
    RedisConnection,
    SecretKeyRef,
)

__all__ = [
    "BucketAccess",
    "ClientNamespace",
    "DatabaseConnection",
    "Platform",
    "RedisConnection",
    "SecretKeyRef",
    "create_platform",
]


def create_platform(
    name: str, spec: StackSpec, opts: pulumi.ResourceOptions | None = None
) -> Platform:
    """The platform for `spec.target`; AWS modules are imported only for an AWS target."""
    if spec.target.kind in ("kind", "kubernetes"):
        from .kubernetes import KubernetesPlatform

        return KubernetesPlatform(name, spec, opts)
    raise NotImplementedError(
        f"target.kind {spec.target.kind!r} validates but cannot be deployed yet: the AWS "
        "platform is not implemented (see README, 'What works where')"
    )
