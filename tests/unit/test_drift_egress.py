"""The drift monitor's egress: the Pushgateway and the Kubernetes API server's endpoints,
by target, and nothing anywhere else (no rule without a destination)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_iac.spec import SpecError, StackSpec
from mlops_iac.testing import SynthResult, synth

DRIFTING: dict[str, Any] = {
    "name": "shop",
    "serving": [{"name": "churn", "model": "models:/churn@champion"}],
    "training": {"jobs": [{"name": "churn", "dataset": "s3://datasets/churn.parquet"}]},
    "monitoring": {"drift": {"endpoint": "churn", "retrain_job": "churn"}},
}
AWS_TARGET = {
    "kind": "aws",
    "region": "eu-west-1",
    "cluster": {
        "node_groups": [{"name": "cpu", "instance_types": ["m6i.large"], "min": 2, "max": 3}]
    },
}


def synth_target(target: dict[str, Any]) -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack

    spec = StackSpec.load({**DRIFTING, "target": target})
    return synth(lambda: MLOpsStack("shop", spec).export(), stack="shop")


def drift_egress(result: SynthResult) -> list[dict[str, Any]]:
    policy = result.manifest("NetworkPolicy", "drift-monitor-egress", "mlops-training")
    assert policy["spec"]["policyTypes"] == ["Egress"]
    rules: list[dict[str, Any]] = policy["spec"]["egress"]
    return rules


def api_server_rule(rules: list[dict[str, Any]]) -> tuple[list[str], list[int]]:
    (rule,) = [r for r in rules if any("ipBlock" in peer for peer in r.get("to", []))]
    return [p["ipBlock"]["cidr"] for p in rule["to"]], [p["port"] for p in rule["ports"]]


def assert_every_rule_has_a_destination(rules: list[dict[str, Any]]) -> None:
    """A rule with ports and no `to` allows those ports to every address."""
    for rule in rules:
        assert rule.get("to"), f"egress rule {rule} allows any destination"
        for peer in rule["to"]:
            assert peer.get("ipBlock", {}).get("cidr") not in ("0.0.0.0/0", "::/0"), rule


def test_on_kind_the_api_server_is_on_dockers_address_pools_on_6443():
    rules = drift_egress(synth_target({"kind": "kind"}))

    assert_every_rule_has_a_destination(rules)
    assert api_server_rule(rules) == (["172.16.0.0/12", "192.168.0.0/16"], [6443])
    pushgateway = next(r for r in rules if "namespaceSelector" in r["to"][0])
    assert pushgateway["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops-monitoring"}}}
    ]
    assert pushgateway["ports"] == [{"protocol": "TCP", "port": 9091}]


def test_an_existing_cluster_takes_its_api_servers_endpoints_from_the_spec():
    target = {
        "kind": "kubernetes",
        "api_server": {"cidrs": ["10.0.0.10/32", "10.0.0.11/32"], "ports": [6443]},
    }

    rules = drift_egress(synth_target(target))

    assert_every_rule_has_a_destination(rules)
    assert api_server_rule(rules) == (["10.0.0.10/32", "10.0.0.11/32"], [6443])


def test_an_existing_cluster_without_them_gets_the_private_ranges_only():
    rules = drift_egress(synth_target({"kind": "kubernetes"}))

    assert api_server_rule(rules) == (
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        [443, 6443],
    )


def test_on_aws_the_api_server_is_in_the_vpc_on_443():
    pytest.importorskip("pulumi_aws", reason="the AWS platform needs the `aws` extra")

    rules = drift_egress(synth_target(AWS_TARGET))

    assert_every_rule_has_a_destination(rules)
    assert api_server_rule(rules) == (["10.42.0.0/16"], [443])


def test_an_api_server_address_must_be_a_cidr():
    with pytest.raises(SpecError, match=r"target\.api_server\.cidrs"):
        StackSpec.load(
            {
                **DRIFTING,
                "target": {"kind": "kind", "api_server": {"cidrs": ["kind"], "ports": [6443]}},
            }
        )
