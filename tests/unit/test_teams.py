"""Teams: a platform stack makes each team's namespace and the rights and paths it needs; a
team's stack deploys its endpoints there, reading its platform through a StackReference,
and creates nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_iac.components.platform_reference import team_entry
from mlops_iac.components.serving_runtime import METRICS_PORT
from mlops_iac.components.stack import MLOpsStack
from mlops_iac.components.teams import SERVING_CLIENT_LABELS, TEAM_ROLE, team_rules
from mlops_iac.spec import SpecError, StackSpec
from mlops_iac.testing import SynthResult, synth

PLATFORM_STACK = "organization/platform/dev"
PLATFORM = {
    "name": "platform",
    "target": {"kind": "kubernetes", "install_gateway": True},
    "routing": {"gateway_class": "eg"},
    "teams": [{"name": "churn", "quota": {"cpu": "2", "memory": "4Gi", "pods": 10}}],
}
TEAM = {
    "name": "churn",
    "target": {"kind": "kubernetes", "preinstalled": ["gateway-api"]},
    "namespace": "mlops-churn",
    "routing": {"gateway_namespace": "mlops"},
    "platform": {"stack": PLATFORM_STACK, "team": "churn"},
    "serving": [{"name": "churn", "model": "models:/churn@champion", "ingress": {}}],
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def synth_spec(data: dict[str, Any], outputs: dict[str, Any] | None = None) -> SynthResult:
    spec = StackSpec.load(data)
    return synth(
        lambda: MLOpsStack(spec.name, spec).export(),
        project=spec.name,
        stack="dev",
        stack_outputs=outputs,
    )


@pytest.fixture(scope="module")
def platform() -> SynthResult:
    return synth_spec(PLATFORM)


@pytest.fixture(scope="module")
def team(platform: SynthResult) -> SynthResult:
    return synth_spec(TEAM, outputs={PLATFORM_STACK: platform.outputs})


def test_the_platform_makes_each_team_a_restricted_default_deny_namespace(
    platform: SynthResult,
) -> None:
    namespace = platform.manifest("Namespace", "mlops-churn")
    labels = namespace["metadata"]["labels"]

    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["mlops-iac.dev/team"] == "churn"
    assert platform.manifest("NetworkPolicy", "default-deny", "mlops-churn")["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    assert platform.manifest("ResourceQuota", "team", "mlops-churn")["spec"]["hard"] == {
        "requests.cpu": "2",
        "limits.cpu": "2",
        "requests.memory": "4Gi",
        "limits.memory": "4Gi",
        "pods": "10",
    }


def test_the_team_s_group_is_bound_to_the_team_role_in_its_namespace_only(
    platform: SynthResult,
) -> None:
    binding = platform.manifest("RoleBinding", TEAM_ROLE, "mlops-churn")

    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": TEAM_ROLE,
    }
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "mlops-iac:team:churn"}
    ]
    assert platform.manifest("Role", TEAM_ROLE, "mlops-churn")["rules"] == team_rules()
    bindings = [m for m in platform.manifests if m["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert [m["metadata"].get("namespace") for m in bindings] == ["mlops-churn"]


def test_the_team_role_cannot_widen_itself_or_reach_past_its_namespace() -> None:
    rules = team_rules()
    groups = {group for rule in rules for group in rule["apiGroups"]}
    granted = {
        (group, kind) for rule in rules for group in rule["apiGroups"] for kind in rule["resources"]
    }

    assert "rbac.authorization.k8s.io" not in groups
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in rules)
    assert not {("", "namespaces"), ("", "resourcequotas"), ("", "limitranges")} & granted
    assert not any(
        kind == "pods" and {"create", "update", "patch"} & set(rule["verbs"])
        for rule in rules
        for kind in rule["resources"]
    )
    assert not any({"escalate", "bind", "impersonate"} & set(rule["verbs"]) for rule in rules)


def test_the_registry_admits_the_team_s_endpoint_pods_and_nothing_else_of_it(
    platform: SynthResult,
) -> None:
    ingress = platform.manifest("NetworkPolicy", "mlflow-from-mlops-churn-model-server-ingress")
    egress = platform.manifest(
        "NetworkPolicy", "mlflow-from-mlops-churn-model-server-egress", "mlops-churn"
    )

    assert ingress["metadata"]["namespace"] == "mlops"
    (peer,) = ingress["spec"]["ingress"][0]["from"]
    assert peer["podSelector"] == {"matchLabels": SERVING_CLIENT_LABELS}
    assert peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "mlops-churn"}
    }
    assert egress["spec"]["podSelector"] == {"matchLabels": SERVING_CLIENT_LABELS}
    assert egress["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5000}]


def test_the_platform_gateway_accepts_routes_from_its_namespace_and_each_team_s(
    platform: SynthResult,
) -> None:
    gateway = platform.manifest("Gateway", "mlops", "mlops")
    (listener,) = gateway["spec"]["listeners"]

    assert listener["allowedRoutes"]["namespaces"] == {
        "from": "Selector",
        "selector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "In",
                    "values": ["mlops", "mlops-churn"],
                }
            ]
        },
    }


def test_a_stack_without_teams_keeps_its_gateway_to_its_own_namespace() -> None:
    alone = synth_spec({**PLATFORM, "teams": []})
    (listener,) = alone.manifest("Gateway", "mlops", "mlops")["spec"]["listeners"]

    assert listener["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    assert "teams" not in alone.outputs


def test_the_teams_output_is_what_a_team_s_stack_reads(platform: SynthResult) -> None:
    assert platform.outputs["teams"] == {
        "churn": {
            "namespace": "mlops-churn",
            "group": "mlops-iac:team:churn",
            "registry": {"tracking_uri": "http://mlflow.mlops.svc.cluster.local:5000"},
            "gateway": {"name": "mlops", "namespace": "mlops"},
        }
    }


def test_a_team_s_stack_creates_only_namespaced_objects_in_its_team_s_namespace(
    team: SynthResult,
) -> None:
    kinds = {m["kind"] for m in team.manifests}

    assert {m["metadata"].get("namespace") for m in team.manifests} == {"mlops-churn"}
    assert not kinds & CLUSTER_SCOPED
    assert not kinds & {"Role", "RoleBinding", "ResourceQuota", "StatefulSet"}
    assert {"Deployment", "Service", "HTTPRoute"} <= kinds


def test_every_kind_a_team_s_stack_creates_is_one_its_role_may_manage(team: SynthResult) -> None:
    managed = {
        (group, kind)
        for rule in team_rules()
        if "create" in rule["verbs"]
        for group in rule["apiGroups"]
        for kind in rule["resources"]
    }
    plural = {"Deployment": "deployments", "Service": "services", "HTTPRoute": "httproutes"}
    plural |= {"NetworkPolicy": "networkpolicies", "PodDisruptionBudget": "poddisruptionbudgets"}
    plural |= {"HorizontalPodAutoscaler": "horizontalpodautoscalers", "ConfigMap": "configmaps"}

    for manifest in team.manifests:
        group = manifest["apiVersion"].rpartition("/")[0]
        assert (group, plural[manifest["kind"]]) in managed, manifest["kind"]


def test_a_team_s_endpoint_loads_its_model_from_the_platform_s_registry(team: SynthResult) -> None:
    deployment = team.manifest("Deployment", "churn", "mlops-churn")
    (fetch,) = deployment["spec"]["template"]["spec"]["initContainers"]
    env = {e["name"]: e.get("value") for e in fetch["env"]}

    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc.cluster.local:5000"
    route = team.manifest("HTTPRoute", "churn", "mlops-churn")
    assert route["spec"]["parentRefs"][0]["namespace"] == "mlops"


def test_a_team_s_provider_is_its_own_and_defaults_to_its_namespace(team: SynthResult) -> None:
    (provider,) = team.of_type("pulumi:providers:kubernetes")

    assert provider.inputs["namespace"] == "mlops-churn"
    assert "kubeconfig" not in provider.inputs  # the team's own identity: its ambient kubeconfig


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"platform": {"stack": PLATFORM_STACK, "team": "fraud"}}, "mlops:platform.team", "churn"),
        ({"namespace": "mlops-fraud"}, "mlops:namespace", "'mlops-churn'"),
        ({"routing": {"gateway_namespace": "gateways"}}, "mlops:routing", "mlops/mlops"),
    ],
    ids=["unknown-team", "other-namespace", "other-gateway"],
)
def test_a_team_s_stack_that_does_not_match_its_platform_is_refused(
    platform: SynthResult, change: dict[str, Any], field: str, words: str
) -> None:
    # The SDK wraps what an apply raises in a ValueError naming the input it was reading.
    with pytest.raises(ValueError, match=f"{field}: ") as raised:
        synth_spec({**TEAM, **change}, outputs={PLATFORM_STACK: platform.outputs})

    assert words in str(raised.value)


def test_team_entry_is_checked_before_anything_reads_it() -> None:
    spec = StackSpec.load(TEAM)
    entry = {
        "namespace": "mlops-churn",
        "group": "g",
        "registry": {"tracking_uri": "http://r:5000"},
        "gateway": {"name": "mlops", "namespace": "mlops"},
    }

    assert team_entry({"churn": entry}, spec) == entry
    with pytest.raises(SpecError, match="its teams: none"):
        team_entry(None, spec)


def test_a_team_s_synth_without_its_platform_s_outputs_says_how_to_give_them() -> None:
    with pytest.raises(LookupError, match="--stack-outputs organization/platform/dev=FILE"):
        synth_spec(TEAM)


def test_with_monitoring_prometheus_may_scrape_the_team_s_model_servers_and_only_that() -> None:
    monitored = synth_spec({**PLATFORM, "monitoring": {}})
    policy = monitored.manifest("NetworkPolicy", "metrics-from-monitoring", "mlops-churn")

    assert policy["spec"]["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "mlops-monitoring"}
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
        }
    ]


def test_without_monitoring_nothing_may_scrape_a_team_s_namespace(platform: SynthResult) -> None:
    team_policies = [
        m["metadata"]["name"]
        for m in platform.manifests
        if m["kind"] == "NetworkPolicy" and m["metadata"].get("namespace") == "mlops-churn"
    ]

    assert "metrics-from-monitoring" not in team_policies
