"""Every reference stack is valid on every Kubernetes minor the project supports, not only
the newest (fields required by an older schema, APIs removed or not yet there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_iac.testing import SynthResult, synth_project
from mlops_iac.validate import SUPPORTED_KUBERNETES_VERSIONS, validate_manifest

REPO = Path(__file__).resolve().parents[2]
STACKS = {"local": (REPO, "local"), "churn": (REPO / "examples" / "churn", "dev"),
          "aws-dev": (REPO, "aws-dev")}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(STACKS))
def reference(request: pytest.FixtureRequest) -> SynthResult:
    project, stack = STACKS[request.param]
    return synth_project(project, stack)


@pytest.mark.parametrize("version", SUPPORTED_KUBERNETES_VERSIONS)
def test_every_object_is_valid_on_every_supported_minor(
    reference: SynthResult, version: str
) -> None:
    failures = [
        (m["kind"], m["metadata"].get("name"), reason)
        for m in reference.manifests
        if (reason := validate_manifest(m, version)) is not None
    ]
    assert failures == []
