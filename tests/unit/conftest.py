"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from mlops_iac.testing import SynthResult


@pytest.fixture(scope="module")
def registry_stack() -> SynthResult:
    """A kind stack with only the registry, routed through its own Gateway."""
    from mlops_iac.components.stack import MLOpsStack
    from mlops_iac.spec import StackSpec
    from mlops_iac.testing import synth

    spec = StackSpec.load(
        {
            "name": "demo",
            "target": {"kind": "kind", "cluster": "mlops"},
            "routing": {"gateway_class": "eg"},
            "registry": {"ingress": {"host": "mlflow.example.test"}},
        }
    )
    return synth(lambda: MLOpsStack("demo", spec).export(), stack="demo")
