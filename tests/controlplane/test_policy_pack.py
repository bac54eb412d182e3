"""The CrossGuard policy pack under the real CLI: `mlops-iac policy-pack` writes it (and its
venv, from PyPI), and `pulumi preview --policy-pack` runs it on a project `mlops-iac new`
made, deployed to nothing yet: our own objects pass every rule; a Deployment a user adds to
the program next to ours, running as root on a `latest` image, fails the preview with the
rules' messages; the pack's config turns that into a warning or an exception. (Not
`privileged: true`: this API server refuses privileged pods itself, `--allow-privileged` is
off, so the preview would fail before the pack mattered.)

The tests run in file order on one stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from toolchain import PulumiFailed, TierStack

from mlops_iac import policy
from mlops_iac.dev.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}

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
                    {"name": "shell", "image": "busybox:latest",
                     "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}
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


def policy_summaries(output: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """From a streaming `preview --json`: each resource's policy summary by URN, and the
    stack's."""
    per_resource, stack = {}, {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if "policyAnalyzeSummaryEvent" in event:
            summary = event["policyAnalyzeSummaryEvent"]
            per_resource[summary["resourceUrn"]] = summary
        stack = event.get("policyAnalyzeStackSummaryEvent", stack)
    return per_resource, stack


def test_the_platform_s_own_objects_pass_every_rule(project, monkeypatch) -> None:
    stack, pack = project
    monkeypatch.setenv("PULUMI_ENABLE_STREAMING_JSON_PREVIEW", "true")

    per_resource, whole = policy_summaries(preview(stack, pack, "--json"))

    workloads = {
        urn: summary
        for urn, summary in per_resource.items()
        if urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1].split(":")[-1] in WORKLOAD_KINDS
    }
    assert len(workloads) >= 6  # registry, database, object store, their Jobs, training
    pod_policies = {f"mlops-{rule.name}" for rule in policy.POD_RULES}
    for urn, summary in workloads.items():
        # Every rule ran on every workload and passed: none failed, none was skipped
        # for a value the preview does not know.
        assert set(summary.get("passed", [])) == pod_policies, urn
        assert not summary.get("failed") and not summary.get("notApplicable"), urn
    assert whole.get("passed") == ["mlops-default-deny"]


def test_a_users_root_pod_fails_the_preview_with_the_rules_messages(project) -> None:
    stack, pack = project
    main = stack.directory / "__main__.py"
    main.write_text(main.read_text() + ROGUE)

    with pytest.raises(PulumiFailed) as failed:
        preview(stack, pack)

    said = str(failed.value)
    assert "[mandatory]  mlops-pod-security" in said
    assert "container shell may run as root (runAsNonRoot is not true)" in said
    assert "container shell does not drop ALL capabilities" in said
    assert "[mandatory]  mlops-images" in said
    assert "image 'busybox:latest' uses `latest`" in said
    assert "mlops-resources" in said and "mlops-probes" in said


def test_the_pack_config_sets_levels_and_exceptions(project, tmp_path: Path) -> None:
    stack, pack = project
    config = tmp_path / "policy-config.json"
    config.write_text(
        json.dumps(
            {
                "mlops-pod-security": "advisory",
                "mlops-images": "disabled",
                "mlops-resources": {"exceptions": ["Deployment:default/rogue"]},
                "mlops-probes": {"exceptions": ["Deployment:default/rogue"]},
            }
        )
    )

    output = preview(stack, pack, "--policy-pack-config", str(config))

    assert "[advisory]  mlops-pod-security" in output
    for quiet in ("mlops-images", "mlops-resources", "mlops-probes"):
        assert quiet not in output
