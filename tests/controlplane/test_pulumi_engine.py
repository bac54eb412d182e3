"""The real Pulumi engine (the CLI built from pinned Go modules) on the stack's resource tree.

The Kubernetes and Random provider plugins cannot be built here (the Go module proxy
refuses their modules), so the engine cannot create Kubernetes objects itself. What it can
check for real is everything the engine decides from the program alone: the URN of every
resource (its parent chain), `protect` and `retainOnDelete`, that a second run plans no
change, and that `destroy` refuses protected resources. The resource tree the mocks
recorded is replayed as component resources with the same types, names, parents and
options; the engine's state must then match what `synth` reported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from mlops_iac.dev.controlplane import ControlPlane
from mlops_iac.testing import SynthResult

pytestmark = pytest.mark.controlplane

PROJECT = "mlops-iac"


def replay(result: SynthResult, skip_protect: bool = False) -> Callable[[], None]:
    """A program that registers every recorded resource as a component, parents first."""
    resources = [r for r in result.resources if not r.type.startswith("pulumi:providers:")]
    urns = {r.urn for r in resources}

    def program() -> None:
        created: dict[str, pulumi.Resource] = {}
        pending = list(resources)
        while pending:
            # A parent outside the recorded set is the Stack: the engine's default parent.
            ready = [r for r in pending if r.parent not in urns or r.parent in created]
            assert ready, f"orphans: {[r.urn for r in pending]}"
            for r in ready:
                options = pulumi.ResourceOptions(
                    parent=created.get(r.parent or ""),
                    protect=r.protect and not skip_protect,
                    retain_on_delete=r.retain_on_delete,
                )
                created[r.urn] = pulumi.ComponentResource(r.type, r.name, None, options)
            pending = [r for r in pending if r.urn not in created]

    return program


def engine_stack(
    plane: ControlPlane, name: str, program: Callable[[], None], workdir: Path
) -> auto.Stack:
    env = plane.env()
    return auto.create_or_select_stack(
        name,
        project_name=PROJECT,
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(workdir),
            pulumi_home=env["PULUMI_HOME"],
            env_vars=env,
            pulumi_command=auto.PulumiCommand(root=str(plane.bin_dir.parent)),
            project_settings=auto.ProjectSettings(
                name=PROJECT,
                runtime="python",
                backend=auto.ProjectBackend(url=env["PULUMI_BACKEND_URL"]),
            ),
        ),
    )


def engine_resources(stack: auto.Stack) -> dict[str, dict[str, Any]]:
    deployment = stack.export_stack().deployment
    return {
        r["urn"]: r for r in deployment.get("resources", []) if r["type"] != "pulumi:pulumi:Stack"
    }


@pytest.fixture
def production(make_spec: Any, synth_stack: Any) -> SynthResult:
    result: SynthResult = synth_stack(make_spec(name="prod", profile="production"), name="prod")
    return result


def test_engine_urns_and_protection_match_the_mocks(control_plane, production, tmp_path):
    stack = engine_stack(control_plane, "prod", replay(production), tmp_path)
    stack.up(on_output=lambda _: None)

    recorded = {r.urn: r for r in production.resources if not r.type.startswith("pulumi:prov")}
    state = engine_resources(stack)
    assert state.keys() == recorded.keys()
    for urn, resource in recorded.items():
        assert state[urn].get("protect", False) == resource.protect, urn
        assert state[urn].get("retainOnDelete", False) == resource.retain_on_delete, urn
        assert state[urn]["parent"] == resource.parent, urn
    assert sum(r.protect for r in recorded.values()) >= 5


def test_a_second_run_plans_no_change(control_plane, production, tmp_path):
    stack = engine_stack(control_plane, "prod-again", replay(production), tmp_path)
    stack.up(on_output=lambda _: None)

    preview = stack.preview(expect_no_changes=True, on_output=lambda _: None)

    assert set(preview.change_summary) == {"same"}


def test_destroy_refuses_protected_data_until_protection_is_lifted(
    control_plane, production, tmp_path
):
    stack = engine_stack(control_plane, "prod-destroy", replay(production), tmp_path)
    stack.up(on_output=lambda _: None)

    with pytest.raises(auto.errors.CommandError, match="protected"):
        stack.destroy(on_output=lambda _: None)
    assert engine_resources(stack)

    stack.workspace.program = replay(production, skip_protect=True)
    stack.up(on_output=lambda _: None)
    stack.destroy(on_output=lambda _: None)
    assert engine_resources(stack) == {}
