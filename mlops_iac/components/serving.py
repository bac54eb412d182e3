"""ServingEndpoint: an HTTP inference service for a registry model, with an optional canary."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac import versions
from mlops_iac.components.feature_store import FeatureStore
from mlops_iac.components.platform_reference import RegistryReference
from mlops_iac.components.registry import ModelRegistry
from mlops_iac.components.rollout_specs import (
    IGNORED_ROUTE_FIELDS,
    IGNORED_SERVICE_FIELDS,
    MODEL_VERSION_ANNOTATION,
    MODEL_VERSION_ENV,
    POD_HASH_LABEL,
    ROLLOUT_API,
    ROUTE_RULES_ANNOTATION,
    analysis_template_name,
    analysis_template_spec,
    canary_service_name,
    metrics_service_name,
    rollout_spec,
    rules_digest,
)
from mlops_iac.components.routes import (
    create_route,
    external_url,
    httproute_spec,
    route_host,
)
from mlops_iac.components.serving_runtime import (
    INFERENCE_LOGGER_PORT,
    METRICS_PORT,
    MODEL_REVISION_ANNOTATION,
    builtin_container,
    fetch_model_container,
    inference_logger_container,
    mlflow_serve_container,
    mlserver_container,
    model_hint,
)
from mlops_iac.k8s import network, pods, resources
from mlops_iac.platforms.base import Platform, with_bucket_names
from mlops_iac.spec import AutoscalingSpec, EndpointSpec, ExposeSpec, StackSpec
from mlops_iac.spec.serving import registered_model_of

ENDPOINT_LABEL = "mlops-iac.dev/endpoint"
"""Carried by the stable and the challenger pods of one endpoint."""
ENDPOINT_SERVICE_LABEL = "__meta_kubernetes_service_label_mlops_iac_dev_endpoint"
"""ENDPOINT_LABEL of a scraped Service, as Prometheus' Kubernetes discovery names it."""
FEATURE_SERVER_ENV = "FEATURE_SERVER_URL"
"""Set on the model server's container when the endpoint asks for the feature server."""
METRICS_RUNTIMES = ("builtin", "mlserver")
"""Runtimes whose pods serve Prometheus metrics (on METRICS_PORT); a `kserve` predictor runs
the builtin server too, but KServe's Service has no metrics port."""
KSERVE_PREDICTOR_PORT = 80
"""KServe's `<name>-predictor` Service port in Standard mode."""
AWAIT_PODS_CREATED = {"pulumi.com/waitFor": "jsonpath={.status.updatedReplicas}"}
"""What `pulumi up` waits for on an endpoint's Deployments (stable and challenger): that the
Deployment controller has seen this spec and the API server admitted at least one pod of it,
not that the pods are ready.

Why: endpoints are created in the same first `up` as the registry, before any model is
trained, so their pods wait in `Init` (mlops_iac.workloads.model_fetch) until a model is
promoted. The provider's default await wants every replica ready and failed that `up` after
10 minutes. With `pulumi.com/waitFor` the provider runs only this JSONPath condition, which
it checks against the current generation (`status.observedGeneration`); `updatedReplicas` is
absent until a pod of the new template exists.

Trade-off: a rollout whose pods never become ready (no model yet, a model that does not
load, a crash at start) no longer fails `up`. What still guards it: `maxUnavailable: 0` and
the readiness probe keep the old pods serving until new ones are ready (a bad rollout stalls,
it does not take the endpoint down); the PodDisruptionBudget keeps evictions from doing it
either; the Deployment's `Progressing` condition turns False after progressDeadlineSeconds
(`kubectl rollout status deployment/<name>` reports it), and the init container's log says
what it waits for. A pod the API server refuses (Pod Security admission, a ResourceQuota)
still fails `up`, at the provider's timeout. Not `pulumi.com/skipAwait`: on a Deployment it
also stops `pulumi destroy` from waiting for the deletion (a provider legacy), and it would
drop that admission check. One thing it does not change: `pulumi refresh` still runs the
provider's own readiness check (only skipAwait turns that off) and reports a Deployment whose
pods still wait as not initialized."""
AWAIT_SEEN = {"pulumi.com/waitFor": "jsonpath={.status.observedGeneration}"}
"""What `pulumi up` waits for on a rolled endpoint's Deployment, which has no pods of its own
(the Rollout runs them): that the Deployment controller has seen it."""


def backend_refs(
    service: str, challenger: str | None, port: int, weight: int
) -> list[dict[str, Any]]:
    """HTTPRoute backends: stable gets 100 - weight, the challenger `weight`."""
    refs = [{"name": service, "port": port, "weight": 100 - weight if challenger else 100}]
    if challenger:
        refs.append({"name": challenger, "port": port, "weight": weight})
    return refs


def mirror_filter(challenger: str, port: int) -> dict[str, Any]:
    """Copy every request to the challenger; its answers are dropped."""
    return {
        "type": "RequestMirror",
        "requestMirror": {"backendRef": {"name": challenger, "port": port}},
    }


class ServingEndpoint(pulumi.ComponentResource):
    """One registry model served by the stack's own model server (default), MLServer or
    `mlflow models serve` (or KServe, which then owns the Deployment): Deployment
    (zero-downtime rolling updates), Service, optional HorizontalPodAutoscaler,
    PodDisruptionBudget, NetworkPolicies, and an external route; with a canary, a challenger
    Deployment and Service and a weighted (or mirroring) HTTPRoute.

    Outputs: `url` (in-cluster), `external_url`, `challenger_url`.
    """

    url: pulumi.Output[str]
    """In-cluster URL of the stable model, e.g. `http://churn.mlops.svc.cluster.local:8080`."""
    external_url: pulumi.Output[str | None]
    """URL through the stack's Gateway (canary split applies here), or None."""
    challenger_url: pulumi.Output[str | None]
    """In-cluster URL of the challenger alone, or None without a canary."""

    def __init__(
        self,
        name: str,
        endpoint: EndpointSpec,
        *,
        stack: StackSpec,
        platform: Platform,
        registry: ModelRegistry | RegistryReference,
        features: FeatureStore | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:ServingEndpoint", name, None, opts)
        if endpoint.feature_server and features is None:
            raise ValueError(f"endpoint {endpoint.name!r} wants the feature server: pass it")
        self._endpoint = endpoint
        self._stack = stack
        self._platform = platform
        self._registry = registry
        self._features = features if endpoint.feature_server else None
        self._child = platform.child_options(self)
        monitoring = stack.monitoring
        self._log = None
        if monitoring and monitoring.inference_log.enabled and endpoint.runtime != "kserve":
            self._log = monitoring.inference_log
            self._log_bucket = platform.bucket(monitoring.inference_log.bucket)
            self._identity = platform.workload_identity(
                endpoint.name,
                namespace=platform.namespace,
                buckets=[self._log_bucket],
                parent=self,
            )
            self._child = pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=self._log_bucket.ready)
            )
        self._monitored = endpoint.service_monitor or (
            monitoring is not None and endpoint.runtime in METRICS_RUNTIMES
        )
        namespace = platform.namespace
        service = endpoint.name
        canary = endpoint.canary

        self._model_server(name, service, endpoint.model, stable=True)
        challenger = None
        if canary is not None:
            challenger = f"{service}-challenger"
            self._model_server(f"{name}-challenger", challenger, canary.model, stable=False)
        self._network_policies(name, service)

        expose = endpoint.ingress if endpoint.ingress and endpoint.ingress.enabled else None
        host = None
        if expose is not None or canary is not None or endpoint.rollout is not None:
            host = route_host(expose or ExposeSpec(), stack.routing, service)
            self._route(name, service, challenger, host)

        self.url = pulumi.Output.from_input(_service_url(*self._backend(service), namespace))
        self.external_url = pulumi.Output.from_input(
            external_url(host, stack.routing) if host else None
        )
        self.challenger_url = pulumi.Output.from_input(
            _service_url(*self._backend(challenger), namespace) if challenger else None
        )
        self.register_outputs(
            {
                "url": self.url,
                "external_url": self.external_url,
                "challenger_url": self.challenger_url,
            }
        )

    def _model_server(self, name: str, service: str, model_uri: str, *, stable: bool) -> None:
        endpoint, defaults = self._endpoint, self._stack.defaults
        namespace = self._platform.namespace
        role = "stable" if stable else "challenger"
        labels = {
            **pods.labels("model-server", "serving", service, versions.MLFLOW_VERSION),
            ENDPOINT_LABEL: endpoint.name,
            "mlops-iac.dev/role": role,
        }
        match = pods.selector("model-server", service)
        autoscaling = endpoint.autoscaling if stable else None
        if stable:
            replicas = endpoint.replicas or defaults.serving_replicas
        else:
            replicas = endpoint.canary.replicas if endpoint.canary else 1
        floor = autoscaling.min if autoscaling else replicas
        rollout = endpoint.rollout if stable else None
        template_metadata: dict[str, Any] = {"labels": labels}
        if endpoint.model_revision:
            template_metadata["annotations"] = {MODEL_REVISION_ANNOTATION: endpoint.model_revision}
        pod_spec: dict[str, Any] = {
            "automountServiceAccountToken": False,
            "securityContext": pods.pod_security_context(versions.RUNTIME_UID),
            **self._containers(model_uri, pinned=rollout is not None),
        }
        if self._features is not None:
            for container in pod_spec["containers"]:
                container["env"] = [
                    *container["env"],
                    pods.env_value(FEATURE_SERVER_ENV, self._features.url),
                ]
        if self._log is not None:
            pod_spec["containers"].append(
                inference_logger_container(
                    image=endpoint.image or self._platform.runtime_image,
                    endpoint=endpoint.name,
                    role=role,
                    upstream_port=endpoint.port,
                    log=self._log,
                    location=with_bucket_names(
                        f"s3://{self._log.bucket}/inference", [self._log_bucket]
                    ),
                    bucket_env=self._log_bucket.env(),
                )
            )
            template_metadata["labels"] = {**labels, **self._log_bucket.client_labels}
            pod_spec.update(self._identity)
        if defaults.spread_across_nodes and floor > 1:
            pod_spec["topologySpreadConstraints"] = pods.spread_across_nodes(match)
        metadata = {"name": service, "namespace": namespace, "labels": labels}
        if endpoint.runtime == "kserve":
            self._inference_service(
                name, metadata, template_metadata, pod_spec, replicas, autoscaling
            )
        elif rollout is not None:
            self._deployment(name, metadata, match, template_metadata, pod_spec, 0, pinned=True)
            self._rolled_services(name, metadata, match)
            self._rollout(name, metadata, match, None if autoscaling else replicas)
            if autoscaling is not None:
                self._autoscaler(name, metadata, autoscaling, ROLLOUT_API, "Rollout")
        else:
            self._deployment(
                name,
                metadata,
                match,
                template_metadata,
                pod_spec,
                None if autoscaling else replicas,
            )
            self._service(name, metadata, match)
            if autoscaling is not None:
                self._autoscaler(name, metadata, autoscaling)
        resources.disruption_budget(
            f"{name}-pdb", metadata=metadata, match=match, replicas=floor, opts=self._child
        )

    def _deployment(
        self,
        name: str,
        metadata: dict[str, Any],
        match: dict[str, str],
        template_metadata: dict[str, Any],
        pod_spec: dict[str, Any],
        replicas: int | None,
        *,
        pinned: bool = False,
    ) -> None:
        """`replicas` None leaves the count to an autoscaler (or every update would reset
        the scale it chose). `up` waits for the pods to exist, not to be ready
        (AWAIT_PODS_CREATED). `pinned`: the pod template of a Rollout, at 0 replicas, whose
        model-version annotation belongs to the promotion watcher (a key Pulumi never sets, so
        server-side apply leaves it alone)."""
        await_ = AWAIT_SEEN if pinned else AWAIT_PODS_CREATED
        metadata = {**metadata, "annotations": dict(await_)}
        deployment_spec: dict[str, Any] = {
            "selector": {"matchLabels": match},
            "strategy": pods.ZERO_DOWNTIME_ROLLOUT,
            "template": {"metadata": template_metadata, "spec": pod_spec},
        }
        if replicas is not None:
            deployment_spec["replicas"] = replicas
        k8s.apps.v1.Deployment(
            f"{name}-deployment", metadata=metadata, spec=deployment_spec, opts=self._child
        )

    def _http_port(self) -> dict[str, Any]:
        target = "logged" if self._log is not None else "http"
        return {"name": "http", "port": self._endpoint.port, "targetPort": target}

    def _service(self, name: str, metadata: dict[str, Any], match: dict[str, str]) -> None:
        ports = [self._http_port()]
        if self._endpoint.runtime in METRICS_RUNTIMES:
            ports.append({"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"})
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata,
            spec={"selector": match, "ports": ports},
            opts=self._child,
        )
        if self._monitored:
            resources.service_monitor(
                f"{name}-servicemonitor",
                apis=self._platform.apis,
                metadata=metadata,
                match=match,
                opts=self._child,
            )

    def _rolled_services(self, name: str, metadata: dict[str, Any], match: dict[str, str]) -> None:
        """A rolled endpoint's Services: the stable one (the endpoint's name) and the canary
        one, whose selectors Argo Rollouts narrows to one revision's pods (which Pulumi then
        leaves to it: IGNORED_SERVICE_FIELDS), and a headless one over every pod that
        Prometheus scrapes, each series labelled with its pod's revision (the analysis
        selects the new one by it)."""
        service = metadata["name"]
        selector_is_theirs = pulumi.ResourceOptions.merge(
            self._child, pulumi.ResourceOptions(ignore_changes=IGNORED_SERVICE_FIELDS)
        )
        for pulumi_name, service_name in (
            (f"{name}-service", service),
            (f"{name}-canary-service", canary_service_name(service)),
        ):
            k8s.core.v1.Service(
                pulumi_name,
                metadata={**metadata, "name": service_name},
                spec={"selector": match, "ports": [self._http_port()]},
                opts=selector_is_theirs,
            )
        scraped = {**metadata["labels"], "mlops-iac.dev/metrics": "true"}
        k8s.core.v1.Service(
            f"{name}-metrics-service",
            metadata={**metadata, "name": metrics_service_name(service), "labels": scraped},
            spec={
                "clusterIP": "None",
                "selector": match,
                "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"}],
            },
            opts=self._child,
        )
        if self._monitored:
            resources.service_monitor(
                f"{name}-servicemonitor",
                apis=self._platform.apis,
                metadata={**metadata, "name": metrics_service_name(service)},
                match={**match, "mlops-iac.dev/metrics": "true"},
                opts=self._child,
                pod_target_labels=[POD_HASH_LABEL],
                # series say `service="<endpoint>"`, as every other endpoint's do (the alert
                # rules and the dashboard group by it), not the headless Service's name
                relabelings=[
                    {
                        "sourceLabels": [ENDPOINT_SERVICE_LABEL],
                        "targetLabel": "service",
                        "action": "replace",
                    }
                ],
            )

    def _rollout(
        self,
        name: str,
        metadata: dict[str, Any],
        match: dict[str, str],
        replicas: int | None,
    ) -> None:
        """The Rollout that runs the endpoint's pods from its Deployment, and the
        AnalysisTemplate that judges each of its steps."""
        rollout = self._endpoint.rollout
        assert rollout is not None
        service = metadata["name"]
        apis = self._platform.apis
        if rollout.analysis is not None:
            apis.custom_resource(
                f"{name}-analysis",
                api_version=ROLLOUT_API,
                kind="AnalysisTemplate",
                metadata={**metadata, "name": analysis_template_name(service)},
                spec=analysis_template_spec(self._stack, self._endpoint, rollout.analysis),
                opts=self._child,
            )
        apis.custom_resource(
            f"{name}-rollout",
            api_version=ROLLOUT_API,
            kind="Rollout",
            metadata=metadata,
            spec=rollout_spec(
                rollout,
                namespace=self._platform.namespace,
                deployment=service,
                service=service,
                route=service,
                match=match,
                replicas=replicas,
            ),
            opts=self._child,
        )

    def _autoscaler(
        self,
        name: str,
        metadata: dict[str, Any],
        autoscaling: AutoscalingSpec,
        api_version: str = "apps/v1",
        kind: str = "Deployment",
    ) -> None:
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=metadata,
            spec={
                "scaleTargetRef": {
                    "apiVersion": api_version,
                    "kind": kind,
                    "name": metadata["name"],
                },
                "minReplicas": autoscaling.min,
                "maxReplicas": autoscaling.max,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": autoscaling.target_cpu,
                            },
                        },
                    }
                ],
            },
            opts=self._child,
        )

    def _inference_service(
        self,
        name: str,
        metadata: dict[str, Any],
        template_metadata: dict[str, Any],
        pod_spec: dict[str, Any],
        replicas: int,
        autoscaling: AutoscalingSpec | None,
    ) -> None:
        """KServe `Standard` mode: KServe makes the Deployment, the `<name>-predictor`
        Service and the HPA from this; the pod is the same as the builtin runtime's."""
        predictor: dict[str, Any] = {
            **pod_spec,
            "labels": template_metadata["labels"],
            "minReplicas": autoscaling.min if autoscaling else replicas,
            "maxReplicas": autoscaling.max if autoscaling else replicas,
            "deploymentStrategy": pods.ZERO_DOWNTIME_ROLLOUT,
        }
        if "annotations" in template_metadata:
            predictor["annotations"] = template_metadata["annotations"]
        if autoscaling:
            predictor |= {"scaleMetric": "cpu", "scaleTarget": autoscaling.target_cpu}
        self._platform.apis.custom_resource(
            f"{name}-inferenceservice",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            metadata={
                **metadata,
                "annotations": {
                    "serving.kserve.io/deploymentMode": "Standard",
                    "serving.kserve.io/autoscalerClass": "hpa",
                },
            },
            spec={"predictor": predictor},
            opts=self._child,
        )

    def _backend(self, service: str) -> tuple[str, int]:
        """The Service that answers for `service`, and its port."""
        if self._endpoint.runtime == "kserve":
            return f"{service}-predictor", KSERVE_PREDICTOR_PORT
        return service, self._endpoint.port

    def _containers(self, model_uri: str, *, pinned: bool = False) -> dict[str, Any]:
        """The pod's containers and volumes for the endpoint's runtime; `pinned`: the
        fetch-model container serves the version the pod template's MODEL_VERSION_ANNOTATION
        names, once the promotion watcher has written it."""
        endpoint, defaults = self._endpoint, self._stack.defaults
        image = endpoint.image or self._platform.runtime_image
        resources = (endpoint.resources or defaults.serving_resources).to_kubernetes()
        tracking_uri = self._registry.tracking_uri
        hint = self._model_hint(model_uri)
        if endpoint.runtime == "mlflow":
            container = mlflow_serve_container(
                image=image,
                model_uri=model_uri,
                tracking_uri=tracking_uri,
                port=endpoint.port,
                workers=endpoint.workers or defaults.serving_workers,
                resources=resources,
            )
            wait = fetch_model_container(
                image=image,
                model_uri=model_uri,
                tracking_uri=tracking_uri,
                resources=resources,
                hint=hint,
                download=False,
            )
            return {
                "initContainers": [wait],
                "containers": [container],
                "volumes": [pods.scratch_volume("tmp", "2Gi")],
            }
        if endpoint.runtime == "mlserver":
            server = mlserver_container(
                image=image, model_name=endpoint.name, port=endpoint.port, resources=resources
            )
        else:
            server = builtin_container(
                image=image,
                model_name=endpoint.name,
                port=endpoint.port,
                workers=endpoint.workers or defaults.serving_workers,
                resources=resources,
            )
        if endpoint.runtime == "kserve":
            server["name"] = "kserve-container"  # KServe looks for its predictor by this name
        fetch = fetch_model_container(
            image=image,
            model_uri=model_uri,
            tracking_uri=tracking_uri,
            resources=resources,
            hint=hint,
        )
        if pinned:
            annotation = f"metadata.annotations['{MODEL_VERSION_ANNOTATION}']"
            fetch["env"] = [
                *fetch["env"],
                {"name": MODEL_VERSION_ENV, "valueFrom": {"fieldRef": {"fieldPath": annotation}}},
            ]
        return {
            "initContainers": [fetch],
            "containers": [server],
            "volumes": [pods.scratch_volume("tmp", "1Gi"), pods.scratch_volume("models", "2Gi")],
        }

    def _model_hint(self, model_uri: str) -> str:
        """What the init container tells a user to do while `model_uri` does not exist: the
        stack's training jobs for that model. (Renaming such a job changes the pod template,
        so it rolls the endpoint's pods, without downtime.)"""
        model = registered_model_of(model_uri)
        training = self._stack.training.jobs if self._stack.training else []
        jobs = [job.name for job in training if job.registered_model == model]
        return model_hint(model_uri, jobs, pulumi.get_stack())

    def _network_policies(self, name: str, service: str) -> None:
        namespace, routing = self._platform.namespace, self._stack.routing
        endpoint_pods = {ENDPOINT_LABEL: self._endpoint.name}
        metadata_labels = {**pods.labels("model-server", "serving", service), **endpoint_pods}
        resources.network_policy(
            f"{name}-allow-ingress",
            name=f"{service}-allow-ingress",
            namespace=namespace,
            labels=metadata_labels,
            spec=network.allow_ingress(
                endpoint_pods,
                INFERENCE_LOGGER_PORT if self._log is not None else self._endpoint.port,
                network.stack_and_proxy_peers(namespace, routing.proxy_namespace),
            ),
            opts=self._child,
        )
        servers = []
        if isinstance(self._registry, ModelRegistry):  # else the platform stack opened it
            servers.append(("registry", self._registry.port, self._registry.pod_selector))
        if self._features is not None:
            servers.append(("feature-server", self._features.port, self._features.pod_selector))
        for server, port, selector in servers:
            resources.network_policy(
                f"{name}-allow-{server}",
                name=f"{service}-allow-{server}",
                namespace=namespace,
                labels=metadata_labels,
                spec=network.allow_egress(endpoint_pods, port, [network.pods_peer(selector)]),
                opts=self._child,
            )

    def _route(self, name: str, service: str, challenger: str | None, host: str) -> None:
        endpoint, routing = self._endpoint, self._stack.routing
        labels = {**pods.labels("model-server", "serving", service), ENDPOINT_LABEL: service}
        canary = endpoint.canary
        stable, port = self._backend(service)
        if endpoint.rollout is None and (canary is None or challenger is None):
            create_route(
                name,
                routing=routing,
                gateway_namespace=self._platform.gateway_namespace,
                namespace=self._platform.namespace,
                host=host,
                service=stable,
                port=port,
                labels=labels,
                apis=self._platform.apis,
                opts=self._child,
                route_name=service,
            )
            return
        metadata: dict[str, Any] = {
            "name": service,
            "namespace": self._platform.namespace,
            "labels": labels,
        }
        opts = self._child
        filters = None
        if endpoint.rollout is not None:
            backends = backend_refs(stable, canary_service_name(stable), port, 0)
        else:
            assert canary is not None and challenger is not None
            other = self._backend(challenger)[0]
            if canary.mode == "shadow":
                backends = backend_refs(stable, None, port, 0)
                filters = [mirror_filter(other, port)]
            else:
                backends = backend_refs(stable, other, port, canary.weight)
        spec = httproute_spec(routing, self._platform.gateway_namespace, host, backends, filters)
        if endpoint.rollout is not None:
            # Argo Rollouts' Gateway API plugin weighs the two backends; once it has, the rules
            # are its own (IGNORED_ROUTE_FIELDS), and a change of the rules replaces the route.
            metadata["annotations"] = {ROUTE_RULES_ANNOTATION: rules_digest(spec["rules"])}
            opts = pulumi.ResourceOptions.merge(
                opts,
                pulumi.ResourceOptions(
                    ignore_changes=IGNORED_ROUTE_FIELDS,
                    replace_on_changes=[f'metadata.annotations["{ROUTE_RULES_ANNOTATION}"]'],
                    delete_before_replace=True,
                ),
            )
        self._platform.apis.custom_resource(
            f"{name}-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata=metadata,
            spec=spec,
            opts=opts,
        )


def _service_url(service: str, port: int, namespace: str) -> str:
    return f"http://{service}.{namespace}.svc.cluster.local:{port}"
