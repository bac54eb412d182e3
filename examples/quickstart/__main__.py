"""The smallest useful stack: an MLflow registry and one endpoint serving its champion."""

from mlops_iac import MLOpsStack, StackSpec

spec = StackSpec.load(
    {
        "name": "quickstart",
        "target": {"kind": "kind", "cluster": "mlops"},
        "registry": {"ingress": {"host": "mlflow.localtest.me"}},
        "serving": [{"name": "churn", "model": "models:/churn@champion"}],
    }
)
MLOpsStack(spec.name, spec).export()
