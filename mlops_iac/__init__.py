"""mlops-iac: a whole MLOps stack as typed, testable Pulumi components.

Names are imported lazily, so `import mlops_iac` stays cheap: the Pulumi SDKs load only when
a component is first used, and `pulumi_aws` only on the AWS target.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "StackSpec": "mlops_iac.spec",
    "SpecError": "mlops_iac.spec",
    "RegistrySpec": "mlops_iac.spec",
    "FeatureStore": "mlops_iac.components.feature_store",
    "MLOpsStack": "mlops_iac.components.stack",
    "ModelRegistry": "mlops_iac.components.registry",
    "ServingEndpoint": "mlops_iac.components.serving",
    "TrainingCluster": "mlops_iac.components.training",
}

if TYPE_CHECKING:
    from mlops_iac.components.feature_store import FeatureStore
    from mlops_iac.components.registry import ModelRegistry
    from mlops_iac.components.serving import ServingEndpoint
    from mlops_iac.components.stack import MLOpsStack
    from mlops_iac.components.training import TrainingCluster
    from mlops_iac.spec import RegistrySpec, SpecError, StackSpec

__all__ = [
    "FeatureStore",
    "MLOpsStack",
    "ModelRegistry",
    "RegistrySpec",
    "ServingEndpoint",
    "SpecError",
    "StackSpec",
    "TrainingCluster",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_iac' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
