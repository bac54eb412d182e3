"""What AWS would answer, for the recording mocks: IDs, ARNs, endpoints and lookups that
look like the real ones and are the same for the same program (no AWS call, no
`pulumi_aws` import)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .mocks import autoname, digest

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
"""The region lookups answer with when the program names none."""

_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
}


def region_of(inputs: dict[str, Any]) -> str:
    """The resource's region input, else the default one."""
    return str(inputs.get("region") or REGION)


def built_image(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What docker-build answers for an image it built and pushed: its digest, and `ref`,
    the first tag pinned by that digest."""
    digest = "sha256:" + hashlib.sha256(f"image:{name}:{inputs.get('tags')}".encode()).hexdigest()
    tags = inputs.get("tags") or [autoname(name)]
    repository = str(tags[0]).rsplit(":", 1)[0]
    return digest, {**inputs, "digest": digest, "ref": f"{repository}@{digest}"}


def new_resource(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ID and outputs AWS would give a new resource of type `typ`."""
    outputs = dict(inputs)
    region = region_of(inputs)
    short = digest(typ, name, length=17)
    service = typ.split(":")[1].split("/")[0]
    resource_id = f"{_ID_PREFIXES[typ]}-{short}" if typ in _ID_PREFIXES else autoname(name)
    arn = f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{typ.rsplit(':', 1)[-1].lower()}/{resource_id}"
    if typ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name + '-')}{digest(name)}"
        resource_id, arn = bucket, f"arn:aws:s3:::{bucket}"
        outputs |= {
            "bucket": bucket,
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
            "region": region,
        }
    elif typ == "aws:iam/role:Role":
        role_name = inputs.get("name") or autoname(name)
        resource_id, arn = role_name, f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
        outputs |= {"name": role_name, "uniqueId": "AROA" + digest(name, length=17).upper()}
    elif typ == "aws:eks/cluster:Cluster":
        cluster = inputs.get("name") or autoname(name)
        resource_id, arn = cluster, f"arn:aws:eks:{region}:{ACCOUNT_ID}:cluster/{cluster}"
        oidc_id = digest("oidc", cluster, length=32).upper()
        vpc_config = dict(inputs.get("vpcConfig") or {})
        vpc_config |= {
            "clusterSecurityGroupId": f"sg-{digest('cluster-sg', cluster, length=17)}",
            "vpcId": f"vpc-{digest('vpc', cluster, length=17)}",
        }
        ca = base64.b64encode(f"mock CA of {cluster}".encode()).decode()
        outputs |= {
            "name": cluster,
            "endpoint": f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
            "certificateAuthority": {"data": ca},
            "identities": [
                {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}
            ],
            "vpcConfig": vpc_config,
            "status": "ACTIVE",
            "platformVersion": "eks.1",
        }
    elif typ == "aws:eks/nodeGroup:NodeGroup":
        group = inputs.get("nodeGroupName") or autoname(name)
        uuid = digest("nodegroup", name, length=32)
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
        cluster = inputs.get("clusterName", "cluster")
        resource_id = f"{cluster}:{group}"
        arn = f"arn:aws:eks:{region}:{ACCOUNT_ID}:nodegroup/{cluster}/{group}/{uuid}"
        outputs |= {
            "status": "ACTIVE",
            "nodeGroupName": group,
            # EKS names the node group's Auto Scaling group eks-<node group>-<uuid>.
            "resources": [{"autoscalingGroups": [{"name": f"eks-{group}-{uuid}"}]}],
        }
    elif typ == "aws:rds/instance:Instance":
        identifier = inputs.get("identifier") or autoname(name)
        address = f"{identifier}.{digest('rds', name, length=12)}.{region}.rds.amazonaws.com"
        port = int(inputs.get("port", 5432))
        resource_id = identifier
        arn = f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{identifier}"
        outputs |= {
            "identifier": identifier,
            "address": address,
            "endpoint": f"{address}:{port}",
            "port": port,
            "resourceId": "db-" + digest(name, length=26).upper(),
        }
    elif typ in ("aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup"):
        resource_id = inputs.get("name") or autoname(name)
        outputs["name"] = resource_id
    elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        group = inputs.get("replicationGroupId") or autoname(name)[:40]
        suffix = f"{digest('cache', name, length=6)}.{region.replace('-', '')[:6]}"
        resource_id = group
        arn = f"arn:aws:elasticache:{region}:{ACCOUNT_ID}:replicationgroup:{group}"
        outputs |= {
            "replicationGroupId": group,
            "primaryEndpointAddress": f"master.{group}.{suffix}.cache.amazonaws.com",
            "readerEndpointAddress": f"replica.{group}.{suffix}.cache.amazonaws.com",
        }
    elif typ == "aws:elasticache/subnetGroup:SubnetGroup":
        resource_id = inputs.get("name") or autoname(name)
        outputs["name"] = resource_id
    elif typ == "aws:ecr/repository:Repository":
        repository = inputs.get("name") or autoname(name)
        resource_id = repository
        arn = f"arn:aws:ecr:{region}:{ACCOUNT_ID}:repository/{repository}"
        outputs |= {
            "name": repository,
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{repository}",
            "registryId": ACCOUNT_ID,
        }
    elif typ == "aws:kms/key:Key":
        resource_id = digest("kms", name, length=32)
        arn = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{resource_id}"
        outputs["keyId"] = resource_id
    elif typ == "aws:cloudwatch/logGroup:LogGroup":
        resource_id = inputs.get("name") or autoname(name)
        arn = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{resource_id}"
    elif typ == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
        resource_id = "a-" + digest(name, length=17)
        outputs["associationId"] = resource_id
    elif typ == "aws:ec2/eip:Eip":
        number = int(digest(name, length=4), 16)
        outputs["publicIp"] = f"203.0.113.{number % 254 + 1}"
    outputs.setdefault("arn", arn)
    return resource_id, outputs


def call(token: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to one AWS data-source call, or None for a token this does not know."""
    region = str(args.get("region") or REGION)
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock",
            "userId": "AIDA" + digest("caller", length=17).upper(),
            "id": ACCOUNT_ID,
        }
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        names = [f"{region}{zone}" for zone in "abc"]
        return {
            "names": names,
            "zoneIds": [f"euw1-az{i + 1}" for i in range(len(names))],
            "groupNames": [region],
            "id": region,
            "state": args.get("state"),
        }
    if token == "aws:index/getRegion:getRegion":
        return {
            "name": region,
            "region": region,
            "id": region,
            "endpoint": f"ec2.{region}.amazonaws.com",
        }
    if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
        registry = f"{args.get('registryId') or ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com"
        password = "mock-ecr-token-" + digest("ecr", registry, length=32)
        return {
            "userName": "AWS",
            "password": password,
            "authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
            "proxyEndpoint": f"https://{registry}",
            "expiresAt": "2030-01-01T00:00:00Z",
            "id": registry,
        }
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    return None
