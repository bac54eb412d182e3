"""The two-stack layout of examples/teams deployed for real: the platform team's stack with
the admin's identity, then the churn team's stack with a team member's own identity (a
client certificate in the team's group, no other rights), reading the platform through a
StackReference, with the real CLI, language host and providers.

The tests run in file order on the two stacks.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from polling import wait_until
from toolchain import REPO, TierStack, not_converged

from mlops_iac.dev.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

EXAMPLE = REPO / "examples" / "teams"
TEAM_NAMESPACE = "mlops-churn"


@dataclass
class Layout:
    platform: TierStack
    team: TierStack
    team_kubeconfig: Path


def can_i(plane: ControlPlane, kubeconfig: Path, verb: str, kind: str, namespace: str) -> bool:
    """`kubectl auth can-i` as the identity of `kubeconfig` (a SelfSubjectAccessReview)."""
    kubectl = [str(plane.bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig)]
    done = subprocess.run(
        [*kubectl, "auth", "can-i", verb, kind, "-n", namespace],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() == "yes"


@pytest.fixture(scope="module")
def layout(empty_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    """Both example projects copied out of the checkout; the platform stack up as admin."""
    folder = tmp_path_factory.mktemp("teams")
    shutil.copytree(EXAMPLE / "platform", folder / "platform")
    shutil.copytree(EXAMPLE / "churn-team", folder / "churn-team")
    platform = TierStack.of_project(empty_plane, folder / "platform", "dev")
    platform.pulumi("stack", "init", "dev")
    platform.up()
    member = empty_plane.user_kubeconfig("alice", "mlops-iac:team:churn")
    team = TierStack.of_project(empty_plane, folder / "churn-team", "dev")
    document = yaml.safe_load(team.config_file.read_text())
    team.config = document["config"]
    team.config["mlops:target"] = {**team.config["mlops:target"], "kubeconfig": str(member)}
    team.write_config()
    team.pulumi("stack", "init", "dev")
    team.config_extra = {
        k: v for k, v in yaml.safe_load(team.config_file.read_text()).items() if k != "config"
    }
    yield Layout(platform, team, member)


def test_a_team_member_may_manage_endpoints_in_the_team_s_namespace_and_nothing_else(
    layout: Layout, empty_plane: ControlPlane
) -> None:
    member = layout.team_kubeconfig

    assert can_i(empty_plane, member, "create", "deployments", TEAM_NAMESPACE)
    assert can_i(
        empty_plane, member, "patch", "httproutes.gateway.networking.k8s.io", TEAM_NAMESPACE
    )
    assert not can_i(empty_plane, member, "create", "deployments", "mlops")
    assert not can_i(empty_plane, member, "get", "secrets", "mlops")
    assert not can_i(empty_plane, member, "create", "rolebindings", TEAM_NAMESPACE)
    assert not can_i(empty_plane, member, "delete", "resourcequotas", TEAM_NAMESPACE)
    assert not can_i(empty_plane, member, "create", "namespaces", "default")


def test_a_team_stack_that_names_another_namespace_is_refused_before_anything_is_created(
    layout: Layout, empty_plane: ControlPlane
) -> None:
    team = layout.team
    team.set("mlops:namespace", "mlops")
    try:
        output = team.pulumi("up", "--yes", "--skip-preview", check=False)
    finally:
        team.set("mlops:namespace", TEAM_NAMESPACE)

    assert "mlops:namespace: the platform gives team churn the namespace 'mlops-churn'" in output
    kinds = {r["type"] for r in team.resources()}
    assert not {k for k in kinds if k.startswith("kubernetes:") and "providers" not in k}


def test_the_team_deploys_its_endpoint_with_its_own_identity_through_the_reference(
    layout: Layout, empty_plane: ControlPlane
) -> None:
    layout.team.up()

    deployment = empty_plane.get("deployment", "churn", "-n", TEAM_NAMESPACE)
    (fetch,) = deployment["spec"]["template"]["spec"]["initContainers"]
    env = {e["name"]: e.get("value") for e in fetch["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc.cluster.local:5000"
    route = empty_plane.get("httproute", "churn", "-n", TEAM_NAMESPACE)
    assert route["spec"]["parentRefs"][0]["namespace"] == "mlops"
    wait_until(lambda: not not_converged(empty_plane), timeout=180)
    assert not_converged(empty_plane) == []


def test_both_stacks_preview_clean_afterwards(layout: Layout) -> None:
    layout.platform.pulumi("preview", "--expect-no-changes", "--diff")
    layout.team.pulumi("preview", "--expect-no-changes", "--diff")


def test_destroying_the_team_stack_leaves_the_platform_s_namespace_and_rights(
    layout: Layout, empty_plane: ControlPlane
) -> None:
    layout.team.pulumi("destroy", "--yes", "--skip-preview")

    assert empty_plane.get("deployments", "-n", TEAM_NAMESPACE)["items"] == []
    assert empty_plane.get("namespace", TEAM_NAMESPACE)["status"]["phase"] == "Active"
    assert empty_plane.get("rolebinding", "mlops-team", "-n", TEAM_NAMESPACE)
    layout.platform.pulumi("preview", "--expect-no-changes")
