"""The typed stack spec: frozen pydantic models, loadable from dicts, YAML and Pulumi config."""

from .errors import SpecError, SpecIssue
from .feature_store import FeatureServerSpec, FeatureStoreSpec, MaterializeSpec
from .profiles import DataProtection, Profile, ProfileDefaults, defaults_for
from .registry import RegistrySpec
from .routing import ExposeSpec, RoutingSpec
from .serving import AutoscalingSpec, CanarySpec, EndpointSpec
from .stack import CONFIG_NAMESPACE, StackSpec, config_fields
from .target import (
    AwsClusterSpec,
    AwsNodeGroupSpec,
    AwsTarget,
    KindTarget,
    KubernetesTarget,
    ObjectStoreSpec,
    PostgresSpec,
    Target,
)
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
    "AutoscalingSpec",
    "AwsClusterSpec",
    "AwsNodeGroupSpec",
    "AwsTarget",
    "CanarySpec",
    "DataProtection",
    "DistributedSpec",
    "EndpointSpec",
    "ExposeSpec",
    "FeatureDataSpec",
    "FeatureServerSpec",
    "FeatureStoreSpec",
    "KindTarget",
    "KubernetesTarget",
    "MaterializeSpec",
    "ObjectStoreSpec",
    "PostgresSpec",
    "Profile",
    "ProfileDefaults",
    "RegistrySpec",
    "ResourceRequirements",
    "RoutingSpec",
    "SpecError",
    "SpecIssue",
    "StackSpec",
    "Target",
    "TrainingJobSpec",
    "TrainingQuota",
    "TrainingSpec",
    "config_fields",
    "defaults_for",
    "quantity_value",
]
