"""The CrossGuard policy pack under the real CLI: `mlops-iac policy-pack` writes it (and its
venv, from PyPI), and `pulumi preview --policy-pack` runs it on a project `mlops-iac new`
made, deployed to nothing yet: our own objects pass every rule; a privileged Deployment a
user adds to the program next to ours fails the preview with the rule's message; the pack's
config turns that into a warning or an exception.

The tests run in file order on one stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from toolchain import PulumiFailed, TierStack

from mlops_iac.dev.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

ROGUE = """

# A user's own resource next to the platform's.
import pulumi_kubernetes as k8s

k8s.apps.v1.Deployment(
    "rogue",
    metadata={"name": "rogue", "namespace": "default"},
    spec={
        "selector": {"matchLabels": {"app": "rogue"}},
        "template": {
            "metadata": {"labels": {"app": "rogue"}},
            "spec": {
                "containers": [
                    {"name": "shell", "image": "busybox:1.37",
                     "securityContext": {"privileged": True}}
                ]
            },
        },
    },
)
"""


@pytest.fixture(scope="module")
def project(
    empty_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TierStack, Path]]:
    """A new kubernetes project with stack `dev` initialized, and the pack beside it."""
    root = tmp_path_factory.mktemp("policy-pack")
    maker = TierStack(empty_plane, "dev", root / "unused.yaml", {}, directory=root)
    maker.mlops_iac("new", "pack-stack", "--target", "kubernetes")
    maker.mlops_iac("policy-pack", "pack")
    stack = TierStack.of_project(empty_plane, root / "pack-stack", "dev")
    stack.pulumi("stack", "init", "dev")
    yield stack, root / "pack"


def preview(stack: TierStack, pack: Path, *extra: str, check: bool = True) -> str:
    return stack.pulumi("preview", "--policy-pack", str(pack), *extra, check=check)


def test_the_platform_s_own_objects_pass_every_rule(project) -> None:
    stack, pack = project

    output = preview(stack, pack)

    assert "mlops-iac@v" in output  # the pack ran
    assert "[mandatory]" not in output and "[advisory]" not in output


def test_a_users_privileged_pod_fails_the_preview_with_the_rule_s_message(project) -> None:
    stack, pack = project
    main = stack.directory / "__main__.py"
    main.write_text(main.read_text() + ROGUE)

    with pytest.raises(PulumiFailed) as failed:
        preview(stack, pack)

    said = str(failed.value)
    assert "[mandatory]  mlops-pod-security" in said
    assert "container shell is privileged" in said
    assert "mlops-resources" in said  # no requests or limits either
    assert "mlops-probes" in said


def test_the_pack_config_sets_levels_and_exceptions(project, tmp_path: Path) -> None:
    stack, pack = project
    config = tmp_path / "policy-config.json"
    config.write_text(
        json.dumps(
            {
                "mlops-pod-security": "advisory",
                "mlops-resources": {"exceptions": ["Deployment:default/rogue"]},
                "mlops-probes": {"exceptions": ["Deployment:default/rogue"]},
            }
        )
    )

    output = preview(stack, pack, "--policy-pack-config", str(config))

    assert "[advisory]  mlops-pod-security" in output
    assert "mlops-resources" not in output and "mlops-probes" not in output
