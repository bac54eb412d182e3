"""StackSpec: the whole MLOps stack as one validated, immutable object."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from mlops_iac import versions

from .apis import missing_apis
from .errors import SpecError, SpecIssue, SpecValidationError, did_you_mean, from_validation_error
from .feature_store import FeatureStoreSpec
from .monitoring import MonitoringSpec
from .profiles import DataProtection, Profile, ProfileDefaults, defaults_for
from .registry import RegistrySpec
from .routing import RoutingSpec
from .serving import EndpointSpec
from .target import Target
from .teams import PlatformReference, TeamSpec
from .training import TrainingSpec
from .types import Dns1123Label, ImageRef, ShortName, SpecModel, repeated_names

KIND_GATEWAY_CLASS = "eg"
"""The GatewayClass a kind stack gets by default (Envoy Gateway, which the stack installs)."""
CONFIG_NAMESPACE = "mlops"
"""Pulumi config namespace of the spec: `mlops:<field>` mirrors each StackSpec field."""
PROVIDER_NAMESPACES = frozenset({"pulumi", "aws", "kubernetes", "random", "docker-build"})
"""Config namespaces that Pulumi and the stack's providers read (`aws:region`): never a
misplaced spec key, even in a project named like one."""


class StackSpec(SpecModel):
    """A whole MLOps stack: where it runs, how big it is, and which components it has."""

    name: ShortName = Field(description="Stack name; prefixes every resource name.")
    target: Target = Field(description="Where the stack runs: `kind`, `kubernetes` or `aws`.")
    profile: Profile = Field(
        default="local",
        description="`local` fits a laptop (one replica, small requests); `production` is "
        "highly available and protects data by default.",
    )
    namespace: Dns1123Label = Field(
        default="mlops", description="Kubernetes namespace of the stack's workloads."
    )
    data_protection: DataProtection | None = Field(
        default=None,
        description="How stateful resources resist deletion: `protect` (Pulumi refuses to "
        "delete or replace them), `retain` (deleting the stack leaves them in the cluster) or "
        "`none`. By profile: local `retain`, production `protect`.",
    )
    routing: RoutingSpec = Field(
        default_factory=RoutingSpec, description="How services are reached from outside."
    )
    registry: RegistrySpec = Field(
        default_factory=RegistrySpec, description="The MLflow model registry."
    )
    serving: list[EndpointSpec] = Field(
        default_factory=list, description="Inference endpoints serving registry models."
    )
    feature_store: FeatureStoreSpec | None = Field(
        default=None, description="The Feast feature store."
    )
    training: TrainingSpec | None = Field(
        default=None, description="Training jobs in their own quota-bound namespace."
    )
    monitoring: MonitoringSpec | None = Field(
        default=None,
        description="Prometheus, Grafana, alerts, inference logging and drift monitors.",
    )
    teams: list[TeamSpec] = Field(
        default_factory=list,
        description="Teams that deploy their own endpoints from their own stacks, each in a "
        "namespace this stack makes for it (docs/teams.md).",
    )
    platform: PlatformReference | None = Field(
        default=None,
        description="Makes this a team's stack: its endpoints go into a team's namespace of "
        "this platform stack and use its registry and Gateway (docs/teams.md).",
    )
    runtime_image: ImageRef = Field(
        default=versions.RUNTIME_IMAGE,
        description="The stack's workload image (trainer, serving runtimes, Feast). Not "
        "published: `up local` builds it into kind and AWS targets push it to ECR, from the "
        "Dockerfile the package ships (`mlops-iac image context` writes it for any other "
        "registry); endpoints and jobs may override it with `image`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _kind_routes_through_its_own_gateway(cls, data: Any) -> Any:
        """On a kind target nothing else serves the Gateway API: unless the spec says
        otherwise, the stack installs Envoy Gateway and creates a Gateway of class `eg`, so
        the default URLs work."""
        if not isinstance(data, dict) or data.get("platform") is not None:
            return data  # a team's stack attaches to its platform's Gateway
        target, routing = data.get("target"), data.get("routing")
        routing = {} if routing is None else routing
        kind = target.get("kind") if isinstance(target, dict) else getattr(target, "kind", None)
        if (
            kind == "kind"
            and isinstance(routing, dict)
            and "gateway_class" not in routing
            and routing.get("mode", "gateway") == "gateway"
        ):
            data = {**data, "routing": {**routing, "gateway_class": KIND_GATEWAY_CLASS}}
        return data

    @field_validator("serving")
    @classmethod
    def _unique_endpoint_names(cls, endpoints: list[EndpointSpec]) -> list[EndpointSpec]:
        repeated = repeated_names([endpoint.name for endpoint in endpoints])
        if repeated:
            raise ValueError(f"endpoint names must be unique; repeated: {', '.join(repeated)}")
        return endpoints

    @field_validator("teams")
    @classmethod
    def _unique_team_names(cls, teams: list[TeamSpec]) -> list[TeamSpec]:
        repeated = repeated_names([team.name for team in teams])
        if repeated:
            raise ValueError(f"team names must be unique; repeated: {', '.join(repeated)}")
        return teams

    @model_validator(mode="after")
    def _serving_needs_what_it_uses(self) -> StackSpec:
        if self.serving and not self.registry.enabled:
            raise ValueError("serving loads models from the registry: enable `registry`")
        wanting = [e.name for e in self.serving if e.feature_server]
        if wanting and self.feature_store is None:
            raise ValueError(
                f"endpoints {', '.join(wanting)} set feature_server, which needs `feature_store`"
            )
        canaries = [e.name for e in self.serving if e.canary is not None]
        if canaries and self.routing.mode != "gateway":
            raise ValueError(
                f"endpoints {', '.join(canaries)} have a canary, which needs routing.mode "
                "'gateway' (a classic Ingress has no weighted backends or mirroring)"
            )
        rolled = self.rolled_endpoints
        if rolled and self.routing.mode != "gateway":
            raise ValueError(
                f"endpoints {', '.join(e.name for e in rolled)} have a rollout, which needs "
                "routing.mode 'gateway' (it moves traffic with the HTTPRoute's weights)"
            )
        if rolled and self.platform is not None:
            raise ValueError(
                f"endpoints {', '.join(e.name for e in rolled)} have a rollout, which a team's "
                "stack does not build yet (the promotion watcher and the controller are "
                "platform parts): deploy the endpoint without `rollout`"
            )
        for endpoint in rolled:
            assert endpoint.rollout is not None
            analysis = endpoint.rollout.analysis
            if analysis is not None and analysis.prometheus_url is None and not self.monitoring:
                raise ValueError(
                    f"endpoint {endpoint.name}'s rollout analysis queries Prometheus: add "
                    "`monitoring`, set rollout.analysis.prometheus_url, or set "
                    "rollout.analysis to null"
                )
        return self

    @model_validator(mode="after")
    def _teams_have_namespaces_of_their_own(self) -> StackSpec:
        taken = {self.namespace: "the stack's namespace"}
        if self.training is not None:
            taken[self.training_namespace] = "the training namespace"
        if self.monitoring is not None:
            taken[self.monitoring_namespace] = "the monitoring namespace"
        for index, team in enumerate(self.teams):
            namespace = self.team_namespace(team)
            if namespace in taken:
                raise ValueError(
                    f"teams[{index}]: team {team.name} would use namespace {namespace!r}, which is "
                    f"{taken[namespace]}: give it a namespace of its own"
                )
            taken[namespace] = f"team {team.name}'s"
        if self.teams and not self.registry.enabled:
            raise ValueError("teams serve models from this stack's registry: enable `registry`")
        if self.teams and self.platform is not None:
            raise ValueError("a team's stack (with `platform`) cannot have `teams` of its own")
        return self

    @model_validator(mode="after")
    def _a_team_stack_uses_its_platform(self) -> StackSpec:
        if self.platform is None:
            return self
        where = f"a team's stack (platform {self.platform.stack!r})"
        owned = [
            key
            for key in ("registry", "feature_store", "monitoring", "training")
            if key in self.model_fields_set
        ]
        if owned:
            raise ValueError(
                f"{where} uses the platform's registry and services and has no "
                f"{', '.join(owned)} of its own: remove {', '.join(owned)}"
                + (
                    " (training jobs in a team's stack are not built yet: README lists them)"
                    if "training" in owned
                    else ""
                )
            )
        if self.target.kind == "aws":
            raise ValueError(f"{where} on an AWS target is not built yet: use a kubernetes target")
        if "namespace" not in self.model_fields_set:
            raise ValueError(
                f"{where} deploys into its team's namespace: set `namespace` to the platform "
                f"stack's `teams.{self.platform.team}.namespace` output"
            )
        if self.routing.mode == "gateway" and (
            self.routing.gateway_class is not None or self.routing.gateway_namespace is None
        ):
            raise ValueError(
                f"{where} attaches its routes to the platform's Gateway: set "
                "routing.gateway_namespace (and gateway_name) to the platform stack's "
                f"`teams.{self.platform.team}.gateway` output, and no routing.gateway_class"
            )
        return self

    @model_validator(mode="after")
    def _training_needs_what_it_uses(self) -> StackSpec:
        if self.training is None:
            return self
        if self.training.jobs and not self.registry.enabled:
            raise ValueError("training jobs log to the registry: enable `registry`")
        readers = [job.name for job in self.training.jobs if job.features is not None]
        if readers and self.feature_store is None:
            raise ValueError(
                f"training jobs {', '.join(readers)} read `features`, which needs `feature_store`"
            )
        if self.training_namespace == self.namespace:
            raise ValueError(
                f"training.namespace {self.namespace!r} is the stack's namespace; training "
                "needs its own (its quota would otherwise limit every component)"
            )
        self.training.check_quota(self.defaults.training_resources)
        gpu_jobs = [job.name for job in self.training.jobs if job.gpu]
        target = self.target
        if gpu_jobs and target.kind == "aws" and not target.cluster.has_gpu:
            raise ValueError(
                f"training jobs {', '.join(gpu_jobs)} need GPUs: add a node group with "
                "`gpu: true` to target.cluster.node_groups"
            )
        return self

    @model_validator(mode="after")
    def _tls_on_aws_needs_a_certificate(self) -> StackSpec:
        if self.target.kind != "aws":
            return self
        certificate = self.target.certificate_arn
        if self.routing.tls and certificate is None:
            raise ValueError(
                "routing.tls on AWS needs target.certificate_arn: the ACM certificate the "
                "load balancer ends TLS with"
            )
        if certificate is not None and not (self.routing.tls and self.routing.gateway_class):
            raise ValueError(
                "target.certificate_arn is for the stack's Gateway: set routing.tls: true and "
                "routing.gateway_class"
            )
        return self

    @model_validator(mode="after")
    def _cluster_serves_what_the_stack_creates(self) -> StackSpec:
        problems = missing_apis(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _grafana_route_needs_gateway(self) -> StackSpec:
        grafana = self.monitoring.grafana if self.monitoring else None
        exposed = grafana is not None and grafana.ingress is not None and grafana.ingress.enabled
        if exposed and self.routing.mode != "gateway":
            raise ValueError(
                "monitoring.grafana.ingress needs routing.mode 'gateway': Grafana lives in the "
                "monitoring namespace, which only a Gateway route can reach"
            )
        return self

    @model_validator(mode="after")
    def _drift_monitors_refer_to_what_exists(self) -> StackSpec:
        drift = self.monitoring.drift if self.monitoring else []
        endpoints = {e.name: e for e in self.serving}
        jobs = {job.name for job in self.training.jobs} if self.training else set()
        for index, monitor in enumerate(drift):
            where = f"monitoring.drift[{index}]"
            endpoint = endpoints.get(monitor.endpoint)
            if endpoint is None:
                raise ValueError(
                    f"{where}.endpoint {monitor.endpoint!r} is not an endpoint; endpoints: "
                    f"{', '.join(endpoints) or 'none'}"
                )
            if endpoint.runtime == "kserve":
                raise ValueError(
                    f"{where}: endpoint {monitor.endpoint!r} runs on KServe, whose traffic the "
                    "inference logger does not see; use runtime 'builtin', 'mlserver' or 'mlflow'"
                )
            if self.monitoring and not self.monitoring.inference_log.enabled:
                raise ValueError(f"{where} reads inference logs: enable monitoring.inference_log")
            if self.training is None:
                raise ValueError(
                    f"{where}: drift monitors run in the training namespace: add `training`"
                )
            if monitor.retrain_job is not None and monitor.retrain_job not in jobs:
                raise ValueError(
                    f"{where}.retrain_job {monitor.retrain_job!r} is not a training job; jobs: "
                    f"{', '.join(sorted(jobs)) or 'none'}"
                )
        return self

    @property
    def monitoring_namespace(self) -> str:
        """Namespace of the monitoring stack: `monitoring.namespace` or `<namespace>-monitoring`."""
        configured = self.monitoring.namespace if self.monitoring else None
        return configured or self._namespace_beside("monitoring")

    @property
    def feast_project(self) -> str:
        """The Feast project: `feature_store.project` or the stack name with '_' for '-'."""
        configured = self.feature_store.project if self.feature_store else None
        return configured or self.name.replace("-", "_")

    @property
    def training_namespace(self) -> str:
        """Namespace of the training pods: `training.namespace` or `<namespace>-training`."""
        configured = self.training.namespace if self.training else None
        return configured or self._namespace_beside("training")

    def _namespace_beside(self, suffix: str) -> str:
        """`<namespace>-<suffix>`, cut to a namespace name's 63 characters."""
        return f"{self.namespace}-{suffix}"[:63].rstrip("-")

    def team_namespace(self, team: TeamSpec) -> str:
        """A team's namespace: `team.namespace` or `<namespace>-<team name>`."""
        return team.namespace or self._namespace_beside(team.name)

    @property
    def route_namespaces(self) -> list[str]:
        """Namespaces whose routes the stack's Gateway accepts: its own and each team's."""
        return [self.namespace, *(self.team_namespace(team) for team in self.teams)]

    @property
    def rolled_endpoints(self) -> list[EndpointSpec]:
        """The endpoints with an automatic `rollout`."""
        return [endpoint for endpoint in self.serving if endpoint.rollout is not None]

    @property
    def deploys_registry(self) -> bool:
        """Whether this stack runs a registry of its own (a team's stack uses its
        platform's)."""
        return self.registry.enabled and self.platform is None

    @property
    def defaults(self) -> ProfileDefaults:
        """The sizes and defaults that the profile picks."""
        return defaults_for(self.profile)

    @property
    def effective_data_protection(self) -> DataProtection:
        """`data_protection`, or the profile's default."""
        return self.data_protection or self.defaults.data_protection

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Pydantic's `model_validate`, failing with one line per problem (`registry.replicas:
        Input should be greater than or equal to 1 (got -1)`): the error is a
        :class:`SpecValidationError`, both pydantic's `ValidationError` and a
        :class:`SpecError`."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as error:
            readable = from_validation_error(error, obj, cls)
            raise SpecValidationError.wrap(error, readable) from None

    @classmethod
    def load(cls, data: Any, *, path_prefix: str = "") -> StackSpec:
        """Validate plain data; every failure is a :class:`SpecError` naming its field
        (`registry.replicas`, or `mlops:registry.replicas` with `path_prefix="mlops:"`)."""
        if not isinstance(data, dict):
            raise SpecError.single(
                path_prefix.rstrip(":."), "a stack spec must be a mapping of fields", data
            )
        try:
            return super().model_validate(data)
        except ValidationError as error:
            raise from_validation_error(error, data, cls, path_prefix) from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> StackSpec:
        """Load a spec from a YAML file holding the StackSpec fields at its top level."""
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as error:
            raise SpecError.single(str(path), f"cannot read the spec: {error}") from None
        return cls.load(data)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        stack: str,
        project: str | None = None,
        namespace: str = CONFIG_NAMESPACE,
    ) -> StackSpec:
        """The spec in flat Pulumi config (`{"mlops:target": '{"kind": "kind"}'}`): the key
        `<namespace>:<field>` for each field, `name` defaulting to `stack`. Errors name
        `mlops:<path>`; a key meant for the spec but outside its namespace (`registry`, which
        is `<project>:registry`, or `mlps:registry`) is one too, naming the key to use."""
        misplaced = misplaced_config_keys(config, project, namespace)
        if misplaced:
            raise SpecError(misplaced)
        data = config_fields(dict(config), namespace)
        data.setdefault("name", stack)
        return cls.load(data, path_prefix=f"{namespace}:")

    @classmethod
    def from_pulumi_config(cls, namespace: str = CONFIG_NAMESPACE) -> StackSpec:
        """Load the spec from Pulumi config: `mlops:<field>` for each field.

        `name` defaults to the Pulumi stack name; see :meth:`from_config`.
        """
        import pulumi

        return cls.from_config(
            _current_config(),
            stack=pulumi.get_stack(),
            project=pulumi.get_project(),
            namespace=namespace,
        )


def config_fields(config: dict[str, Any], namespace: str = CONFIG_NAMESPACE) -> dict[str, Any]:
    """The spec fields in a flat Pulumi config map (`{"mlops:target": "{...}"}`).

    Pulumi hands structured values to programs as JSON text; plain strings stay strings.
    """
    prefix = f"{namespace}:"
    fields: dict[str, Any] = {}
    for key, raw in config.items():
        if not key.startswith(prefix):
            continue
        fields[key[len(prefix) :]] = _decode(raw)
    return fields


def misplaced_config_keys(
    config: Mapping[str, Any], project: str | None, namespace: str = CONFIG_NAMESPACE
) -> list[SpecIssue]:
    """Keys that look meant for the spec but sit outside its namespace, which nothing reads:
    a spec field in the project's own namespace (`registry:` in `Pulumi.<stack>.yaml` is
    `<project>:registry`), or a field or near miss of one in a misspelt `mlops` namespace
    (`mlps:registy`). Each issue says which key to write instead. Other keys of the project
    are the program's own (`mlops-iac synth` checks them against Pulumi.yaml's `config:`)."""
    fields = list(StackSpec.model_fields)
    issues = []
    for key in sorted(config):
        space, _, name = key.partition(":") if ":" in key else ("", "", key)
        if space == namespace or space in PROVIDER_NAMESPACES or not name:
            continue
        own = space in ("", project)
        if not own and did_you_mean(space, [namespace]) is None:
            continue
        guess = name if name in fields else None if own else did_you_mean(name, fields)
        if guess is None:
            continue
        where = "the project's namespace" if own else f"namespace {space!r}"
        issues.append(
            SpecIssue(
                key,
                f"nothing reads this key ({where}): the spec's fields are "
                f"`{namespace}:<field>`; did you mean `{namespace}:{guess}`?",
            )
        )
    return issues


def _decode(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _current_config() -> dict[str, Any]:
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return merged
