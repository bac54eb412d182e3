"""Monitoring: kube-prometheus-stack and a Pushgateway by pinned Helm releases, the stack's
alert rules and Grafana dashboards, and one drift-monitor CronJob per monitored endpoint."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_iac import charts, versions
from mlops_iac.components import dashboards, feast_config, monitoring_values
from mlops_iac.components.alert_rules import alert_groups
from mlops_iac.components.registry import ModelRegistry
from mlops_iac.components.routes import external_url, httproute_spec, route_host
from mlops_iac.components.serving_runtime import METRICS_PORT
from mlops_iac.components.training import RETRAINER_SERVICE_ACCOUNT, TrainingCluster
from mlops_iac.k8s import jobs, network, pods, resources
from mlops_iac.platforms.base import Platform, with_bucket_names
from mlops_iac.spec import DriftSpec, ResourceRequirements, StackSpec
from mlops_iac.spec.serving import registered_model_of

RELEASE = "monitoring"
"""The kube-prometheus-stack release; its Services are named after it."""
DRIFT_RESOURCES = ResourceRequirements(
    cpu="100m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"
)
EKS_API_SERVER_PORT = 443
CHECKOV_SKIP_ANNOTATION = "checkov.io/skip1"
TOKEN_NEEDED = (
    "CKV_K8S_38=the drift monitor calls the Kubernetes API to start retraining; its "
    "ServiceAccount may only get CronJobs and create or list Jobs"
)


def inference_log_location(spec: StackSpec) -> str:
    """Where endpoints' inference loggers write and drift monitors read."""
    assert spec.monitoring is not None
    return f"s3://{spec.monitoring.inference_log.bucket}/inference"


def drift_command(spec: StackSpec, monitor: DriftSpec, pushgateway: str) -> list[str]:
    """The drift monitor's command line for one monitor."""
    endpoint = next(e for e in spec.serving if e.name == monitor.endpoint)
    model_name = monitor.model_name or registered_model_of(endpoint.model)
    command = [
        "python", "-m", "mlops_iac.workloads.drift",
        f"--endpoint={monitor.endpoint}",
        f"--model-name={model_name}",
        f"--current={inference_log_location(spec)}",
        f"--method={monitor.method}",
        f"--threshold={monitor.threshold:g}",
        f"--window-hours={monitor.window_hours}",
        f"--min-samples={monitor.min_samples}",
        f"--cooldown-minutes={monitor.cooldown_minutes}",
        f"--pushgateway={pushgateway}",
    ]  # fmt: skip
    if monitor.reference != "training":
        command.append(f"--reference={monitor.reference}")
        if monitor.target:
            command.append(f"--target={monitor.target}")
    if monitor.retrain_job:
        command += [
            f"--retrain-job={monitor.retrain_job}",
            f"--namespace={spec.training_namespace}",
        ]
    return command


class Monitoring(pulumi.ComponentResource):
    """The monitoring namespace, Grafana's generated admin Secret, the kube-prometheus-stack
    and Pushgateway releases, a PrometheusRule, dashboard ConfigMaps, the NetworkPolicy that
    lets Prometheus scrape the stack, and drift-monitor CronJobs.

    Outputs: `grafana_url`, `grafana_external_url`, `prometheus_url`, `pushgateway_url`.
    """

    pushgateway: str
    """`host:port` of the Pushgateway, for batch jobs."""

    def __init__(
        self,
        name: str,
        spec: StackSpec,
        platform: Platform,
        registry: ModelRegistry | None,
        training: TrainingCluster | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:Monitoring", name, None, opts)
        monitoring = spec.monitoring
        if monitoring is None:
            raise ValueError("Monitoring needs `monitoring` in the stack spec")
        self._spec = spec
        namespace = spec.monitoring_namespace
        labels = pods.labels("mlops-iac", "monitoring", spec.name)
        child = platform.child_options(self)
        enforce = "privileged" if monitoring_values.node_exporter_enabled(spec) else "baseline"
        namespace_resource = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": namespace,
                "labels": {
                    **labels,
                    "pod-security.kubernetes.io/enforce": enforce,
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            },
            opts=child,
        )
        inside = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[namespace_resource])
        )
        password = random.RandomPassword(
            f"{name}-grafana-password", length=32, special=False, opts=inside
        )
        admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={
                "name": monitoring_values.GRAFANA_ADMIN_SECRET,
                "namespace": namespace,
                "labels": labels,
            },
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": password.result},
            opts=inside,
        )
        stack_release = k8s.helm.v3.Release(
            f"{name}-kube-prometheus-stack",
            name=RELEASE,
            **charts.KUBE_PROMETHEUS_STACK.release_args(),
            namespace=namespace,
            values=monitoring_values.kube_prometheus_values(spec),
            opts=pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(depends_on=[admin])),
        )
        k8s.helm.v3.Release(
            f"{name}-pushgateway",
            name=monitoring_values.PUSHGATEWAY_RELEASE,
            **charts.PUSHGATEWAY.release_args(),
            namespace=namespace,
            values=monitoring_values.pushgateway_values(spec),
            opts=pulumi.ResourceOptions.merge(
                inside, pulumi.ResourceOptions(depends_on=[stack_release])
            ),
        )
        platform.apis.install(charts.KUBE_PROMETHEUS_STACK.name, stack_release)
        self.pushgateway = monitoring_values.pushgateway_address(spec)
        after_crds = pulumi.ResourceOptions.merge(
            inside, pulumi.ResourceOptions(depends_on=[stack_release])
        )
        platform.apis.custom_resource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": f"{spec.name}-mlops", "namespace": namespace, "labels": labels},
            spec={"groups": alert_groups(spec)},
            opts=after_crds,
        )
        for file, dashboard in dashboards.dashboards(spec).items():
            board = file.removesuffix(".json")
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{board}",
                metadata={
                    "name": f"{spec.name}-dashboard-{board}",
                    "namespace": namespace,
                    "labels": {**labels, **dashboards.SIDECAR_LABEL},
                },
                data={file: dashboard},
                opts=inside,
            )
        resources.network_policy(
            f"{name}-scrape",
            name="metrics-from-monitoring",
            namespace=platform.namespace,
            labels=labels,
            spec=scrape_policy(namespace, metrics_ports(spec)),
            opts=platform.child_options(self),
        )
        grafana_service = f"{RELEASE}-grafana"
        expose = monitoring.grafana.ingress
        host = None
        if monitoring.grafana.enabled and expose is not None and expose.enabled:
            host = route_host(expose, spec.routing, "grafana")
            self._grafana_route(name, platform, host, grafana_service, labels, after_crds)
        self._name, self._platform = name, platform
        self._drift_added = False
        if monitoring.drift and registry is not None and training is not None:
            self.add_drift_monitors(registry, training)
        self.grafana_url = f"http://{grafana_service}.{namespace}.svc.cluster.local"
        self.grafana_external_url = external_url(host, spec.routing) if host else None
        self.prometheus_url = (
            f"http://{RELEASE}-kube-prometheus-prometheus.{namespace}.svc.cluster.local:9090"
        )
        self.register_outputs(
            {
                "grafana_url": self.grafana_url,
                "grafana_external_url": self.grafana_external_url,
                "prometheus_url": self.prometheus_url,
                "pushgateway_url": f"http://{self.pushgateway}",
            }
        )

    def _grafana_route(
        self,
        name: str,
        platform: Platform,
        host: str,
        service: str,
        labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        """An HTTPRoute beside the stack's other routes (the Gateway admits routes of its
        own namespace) to Grafana's Service, which a ReferenceGrant lets it name."""
        spec, namespace = self._spec, self._spec.monitoring_namespace
        backend = {"name": service, "namespace": namespace, "port": 80, "weight": 100}
        platform.apis.custom_resource(
            f"{name}-grafana-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata={"name": "grafana", "namespace": platform.namespace, "labels": labels},
            spec=httproute_spec(spec.routing, platform.gateway_namespace, host, [backend]),
            opts=opts,
        )
        platform.apis.custom_resource(
            f"{name}-grafana-grant",
            api_version="gateway.networking.k8s.io/v1beta1",
            kind="ReferenceGrant",
            metadata={"name": "grafana-from-routes", "namespace": namespace, "labels": labels},
            spec={
                "from": [
                    {
                        "group": "gateway.networking.k8s.io",
                        "kind": "HTTPRoute",
                        "namespace": platform.namespace,
                    }
                ],
                "to": [{"group": "", "kind": "Service", "name": service}],
            },
            opts=opts,
        )

    def add_drift_monitors(self, registry: ModelRegistry, training: TrainingCluster) -> None:
        """The spec's drift-monitor CronJobs, in the training namespace. Monitoring is
        created before the components it watches (their ServiceMonitors wait for its
        release), so a stack adds its drift monitors once the registry and training exist."""
        if self._drift_added:
            raise ValueError("drift monitors were already added")
        self._drift_added = True
        name, platform, spec = self._name, self._platform, self._spec
        assert spec.monitoring is not None
        client = training.client
        logs = platform.bucket(spec.monitoring.inference_log.bucket, client)
        identity = platform.workload_identity(
            RETRAINER_SERVICE_ACCOUNT,
            namespace=client.name,
            buckets=[logs],
            parent=self,
            service_account=RETRAINER_SERVICE_ACCOUNT,
        )
        match = pods.selector("drift-monitor", spec.name)
        labels = pods.labels("drift-monitor", "monitoring", spec.name)
        child = platform.child_options(self)
        in_training = pulumi.ResourceOptions.merge(
            child,
            pulumi.ResourceOptions(depends_on=[client.resource, *logs.ready, *training.jobs_ready]),
        )
        registry.allow_clients(
            f"{name}-drift-registry", client=client, client_labels=match, opts=child
        )
        resources.network_policy(
            f"{name}-drift-egress",
            name="drift-monitor-egress",
            namespace=client.name,
            labels=labels,
            spec=_drift_egress(spec, match),
            opts=in_training,
        )
        env = [pods.env_value("MLFLOW_TRACKING_URI", registry.tracking_uri), *logs.env()]
        env.append(pods.env_value("HOME", "/tmp"))
        for monitor in spec.monitoring.drift:
            pod = {
                "serviceAccountName": RETRAINER_SERVICE_ACCOUNT,
                "automountServiceAccountToken": True,
                "securityContext": pods.pod_security_context(versions.RUNTIME_UID),
                "containers": [
                    {
                        "name": "drift",
                        "image": platform.runtime_image,
                        "command": [
                            with_bucket_names(arg, [logs])
                            for arg in drift_command(spec, monitor, self.pushgateway)
                        ],
                        "env": env,
                        "resources": DRIFT_RESOURCES.to_kubernetes(),
                        "securityContext": pods.container_security_context(),
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }
                ],
                "volumes": [pods.scratch_volume("tmp", "1Gi")],
                "restartPolicy": "Never",
                **identity,
            }
            job_labels = {**labels, "mlops-iac.dev/endpoint": monitor.endpoint}
            k8s.batch.v1.CronJob(
                f"{name}-drift-{monitor.endpoint}",
                metadata={
                    "name": f"drift-{monitor.endpoint}",
                    "namespace": client.name,
                    "labels": job_labels,
                    "annotations": {CHECKOV_SKIP_ANNOTATION: TOKEN_NEEDED},
                },
                spec=jobs.cronjob_spec(
                    schedule=monitor.schedule,
                    time_zone="Etc/UTC",
                    suspend=False,
                    job_labels=job_labels,
                    pod_labels={**job_labels, **match, **logs.client_labels},
                    pod=pod,
                    backoff_limit=1,
                    deadline_seconds=20 * 60,
                ),
                opts=in_training,
            )


def metrics_ports(spec: StackSpec) -> list[int]:
    """Where the stack's pods serve /metrics: MLflow (on its own port), Feast's feature
    server, MLServer."""
    return sorted({spec.registry.port, feast_config.METRICS_PORT, METRICS_PORT})


def scrape_policy(monitoring_namespace: str, ports: list[int]) -> dict[str, Any]:
    """Prometheus (in the monitoring namespace) may reach the metrics ports of every pod of
    the stack's namespace, and nothing else from there."""
    return {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [network.namespace_peer(monitoring_namespace)],
                "ports": [{"protocol": "TCP", "port": port} for port in ports],
            }
        ],
    }


def _drift_egress(spec: StackSpec, match: dict[str, str]) -> dict[str, Any]:
    """Drift pods may push to the Pushgateway and call the Kubernetes API server, nothing
    else (api_server_rule)."""
    return {
        "podSelector": {"matchLabels": match},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [network.namespace_peer(spec.monitoring_namespace)],
                "ports": [{"protocol": "TCP", "port": monitoring_values.PUSHGATEWAY_PORT}],
            },
            api_server_rule(spec),
        ],
    }


def api_server_rule(spec: StackSpec) -> dict[str, Any]:
    """An egress rule to the Kubernetes API server.

    The API server is no pod, so it is allowed by address. Most CNIs (kindnet, Calico,
    Cilium) enforce NetworkPolicies on the connection after the `kubernetes` Service's
    ClusterIP has been translated to an endpoint, so the rule names the endpoints'
    addresses and port, not the ClusterIP:

    - AWS: the VPC's CIDR on 443. With private endpoint access (the stack always enables
      it) the Service's endpoints are EKS's control-plane network interfaces in the
      cluster's subnets; their addresses change when AWS replaces them (upgrades), so the
      VPC is the narrowest range that stays right without re-reading them.
    - kind and existing clusters: `target.api_server`; by default, for kind, Docker's
      default address pools (kind's network and its control-plane node are there) on 6443;
      for an existing cluster the private IPv4 ranges on 443 and 6443, which its spec
      should narrow to the cluster's own endpoints.
    """
    target = spec.target
    if target.kind == "aws":
        cidrs = [target.network.vpc_cidr or target.network.cidr]
        ports = [EKS_API_SERVER_PORT]
    else:
        cidrs, ports = list(target.api_server.cidrs), list(target.api_server.ports)
    return {
        "to": [{"ipBlock": {"cidr": cidr}} for cidr in cidrs],
        "ports": [{"protocol": "TCP", "port": port} for port in ports],
    }
