"""Multi-language args: what another language sends, as TypedDicts.

No Unions (the schema cannot express them): the target is one object whose `kind` says which
of its fields apply. Sections that the spec models in depth (`registry`, `serving`,
`training`, `feature_store`, `monitoring`) are passed through as objects and validated by the
spec, whose error messages name the field.
"""

from typing import Any, NotRequired, TypedDict


class TargetArgs(TypedDict):
    """Where the stack runs."""

    kind: str
    """`kind` (a local kind cluster), `kubernetes` (an existing cluster) or `aws`."""
    cluster: NotRequired[str]
    """kind: the kind cluster's name (default `mlops`)."""
    kubeconfig: NotRequired[str]
    """kubernetes: path to a kubeconfig file; the ambient one when unset."""
    context: NotRequired[str]
    """kubernetes: the kubeconfig context; its current context when unset."""
    install_gateway: NotRequired[bool]
    """kind, kubernetes: install Envoy Gateway (with the Gateway API CRDs) for routes with a
    `routing.gateway_class` (kind: on by default; kubernetes: off)."""
    preinstalled: NotRequired[list[str]]
    """kind, kubernetes: custom-resource APIs the cluster already serves (`gateway-api`,
    `envoy-gateway`, `prometheus-operator`, `kserve`, `kueue`); anything else the stack would
    create without installing it is refused."""
    region: NotRequired[str]
    """aws: the AWS region."""
    aws: NotRequired[dict[str, Any]]
    """aws: the rest of the AWS target: `cluster` (version, node_groups, ...), `network`,
    `database`, `redis`, `load_balancer`, `container_registry` (see the Python API's
    AwsTarget)."""


class StackArgs(TypedDict):
    """Where a component runs and how big: the stack-wide fields of the spec."""

    target: TargetArgs
    """Where the stack runs."""
    stack_name: NotRequired[str]
    """Stack name, the prefix of resource names; the component's name when unset."""
    profile: NotRequired[str]
    """`local` (small, data retained on delete) or `production` (HA, data protected)."""
    namespace: NotRequired[str]
    """Kubernetes namespace of the stack's workloads (default `mlops`)."""
    routing: NotRequired[dict[str, Any]]
    """How services are reached from outside: `mode` (`gateway` or `ingress`),
    `gateway_class`, `domain`, ... (see the Python API's RoutingSpec)."""


class MLOpsStackArgs(TypedDict):
    """A whole stack."""

    stack: StackArgs
    """Where the component runs and how big (target, profile, namespace, routing)."""

    registry: NotRequired[dict[str, Any]]
    """The MLflow registry (RegistrySpec): `enabled`, `replicas`, `ingress`, ..."""
    serving: NotRequired[list[dict[str, Any]]]
    """Inference endpoints (EndpointSpec each): `name`, `model`, `runtime`, `canary`, ..."""
    training: NotRequired[dict[str, Any]]
    """Training (TrainingSpec): `quota`, `jobs`, `kueue`, ..."""
    feature_store: NotRequired[dict[str, Any]]
    """Feast (FeatureStoreSpec): `repo`, `materialize`, `server`, ..."""
    monitoring: NotRequired[dict[str, Any]]
    """Monitoring (MonitoringSpec): `prometheus`, `grafana`, `alerts`, `drift`, ..."""
    teams: NotRequired[list[dict[str, Any]]]
    """Teams this platform stack makes namespaces for (TeamSpec each): `name`, `group`,
    `quota`, ... (docs/teams.md)."""
    platform: NotRequired[dict[str, Any]]
    """Makes this a team's stack (PlatformReference): `stack`, `team` (docs/teams.md)."""


class ModelRegistryArgs(TypedDict):
    """The MLflow registry alone, with the platform it needs."""

    stack: StackArgs
    """Where the component runs and how big (target, profile, namespace, routing)."""

    registry: NotRequired[dict[str, Any]]
    """RegistrySpec: `replicas`, `workers`, `resources`, `ingress`, `allowed_hosts`, ..."""


class ServingEndpointArgs(TypedDict):
    """One endpoint, with the registry it loads models from."""

    stack: StackArgs
    """Where the component runs and how big (target, profile, namespace, routing)."""

    endpoint: dict[str, Any]
    """EndpointSpec: `name`, `model` (`models:/NAME@ALIAS`), `runtime`, `canary`, ..."""
    registry: NotRequired[dict[str, Any]]
    """The registry the endpoint loads from (RegistrySpec)."""


class FeatureStoreArgs(TypedDict):
    """Feast with the platform's Postgres, Redis and object store."""

    stack: StackArgs
    """Where the component runs and how big (target, profile, namespace, routing)."""

    feature_store: dict[str, Any]
    """FeatureStoreSpec: `repo` (required), `online_store`, `materialize`, `server`, ..."""


class TrainingClusterArgs(TypedDict):
    """The training namespace and jobs, with the registry they log to."""

    stack: StackArgs
    """Where the component runs and how big (target, profile, namespace, routing)."""

    training: dict[str, Any]
    """TrainingSpec: `quota`, `jobs`, `data_bucket`, `kueue`, ..."""
    registry: NotRequired[dict[str, Any]]
    """The registry the jobs log to (RegistrySpec)."""


class MonitoringArgs(TypedDict):
    """Prometheus, Grafana, rules and dashboards for a stack."""

    stack: StackArgs
    """Where the component runs and how big (target, profile, namespace, routing)."""

    monitoring: dict[str, Any]
    """MonitoringSpec: `prometheus`, `grafana`, `alerts`, `inference_log`, `values`."""
