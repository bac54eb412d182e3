"""The AWS target is tested under mocks only: no AWS account, no AWS call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pulumi_aws", reason="the AWS platform needs the `aws` extra (pulumi-aws)")

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


@pytest.fixture(scope="session")
def aws_dev() -> Any:
    """The repo's Pulumi.aws-dev.yaml (production profile, every component)."""
    from mlops_iac.program import PulumiProject
    from mlops_iac.testing import synth

    project = PulumiProject.load(REPO)
    config, secret_keys = project.config("aws-dev")
    return synth(
        project.run, project=project.name, stack="aws-dev", config=config, secret_keys=secret_keys
    )
