"""The AWS target: an EKS cluster in its own (or an existing) VPC, with RDS, S3 and
ElastiCache behind the same platform interfaces as the in-cluster services on kind."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlops_iac import versions

from .types import ShortName, SpecModel, repeated_names

_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
GPU_INSTANCE_FAMILIES = ("g", "p")
"""EC2 families with NVIDIA GPUs (g4dn, g5, g6, g6e, p4d, p5, ...)."""


@dataclass(frozen=True)
class Ec2InstanceType:
    """What sizing the nodes needs to know of one EC2 instance type."""

    vcpus: int
    memory_mib: int
    """Nominal memory (what EC2 lists; the kernel sees less, see `platforms.aws.capacity`)."""
    gpus: int
    """NVIDIA GPUs (the `nvidia.com/gpu` a node advertises once the device plugin runs)."""
    enis: int
    """Network interfaces on the default network card."""
    ipv4_per_eni: int
    """IPv4 addresses per interface; with `enis`, the node's max pods on the VPC CNI."""

    @property
    def max_pods(self) -> int:
        """Pods the VPC CNI can give addresses to: enis x (ips - 1) + 2, as EKS's nodeadm
        computes the kubelet's maxPods without prefix delegation."""
        return self.enis * (self.ipv4_per_eni - 1) + 2


EC2_INSTANCE_TYPES: dict[str, Ec2InstanceType] = {
    "m5.large": Ec2InstanceType(2, 8192, 0, 3, 10),
    "m5.xlarge": Ec2InstanceType(4, 16384, 0, 4, 15),
    "m5.2xlarge": Ec2InstanceType(8, 32768, 0, 4, 15),
    "m5.4xlarge": Ec2InstanceType(16, 65536, 0, 8, 30),
    "m6i.large": Ec2InstanceType(2, 8192, 0, 3, 10),
    "m6i.xlarge": Ec2InstanceType(4, 16384, 0, 4, 15),
    "m6i.2xlarge": Ec2InstanceType(8, 32768, 0, 4, 15),
    "m6i.4xlarge": Ec2InstanceType(16, 65536, 0, 8, 30),
    "m6a.large": Ec2InstanceType(2, 8192, 0, 3, 10),
    "m6a.xlarge": Ec2InstanceType(4, 16384, 0, 4, 15),
    "m6a.2xlarge": Ec2InstanceType(8, 32768, 0, 4, 15),
    "m6a.4xlarge": Ec2InstanceType(16, 65536, 0, 8, 30),
    "m7i.large": Ec2InstanceType(2, 8192, 0, 3, 10),
    "m7i.xlarge": Ec2InstanceType(4, 16384, 0, 4, 15),
    "m7i.2xlarge": Ec2InstanceType(8, 32768, 0, 4, 15),
    "m7i.4xlarge": Ec2InstanceType(16, 65536, 0, 8, 30),
    "m7a.large": Ec2InstanceType(2, 8192, 0, 3, 10),
    "m7a.xlarge": Ec2InstanceType(4, 16384, 0, 4, 15),
    "m7a.2xlarge": Ec2InstanceType(8, 32768, 0, 4, 15),
    "m7a.4xlarge": Ec2InstanceType(16, 65536, 0, 8, 30),
    "c6i.large": Ec2InstanceType(2, 4096, 0, 3, 10),
    "c6i.xlarge": Ec2InstanceType(4, 8192, 0, 4, 15),
    "c6i.2xlarge": Ec2InstanceType(8, 16384, 0, 4, 15),
    "c6i.4xlarge": Ec2InstanceType(16, 32768, 0, 8, 30),
    "c7i.large": Ec2InstanceType(2, 4096, 0, 3, 10),
    "c7i.xlarge": Ec2InstanceType(4, 8192, 0, 4, 15),
    "c7i.2xlarge": Ec2InstanceType(8, 16384, 0, 4, 15),
    "c7i.4xlarge": Ec2InstanceType(16, 32768, 0, 8, 30),
    "r6i.large": Ec2InstanceType(2, 16384, 0, 3, 10),
    "r6i.xlarge": Ec2InstanceType(4, 32768, 0, 4, 15),
    "r6i.2xlarge": Ec2InstanceType(8, 65536, 0, 4, 15),
    "r6i.4xlarge": Ec2InstanceType(16, 131072, 0, 8, 30),
    "r7i.large": Ec2InstanceType(2, 16384, 0, 3, 10),
    "r7i.xlarge": Ec2InstanceType(4, 32768, 0, 4, 15),
    "r7i.2xlarge": Ec2InstanceType(8, 65536, 0, 4, 15),
    "r7i.4xlarge": Ec2InstanceType(16, 131072, 0, 8, 30),
    "t3.large": Ec2InstanceType(2, 8192, 0, 3, 12),
    "t3.xlarge": Ec2InstanceType(4, 16384, 0, 4, 15),
    "t3.2xlarge": Ec2InstanceType(8, 32768, 0, 4, 15),
    "g4dn.xlarge": Ec2InstanceType(4, 16384, 1, 3, 10),
    "g4dn.2xlarge": Ec2InstanceType(8, 32768, 1, 3, 10),
    "g4dn.4xlarge": Ec2InstanceType(16, 65536, 1, 3, 10),
    "g4dn.8xlarge": Ec2InstanceType(32, 131072, 1, 4, 15),
    "g4dn.12xlarge": Ec2InstanceType(48, 196608, 4, 8, 30),
    "g5.xlarge": Ec2InstanceType(4, 16384, 1, 4, 15),
    "g5.2xlarge": Ec2InstanceType(8, 32768, 1, 4, 15),
    "g5.4xlarge": Ec2InstanceType(16, 65536, 1, 8, 30),
    "g5.8xlarge": Ec2InstanceType(32, 131072, 1, 8, 30),
    "g5.12xlarge": Ec2InstanceType(48, 196608, 4, 15, 50),
    "g6.xlarge": Ec2InstanceType(4, 16384, 1, 4, 15),
    "g6.2xlarge": Ec2InstanceType(8, 32768, 1, 4, 15),
    "g6.4xlarge": Ec2InstanceType(16, 65536, 1, 8, 30),
    "g6.8xlarge": Ec2InstanceType(32, 131072, 1, 8, 30),
    "g6.12xlarge": Ec2InstanceType(48, 196608, 4, 8, 30),
    "g6e.xlarge": Ec2InstanceType(4, 32768, 1, 4, 15),
    "g6e.2xlarge": Ec2InstanceType(8, 65536, 1, 4, 15),
    "g6e.4xlarge": Ec2InstanceType(16, 131072, 1, 8, 30),
    "g6e.8xlarge": Ec2InstanceType(32, 262144, 1, 8, 30),
    "g6e.12xlarge": Ec2InstanceType(48, 393216, 4, 10, 30),
    "p4d.24xlarge": Ec2InstanceType(96, 1179648, 8, 15, 50),
    "p5.4xlarge": Ec2InstanceType(16, 262144, 1, 4, 30),
    "p5.48xlarge": Ec2InstanceType(192, 2097152, 8, 2, 50),
}
"""The instance types node groups may use: x86_64 only (the runtime image is built for
linux/amd64). vCPUs, memory and GPUs from cluster-autoscaler's static list
(`cloudprovider/aws/ec2_instance_types.go` at tag cluster-autoscaler-1.35.2); interfaces and
addresses per interface from EKS nodeadm's `internal/kubelet/instance-info.jsonl`
(awslabs/amazon-eks-ami at v20260724). Both read 2026-12 from the upstream repositories."""

GPU_ACCELERATOR_LABELS = {
    "g4dn": "nvidia-tesla-t4",
    "g5": "nvidia-a10g",
    "g6": "nvidia-l4",
    "g6e": "nvidia-l40s",
    "p4d": "nvidia-tesla-a100",
    "p5": "nvidia-h100",
}
"""Value of the `k8s.amazonaws.com/accelerator` label per GPU family (its presence is what
cluster-autoscaler checks)."""


class AwsNodeGroupSpec(SpecModel):
    """One EKS managed node group."""

    name: ShortName = Field(description="Node group name.")
    instance_types: list[str] = Field(
        min_length=1, description="EC2 instance types, e.g. `m6i.large`; the first is preferred."
    )
    min: int = Field(
        default=1,
        ge=0,
        description="Minimum number of nodes; 0 lets an idle group (e.g. GPUs) cost nothing.",
    )
    max: int = Field(
        default=3,
        ge=1,
        description="Maximum number of nodes: the node autoscaler adds nodes up to it while "
        "pods are pending (it reads it from the group's Auto Scaling group).",
    )
    desired: int | None = Field(
        default=None,
        ge=0,
        description="Nodes at creation; `min` when unset (an autoscaler "
        "adjusts it later, so Pulumi ignores later changes made outside it).",
    )
    gpu: bool = Field(
        default=False,
        description="GPU nodes: the EKS NVIDIA AMI (AL2023_x86_64_NVIDIA), the taint "
        "`nvidia.com/gpu=true:NoSchedule` (only GPU jobs land there) and the NVIDIA device plugin.",
    )
    spot: bool = Field(default=False, description="Spot capacity instead of on-demand.")
    disk_size: int = Field(default=50, ge=20, le=16384, description="Root volume size in GiB.")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra node labels.")

    @field_validator("instance_types")
    @classmethod
    def _instance_types_look_like_ec2(cls, types: list[str]) -> list[str]:
        for instance_type in types:
            if not _INSTANCE_TYPE.match(instance_type):
                raise ValueError(
                    f"{instance_type!r} is not an EC2 instance type: use family.size, "
                    "e.g. m6i.large or g5.xlarge"
                )
        unknown = [t for t in types if t not in EC2_INSTANCE_TYPES]
        if unknown:
            families = sorted({t.split(".")[0] for t in EC2_INSTANCE_TYPES})
            raise ValueError(
                f"instance type {', '.join(unknown)} is not one this stack can size and run "
                f"(x86_64, the runtime image is linux/amd64): use one of the families "
                f"{', '.join(families)} (large to 4xlarge; GPU families up to 12xlarge, "
                "p4d.24xlarge, p5.4xlarge, p5.48xlarge)"
            )
        shapes = {(s.vcpus, s.memory_mib, s.gpus) for s in map(EC2_INSTANCE_TYPES.get, types) if s}
        if len(shapes) > 1:
            raise ValueError(
                f"instance types {', '.join(types)} differ in vCPUs, memory or GPUs: "
                "cluster-autoscaler sizes a group by its first type, so one group's types "
                "must have the same shape (e.g. m6i.large and m6a.large); use a group per shape"
            )
        return types

    @property
    def node_types(self) -> list[Ec2InstanceType]:
        """The shapes of the group's instance types (all equal: the validator checks it)."""
        return [EC2_INSTANCE_TYPES[t] for t in self.instance_types]

    @model_validator(mode="after")
    def _sizes_and_gpu_agree(self) -> AwsNodeGroupSpec:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        if self.desired is not None and not self.min <= self.desired <= self.max:
            raise ValueError(f"desired ({self.desired}) must be within min..max")
        if self.gpu:
            no_gpu = [t for t in self.instance_types if not t.startswith(GPU_INSTANCE_FAMILIES)]
            if no_gpu:
                raise ValueError(
                    f"gpu node group {self.name!r} has instance types without NVIDIA GPUs: "
                    f"{', '.join(no_gpu)}; use g or p families (e.g. g5.xlarge)"
                )
        return self


ControlPlaneLog = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


def _default_log_types() -> list[ControlPlaneLog]:
    return ["api", "audit", "authenticator"]


NodeAutoscaler = Literal["cluster-autoscaler", "none"]


def _default_node_groups() -> list[AwsNodeGroupSpec]:
    """Two m6i.xlarge (7.8 allocatable vCPU, 27 GiB): what the production reference stack
    asks for, every pod at once (~6.6 vCPU, ~19 GiB with the add-ons, the monitoring and
    the Gateway; tests/aws/test_aws_capacity.py), fits on them before the autoscaler adds a
    node. Two m6i.large (3.9 vCPU) did not."""
    return [AwsNodeGroupSpec(name="cpu", instance_types=["m6i.xlarge"], min=2, max=6)]


class AwsClusterSpec(SpecModel):
    """The EKS cluster of the AWS target."""

    version: str = Field(
        default="1.35",
        pattern=r"^1\.[0-9]{2}$",
        description="Kubernetes version, e.g. '1.35'. Versions past EKS standard support "
        "(1.33 since 2026-07) cost extra in extended support.",
    )
    node_groups: list[AwsNodeGroupSpec] = Field(
        default_factory=_default_node_groups,
        min_length=1,
        description="Managed node groups; one CPU group (m6i.xlarge, 2-6 nodes) when unset.",
    )
    public_endpoint: bool = Field(
        default=True,
        description="Whether the API server is reachable from the internet (always also "
        "from inside the VPC). Set false to reach it only through the VPC.",
    )
    public_access_cidrs: list[str] = Field(
        default_factory=list,
        description="With a public endpoint: the CIDRs allowed to reach it (AWS allows all "
        "when empty).",
    )
    log_types: list[ControlPlaneLog] = Field(
        default_factory=_default_log_types,
        description="Control-plane log types sent to CloudWatch Logs.",
    )
    node_autoscaler: NodeAutoscaler = Field(
        default="cluster-autoscaler",
        description="`cluster-autoscaler`: the Kubernetes cluster-autoscaler (release matching "
        "`version`) grows and shrinks each node group between its `min` and `max`, from zero "
        "for GPU groups; `none`: node groups stay at their `desired` size.",
    )

    @field_validator("node_groups")
    @classmethod
    def _unique_node_groups(cls, groups: list[AwsNodeGroupSpec]) -> list[AwsNodeGroupSpec]:
        repeated = repeated_names([group.name for group in groups])
        if repeated:
            raise ValueError(f"node group names must be unique; repeated: {', '.join(repeated)}")
        return groups

    @model_validator(mode="after")
    def _autoscaler_matches_the_version(self) -> AwsClusterSpec:
        known = versions.CLUSTER_AUTOSCALER_VERSIONS
        if self.node_autoscaler == "cluster-autoscaler" and self.version not in known:
            raise ValueError(
                f"cluster-autoscaler has no release for Kubernetes {self.version} known to "
                f"this version of mlops-iac (its minor must match the cluster's; known: "
                f"{', '.join(known)}): use one of those versions, or node_autoscaler: none"
            )
        return self

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            _ipv4_network(cidr)
        return cidrs

    @property
    def has_gpu(self) -> bool:
        """Whether any node group has GPUs."""
        return any(group.gpu for group in self.node_groups)


def _ipv4_network(cidr: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(cidr)
    except ValueError:
        raise ValueError(f"{cidr!r} is not an IPv4 CIDR such as 10.42.0.0/16") from None


class AwsNetworkSpec(SpecModel):
    """The VPC: a new one (public subnets for the load balancer and NAT, private subnets for
    nodes and data services), or an existing one given by its subnets."""

    cidr: str = Field(default="10.42.0.0/16", description="CIDR of a new VPC (/16 to /20).")
    availability_zones: int = Field(
        default=3, ge=2, le=6, description="Zones a new VPC spans (EKS and RDS need two)."
    )
    nat_gateways: Literal["single", "per_zone"] | None = Field(
        default=None,
        description="One NAT gateway for the VPC, or one per zone (survives a zone outage). "
        "By profile: local `single`, production `per_zone`.",
    )
    vpc_id: str | None = Field(
        default=None,
        pattern=r"^vpc-[0-9a-f]{8,17}$",
        description="An existing VPC to use instead of creating one.",
    )
    private_subnet_ids: list[str] = Field(
        default_factory=list, description="With `vpc_id`: private subnets (two zones at least)."
    )
    public_subnet_ids: list[str] = Field(
        default_factory=list, description="With `vpc_id`: public subnets for the load balancer."
    )
    vpc_cidr: str | None = Field(
        default=None,
        description="With `vpc_id`: its CIDR, which NetworkPolicies open to the data services.",
    )

    @field_validator("cidr")
    @classmethod
    def _vpc_cidr_size(cls, cidr: str) -> str:
        network = _ipv4_network(cidr)
        if not 16 <= network.prefixlen <= 20:
            raise ValueError(f"{cidr!r}: a VPC CIDR must be /16 to /20")
        return str(network)

    @field_validator("private_subnet_ids", "public_subnet_ids")
    @classmethod
    def _subnet_ids(cls, ids: list[str]) -> list[str]:
        for subnet in ids:
            if not re.match(r"^subnet-[0-9a-f]{8,17}$", subnet):
                raise ValueError(f"{subnet!r} is not a subnet ID (subnet-0123abcd...)")
        return ids

    @model_validator(mode="after")
    def _existing_vpc_is_complete(self) -> AwsNetworkSpec:
        given = bool(self.private_subnet_ids or self.public_subnet_ids or self.vpc_cidr)
        if self.vpc_id is None and given:
            raise ValueError("subnet IDs and vpc_cidr describe an existing VPC: set vpc_id too")
        if self.vpc_id is not None:
            if len(self.private_subnet_ids) < 2:
                raise ValueError(
                    "an existing VPC needs private_subnet_ids in two availability zones at least"
                )
            if self.vpc_cidr is None:
                raise ValueError("an existing VPC needs vpc_cidr (NetworkPolicies open it)")
            _ipv4_network(self.vpc_cidr)
        return self


class AwsDatabaseSpec(SpecModel):
    """RDS for PostgreSQL, shared by the registry and the feature store (a database each)."""

    instance_class: str | None = Field(
        default=None,
        pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
        description="By profile: local db.t4g.micro, production db.m7g.large.",
    )
    storage_gb: int | None = Field(
        default=None, ge=20, le=65536, description="By profile: local 20, production 100."
    )
    max_storage_gb: int | None = Field(
        default=None, ge=20, le=65536, description="Storage autoscaling limit; 4x storage."
    )
    multi_az: bool | None = Field(default=None, description="By profile: production only.")
    backup_retention_days: int | None = Field(
        default=None, ge=1, le=35, description="Automated backups; by profile 1 or 14 days."
    )


class AwsRedisSpec(SpecModel):
    """ElastiCache (Valkey or Redis OSS) for the feature store's online store."""

    engine: Literal["valkey", "redis"] = Field(default="valkey", description="Cache engine.")
    node_type: str | None = Field(
        default=None,
        pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$",
        description="By profile: local cache.t4g.micro, production cache.m7g.large.",
    )
    replicas: int | None = Field(
        default=None, ge=0, le=5, description="Read replicas (failover); by profile 0 or 1."
    )


class AwsTarget(SpecModel):
    """AWS: EKS with RDS, S3 and ElastiCache, workloads reaching buckets through EKS Pod
    Identity, the same Gateway implementation as on kind behind a Network Load Balancer."""

    kind: Literal["aws"] = Field(description="Discriminator: `aws`.")
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$",
        description="AWS region; `aws:region` config when unset.",
    )
    cluster: AwsClusterSpec = Field(
        default_factory=AwsClusterSpec, description="The EKS cluster and its node groups."
    )
    network: AwsNetworkSpec = Field(
        default_factory=AwsNetworkSpec, description="The VPC (new, or an existing one)."
    )
    database: AwsDatabaseSpec = Field(
        default_factory=AwsDatabaseSpec, description="RDS for PostgreSQL."
    )
    redis: AwsRedisSpec = Field(
        default_factory=AwsRedisSpec, description="ElastiCache for the online store."
    )
    load_balancer: Literal["internet-facing", "internal"] = Field(
        default="internet-facing",
        description="Scheme of the NLB in front of the Gateway (routing.mode `gateway`).",
    )
    certificate_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$",
        description="An ACM certificate for the external host names: the NLB ends TLS on "
        "port 443 with it (the Gateway gets an HTTP listener on 443 behind it). Needs "
        "routing.tls.",
    )
    container_registry: bool = Field(
        default=True,
        description="Create an ECR repository for the runtime image (scan on push, "
        "immutable tags); output `runtime_image_repository`.",
    )
    build_runtime_image: bool = Field(
        default=True,
        description="While `runtime_image` is the unpublished default: build the runtime "
        "image (its build context written from the installed package, or `image_context`) "
        "with Docker during `pulumi up`, push it to the ECR "
        "repository and run the workloads on it by digest. Needs Docker (buildx) where "
        "`pulumi up` runs; false to push an image yourself and set `runtime_image`.",
    )
    image_context: str | None = Field(
        default=None,
        description="A Docker build context of your own for the runtime image (a folder "
        "with a Dockerfile at its root, relative to the program's folder), e.g. one "
        "`mlops-iac image context <folder>` wrote and you extended. Unset: the package's own "
        "context, written into `.mlops-iac/runtime-image` on each run.",
    )

    @model_validator(mode="after")
    def _build_needs_a_registry(self) -> AwsTarget:
        if self.build_runtime_image and not self.container_registry:
            raise ValueError(
                "build_runtime_image pushes to the stack's ECR repository: set "
                "container_registry: true, or build_runtime_image: false"
            )
        return self
