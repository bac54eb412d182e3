"""MLOpsStack: the platform plus every component the spec enables."""

from __future__ import annotations

import pulumi

from mlops_iac.components.feature_repo import FeatureRepo
from mlops_iac.components.feature_store import FeatureStore
from mlops_iac.components.monitoring import Monitoring
from mlops_iac.components.platform_reference import RegistryReference, read_team
from mlops_iac.components.registry import ModelRegistry
from mlops_iac.components.rollouts import PromotionWatcher, RolloutsController, plugin_arch
from mlops_iac.components.serving import ServingEndpoint
from mlops_iac.components.teams import TeamNamespace
from mlops_iac.components.training import TrainingCluster
from mlops_iac.platforms import Platform, create_platform
from mlops_iac.spec import StackSpec
from mlops_iac.spec.apis import installs_rollouts


class MLOpsStack(pulumi.ComponentResource):
    """A whole MLOps stack from one StackSpec.

    Outputs: `namespace`, and for the registry `registry_tracking_uri`,
    `registry_external_url`, `registry_artifact_bucket`; for each endpoint E
    `serving_E_url`, `serving_E_external_url`, `serving_E_challenger_url`; for training
    `training_namespace` and `training_jobs`; for the feature store `feature_server_url` and
    `feature_server_external_url`; for monitoring `grafana_url`, `grafana_external_url`,
    `prometheus_url`; with `teams`, `teams` (what each team's stack reads).

    With `spec.platform` it is a team's stack: its endpoints go into the namespace the
    platform stack made for the team and use that stack's registry, read through a
    `StackReference`; it creates nothing else.
    """

    platform: Platform
    """The target's platform (provider, namespace, data services)."""
    registry: ModelRegistry | None
    """The model registry, when enabled."""
    endpoints: dict[str, ServingEndpoint]
    """Serving endpoints by name."""
    feature_store: FeatureStore | None
    """The Feast feature store, when the spec has `feature_store`."""
    training: TrainingCluster | None
    """The training namespace and jobs, when the spec has `training`."""
    monitoring: Monitoring | None
    """Prometheus, Grafana, rules, dashboards and drift monitors, with `monitoring`."""
    teams: dict[str, TeamNamespace]
    """Each team's namespace, by team name (`spec.teams`)."""

    def __init__(
        self, name: str, spec: StackSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:index:MLOpsStack", name, None, opts)
        self.spec = spec
        self.teams = {}
        # Read and check the feature repo before anything is registered: a bad repo is a spec
        # error, and nothing may be half-created.
        feature_repo = FeatureRepo.load(spec.feature_store.repo) if spec.feature_store else None
        child = pulumi.ResourceOptions(parent=self)
        registry: ModelRegistry | RegistryReference | None = None
        if spec.platform is not None:
            from mlops_iac.platforms.kubernetes.team import TeamPlatform

            team = read_team(name, spec, child)
            self.platform = TeamPlatform(f"{name}-platform", spec, team, child)
            registry = RegistryReference(
                team.apply(lambda entry: entry["registry"]["tracking_uri"])
            )
        else:
            self.platform = create_platform(f"{name}-platform", spec, child)
        self.registry = None
        outputs: dict[str, pulumi.Input[object]] = {
            "namespace": self.platform.namespace,
            **self.platform.stack_outputs,
        }
        # Monitoring first: it installs the Prometheus Operator, whose ServiceMonitors the
        # registry, the feature server and the endpoints create (they wait for its release).
        self.monitoring = None
        if spec.monitoring is not None:
            self.monitoring = Monitoring(
                f"{name}-monitoring",
                spec,
                self.platform,
                None,
                None,
                pulumi.ResourceOptions(parent=self),
            )
            outputs |= {
                "grafana_url": self.monitoring.grafana_url,
                "grafana_external_url": self.monitoring.grafana_external_url,
                "prometheus_url": self.monitoring.prometheus_url,
            }
        if spec.deploys_registry:
            self.registry = registry = ModelRegistry(
                f"{name}-registry", spec, self.platform, pulumi.ResourceOptions(parent=self)
            )
            outputs |= {
                "registry_tracking_uri": self.registry.tracking_uri,
                "registry_external_url": self.registry.external_url,
                "registry_artifact_bucket": self.registry.artifact_bucket,
            }
        self.feature_store = None
        if feature_repo is not None:
            self.feature_store = FeatureStore(
                f"{name}-feature-store",
                spec,
                self.platform,
                feature_repo,
                pulumi.ResourceOptions(parent=self),
            )
            outputs |= {
                "feature_server_url": self.feature_store.url,
                "feature_server_external_url": self.feature_store.external_url,
            }
        if spec.teams:
            assert self.registry is not None  # the spec requires it for teams
            self.teams = {
                team.name: TeamNamespace(
                    f"{name}-team-{team.name}",
                    team,
                    stack=spec,
                    platform=self.platform,
                    registry=self.registry,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                for team in spec.teams
            }
            outputs["teams"] = {team: made.reference for team, made in self.teams.items()}
        if installs_rollouts(spec):
            # Before the endpoints: their Rollouts and AnalysisTemplates need its CRDs.
            RolloutsController(
                f"{name}-rollouts",
                apis=self.platform.apis,
                profile=spec.profile,
                arch=plugin_arch(spec),
                opts=self.platform.child_options(self),
            )
        if spec.rolled_endpoints:
            assert isinstance(registry, ModelRegistry)  # the spec refuses it in a team's stack
            PromotionWatcher(
                f"{name}-promotion-watcher",
                spec=spec,
                platform=self.platform,
                registry=registry,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.endpoints = {}
        for endpoint in spec.serving:
            assert registry is not None  # the spec requires it for serving
            served = ServingEndpoint(
                f"{name}-serving-{endpoint.name}",
                endpoint,
                stack=spec,
                platform=self.platform,
                registry=registry,
                features=self.feature_store,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.endpoints[endpoint.name] = served
            outputs |= {
                f"serving_{endpoint.name}_url": served.url,
                f"serving_{endpoint.name}_external_url": served.external_url,
                f"serving_{endpoint.name}_challenger_url": served.challenger_url,
            }
        self.training = None
        if spec.training is not None:
            assert self.registry is not None  # the spec requires it for training
            self.training = TrainingCluster(
                f"{name}-training",
                spec,
                self.platform,
                self.registry,
                self.feature_store,
                pulumi.ResourceOptions(parent=self),
            )
            outputs |= {
                "training_namespace": self.training.namespace,
                "training_jobs": sorted(self.training.cronjobs),
            }
        if self.monitoring is not None and spec.monitoring and spec.monitoring.drift:
            assert self.registry is not None and self.training is not None  # the spec says so
            self.monitoring.add_drift_monitors(self.registry, self.training)
        self.outputs = outputs
        self.register_outputs(outputs)

    def export(self) -> None:
        """Export the stack's outputs as Pulumi stack outputs."""
        for key, value in self.outputs.items():
            pulumi.export(key, value)
