"""The components for other Pulumi languages: the schema Pulumi infers from them (committed
as components/schema.json) and the provider-host code path, driven with the dict args
another language sends, build what the Python API builds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_iac.multilang.schema import package_schema, provider
from mlops_iac.spec import StackSpec
from mlops_iac.testing import synth

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "components" / "schema.json"
EXPECTED = {
    "MLOpsStack": ["stack"],
    "ModelRegistry": ["stack"],
    "ServingEndpoint": ["endpoint", "stack"],
    "FeatureStore": ["featureStore", "stack"],
    "TrainingCluster": ["stack", "training"],
    "Monitoring": ["monitoring", "stack"],
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return package_schema()


def test_the_committed_schema_is_what_the_code_infers(schema):
    committed = json.loads(COMMITTED.read_text())

    assert committed == schema, "run: python -m mlops_iac.multilang.schema > components/schema.json"


def test_every_component_has_its_token_required_inputs_and_descriptions(schema):
    resources = schema["resources"]

    assert sorted(resources) == sorted(f"mlops:index:{name}" for name in EXPECTED)
    for name, required in EXPECTED.items():
        resource = resources[f"mlops:index:{name}"]
        assert resource["isComponent"] is True
        assert sorted(resource["requiredInputs"]) == required
        assert resource["description"]
        undocumented = [
            k for k, v in resource["inputProperties"].items() if not v.get("description")
        ]
        assert undocumented == [], name
    target = schema["types"]["mlops:index:TargetArgs"]
    assert target["required"] == ["kind"]
    assert all(prop.get("description") for prop in target["properties"].values())


def test_no_union_types_in_the_surface(schema):
    text = json.dumps(schema)

    assert "oneOf" not in text and "anyOf" not in text


STACK_ARGS = {
    "stack": {"target": {"kind": "kind", "cluster": "mlops"}, "namespace": "mlops"},
    "registry": {"replicas": 1.0},
    "serving": [{"name": "churn", "model": "models:/churn@champion", "replicas": 2.0,
                 "autoscaling": {"min": 2.0, "max": 4.0}}],
    "training": {"jobs": [{"name": "churn", "dataset": "sklearn://breast_cancer"}]},
}  # fmt: skip


def manifests_of(result: Any) -> list[dict[str, Any]]:
    return sorted(result.manifests, key=lambda m: (m["kind"], m["metadata"].get("name", "")))


def test_a_component_built_through_the_provider_host_matches_the_python_api():
    from mlops_iac.components.stack import MLOpsStack

    host = provider()
    through_host = synth(
        lambda: host.construct("demo", "mlops:index:MLOpsStack", STACK_ARGS, None), stack="demo"
    )
    spec = StackSpec.load(
        {"name": "demo", "target": {"kind": "kind", "cluster": "mlops"}, "namespace": "mlops",
         "registry": {"replicas": 1}, "serving": [STACK_ARGS["serving"][0]],
         "training": STACK_ARGS["training"]}
    )  # fmt: skip
    python_api = synth(lambda: MLOpsStack("demo", spec), stack="demo")

    assert manifests_of(through_host) == manifests_of(python_api)
    hpa = through_host.manifest("HorizontalPodAutoscaler", "churn")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)  # floats became ints


def test_an_aws_target_from_another_language_is_the_same_aws_spec():
    pytest.importorskip("pulumi_aws", reason="the AWS platform needs the `aws` extra")
    host = provider()
    groups = [{"name": "cpu", "instance_types": ["m6i.large"], "min": 2.0, "max": 4.0}]
    target = {"kind": "aws", "region": "eu-west-1", "aws": {"cluster": {"node_groups": groups}}}
    args = {"stack": {"target": target}, "registry": {}}

    result = synth(
        lambda: host.construct("demo", "mlops:index:ModelRegistry", args, None), stack="demo"
    )

    (group,) = result.of_type("aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["scalingConfig"] == {"minSize": 2, "maxSize": 4, "desiredSize": 2}
    assert (
        result.manifest("Deployment", "mlflow")["spec"]["template"]["spec"]["serviceAccountName"]
        == "mlflow"
    )


def test_bad_args_from_another_language_are_spec_errors_naming_the_field():
    host = provider()
    args = {"stack": {"target": {"kind": "kind"}}, "registry": {"replicas": -1.0}}

    with pytest.raises(Exception) as caught:
        synth(lambda: host.construct("demo", "mlops:index:ModelRegistry", args, None), stack="d")

    assert "registry.replicas" in str(caught.value)


def test_the_yaml_consumer_uses_only_properties_of_the_schema(schema):
    program = yaml.safe_load((REPO / "examples" / "yaml-consumer" / "Pulumi.yaml").read_text())

    assert program["packages"]["mlops"] == "../../components"
    for resource in program["resources"].values():
        spec = schema["resources"][resource["type"]]
        properties = resource.get("properties", {})
        assert set(properties) <= set(spec["inputProperties"])
        assert set(spec["requiredInputs"]) <= set(properties)
        stack_type = schema["types"]["mlops:index:StackArgs"]
        assert set(properties["stack"]) <= set(stack_type["properties"])


def test_teams_from_another_language_build_what_the_python_api_builds():
    from mlops_iac.components.stack import MLOpsStack

    teams = [{"name": "churn", "quota": {"cpu": "2", "memory": "4Gi"}}]
    args = {"stack": {"target": {"kind": "kubernetes"}}, "teams": teams}
    through_host = synth(
        lambda: provider().construct("platform", "mlops:index:MLOpsStack", args, None),
        stack="dev",
    )
    spec = StackSpec.load({"name": "platform", "target": {"kind": "kubernetes"}, "teams": teams})
    python_api = synth(lambda: MLOpsStack("platform", spec), stack="dev")

    assert manifests_of(through_host) == manifests_of(python_api)
    assert through_host.manifest("RoleBinding", "mlops-team", "mlops-churn")
