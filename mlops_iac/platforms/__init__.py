"""Targets: what each one provides to components (provider, database, buckets, routing)."""

from __future__ import annotations

import pulumi

from mlops_iac.spec import SpecError, StackSpec

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
    region = aws_region(spec)
    from mlops_iac.extras import require

    require("aws", "an AWS target")
    from .aws import AwsPlatform

    return AwsPlatform(name, spec, region, opts)


def aws_region(spec: StackSpec) -> str:
    """`target.region`, or the `aws:region` config; a spec error naming both when neither
    is set."""
    region = getattr(spec.target, "region", None) or pulumi.Config("aws").get("region")
    if not region:
        raise SpecError.single(
            "mlops:target.region",
            "an AWS target needs a region: set target.region or the `aws:region` config",
        )
    return region
