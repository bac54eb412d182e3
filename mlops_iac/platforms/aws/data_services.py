"""Managed data services behind the platform interfaces: RDS for PostgreSQL, S3 buckets and
ElastiCache, each reachable only from the cluster, encrypted, and guarded by the profile's
data protection."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_iac import versions
from mlops_iac.k8s import pods
from mlops_iac.platforms.base import (
    BucketAccess,
    RedisConnection,
    SecretKeyRef,
    data_protection_options,
)
from mlops_iac.spec import DataProtection

from . import policies
from .network import NetworkRefs
from .sizing import ManagedSizes, bucket_prefix

POSTGRES_PORT = 5432
REDIS_PORT = 6379
POSTGRES_ADMIN = "postgres"


@dataclass(frozen=True)
class DataContext:
    """What every managed data service needs: where it lives and who may reach it."""

    stack: str
    """The spec's name: prefixes names."""
    cluster_name: str
    namespace: str
    network: NetworkRefs
    cluster_security_group: pulumi.Input[str]
    sizes: ManagedSizes
    protection: DataProtection
    aws_options: pulumi.ResourceOptions
    """Parent and AWS provider."""
    k8s_options: pulumi.ResourceOptions
    """Parent, the cluster's provider, after the stack's namespace."""

    @property
    def stateful(self) -> pulumi.ResourceOptions:
        """`protect` or `retain_on_delete` by the spec's data protection."""
        return data_protection_options(self.protection)

    def keep(self, opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        """`opts` plus the data protection."""
        return pulumi.ResourceOptions.merge(opts, self.stateful)

    def within(self, component: pulumi.Resource) -> DataContext:
        """This context for the children of `component`."""
        child = pulumi.ResourceOptions(parent=component)
        return dataclasses.replace(
            self,
            aws_options=pulumi.ResourceOptions.merge(self.aws_options, child),
            k8s_options=pulumi.ResourceOptions.merge(self.k8s_options, child),
        )


def _security_group(
    name: str, context: DataContext, port: int, description: str
) -> aws.ec2.SecurityGroup:
    """A security group that lets the cluster's nodes (and so its pods) reach `port`, and
    nothing else in."""
    group = aws.ec2.SecurityGroup(
        f"{name}-sg",
        vpc_id=context.network.vpc_id,
        description=description,
        tags={"Name": f"{context.cluster_name}-{name.rsplit('-', 1)[-1]}"},
        opts=context.aws_options,
    )
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-from-cluster",
        security_group_id=group.id,
        referenced_security_group_id=context.cluster_security_group,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description="From the EKS cluster's nodes and pods",
        opts=context.aws_options,
    )
    return group


class RdsPostgres(pulumi.ComponentResource):
    """RDS for PostgreSQL: encrypted, private, TLS enforced, backed up, security group open
    only to the cluster; its admin password generated, kept as a Pulumi secret and in a
    Kubernetes Secret for the database-creation Jobs."""

    instance: aws.rds.Instance
    admin_secret: k8s.core.v1.Secret

    def __init__(self, name: str, context: DataContext, opts: pulumi.ResourceOptions) -> None:
        super().__init__("mlops:aws:RdsPostgres", name, None, opts)
        sizes = context.sizes
        context = context.within(self)
        aws_child = context.aws_options
        group = _security_group(name, context, POSTGRES_PORT, "PostgreSQL from the EKS cluster")
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets", subnet_ids=context.network.private_subnet_ids, opts=aws_child
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-parameters",
            family=versions.RDS_POSTGRES_FAMILY,
            parameters=[{"name": "rds.force_ssl", "value": "1"}],
            opts=aws_child,
        )
        password = random.RandomPassword(
            f"{name}-admin-password", length=32, special=False, opts=context.keep(aws_child)
        )
        final_snapshot = context.protection != "none"
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            engine="postgres",
            engine_version=versions.RDS_POSTGRES_VERSION,
            instance_class=sizes.db_instance_class,
            allocated_storage=sizes.db_storage_gb,
            max_allocated_storage=sizes.db_max_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            username=POSTGRES_ADMIN,
            password=password.result,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=sizes.db_multi_az,
            backup_retention_period=sizes.db_backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=context.protection == "protect",
            skip_final_snapshot=not final_snapshot,
            final_snapshot_identifier=f"{context.cluster_name}-postgres-final"
            if final_snapshot
            else None,
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            opts=pulumi.ResourceOptions.merge(
                context.keep(aws_child),
                pulumi.ResourceOptions(additional_secret_outputs=["password"]),
            ),
        )
        self.admin_secret = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata={
                "name": f"{context.stack}-postgres-admin",
                "namespace": context.namespace,
                "labels": pods.labels("postgresql", "database", f"{context.stack}-postgres"),
            },
            type="Opaque",
            string_data={"POSTGRES_PASSWORD": password.result},
            opts=context.k8s_options,
        )
        self.register_outputs({"address": self.instance.address})


class S3Buckets(pulumi.ComponentResource):
    """The stack's buckets: private (all four public access blocks), owner-enforced, KMS
    encrypted, versioned, TLS-only, old versions expired; real names unique per account."""

    def __init__(
        self,
        name: str,
        context: DataContext,
        region: str,
        client_labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__("mlops:aws:S3Buckets", name, None, opts)
        self._name = name
        self._context = context.within(self)
        self._region = region
        self._client_labels = client_labels
        self._child = self._context.aws_options
        self._buckets: dict[str, BucketAccess] = {}
        self.register_outputs({})

    def bucket(self, logical: str) -> BucketAccess:
        """The bucket the spec calls `logical` (created on first use)."""
        if logical not in self._buckets:
            self._buckets[logical] = self._create(logical)
        return self._buckets[logical]

    def _create(self, logical: str) -> BucketAccess:
        name, child, context = f"{self._name}-{logical}", self._child, self._context
        bucket = aws.s3.Bucket(
            name,
            bucket_prefix=bucket_prefix(context.stack, logical),
            force_destroy=False,
            opts=context.keep(child),
        )
        after_bucket = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[bucket])
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=after_bucket,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=after_bucket,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"},
                    "bucket_key_enabled": True,
                }
            ],
            opts=after_bucket,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=after_bucket,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": context.sizes.noncurrent_version_days
                    },
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[versioning])
            ),
        )
        tls_only = aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(policies.tls_only_bucket),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[public_access])
            ),
        )
        return BucketAccess(
            name=logical,
            bucket=bucket.bucket,
            endpoint_url=None,
            region=self._region,
            access_key_id=None,
            secret_access_key=None,
            client_labels=dict(self._client_labels),
            ready=[bucket, public_access, encryption, tls_only],
            arn=bucket.arn,
        )


class ElastiCacheRedis(pulumi.ComponentResource):
    """ElastiCache (Valkey by default) for the online store: TLS in transit, encrypted at
    rest, an AUTH token generated as a Pulumi secret, failover with replicas."""

    connection: RedisConnection

    def __init__(
        self,
        name: str,
        context: DataContext,
        engine: str,
        client_labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__("mlops:aws:ElastiCacheRedis", name, None, opts)
        sizes = context.sizes
        context = context.within(self)
        aws_child = context.aws_options
        group = _security_group(name, context, REDIS_PORT, "Redis from the EKS cluster")
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description=f"Private subnets of {context.cluster_name}",
            subnet_ids=context.network.private_subnet_ids,
            opts=aws_child,
        )
        token = random.RandomPassword(
            f"{name}-auth-token", length=64, special=False, opts=context.keep(aws_child)
        )
        engine_version, parameter_group = versions.ELASTICACHE_ENGINES[engine]
        failover = sizes.cache_replicas > 0
        self.replication_group = aws.elasticache.ReplicationGroup(
            f"{name}-group",
            description=f"Feast online store of {context.cluster_name}",
            engine=engine,
            engine_version=engine_version,
            parameter_group_name=parameter_group,
            node_type=sizes.cache_node_type,
            num_cache_clusters=1 + sizes.cache_replicas,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            port=REDIS_PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            auth_token=token.result,
            snapshot_retention_limit=sizes.cache_snapshot_retention_days,
            auto_minor_version_upgrade=True,
            opts=pulumi.ResourceOptions.merge(
                context.keep(aws_child),
                pulumi.ResourceOptions(additional_secret_outputs=["authToken"]),
            ),
        )
        k8s_name = f"{context.stack}-redis"
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={
                "name": f"{k8s_name}-credentials",
                "namespace": context.namespace,
                "labels": pods.labels("redis", "online-store", k8s_name),
            },
            type="Opaque",
            string_data={"REDIS_PASSWORD": token.result},
            opts=context.k8s_options,
        )
        self.connection = RedisConnection(
            host=self.replication_group.primary_endpoint_address,
            port=REDIS_PORT,
            password=SecretKeyRef(secret.metadata.name, "REDIS_PASSWORD"),
            tls=True,
            client_labels=dict(client_labels),
            ready=[self.replication_group, secret],
        )
        self.register_outputs({"host": self.replication_group.primary_endpoint_address})
