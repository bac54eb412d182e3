"""The components as other languages see them: `__init__(name, args, opts)` with TypedDict
args. Each builds the StackSpec and then, as its children, exactly what the Python API
builds from that spec (the same Kubernetes objects; the URNs gain this wrapper as parent)."""

from typing import Optional

import pulumi

from mlops_iac.components import (
    feature_repo,
    feature_store,
    monitoring,
    registry,
    serving,
    training,
)
from mlops_iac.components import stack as stack_component
from mlops_iac.multilang.args import (
    FeatureStoreArgs,
    MLOpsStackArgs,
    ModelRegistryArgs,
    MonitoringArgs,
    ServingEndpointArgs,
    TrainingClusterArgs,
)
from mlops_iac.multilang.convert import to_spec
from mlops_iac.platforms import Platform, create_platform
from mlops_iac.spec import StackSpec

PACKAGE = "mlops"


def _token(component: str) -> str:
    return f"{PACKAGE}:index:{component}"


def _platform(name: str, spec: StackSpec, parent: pulumi.Resource) -> Platform:
    return create_platform(f"{name}-platform", spec, pulumi.ResourceOptions(parent=parent))


def _registry(
    name: str, spec: StackSpec, platform: Platform, parent: pulumi.Resource
) -> registry.ModelRegistry:
    return registry.ModelRegistry(
        f"{name}-registry", spec, platform, pulumi.ResourceOptions(parent=parent)
    )


class MLOpsStack(pulumi.ComponentResource):
    """A whole MLOps stack: registry, serving, training, feature store and monitoring on
    one platform."""

    namespace: pulumi.Output[str]
    """The stack's namespace."""
    tracking_uri: pulumi.Output[Optional[str]]  # noqa: UP045 (the schema analyzer reads Optional)
    """In-cluster MLflow tracking URI, when the registry is enabled."""

    def __init__(
        self, name: str, args: MLOpsStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_token("MLOpsStack"), name, {}, opts)
        sections = (
            "registry",
            "serving",
            "training",
            "feature_store",
            "monitoring",
            "teams",
            "platform",
        )
        spec = to_spec(name, args, {key: args.get(key) for key in sections})
        inner = stack_component.MLOpsStack(name, spec, pulumi.ResourceOptions(parent=self))
        self.namespace = pulumi.Output.from_input(spec.namespace)
        self.tracking_uri = inner.registry.tracking_uri if inner.registry else None  # type: ignore[assignment]
        self.register_outputs({"namespace": self.namespace, "tracking_uri": self.tracking_uri})


class ModelRegistry(pulumi.ComponentResource):
    """The MLflow tracking server and model registry (Postgres, artifacts in S3)."""

    tracking_uri: pulumi.Output[str]
    """In-cluster tracking URI."""

    def __init__(
        self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_token("ModelRegistry"), name, {}, opts)
        spec = to_spec(name, args, {"registry": args.get("registry")})
        inner = _registry(name, spec, _platform(name, spec, self), self)
        self.tracking_uri = inner.tracking_uri
        self.register_outputs({"tracking_uri": self.tracking_uri})


class ServingEndpoint(pulumi.ComponentResource):
    """An inference endpoint for a registry model, with the registry it loads from."""

    url: pulumi.Output[str]
    """In-cluster URL of the endpoint."""

    def __init__(
        self, name: str, args: ServingEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_token("ServingEndpoint"), name, {}, opts)
        spec = to_spec(
            name, args, {"registry": args.get("registry"), "serving": [args["endpoint"]]}
        )
        platform = _platform(name, spec, self)
        inner = serving.ServingEndpoint(
            f"{name}-serving-{spec.serving[0].name}",
            spec.serving[0],
            stack=spec,
            platform=platform,
            registry=_registry(name, spec, platform, self),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.url = inner.url
        self.register_outputs({"url": self.url})


class FeatureStore(pulumi.ComponentResource):
    """Feast: registry in Postgres, Redis online, Parquet offline, a feature server."""

    url: pulumi.Output[str]
    """In-cluster URL of the feature server."""

    def __init__(
        self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_token("FeatureStore"), name, {}, opts)
        spec = to_spec(name, args, {"feature_store": args["feature_store"]})
        assert spec.feature_store is not None
        repo = feature_repo.FeatureRepo.load(spec.feature_store.repo)
        inner = feature_store.FeatureStore(
            f"{name}-feature-store",
            spec,
            _platform(name, spec, self),
            repo,
            pulumi.ResourceOptions(parent=self),
        )
        self.url = inner.url
        self.register_outputs({"url": self.url})


class TrainingCluster(pulumi.ComponentResource):
    """The quota-bound training namespace and one CronJob per job, with the registry."""

    namespace: pulumi.Output[str]
    """The training namespace."""

    def __init__(
        self, name: str, args: TrainingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_token("TrainingCluster"), name, {}, opts)
        spec = to_spec(name, args, {"training": args["training"], "registry": args.get("registry")})
        platform = _platform(name, spec, self)
        inner = training.TrainingCluster(
            f"{name}-training",
            spec,
            platform,
            _registry(name, spec, platform, self),
            None,
            pulumi.ResourceOptions(parent=self),
        )
        self.namespace = pulumi.Output.from_input(inner.namespace)
        self.register_outputs({"namespace": self.namespace})


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack, a Pushgateway, the stack's alert rules and dashboards."""

    grafana_url: pulumi.Output[str]
    """In-cluster Grafana URL."""

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_token("Monitoring"), name, {}, opts)
        spec = to_spec(name, args, {"monitoring": args["monitoring"]})
        inner = monitoring.Monitoring(
            f"{name}-monitoring",
            spec,
            _platform(name, spec, self),
            None,
            None,
            pulumi.ResourceOptions(parent=self),
        )
        self.grafana_url = pulumi.Output.from_input(inner.grafana_url)
        self.register_outputs({"grafana_url": self.grafana_url})


COMPONENTS = [MLOpsStack, ModelRegistry, ServingEndpoint, FeatureStore, TrainingCluster, Monitoring]
"""Hosted under the tokens `mlops:index:<Name>`."""
