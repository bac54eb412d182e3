"""The VPC: public subnets (load balancer, NAT) and private subnets (nodes, RDS,
ElastiCache) across zones, with an S3 gateway endpoint so bucket traffic stays in AWS; or an
existing VPC given by its subnets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from mlops_iac.spec import AwsNetworkSpec

from .sizing import subnet_plan

ELB_ROLE_TAG = "kubernetes.io/role/elb"
INTERNAL_ELB_ROLE_TAG = "kubernetes.io/role/internal-elb"


@dataclass(frozen=True)
class NetworkRefs:
    """What the cluster and the data services need of the network."""

    vpc_id: pulumi.Input[str]
    cidr: str
    private_subnet_ids: list[pulumi.Input[str]]
    public_subnet_ids: list[pulumi.Input[str]]


class Network(pulumi.ComponentResource):
    """A new VPC across `availability_zones` zones, or the given existing one."""

    refs: NetworkRefs

    def __init__(
        self,
        name: str,
        spec: AwsNetworkSpec,
        *,
        region: str,
        cluster_name: str,
        nat_gateways: str,
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__("mlops:aws:Network", name, None, opts)
        if spec.vpc_id is not None:
            assert spec.vpc_cidr is not None  # the spec requires it with vpc_id
            self.refs = NetworkRefs(
                spec.vpc_id,
                spec.vpc_cidr,
                list(spec.private_subnet_ids),
                list(spec.public_subnet_ids),
            )
            self.register_outputs({"vpc_id": spec.vpc_id})
            return
        child = pulumi.ResourceOptions(parent=self)
        cluster_tag = {f"kubernetes.io/cluster/{cluster_name}": "shared"}
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOptions(parent=self)
        ).names
        plan = subnet_plan(spec.cidr, spec.availability_zones)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=spec.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": cluster_name},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": cluster_name}, opts=child
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-routes",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags={"Name": f"{cluster_name}-public"},
            opts=child,
        )

        def subnet(side: str, index: int, cidr: str, role_tag: str) -> aws.ec2.Subnet:
            return aws.ec2.Subnet(
                f"{name}-{side}-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones.apply(lambda names: names[index]),
                map_public_ip_on_launch=False,
                tags={"Name": f"{cluster_name}-{side}-{index}", role_tag: "1", **cluster_tag},
                opts=child,
            )

        public = []
        for index in range(spec.availability_zones):
            public.append(subnet("public", index, plan.public[index], ELB_ROLE_TAG))
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}",
                subnet_id=public[-1].id,
                route_table_id=public_routes.id,
                opts=child,
            )
        nat_count = spec.availability_zones if nat_gateways == "per_zone" else 1
        nats = []
        for index in range(nat_count):
            address = aws.ec2.Eip(
                f"{name}-nat-{index}",
                domain="vpc",
                tags={"Name": f"{cluster_name}-nat-{index}"},
                opts=child,
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=address.id,
                    subnet_id=public[index].id,
                    tags={"Name": f"{cluster_name}-nat-{index}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                )
            )
        private, private_route_tables = [], []
        for index in range(spec.availability_zones):
            private.append(subnet("private", index, plan.private[index], INTERNAL_ELB_ROLE_TAG))
            routes = aws.ec2.RouteTable(
                f"{name}-private-routes-{index}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[index % nat_count].id}],
                tags={"Name": f"{cluster_name}-private-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                subnet_id=private[-1].id,
                route_table_id=routes.id,
                opts=child,
            )
            private_route_tables.append(routes)
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in private_route_tables],
            tags={"Name": f"{cluster_name}-s3"},
            opts=child,
        )
        self.refs = NetworkRefs(vpc.id, spec.cidr, [s.id for s in private], [s.id for s in public])
        self.register_outputs({"vpc_id": vpc.id})
