"""The Kubernetes platform: kind and any existing cluster.

Owns the provider, the namespace (Pod Security `restricted`, default-deny network), the
Gateway (when asked for), and creates Postgres and the object store lazily, on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac.k8s import pods, resources
from mlops_iac.k8s.apis import ClusterApis
from mlops_iac.platforms.base import (
    BucketAccess,
    ClientNamespace,
    DatabaseConnection,
    RedisConnection,
    StackNamespaceMixin,
    data_protection_options,
)
from mlops_iac.spec import KindTarget, KubernetesTarget, ResourceRequirements, StackSpec

from .gateway import create_gateway, install_envoy_gateway
from .object_store import InClusterObjectStore
from .postgres import InClusterPostgres
from .redis import InClusterRedis
from .single_node import ServerSettings


class KubernetesPlatform(StackNamespaceMixin, pulumi.ComponentResource):
    """Kubernetes provider, namespace and in-cluster data services for one stack."""

    def __init__(
        self, name: str, spec: StackSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:index:KubernetesPlatform", name, None, opts)
        target = spec.target
        if not isinstance(target, KindTarget | KubernetesTarget):
            raise TypeError(f"KubernetesPlatform cannot deploy a {target.kind!r} target")
        self._name = name
        self._spec = spec
        self._target = target
        self.provider = k8s.Provider(
            f"{name}-provider", opts=pulumi.ResourceOptions(parent=self), **provider_args(target)
        )
        scoped = pulumi.ResourceOptions(parent=self, provider=self.provider)
        labels = pods.labels("mlops-iac", "platform", spec.name)
        # The namespace holds the data services: deleting it would delete them with it.
        self.namespace_resource = resources.hardened_namespace(
            name,
            name=spec.namespace,
            labels=labels,
            opts=scoped,
            namespace_opts=self.stateful_options(),
        )
        in_namespace = pulumi.ResourceOptions.merge(
            scoped, pulumi.ResourceOptions(depends_on=[self.namespace_resource])
        )
        self.apis = ClusterApis(target.preinstalled)
        self.gateway: k8s.apiextensions.CustomResource | None = None
        routing = spec.routing
        if routing.mode == "gateway" and routing.gateway_class is not None:
            implementation: list[pulumi.Resource] = []
            if target.install_gateway:
                implementation = install_envoy_gateway(name, routing, spec.name, self.apis, scoped)
            self.gateway = create_gateway(
                name,
                routing,
                namespace=self.gateway_namespace,
                labels=labels,
                apis=self.apis,
                opts=pulumi.ResourceOptions.merge(
                    in_namespace, pulumi.ResourceOptions(depends_on=implementation)
                ),
                route_namespaces=spec.route_namespaces,
            )
        self._children = in_namespace
        self._postgres: InClusterPostgres | None = None
        self._object_store: InClusterObjectStore | None = None
        self._redis: InClusterRedis | None = None
        self.register_outputs({"namespace": spec.namespace})

    @property
    def stack_outputs(self) -> dict[str, pulumi.Input[object]]:
        """None: the cluster existed before the stack."""
        return {}

    def stateful_options(self) -> pulumi.ResourceOptions:
        """`protect` or `retain_on_delete` for data-holding resources, by the spec."""
        return data_protection_options(self._spec.effective_data_protection)

    def _server_settings(
        self,
        server: str,
        storage: str,
        storage_class: str | None,
        resources: ResourceRequirements,
    ) -> ServerSettings:
        return ServerSettings(
            k8s_name=f"{self._spec.name}-{server}",
            namespace=self.namespace,
            storage=storage,
            storage_class=storage_class,
            resources=resources,
            stateful=self.stateful_options(),
        )

    def database(self, name: str, client: ClientNamespace | None = None) -> DatabaseConnection:
        """A database with its own role on the in-cluster Postgres."""
        if self._postgres is None:
            defaults = self._spec.defaults
            self._postgres = InClusterPostgres(
                f"{self._name}-postgres",
                self._server_settings(
                    "postgres",
                    self._target.postgres.storage or defaults.postgres_storage,
                    self._target.postgres.storage_class,
                    defaults.postgres_resources,
                ),
                opts=self._children,
            )
        return self._postgres.database(name, client)

    def redis(self) -> RedisConnection:
        """The in-cluster Redis."""
        if self._redis is None:
            defaults = self._spec.defaults
            self._redis = InClusterRedis(
                f"{self._name}-redis",
                self._server_settings(
                    "redis", defaults.redis_storage, None, defaults.redis_resources
                ),
                opts=self._children,
            )
        return self._redis.connection

    def bucket(self, name: str, client: ClientNamespace | None = None) -> BucketAccess:
        """A bucket on the in-cluster object store; with `client`, its pods get a copy of
        the store's credentials in their namespace and a network path to the store."""
        if self._object_store is None:
            defaults = self._spec.defaults
            self._object_store = InClusterObjectStore(
                f"{self._name}-s3",
                self._server_settings(
                    "s3",
                    self._target.object_store.storage or defaults.object_store_storage,
                    self._target.object_store.storage_class,
                    defaults.object_store_resources,
                ),
                opts=self._children,
            )
        return self._object_store.bucket(name, client)

    def workload_identity(
        self,
        name: str,
        *,
        namespace: str,
        buckets: Sequence[BucketAccess],
        parent: pulumi.Resource,
        service_account: str | None = None,
    ) -> dict[str, Any]:
        """Nothing: the in-cluster store's buckets come with static credentials (a Secret)."""
        return {}


def provider_args(target: KindTarget | KubernetesTarget) -> dict[str, str]:
    """The provider's kubeconfig and context for a kind or an existing cluster."""
    if isinstance(target, KindTarget):
        return {"context": target.context}
    args = {}
    if target.kubeconfig:
        args["kubeconfig"] = target.kubeconfig
    if target.context:
        args["context"] = target.context
    return args
