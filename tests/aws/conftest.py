"""The AWS target is tested under mocks only: no AWS account, no AWS call."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pulumi_aws", reason="the AWS platform needs the `aws` extra (pulumi-aws)")

from aws_stacks import REPO


@pytest.fixture(scope="session")
def aws_dev() -> Any:
    """The repo's Pulumi.aws-dev.yaml (production profile, every component)."""
    from mlops_iac.testing import synth_project

    return synth_project(REPO, "aws-dev")
