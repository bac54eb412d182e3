"""`pulumi up` for real: the repo's own project (Pulumi.yaml, the local stack's spec targeted at
the control plane as an existing cluster) deployed by the real Pulumi CLI, Python language
host and Kubernetes and Random providers, every Helm release installed from the vendored
chart copies, onto a control plane with no CRDs installed beforehand.

The tests run in file order on one stack: up, convergence, a clean second preview and
refresh, then updates (each a real `pulumi up` of one spec change, asserting what changed
and that no stateful object was replaced), then teardown keeping the data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from polling import wait_until
from toolchain import VENDORED_CHARTS, TierStack, not_converged, uids

from mlops_iac.dev.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

STATEFUL_KINDS = ("statefulsets", "persistentvolumeclaims", "persistentvolumes", "namespaces")


@pytest.fixture(scope="module")
def stack(empty_plane: ControlPlane) -> Iterator[TierStack]:
    """The repo's local stack on the empty control plane, after a first `pulumi up`."""
    if not VENDORED_CHARTS.is_dir():
        pytest.fail(f"the vendored charts are missing: {VENDORED_CHARTS}")
    deployed = TierStack.from_local_stack(empty_plane)
    try:
        assert empty_plane.get("crd")["items"] == []
        deployed.up()
        yield deployed
    finally:
        deployed.remove()


def test_a_first_up_on_an_empty_cluster_installs_what_the_stack_uses_in_order(
    stack: TierStack, empty_plane: ControlPlane
) -> None:
    crds = {item["spec"]["group"] for item in empty_plane.get("crd")["items"]}
    kinds = {resource["type"] for resource in stack.resources()}

    assert "gateway.networking.k8s.io" in crds
    assert "kubernetes:helm.sh/v3:Release" in kinds
    assert "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute" in kinds
    if "monitoring" in stack.left_out:
        pytest.skip(f"monitoring left out of the tier: {stack.left_out['monitoring']}")
    assert "monitoring.coreos.com" in crds
    assert "kubernetes:monitoring.coreos.com/v1:ServiceMonitor" in kinds


def test_everything_the_stack_created_converges(
    stack: TierStack, empty_plane: ControlPlane
) -> None:
    wait_until(lambda: not not_converged(empty_plane), timeout=180)
    assert not_converged(empty_plane) == []


def test_a_second_preview_plans_no_change(stack: TierStack) -> None:
    stack.pulumi("preview", "--expect-no-changes", "--diff")


def test_refresh_then_preview_plans_no_change(stack: TierStack) -> None:
    stack.pulumi("refresh", "--yes", "--skip-preview")
    stack.pulumi("preview", "--expect-no-changes", "--diff")


def urn_name(urn: str) -> str:
    """The Pulumi name in a URN."""
    return urn.split("::")[3]


def _with(key: str, **changes: Any) -> Callable[[TierStack], None]:
    """A spec change: merge `changes` into the config value `mlops:<key>`."""

    def apply(stack: TierStack) -> None:
        current = dict(stack.config.get(f"mlops:{key}") or {})
        stack.set(f"mlops:{key}", {**current, **changes})

    return apply


ENDPOINT = {"name": "demo", "model": "models:/demo@champion"}
WITH_MONITORING_ONLY = {"local-platform-s3-bucket-inference-logs"}
"""Expected steps that only a stack with monitoring plans (its endpoints log inferences)."""
UPDATES: list[tuple[str, Callable[[TierStack], None], dict[str, str]]] = [
    (
        "a replica count",
        _with("registry", replicas=2),
        {"local-registry-deployment": "update", "local-registry-pdb": "create"},
    ),
    (
        "a container's resources",
        _with("registry", resources={"cpu": "300m", "memory": "768Mi"}),
        {"local-registry-deployment": "update"},
    ),
    (
        "a new endpoint",
        lambda stack: stack.set("mlops:serving", [ENDPOINT]),
        # with monitoring, endpoints log inferences: the bucket for them comes with the first
        {"local-serving-demo": "create", "local-platform-s3-bucket-inference-logs": "create"},
    ),
    (
        "an endpoint's canary weight",
        lambda stack: stack.set(
            "mlops:serving",
            [{**ENDPOINT, "canary": {"model": "models:/demo@challenger", "weight": 10}}],
        ),
        {"local-serving-demo-challenger": "create", "local-serving-demo-route": "create"},
    ),
    (
        "the canary weight again",
        lambda stack: stack.set(
            "mlops:serving",
            [{**ENDPOINT, "canary": {"model": "models:/demo@challenger", "weight": 50}}],
        ),
        {"local-serving-demo-route": "update"},
    ),
    (
        "a removed endpoint",
        lambda stack: stack.set("mlops:serving", None),
        # the bucket's Job goes with its last user; the bucket and its objects stay in the store
        {"local-serving-demo": "delete", "local-platform-s3-bucket-inference-logs": "delete"},
    ),
    (
        "a training schedule",
        lambda stack: stack.set(
            "mlops:training",
            {
                **stack.config["mlops:training"],
                "jobs": [{**stack.config["mlops:training"]["jobs"][0], "schedule": "0 3 * * *"}],
            },
        ),
        {"local-training-job-demo": "update"},
    ),
    (
        "the storage size of each data service",
        _with("target", postgres={"storage": "3Gi"}, object_store={"storage": "6Gi"}),
        # volume sizes apply when a claim is made; never a replacement of a data StatefulSet
        # (single_node.VOLUME_TEMPLATE_FIELDS): nothing is planned
        {},
    ),
    (
        "a changed runtime image tag",
        lambda stack: stack.set("mlops:runtime_image", "mlops-iac/runtime:0.1.1"),
        # the feast apply Job is immutable: a new image re-runs it (replace); the rest updates
        {
            "local-training-job-demo": "update",
            "local-feature-store-apply": "replace",
            "local-feature-store": "update",
        },
    ),
    (
        "monitoring switched off",
        lambda stack: stack.set("mlops:monitoring", None),
        # with it go what scrapes the stack and where jobs push metrics
        {
            "local-monitoring": "delete",
            "local-registry-servicemonitor": "delete",
            "local-feature-store-servicemonitor": "delete",
            "local-feature-store": "update",
            "local-training-job-demo": "update",
            "local-training-pushgateway-egress": "delete",
        },
    ),
    (
        "monitoring switched on again",
        lambda stack: stack.set(
            "mlops:monitoring", {"grafana": {"ingress": {"host": "grafana.localtest.me"}}}
        ),
        {
            "local-monitoring": "create",
            "local-registry-servicemonitor": "create",
            "local-feature-store-servicemonitor": "create",
            "local-feature-store": "update",
            "local-training-job-demo": "update",
            "local-training-pushgateway-egress": "create",
        },
    ),
]
"""Each: what changes, the spec change, and for each Pulumi name prefix the one operation
its resources may plan (at least one resource per prefix plans it; nothing else plans
anything)."""


@pytest.mark.parametrize(("what", "change", "expected"), UPDATES, ids=[u[0] for u in UPDATES])
def test_an_update_changes_exactly_what_the_spec_change_says_and_keeps_the_data(
    stack: TierStack,
    empty_plane: ControlPlane,
    what: str,
    change: Callable[[TierStack], None],
    expected: dict[str, str],
) -> None:
    if "monitoring" in what and "monitoring" in stack.left_out:
        pytest.skip(f"monitoring left out of the tier: {stack.left_out['monitoring']}")
    if "monitoring" in stack.left_out:
        expected = {k: v for k, v in expected.items() if k not in WITH_MONITORING_ONLY}
    before = uids(empty_plane, *STATEFUL_KINDS)
    change(stack)
    steps = stack.planned_steps()

    unexpected = [
        (step["op"], step["urn"])
        for step in steps
        if not any(
            urn_name(step["urn"]).startswith(prefix) and step["op"] in (op, f"{op}-replacement")
            for prefix, op in expected.items()
        )
    ]
    assert unexpected == [], f"{what}: planned beyond the change; all steps: {steps}"
    for prefix, op in expected.items():
        assert any(urn_name(s["urn"]).startswith(prefix) and s["op"] == op for s in steps), (
            f"{what}: nothing under {prefix} plans {op}: {steps}"
        )
    stack.up()
    wait_until(lambda: not not_converged(empty_plane), timeout=180)
    assert not_converged(empty_plane) == []
    stack.pulumi("preview", "--expect-no-changes")
    after = uids(empty_plane, *STATEFUL_KINDS)
    assert {k: v for k, v in before.items() if k in after and after[k] != v} == {}


DATA_KINDS = ("statefulsets", "persistentvolumeclaims", "secrets")


def _data(plane: ControlPlane) -> dict[str, str]:
    """uid of every StatefulSet, claim and Secret of the stack's namespace, and each
    Secret's data (passwords must survive a teardown, or the data is unreadable)."""
    found = {}
    for kind in DATA_KINDS:
        for item in plane.get(kind, "-n", "mlops")["items"]:
            key = f"{kind}/{item['metadata']['name']}"
            found[key] = item["metadata"]["uid"]
            if kind == "secrets":
                found[f"{key}#data"] = json.dumps(item.get("data", {}), sort_keys=True)
    return found


def test_mlops_iac_preview_drives_the_same_toolchain(stack: TierStack) -> None:
    output = stack.mlops_iac("preview", stack.name)

    assert "Previewing update" in output


def test_down_keeps_the_data_and_a_new_up_finds_it_unchanged(
    stack: TierStack, empty_plane: ControlPlane
) -> None:
    before = _data(empty_plane)
    assert any(key.startswith("statefulsets/") for key in before)

    stack.mlops_iac("down", stack.name)
    kept = _data(empty_plane)
    remaining = {r["type"] for r in stack.resources()}
    assert "kubernetes:apps/v1:Deployment" not in remaining
    assert {k: v for k, v in before.items() if kept.get(k) != v} == {}

    stack.mlops_iac("up", stack.name)
    after = _data(empty_plane)
    assert {k: v for k, v in before.items() if after.get(k) != v} == {}
    wait_until(lambda: not not_converged(empty_plane), timeout=180)
    assert not_converged(empty_plane) == []


def test_production_refuses_destroy_while_protected_and_down_delete_data_removes_it(
    stack: TierStack, empty_plane: ControlPlane
) -> None:
    stack.set("mlops:profile", "production")
    stack.up()
    refused = stack.pulumi("destroy", "--yes", "--skip-preview", check=False)
    assert "protected" in refused

    stack.mlops_iac("down", stack.name, "--delete-data")
    assert stack.resources() == [] or {r["type"] for r in stack.resources()} == {
        "pulumi:pulumi:Stack"
    }
    wait_until(
        lambda: not empty_plane.get("persistentvolumeclaims", "-n", "mlops")["items"], timeout=120
    )
