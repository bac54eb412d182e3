"""pytest fixtures for testing stacks under mocks.

Enable it in a `conftest.py`:

    pytest_plugins = ["mlops_iac.testing.pytest_plugin"]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

MINIMAL_SPEC: dict[str, Any] = {"name": "test", "target": {"kind": "kind", "cluster": "test"}}


@pytest.fixture
def make_spec() -> Callable[..., Any]:
    """Build a StackSpec: a minimal kind stack updated with the given top-level fields."""
    from mlops_iac.spec import StackSpec

    def build(**fields: Any) -> StackSpec:
        return StackSpec.load({**MINIMAL_SPEC, **fields})

    return build


@pytest.fixture
def synth_stack() -> Callable[..., Any]:
    """Synthesize an MLOpsStack for a spec under recording mocks; returns a SynthResult."""
    from mlops_iac.components.stack import MLOpsStack
    from mlops_iac.testing import synth

    def run(spec: Any, name: str | None = None) -> Any:
        return synth(lambda: MLOpsStack(name or spec.name, spec).export(), stack=spec.name)

    return run


@pytest.fixture
def synth_program() -> Callable[..., Any]:
    """Synthesize a program folder with `Pulumi.<stack>.yaml`; returns a SynthResult
    (`mlops_iac.testing.synth_project`)."""
    from mlops_iac.testing import synth_project

    return synth_project
