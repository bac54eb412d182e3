"""The typed stack spec: frozen pydantic models, loadable from dicts, YAML and Pulumi config."""

from .aws import (
    AwsClusterSpec,
    AwsDatabaseSpec,
    AwsNetworkSpec,
    AwsNodeGroupSpec,
    AwsRedisSpec,
    AwsTarget,
)
from .errors import SpecError, SpecIssue
from .feature_store import FeatureServerSpec, FeatureStoreSpec, MaterializeSpec
from .monitoring import (
    AlertsSpec,
    DriftSpec,
    GrafanaSpec,
    InferenceLogSpec,
    MonitoringSpec,
    PrometheusSpec,
)
from .profiles import DataProtection, Profile, ProfileDefaults, defaults_for
from .registry import RegistrySpec
from .rollout import AnalysisSpec, RolloutSpec, RolloutStepSpec
from .routing import ExposeSpec, RoutingSpec
from .serving import AutoscalingSpec, CanarySpec, EndpointSpec
from .stack import CONFIG_NAMESPACE, StackSpec, config_fields
from .target import (
    KindTarget,
    KubernetesTarget,
    ObjectStoreSpec,
    PostgresSpec,
    Target,
)
from .teams import PlatformReference, TeamQuota, TeamSpec
from .training import (
    DistributedSpec,
    FeatureDataSpec,
    TrainingJobSpec,
    TrainingQuota,
    TrainingSpec,
)
from .types import ResourceRequirements, quantity_value

__all__ = [
    "CONFIG_NAMESPACE",
    "AlertsSpec",
    "AnalysisSpec",
    "AutoscalingSpec",
    "AwsClusterSpec",
    "AwsDatabaseSpec",
    "AwsNetworkSpec",
    "AwsNodeGroupSpec",
    "AwsRedisSpec",
    "AwsTarget",
    "CanarySpec",
    "DataProtection",
    "DistributedSpec",
    "DriftSpec",
    "EndpointSpec",
    "ExposeSpec",
    "FeatureDataSpec",
    "FeatureServerSpec",
    "FeatureStoreSpec",
    "GrafanaSpec",
    "InferenceLogSpec",
    "KindTarget",
    "KubernetesTarget",
    "MaterializeSpec",
    "MonitoringSpec",
    "ObjectStoreSpec",
    "PlatformReference",
    "PostgresSpec",
    "Profile",
    "ProfileDefaults",
    "PrometheusSpec",
    "RegistrySpec",
    "ResourceRequirements",
    "RolloutSpec",
    "RolloutStepSpec",
    "RoutingSpec",
    "SpecError",
    "SpecIssue",
    "StackSpec",
    "Target",
    "TeamQuota",
    "TeamSpec",
    "TrainingJobSpec",
    "TrainingQuota",
    "TrainingSpec",
    "config_fields",
    "defaults_for",
    "quantity_value",
]
