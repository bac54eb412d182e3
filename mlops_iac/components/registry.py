"""ModelRegistry: the MLflow tracking server and model registry."""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac import versions
from mlops_iac.components.routes import create_route, external_url, route_host
from mlops_iac.k8s import network, pods, resources
from mlops_iac.platforms.base import BucketAccess, ClientNamespace, DatabaseConnection, Platform
from mlops_iac.spec import RegistrySpec, RoutingSpec, StackSpec

DB_ENV_PREFIX = "MLFLOW_DB"
BACKEND_STORE_ENV = "MLFLOW_BACKEND_STORE_URI"
"""MLflow reads `--backend-store-uri` from this variable: the URI holds the password, so it
is built here (from the `MLFLOW_DB_*` variables before it) and never in argv."""
METRICS_DIR = "/tmp/prometheus-metrics"
MIGRATE_COMMAND = [
    "python",
    "-c",
    "import os; from mlflow.db import upgrade; "
    f"upgrade.main([os.environ['{BACKEND_STORE_ENV}']], prog_name='mlflow db upgrade')",
]
"""`mlflow db upgrade <url>` with the URL taken from the environment (the CLI has no
variable for it, and its argv would show the password)."""
POLICY_NAME_MAX = 63 - len("-ingress")
"""`allow_flow` appends `-ingress` / `-egress`; a NetworkPolicy name is at most 63 chars."""


def allowed_hosts(spec: RegistrySpec, namespace: str, external_host: str | None) -> list[str]:
    """Host header values MLflow 3 accepts: every in-cluster name, the route, and extras.

    The Host header carries the port, so each in-cluster name is allowed with any port.
    The flag replaces MLflow's defaults, so the private ranges that pod IPs come from are
    kept (Prometheus scrapes `/metrics` by pod IP); `/health` is never host-checked.
    """
    service = spec.service_name
    hosts = [
        f"{service}",
        f"{service}:*",
        f"{service}.{namespace}:*",
        f"{service}.{namespace}.svc:*",
        f"{service}.{namespace}.svc.cluster.local:*",
        "localhost:*",
        "127.0.0.1:*",
        "10.*",
        "172.*",
        "192.168.*",
    ]
    if external_host:
        hosts += [external_host, f"{external_host}:*"]
    return hosts + [host for host in spec.allowed_hosts if host not in hosts]


def allowed_origins(external_host: str | None, routing: RoutingSpec) -> list[str]:
    """Browser origins that may change things (POST, PATCH, DELETE) besides localhost: the
    route's external URL (`https` when the gateway ends TLS, where port 80 only redirects,
    else `http`). MLflow's security middleware refuses such requests from any other origin,
    and browsers send `Origin` even on same-origin POSTs, so without it the UI behind the
    Gateway cannot create or edit anything."""
    return [external_url(external_host, routing)] if external_host else []


def server_args(
    spec: RegistrySpec,
    *,
    workers: int,
    artifacts_uri: str,
    hosts: list[str],
    origins: list[str] | None = None,
) -> list[str]:
    """The `mlflow server` command line. The backend store (it holds the database
    password) comes from `MLFLOW_BACKEND_STORE_URI` in the environment, not from argv."""
    args = [
        "mlflow",
        "server",
        "--host=0.0.0.0",
        f"--port={spec.port}",
        f"--artifacts-destination={artifacts_uri}",
        "--serve-artifacts",
        f"--workers={workers}",
        f"--allowed-hosts={','.join(hosts)}",
    ]
    if origins:
        args.append(f"--cors-allowed-origins={','.join(origins)}")
    return [*args, f"--expose-prometheus={METRICS_DIR}"]


def server_env(database: DatabaseConnection) -> list[dict[str, Any]]:
    """The server's own variables: the database's (`MLFLOW_DB_*`, the password from its
    Secret), then the backend-store URI built from them by the kubelet's `$(VAR)` expansion
    (which sees only earlier entries), and the job runner off: with a SQL backend MLflow
    3.17 otherwise starts a job runner and huey consumers (~1.1 GiB with one worker, over
    the local profile's limit; ~0.4 GiB without)."""
    return [
        *database.env(DB_ENV_PREFIX),
        pods.env_value(BACKEND_STORE_ENV, database.sqlalchemy_url(DB_ENV_PREFIX)),
        pods.env_value("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false"),
    ]


def client_policy_name(server: str, client_namespace: str, client_labels: dict[str, str]) -> str:
    """`<server>-from-<client namespace>-<client app>`: one name per server, namespace and
    kind of client (the trainer and the drift monitor share a namespace). Names over
    `POLICY_NAME_MAX` are cut and end in a hash of the whole name, so they stay distinct."""
    role = (
        client_labels.get("app.kubernetes.io/name")
        or hashlib.sha256(repr(sorted(client_labels.items())).encode()).hexdigest()[:8]
    )
    name = f"{server}-from-{client_namespace}-{role}"
    if len(name) <= POLICY_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: POLICY_NAME_MAX - len(digest) - 1].rstrip('-')}-{digest}"


class ModelRegistry(pulumi.ComponentResource):
    """MLflow tracking server + model registry: Postgres backend, artifacts in the object store.

    Outputs: `tracking_uri` (in-cluster), `external_url` (when exposed), `artifact_bucket`.
    """

    tracking_uri: pulumi.Output[str]
    """In-cluster tracking URI, e.g. `http://mlflow.mlops.svc.cluster.local:5000`."""
    external_url: pulumi.Output[str | None]
    """External URL through the Gateway (or Ingress), or None when not exposed."""
    artifact_bucket: pulumi.Output[str]
    """Bucket holding the registry's artifacts."""
    pod_selector: dict[str, str]
    """Labels that select the server's pods (for clients' egress NetworkPolicies)."""
    port: int
    """The server's port."""

    def __init__(
        self,
        name: str,
        spec: StackSpec,
        platform: Platform,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:ModelRegistry", name, None, opts)
        registry = spec.registry
        defaults = spec.defaults
        namespace = platform.namespace
        service_name = registry.service_name
        labels = pods.labels("mlflow", "model-registry", service_name, versions.MLFLOW_VERSION)
        match = pods.selector("mlflow", service_name)
        self.pod_selector = match
        self.port = registry.port
        self._namespace = namespace
        self._labels = labels
        child = platform.child_options(self)

        database = platform.database(registry.database)
        bucket = platform.bucket(registry.artifact_bucket)
        identity = platform.workload_identity(
            service_name, namespace=namespace, buckets=[bucket], parent=self
        )
        expose = registry.ingress if registry.ingress and registry.ingress.enabled else None
        host = route_host(expose, spec.routing, service_name) if expose else None
        replicas = registry.replicas or defaults.registry_replicas
        args = pulumi.Output.from_input(bucket.uri()).apply(
            lambda uri: server_args(
                registry,
                workers=registry.workers or defaults.registry_workers,
                artifacts_uri=uri,
                hosts=allowed_hosts(registry, namespace, host),
                origins=allowed_origins(host, spec.routing),
            )
        )
        pod_labels = {**labels, **database.client_labels, **bucket.client_labels}
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": service_name, "namespace": namespace, "labels": labels},
            spec={
                "replicas": replicas,
                "selector": {"matchLabels": match},
                "strategy": pods.ZERO_DOWNTIME_ROLLOUT,
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": _pod_spec(
                        registry,
                        image=registry.image or versions.MLFLOW_IMAGE,
                        args=args,
                        database=database,
                        bucket=bucket,
                        identity=identity,
                        resources=(
                            registry.resources or defaults.registry_resources
                        ).to_kubernetes(),
                        spread=defaults.spread_across_nodes and replicas > 1,
                        match=match,
                    ),
                },
            },
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[*database.ready, *bucket.ready])
            ),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": service_name, "namespace": namespace, "labels": labels},
            spec={
                "selector": match,
                "ports": [{"name": "http", "port": registry.port, "targetPort": "http"}],
            },
            opts=child,
        )
        resources.disruption_budget(
            f"{name}-pdb",
            metadata={"name": service_name, "namespace": namespace, "labels": labels},
            match=match,
            replicas=replicas,
            opts=child,
        )
        resources.network_policy(
            f"{name}-allow-ingress",
            name=f"{service_name}-allow-ingress",
            namespace=namespace,
            labels=labels,
            spec=network.allow_ingress(
                match,
                registry.port,
                network.stack_and_proxy_peers(namespace, spec.routing.proxy_namespace),
            ),
            opts=child,
        )
        if spec.monitoring is not None:
            resources.service_monitor(
                f"{name}-servicemonitor",
                apis=platform.apis,
                metadata={"name": service_name, "namespace": namespace, "labels": labels},
                match=match,
                port="http",
                opts=child,
            )
        if host is not None:
            create_route(
                name,
                routing=spec.routing,
                gateway_namespace=platform.gateway_namespace,
                namespace=namespace,
                host=host,
                service=service_name,
                port=registry.port,
                labels=labels,
                apis=platform.apis,
                opts=child,
            )
        self.tracking_uri = self.service.metadata.apply(
            lambda meta: (
                f"http://{meta['name']}.{meta['namespace']}.svc.cluster.local:{registry.port}"
            )
        )
        self.external_url = pulumi.Output.from_input(
            external_url(host, spec.routing) if host else None
        )
        self.artifact_bucket = pulumi.Output.from_input(bucket.bucket)
        self.register_outputs(
            {
                "tracking_uri": self.tracking_uri,
                "external_url": self.external_url,
                "artifact_bucket": self.artifact_bucket,
            }
        )

    def allow_clients(
        self,
        pulumi_name: str,
        *,
        client: ClientNamespace,
        client_labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        """Open the server's port to pods labelled `client_labels` in another namespace (the
        stack's own namespace is always allowed). The policies are named by
        `client_policy_name`, so each kind of client in one namespace gets its own."""
        resources.allow_flow(
            pulumi_name,
            name=client_policy_name(
                self.pod_selector["app.kubernetes.io/instance"], client.name, client_labels
            ),
            labels=self._labels,
            server_namespace=self._namespace,
            server_labels=self.pod_selector,
            client_namespace=client.name,
            client_labels=client_labels,
            port=self.port,
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[client.resource])
            ),
        )


def _pod_spec(
    registry: RegistrySpec,
    *,
    image: str,
    args: pulumi.Input[list[str]],
    database: DatabaseConnection,
    bucket: BucketAccess,
    identity: dict[str, Any],
    resources: dict[str, Any],
    spread: bool,
    match: dict[str, str],
) -> dict[str, Any]:
    env = [
        *server_env(database),
        *bucket.env(),
        pods.env_value("HOME", "/tmp"),
        pods.env_value("PROMETHEUS_MULTIPROC_DIR", METRICS_DIR),
    ]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    health = "/health"
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": pods.pod_security_context(versions.MLFLOW_UID),
        "initContainers": [
            {
                "name": "migrate-database",
                "image": image,
                "command": MIGRATE_COMMAND,
                "env": env,
                "resources": resources,
                "securityContext": pods.container_security_context(),
                "volumeMounts": mounts,
            }
        ],
        "containers": [
            {
                "name": "mlflow",
                "image": image,
                "command": args,
                "env": env,
                "ports": [{"name": "http", "containerPort": registry.port}],
                "resources": resources,
                "securityContext": pods.container_security_context(),
                "readinessProbe": pods.http_probe(health, "http", period=5),
                "livenessProbe": pods.http_probe(health, "http", period=15, failures=4),
                "startupProbe": pods.http_probe(health, "http", period=5, failures=60),
                "volumeMounts": mounts,
            }
        ],
        "volumes": [pods.scratch_volume("tmp", "1Gi")],
    }
    spec.update(identity)
    if spread:
        spec["topologySpreadConstraints"] = pods.spread_across_nodes(match)
    return spec
