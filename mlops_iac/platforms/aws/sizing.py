"""Pure decisions of the AWS platform: sizes by profile, the subnet plan and names."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from mlops_iac.spec import AwsTarget, Profile


@dataclass(frozen=True)
class ManagedSizes:
    """The sizes of the managed data services, after the spec's overrides."""

    db_instance_class: str
    db_storage_gb: int
    db_max_storage_gb: int
    db_multi_az: bool
    db_backup_retention_days: int
    cache_node_type: str
    cache_replicas: int
    cache_snapshot_retention_days: int
    nat_gateways: str
    noncurrent_version_days: int
    log_retention_days: int


def managed_sizes(target: AwsTarget, profile: Profile) -> ManagedSizes:
    """`local` is the smallest sensible footprint (one zone's worth of everything);
    `production` spreads across zones and keeps backups for two weeks."""
    production = profile == "production"
    db, cache = target.database, target.redis
    storage = db.storage_gb or (100 if production else 20)
    return ManagedSizes(
        db_instance_class=db.instance_class or ("db.m7g.large" if production else "db.t4g.micro"),
        db_storage_gb=storage,
        db_max_storage_gb=max(db.max_storage_gb or 4 * storage, storage),
        db_multi_az=db.multi_az if db.multi_az is not None else production,
        db_backup_retention_days=db.backup_retention_days or (14 if production else 1),
        cache_node_type=cache.node_type or ("cache.m7g.large" if production else "cache.t4g.micro"),
        cache_replicas=cache.replicas if cache.replicas is not None else (1 if production else 0),
        cache_snapshot_retention_days=7 if production else 1,
        nat_gateways=target.network.nat_gateways or ("per_zone" if production else "single"),
        noncurrent_version_days=90 if production else 7,
        log_retention_days=90 if production else 7,
    )


@dataclass(frozen=True)
class SubnetPlan:
    """CIDRs of a new VPC's subnets, one public and one private per zone."""

    public: list[str]
    private: list[str]


def subnet_plan(cidr: str, zones: int) -> SubnetPlan:
    """Split the VPC into equal private blocks, one per zone, and carve the public subnets
    (load balancer, NAT) out of the last block: pods take VPC addresses on EKS, so the
    private side gets nearly all of them."""
    network = ipaddress.IPv4Network(cidr)
    bits = math.ceil(math.log2(zones + 1))
    blocks = list(network.subnets(prefixlen_diff=bits))
    public = list(blocks[-1].subnets(prefixlen_diff=math.ceil(math.log2(zones))))[:zones]
    return SubnetPlan(public=[str(s) for s in public], private=[str(b) for b in blocks[:zones]])


def cluster_name(stack_name: str, pulumi_stack: str) -> str:
    """The EKS cluster's name: the spec's name and the Pulumi stack's, unique per account
    and region for distinct stacks (at most 100 characters)."""
    name = stack_name if pulumi_stack == stack_name else f"{stack_name}-{pulumi_stack}"
    return name[:100].rstrip("-")


def bucket_prefix(stack_name: str, bucket: str) -> str:
    """Prefix of a bucket's real name; AWS appends a unique suffix (at most 37 characters
    are allowed for a prefix)."""
    return f"{stack_name}-{bucket}"[:36].rstrip("-.") + "-"
