"""FeatureStore: Feast with its registry in Postgres, Redis online, Parquet offline on the
object store, `feast apply` per repo version, scheduled materialization, a feature server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac import versions
from mlops_iac.components import feast_config
from mlops_iac.components.feature_repo import FeatureRepo
from mlops_iac.components.routes import create_route, external_url, route_host
from mlops_iac.k8s import jobs, network, pods, resources
from mlops_iac.platforms.base import BucketAccess, ClientNamespace, Platform
from mlops_iac.spec import StackSpec

SERVER_NAME = "feast"
"""The feature server's Deployment and Service (`<stack>-feast`)."""


@dataclass(frozen=True)
class FeastClient:
    """What a pod of another namespace needs to use the feature store's registry and
    offline store (not the online store): the repo volume, env vars and pod labels."""

    repo_volume: dict[str, Any]
    env: list[dict[str, Any]]
    client_labels: dict[str, str]
    ready: list[pulumi.Resource]
    buckets: list[BucketAccess]
    """The offline store's bucket, which the client pods' identity must be able to read."""


class FeatureStore(pulumi.ComponentResource):
    """The repo as an immutable ConfigMap named by its content hash, the apply Job (same
    hash: an unchanged repo does not re-run it), the materialization CronJob, and the feature
    server (Deployment, Service, PodDisruptionBudget, NetworkPolicy, optional route and
    ServiceMonitor).

    Outputs: `url` (in-cluster feature server), `external_url`, `repo_digest`.
    """

    url: pulumi.Output[str]
    """In-cluster URL of the feature server, e.g. `http://demo-feast.mlops.svc.cluster.local:6566`."""
    external_url: pulumi.Output[str | None]
    """URL through the Gateway (or Ingress), or None when not exposed."""
    pod_selector: dict[str, str]
    """Labels that select the feature server's pods (for clients' egress NetworkPolicies)."""
    port: int
    """The feature server's port."""

    def __init__(
        self,
        name: str,
        spec: StackSpec,
        platform: Platform,
        repo: FeatureRepo,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:FeatureStore", name, None, opts)
        store = spec.feature_store
        if store is None:
            raise ValueError("FeatureStore needs `feature_store` in the stack spec")
        self._spec, self._store = spec, store
        self._namespace = namespace = platform.namespace
        self._gateway_namespace = platform.gateway_namespace
        self._child = child = platform.child_options(self)
        base = f"{spec.name}-{SERVER_NAME}"
        self._platform = platform
        database = platform.database(store.database)
        redis = platform.redis()
        bucket = platform.bucket(store.bucket)
        config = feast_config.feature_store_yaml(spec.feast_project, redis_tls=redis.tls)
        digest = repo.digest(config)
        self._identity = platform.workload_identity(
            base, namespace=namespace, buckets=[bucket], parent=self
        )
        self._env = [
            *database.env(feast_config.DB_ENV),
            *redis.env(feast_config.REDIS_ENV),
            *_offline_env(bucket),
        ]
        self._client_labels = {
            **database.client_labels,
            **redis.client_labels,
            **bucket.client_labels,
        }
        self._image = store.image or platform.runtime_image
        self._name = name
        self._repo_meta: dict[str, Any] = {
            "name": f"{base}-repo-{digest}",
            "labels": pods.labels("feast", "feature-repo", base, versions.FEAST_VERSION),
        }
        self._repo_data = repo.configmap_data(config)
        repo_map = self._repo_configmap(f"{name}-repo", namespace, child)
        self._repo_volume = {
            "name": "repo",
            "configMap": {"name": repo_map.metadata.name, "items": repo.volume_items()},
        }
        ready = [*database.ready, *redis.ready, *bucket.ready, repo_map]
        apply_job = self._apply_job(name, base, digest, ready)
        self._materialize_cronjob(name, base, apply_job)
        self._server(name, base, [*ready, apply_job])
        self.repo_digest = digest
        self.register_outputs(
            {"url": self.url, "external_url": self.external_url, "repo_digest": digest}
        )

    def _repo_configmap(
        self, pulumi_name: str, namespace: str, opts: pulumi.ResourceOptions
    ) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            pulumi_name,
            metadata={**self._repo_meta, "namespace": namespace},
            immutable=True,
            data=self._repo_data,
            opts=opts,
        )

    def client_access(self, client: ClientNamespace) -> FeastClient:
        """Let pods of `client` read the registry and the offline store (historical
        features, e.g. for training): the repo ConfigMap, the database and bucket
        credentials copied there, and network paths to Postgres and the object store."""
        store = self._store
        database = self._platform.database(store.database, client)
        bucket = self._platform.bucket(store.bucket, client)
        repo_map = self._repo_configmap(
            f"{self._name}-repo-{client.name}",
            client.name,
            pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[client.resource])
            ),
        )
        return FeastClient(
            repo_volume={**self._repo_volume, "name": "feast-repo"},
            env=[*database.env(feast_config.DB_ENV), *_offline_env(bucket)],
            client_labels={**database.client_labels, **bucket.client_labels},
            ready=[*database.ready, *bucket.ready, repo_map],
            buckets=[bucket],
        )

    def _container(
        self, name: str, command: list[str], resources: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "name": name,
            "image": self._image,
            "command": command,
            "env": self._env,
            "resources": resources,
            "securityContext": pods.container_security_context(),
            "volumeMounts": [
                {"name": "repo", "mountPath": feast_config.REPO_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }

    def _pod(self, container: dict[str, Any], restart: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "automountServiceAccountToken": False,
            "securityContext": pods.pod_security_context(versions.RUNTIME_UID),
            "containers": [container],
            "volumes": [self._repo_volume, pods.scratch_volume("tmp", "1Gi")],
        }
        spec.update(self._identity)
        if restart:
            spec["restartPolicy"] = restart
        return spec

    def _job_resources(self) -> dict[str, Any]:
        store = self._store
        return (
            store.materialize.resources or self._spec.defaults.feast_job_resources
        ).to_kubernetes()

    def _apply_job(
        self, name: str, base: str, digest: str, ready: list[pulumi.Resource]
    ) -> k8s.batch.v1.Job:
        labels = pods.labels("feast", "feature-apply", base, versions.FEAST_VERSION)
        container = self._container("apply", feast_config.apply_command(), self._job_resources())
        return k8s.batch.v1.Job(
            f"{name}-apply",
            metadata={
                "name": f"{base}-apply-{digest}",
                "namespace": self._namespace,
                "labels": labels,
            },
            spec={
                "backoffLimit": 4,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {"labels": {**labels, **self._client_labels}},
                    "spec": self._pod(container, "OnFailure"),
                },
            },
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=ready)
            ),
        )

    def _materialize_cronjob(self, name: str, base: str, apply_job: k8s.batch.v1.Job) -> None:
        materialize = self._store.materialize
        labels = pods.labels("feast", "materialize", base, versions.FEAST_VERSION)
        container = self._container(
            "materialize", feast_config.materialize_command(), self._job_resources()
        )
        k8s.batch.v1.CronJob(
            f"{name}-materialize",
            metadata={
                "name": f"{base}-materialize",
                "namespace": self._namespace,
                "labels": labels,
            },
            spec=jobs.cronjob_spec(
                schedule=materialize.schedule,
                time_zone=materialize.time_zone,
                suspend=False,
                job_labels=labels,
                pod_labels={**labels, **self._client_labels},
                pod=self._pod(container, "Never"),
                backoff_limit=2,
                deadline_seconds=materialize.deadline_minutes * 60,
            ),
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[apply_job])
            ),
        )

    def _server(self, name: str, base: str, ready: list[pulumi.Resource]) -> None:
        spec, server = self._spec, self._store.server
        metrics = server.service_monitor or spec.monitoring is not None
        defaults = spec.defaults
        labels = pods.labels("feast", "feature-server", base, versions.FEAST_VERSION)
        match = pods.selector("feast", base)
        self.pod_selector, self.port = match, server.port
        replicas = server.replicas or defaults.feature_server_replicas
        resources_ = (server.resources or defaults.feature_server_resources).to_kubernetes()
        container = self._container(
            "feature-server",
            feast_config.serve_command(server.port, server.workers, metrics),
            resources_,
        )
        ports = [{"name": "http", "containerPort": server.port}]
        if metrics:
            ports.append({"name": "metrics", "containerPort": feast_config.METRICS_PORT})
        container |= {
            "ports": ports,
            "readinessProbe": pods.http_probe("/health", "http", period=5),
            "livenessProbe": pods.http_probe("/health", "http", period=15, failures=4),
            "startupProbe": pods.http_probe("/health", "http", period=5, failures=60),
        }
        pod = self._pod(container, None)
        if defaults.spread_across_nodes and replicas > 1:
            pod["topologySpreadConstraints"] = pods.spread_across_nodes(match)
        metadata = {"name": base, "namespace": self._namespace, "labels": labels}
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata,
            spec={
                "replicas": replicas,
                "selector": {"matchLabels": match},
                "strategy": pods.ZERO_DOWNTIME_ROLLOUT,
                "template": {
                    "metadata": {"labels": {**labels, **self._client_labels}},
                    "spec": pod,
                },
            },
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=ready)
            ),
        )
        service_ports = [{"name": "http", "port": server.port, "targetPort": "http"}]
        if metrics:
            service_ports.append(
                {"name": "metrics", "port": feast_config.METRICS_PORT, "targetPort": "metrics"}
            )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata,
            spec={"selector": match, "ports": service_ports},
            opts=self._child,
        )
        resources.disruption_budget(
            f"{name}-pdb", metadata=metadata, match=match, replicas=replicas, opts=self._child
        )
        routing = spec.routing
        resources.network_policy(
            f"{name}-allow-ingress",
            name=f"{base}-allow-ingress",
            namespace=self._namespace,
            labels=labels,
            spec=network.allow_ingress(
                match,
                server.port,
                network.stack_and_proxy_peers(self._namespace, routing.proxy_namespace),
            ),
            opts=self._child,
        )
        if metrics:
            resources.service_monitor(
                f"{name}-servicemonitor",
                apis=self._platform.apis,
                metadata=metadata,
                match=match,
                opts=self._child,
            )
        expose = server.ingress if server.ingress and server.ingress.enabled else None
        host = route_host(expose, routing, base) if expose else None
        if host is not None:
            create_route(
                name,
                routing=routing,
                gateway_namespace=self._gateway_namespace,
                namespace=self._namespace,
                host=host,
                service=base,
                port=server.port,
                labels=labels,
                apis=self._platform.apis,
                opts=self._child,
            )
        self.url = service.metadata.apply(
            lambda meta: (
                f"http://{meta['name']}.{meta['namespace']}.svc.cluster.local:{server.port}"
            )
        )
        self.external_url = pulumi.Output.from_input(external_url(host, routing) if host else None)


def _offline_env(bucket: BucketAccess) -> list[dict[str, Any]]:
    """The object store's env, where the offline store's Parquet files are, and what a
    read-only Python process needs."""
    env = [
        *bucket.env(),
        pods.env_value(feast_config.DATA_ENV, bucket.uri().apply(lambda u: u.rstrip("/"))),
        pods.env_value("HOME", "/tmp"),
        pods.env_value("PYTHONDONTWRITEBYTECODE", "1"),
    ]
    if bucket.endpoint_url is not None:
        env.append(pods.env_value(feast_config.S3_ENDPOINT_ENV, bucket.endpoint_url))
    return env
