"""The AWS test stacks and how to synthesize them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

AWS_SPEC: dict[str, Any] = {
    "name": "shop",
    "target": {
        "kind": "aws",
        "region": "eu-west-1",
        "cluster": {
            "node_groups": [
                {"name": "cpu", "instance_types": ["m6i.large"], "min": 2, "max": 6},
                {"name": "gpu", "instance_types": ["g5.xlarge"], "min": 0, "max": 2, "gpu": True},
            ]
        },
    },
    "registry": {},
    "serving": [{"name": "churn", "model": "models:/churn@champion"}],
}


def synth_spec(data: dict[str, Any]) -> Any:
    """Synthesize an MLOpsStack for a spec under the recording mocks."""
    from mlops_iac.components.stack import MLOpsStack
    from mlops_iac.spec import StackSpec
    from mlops_iac.testing import synth

    spec = StackSpec.load(data)
    return synth(lambda: MLOpsStack(spec.name, spec).export(), stack=spec.name)
