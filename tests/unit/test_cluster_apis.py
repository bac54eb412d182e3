"""Custom resources and the APIs that serve them: every one waits for what installs its CRD,
and a spec that needs an API nothing installs is refused before anything is created."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.spec import StackSpec
from mlops_iac.spec.errors import SpecError
from mlops_iac.testing import synth, synth_project
from mlops_iac.testing.ordering import resource_group, unordered_custom_resources

REPO = Path(__file__).resolve().parents[2]
REFERENCE_STACKS = [(REPO, "local"), (REPO / "examples" / "churn", "dev"), (REPO, "aws-dev")]


@pytest.mark.parametrize(("project", "stack"), REFERENCE_STACKS, ids=lambda v: str(v)[-12:])
def test_every_custom_resource_of_the_reference_stacks_waits_for_its_crd(
    project: Path, stack: str
) -> None:
    result = synth_project(project, stack)

    custom = [r for r in result.resources if resource_group(r)]
    assert custom, "the reference stacks create custom resources"
    assert unordered_custom_resources(result.resources) == []


def test_a_custom_resource_created_outside_clusterapis_is_found() -> None:
    import pulumi
    import pulumi_kubernetes as k8s

    def program() -> None:
        release = k8s.helm.v3.Release("stack", chart="kube-prometheus-stack", version="1")
        k8s.apiextensions.CustomResource(
            "ordered",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": "ordered", "namespace": "default"},
            opts=pulumi.ResourceOptions(depends_on=[release]),
        )
        k8s.apiextensions.CustomResource(
            "racing",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": "racing", "namespace": "default"},
        )

    problems = unordered_custom_resources(synth(program).resources)

    assert len(problems) == 1 and "::racing" in problems[0]
    assert unordered_custom_resources(synth(program).resources, ["prometheus-operator"]) == []


def test_only_clusterapis_constructs_custom_resources() -> None:
    sources = sorted((REPO / "mlops_iac").rglob("*.py"))
    constructing = [
        str(path.relative_to(REPO))
        for path in sources
        if "apiextensions.CustomResource(" in path.read_text()
    ]
    assert constructing == ["mlops_iac/k8s/apis.py"]


FEATURES = {
    "monitoring": {"monitoring": {}},
    "service_monitor": {
        "serving": [{"name": "a", "model": "models:/a@champion", "service_monitor": True}]
    },
    "kserve": {"serving": [{"name": "k", "model": "models:/k@champion", "runtime": "kserve"}]},
    "route": {"registry": {"ingress": {}}},
    "kueue": {"training": {"kueue": True}},
}
TARGETS: dict[str, dict[str, Any]] = {
    "kind": {"kind": "kind"},
    "kind-without-gateway": {"kind": "kind", "install_gateway": False},
    "kubernetes": {"kind": "kubernetes"},
    "kubernetes-installing-gateway": {"kind": "kubernetes", "install_gateway": True},
    "kubernetes-with-everything": {
        "kind": "kubernetes",
        "preinstalled": ["gateway-api", "prometheus-operator", "kserve"],
    },
}


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key == "serving":
                merged[key] = merged.get(key, []) + value
            else:
                merged[key] = value
    return merged


CASES = [
    (target, combo)
    for target in TARGETS
    for size in (1, 2)
    for combo in itertools.combinations(sorted(FEATURES), size)
]


@pytest.mark.parametrize(
    ("target", "features"), CASES, ids=lambda v: "+".join(v) if isinstance(v, tuple) else v
)
def test_a_spec_is_refused_before_anything_exists_or_every_custom_resource_is_served(
    target: str, features: tuple[str, ...]
) -> None:
    from mlops_iac.components.stack import MLOpsStack

    data = {
        "name": "apis",
        "target": TARGETS[target],
        "routing": {"gateway_class": "eg"} if target.startswith("kubernetes") else {},
        **_merge([FEATURES[f] for f in features]),
    }
    try:
        spec = StackSpec.load(data)
    except SpecError as error:
        assert "nothing installs it" in str(error), str(error)
        return
    result = synth(lambda: MLOpsStack("apis", spec).export(), stack="apis")
    preinstalled = getattr(spec.target, "preinstalled", [])
    assert unordered_custom_resources(result.resources, preinstalled) == []
