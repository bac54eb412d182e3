"""The AWS platform: the same namespace, Gateway and interfaces as on Kubernetes, backed by
EKS and managed services."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_iac import versions
from mlops_iac.k8s import network, pods, resources
from mlops_iac.k8s.apis import ClusterApis
from mlops_iac.platforms import database_roles
from mlops_iac.platforms.base import (
    BucketAccess,
    ClientNamespace,
    DatabaseConnection,
    RedisConnection,
    SecretKeyRef,
    StackNamespaceMixin,
    data_protection_options,
)
from mlops_iac.platforms.kubernetes.gateway import (
    aws_network_load_balancer,
    create_gateway,
    https_redirect,
    install_envoy_gateway,
)
from mlops_iac.spec import AwsTarget, StackSpec

from . import identity
from .cluster import EksCluster
from .data_services import (
    POSTGRES_ADMIN,
    POSTGRES_PORT,
    REDIS_PORT,
    DataContext,
    ElastiCacheRedis,
    RdsPostgres,
    S3Buckets,
)
from .network import Network
from .runtime_image import build_and_push, image_context
from .sizing import cluster_name, managed_sizes

POD_IDENTITY_AGENT = "169.254.170.23/32"
"""Where pods get their Pod Identity credentials (the agent on each node, port 80)."""
HTTPS_ANYWHERE = "0.0.0.0/0"
"""S3 (through the VPC's gateway endpoint) has public addresses: bucket clients reach 443."""


class AwsPlatform(StackNamespaceMixin, pulumi.ComponentResource):
    """VPC, EKS, the stack's namespace and Gateway, and on first use RDS, S3 and
    ElastiCache; workloads reach buckets by EKS Pod Identity, never by keys."""

    def __init__(
        self, name: str, spec: StackSpec, region: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        target = spec.target
        if not isinstance(target, AwsTarget):
            raise TypeError(f"AwsPlatform cannot deploy a {target.kind!r} target")
        build = target.build_runtime_image and spec.runtime_image == versions.RUNTIME_IMAGE
        # Checked before anything is registered: a bad context must not half-create a stack.
        context = image_context(target.image_context) if build else None
        super().__init__("mlops:index:AwsPlatform", name, None, opts)
        self._name = name
        self._spec = spec
        self._target = target
        self._region = region
        protection = spec.effective_data_protection
        sizes = managed_sizes(target, spec.profile)
        if spec.runtime_image == versions.RUNTIME_IMAGE and not build:
            pulumi.log.warn(
                f"runtime_image {spec.runtime_image} is built locally and not published: EKS "
                "nodes cannot pull it. Push it to the stack's ECR repository (output "
                "runtime_image_repository) and set mlops:runtime_image, or let the stack build "
                "it (target.build_runtime_image; README, 'AWS').",
                self,
            )
        self.cluster_name = eks_name = cluster_name(spec.name, pulumi.get_stack())
        self.aws_provider = aws.Provider(
            f"{name}-aws",
            region=region,
            default_tags={"tags": {"mlops-iac.dev/stack": spec.name, "managed-by": "pulumi"}},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws_options = pulumi.ResourceOptions(parent=self, provider=self.aws_provider)
        self.network = Network(
            f"{name}-network",
            target.network,
            region=region,
            cluster_name=eks_name,
            nat_gateways=sizes.nat_gateways,
            opts=aws_options,
        )
        net = self.network.refs
        stateful = data_protection_options(protection)
        self.cluster = EksCluster(
            f"{name}-cluster",
            target.cluster,
            cluster_name=eks_name,
            region=region,
            network=net,
            log_retention_days=sizes.log_retention_days,
            stateful=stateful,
            deletion_protection=protection == "protect",
            opts=aws_options,
        )
        self.provider = self.cluster.provider
        scoped = pulumi.ResourceOptions(parent=self, provider=self.provider)
        labels = pods.labels("mlops-iac", "platform", spec.name)
        self._labels = labels
        self.namespace_resource = resources.hardened_namespace(
            name,
            name=spec.namespace,
            labels=labels,
            opts=pulumi.ResourceOptions.merge(
                scoped, pulumi.ResourceOptions(depends_on=self.cluster.ready)
            ),
        )
        in_namespace = pulumi.ResourceOptions.merge(
            scoped, pulumi.ResourceOptions(depends_on=[self.namespace_resource])
        )
        self._children = in_namespace
        self._aws_options = aws_options
        routing = spec.routing
        self.apis = ClusterApis()
        self.gateway: k8s.apiextensions.CustomResource | None = None
        if routing.mode == "gateway" and routing.gateway_class is not None:
            implementation = install_envoy_gateway(
                name,
                routing,
                spec.name,
                self.apis,
                pulumi.ResourceOptions.merge(
                    scoped, pulumi.ResourceOptions(depends_on=self.cluster.ready)
                ),
                aws_network_load_balancer(
                    internal=target.load_balancer == "internal",
                    certificate_arn=target.certificate_arn,
                ),
            )
            self.gateway = create_gateway(
                name,
                routing,
                namespace=self.gateway_namespace,
                labels=labels,
                apis=self.apis,
                opts=pulumi.ResourceOptions.merge(
                    in_namespace, pulumi.ResourceOptions(depends_on=implementation)
                ),
                offloaded_https=target.certificate_arn is not None,
                route_namespaces=spec.route_namespaces,
            )
            if target.certificate_arn is not None:
                https_redirect(
                    name,
                    routing,
                    gateway_namespace=self.gateway_namespace,
                    labels=labels,
                    apis=self.apis,
                    opts=pulumi.ResourceOptions.merge(
                        scoped, pulumi.ResourceOptions(depends_on=[*implementation, self.gateway])
                    ),
                )
        self._data = DataContext(
            stack=spec.name,
            cluster_name=eks_name,
            namespace=spec.namespace,
            network=net,
            cluster_security_group=self.cluster.security_group_id,
            sizes=sizes,
            protection=protection,
            aws_options=aws_options,
            k8s_options=in_namespace,
        )
        self._client_labels = {
            "postgres": {"mlops-iac.dev/postgres-client": f"{spec.name}-postgres"},
            "redis": {"mlops-iac.dev/redis-client": f"{spec.name}-redis"},
            "s3": {"mlops-iac.dev/s3-client": f"{spec.name}-s3"},
        }
        vpc = [net.cidr]
        self._egress: dict[str, list[tuple[str, int, list[str]]]] = {
            "postgres": [("postgres", POSTGRES_PORT, vpc)],
            "redis": [("redis", REDIS_PORT, vpc)],
            "s3": [("s3", 443, [HTTPS_ANYWHERE]), ("pod-identity", 80, [POD_IDENTITY_AGENT])],
        }
        """Per service: the egress policies its clients get (name, port, destinations)."""
        self._egress_opened: set[tuple[str, str]] = set()
        self._postgres: RdsPostgres | None = None
        self._databases: dict[str, tuple[DatabaseConnection, pulumi.Output[str]]] = {}
        self._client_credentials: set[tuple[str, str]] = set()
        self._buckets: S3Buckets | None = None
        self._redis: ElastiCacheRedis | None = None
        self._identities: set[tuple[str, str]] = set()
        self.repository: aws.ecr.Repository | None = None
        if target.container_registry:
            self.repository = _runtime_repository(f"{name}-runtime", spec.name, aws_options)
        if context is not None:
            assert self.repository is not None  # the spec requires the registry to build
            image = build_and_push(f"{name}-runtime-image", self.repository, context, aws_options)
            self._built_runtime_image = image.ref
        self._stack_outputs: dict[str, pulumi.Input[object]] = {
            "cluster_name": self.cluster.cluster.name,
            "kubeconfig": self.cluster.kubeconfig,
            "vpc_id": net.vpc_id,
            "runtime_image_repository": (
                self.repository.repository_url if self.repository is not None else None
            ),
        }
        self.register_outputs({"namespace": spec.namespace, "cluster_name": eks_name})

    @property
    def stack_outputs(self) -> dict[str, pulumi.Input[object]]:
        """The EKS cluster's name, its kubeconfig (secret), the VPC and the ECR repository."""
        return self._stack_outputs

    def stateful_options(self) -> pulumi.ResourceOptions:
        """`protect` or `retain_on_delete` for data-holding resources, by the spec."""
        return self._data.stateful

    def _open_egress(self, service: str, namespace: str, after: pulumi.Resource) -> None:
        """Once per namespace and service: let the service's client pods leave the cluster
        for it (the namespace denies all egress by default)."""
        if (service, namespace) in self._egress_opened:
            return
        self._egress_opened.add((service, namespace))
        for policy, port, cidrs in self._egress[service]:
            resources.network_policy(
                f"{self._name}-{policy}-egress-{namespace}",
                name=f"{self._spec.name}-{policy}-egress",
                namespace=namespace,
                labels=self._labels,
                spec=network.allow_egress_to_cidrs(self._client_labels[service], port, cidrs),
                opts=pulumi.ResourceOptions.merge(
                    self._children, pulumi.ResourceOptions(depends_on=[after])
                ),
            )

    def database(self, name: str, client: ClientNamespace | None = None) -> DatabaseConnection:
        """A database and its own role on RDS, created by a Job in the stack's namespace."""
        if self._postgres is None:
            self._postgres = RdsPostgres(
                f"{self._name}-postgres", self._data, opts=pulumi.ResourceOptions(parent=self)
            )
            self._open_egress("postgres", self.namespace, self.namespace_resource)
        postgres = self._postgres
        if name not in self._databases:
            connection, password = database_roles.create_database(
                f"{self._name}-postgres-{name}",
                database=name,
                server=database_roles.ServerAdmin(
                    k8s_name=f"{self._spec.name}-postgres",
                    namespace=self.namespace,
                    host=postgres.instance.address,
                    port=POSTGRES_PORT,
                    admin_secret=postgres.admin_secret.metadata.name,
                    admin_user=POSTGRES_ADMIN,
                    client_labels=self._client_labels["postgres"],
                    stateful=self._data.stateful,
                ),
                parent=self,
                after=[postgres.instance, self.namespace_resource],
            )
            self._databases[name] = connection, password.result
        connection, password_value = self._databases[name]
        if client is None:
            return connection
        secret_name = f"{self._spec.name}-postgres-{name}-credentials"
        if (name, client.name) not in self._client_credentials:
            self._client_credentials.add((name, client.name))
            k8s.core.v1.Secret(
                f"{self._name}-postgres-{name}-client-{client.name}",
                metadata={
                    "name": secret_name,
                    "namespace": client.name,
                    "labels": pods.labels("postgresql", "database-client", secret_name),
                },
                type="Opaque",
                string_data={"username": name, "password": password_value},
                opts=pulumi.ResourceOptions.merge(
                    self._children, pulumi.ResourceOptions(depends_on=[client.resource])
                ),
            )
            self._open_egress("postgres", client.name, client.resource)
        return dataclasses.replace(connection, password=SecretKeyRef(secret_name, "password"))

    def redis(self) -> RedisConnection:
        """ElastiCache, over TLS with an AUTH token."""
        if self._redis is None:
            self._redis = ElastiCacheRedis(
                f"{self._name}-redis",
                self._data,
                self._target.redis.engine,
                self._client_labels["redis"],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self._open_egress("redis", self.namespace, self.namespace_resource)
        return self._redis.connection

    def bucket(self, name: str, client: ClientNamespace | None = None) -> BucketAccess:
        """An S3 bucket; pods reach it with the identity `workload_identity` gives them."""
        if self._buckets is None:
            self._buckets = S3Buckets(
                f"{self._name}-s3",
                self._data,
                self._region,
                self._client_labels["s3"],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self._open_egress("s3", self.namespace, self.namespace_resource)
        if client is not None:
            self._open_egress("s3", client.name, client.resource)
        return self._buckets.bucket(name)

    def workload_identity(
        self,
        name: str,
        *,
        namespace: str,
        buckets: Sequence[BucketAccess],
        parent: pulumi.Resource,
        service_account: str | None = None,
    ) -> dict[str, Any]:
        """A ServiceAccount (`name`, unless `service_account` exists already) whose Pod
        Identity role may use exactly `buckets`, and the pod fields that run as it. The
        account's API token stays unmounted: the Pod Identity webhook injects its own
        projected token. The name is the association's output, so pods are created only
        after it exists (the webhook injects credentials at pod creation only)."""
        account = service_account or name
        if (namespace, account) in self._identities:
            raise ValueError(f"workload identity {namespace}/{account} is granted twice")
        self._identities.add((namespace, account))
        pulumi_name = f"{self._name}-identity-{namespace}-{account}"
        run_as: pulumi.Input[str] = account
        after: list[pulumi.Resource] = [self.cluster.pod_identity_agent]
        if service_account is None:
            created = identity.service_account(
                pulumi_name,
                name=account,
                namespace=namespace,
                opts=self.child_options(self),
            )
            run_as = created.metadata.name
            after.append(created)
        if buckets:
            association = identity.grant_buckets(
                pulumi_name,
                cluster_name=self.cluster.cluster.name,
                namespace=namespace,
                service_account=account,
                buckets=buckets,
                aws_options=self._aws_options,
                after=after,
            )
            run_as = association.service_account
        return {"serviceAccountName": run_as}


def _runtime_repository(name: str, stack: str, opts: pulumi.ResourceOptions) -> aws.ecr.Repository:
    """ECR for the runtime image: immutable tags, scanned on push, KMS encrypted, the last
    50 images kept."""
    repository = aws.ecr.Repository(
        name,
        name=f"{stack}/runtime",
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS"}],
        force_delete=False,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )
    aws.ecr.LifecyclePolicy(
        f"{name}-lifecycle",
        repository=repository.name,
        policy=(
            '{"rules":[{"rulePriority":1,"description":"keep the last 50 images",'
            '"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":50},'
            '"action":{"type":"expire"}}]}'
        ),
        opts=opts,
    )
    return repository
