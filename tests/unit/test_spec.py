"""The stack spec: what loads, what is refused, and how refusals read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_iac.spec import SpecError, StackSpec, config_fields, quantity_value

MINIMAL = {"name": "demo", "target": {"kind": "kind", "cluster": "mlops"}}


def with_(**fields: object) -> dict[str, object]:
    return {**MINIMAL, **fields}


class TestValidSpecs:
    def test_the_minimal_kind_spec_gets_profile_defaults(self) -> None:
        spec = StackSpec.load(MINIMAL)
        assert spec.profile == "local"
        assert spec.namespace == "mlops"
        assert spec.registry.enabled is True
        assert spec.effective_data_protection == "retain"
        assert spec.defaults.registry_replicas == 1
        assert spec.target.kind == "kind"
        assert spec.target.context == "kind-mlops"  # type: ignore[union-attr]

    def test_production_protects_data_and_runs_two_registry_replicas(self) -> None:
        spec = StackSpec.load(with_(profile="production"))
        assert spec.effective_data_protection == "protect"
        assert spec.defaults.registry_replicas == 2

    def test_an_existing_cluster_target_keeps_kubeconfig_and_context(self) -> None:
        spec = StackSpec.load(
            with_(target={"kind": "kubernetes", "kubeconfig": "/tmp/kc", "context": "prod"})
        )
        assert spec.target.kind == "kubernetes"
        assert spec.target.kubeconfig == "/tmp/kc"  # type: ignore[union-attr]

    def test_the_aws_target_validates_node_groups(self) -> None:
        spec = StackSpec.load(
            with_(
                target={
                    "kind": "aws",
                    "region": "eu-west-1",
                    "cluster": {
                        "version": "1.33",
                        "node_groups": [
                            {
                                "name": "gpu",
                                "instance_types": ["g5.xlarge"],
                                "min": 0,
                                "max": 2,
                                "gpu": True,
                            }
                        ],
                    },
                }
            )
        )
        assert spec.target.cluster.node_groups[0].gpu is True  # type: ignore[union-attr]

    def test_specs_are_immutable(self) -> None:
        spec = StackSpec.load(MINIMAL)
        with pytest.raises(ValueError, match="frozen"):
            spec.name = "other"  # type: ignore[misc]

    def test_resource_limits_default_to_twice_the_cpu_and_the_memory_request(self) -> None:
        spec = StackSpec.load(with_(registry={"resources": {"cpu": "250m", "memory": "1Gi"}}))
        assert spec.registry.resources is not None
        assert spec.registry.resources.to_kubernetes() == {
            "requests": {"cpu": "250m", "memory": "1Gi"},
            "limits": {"cpu": "500m", "memory": "1Gi"},
        }

    def test_the_repo_local_stack_config_loads(self) -> None:
        import yaml

        config = yaml.safe_load(Path("Pulumi.local.yaml").read_text())["config"]
        spec = StackSpec.load(config_fields(config), path_prefix="mlops:")
        assert spec.name == "local"
        assert spec.routing.gateway_class == "eg"

    def test_pulumi_config_values_arrive_as_json_text(self) -> None:
        fields = config_fields(
            {"mlops:target": json.dumps({"kind": "kind"}), "mlops:name": "x", "aws:region": "y"}
        )
        assert fields == {"target": {"kind": "kind"}, "name": "x"}


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", 0.5), ("2", 2), ("2Gi", 2 * 2**30), ("1.5G", 1.5e9), ("1e3", 1000), ("128Mi", 2**27)],
)
def test_quantities_are_read_as_kubernetes_does(text: str, value: float) -> None:
    assert float(quantity_value(text)) == value


INVALID = [
    # (spec, the path the error must name, a fragment of the message)
    ({"target": {"kind": "kind"}}, "name", "Field required"),
    (with_(name="Demo"), "name", "not a valid Kubernetes name"),
    (with_(name="demo_stack"), "name", "not a valid Kubernetes name"),
    (with_(name="a" * 41), "name", "too long"),
    (with_(target={"kind": "gke"}), "target", "'kind', 'kubernetes', 'aws'"),
    (with_(target={"cluster": "x"}), "target", "discriminator"),
    (with_(target={"kind": "kind", "clustr": "x"}), "target.clustr", "did you mean 'cluster'?"),
    (with_(profile="huge"), "profile", "'local' or 'production'"),
    (with_(namespace="ML-ops"), "namespace", "not a valid Kubernetes name"),
    (with_(data_protection="maybe"), "data_protection", "'protect', 'retain' or 'none'"),
    (with_(registry={"replicas": 0}), "registry.replicas", "greater than or equal to 1"),
    (with_(registry={"replicas": "two"}), "registry.replicas", "valid integer"),
    (with_(registry={"workers": 100}), "registry.workers", "less than or equal to 32"),
    (
        with_(registry={"resources": {"cpu": "lots", "memory": "1Gi"}}),
        "registry.resources.cpu",
        "not a Kubernetes quantity",
    ),
    (
        with_(registry={"resources": {"cpu": "1", "memory": "1Gb"}}),
        "registry.resources.memory",
        "not a Kubernetes quantity",
    ),
    (
        with_(registry={"resources": {"cpu": "1", "memory": "1Gi", "memory_limit": "512Mi"}}),
        "registry.resources",
        "below the request",
    ),
    (
        with_(registry={"artifact_bucket": "My_Bucket"}),
        "registry.artifact_bucket",
        "not a valid bucket name",
    ),
    (with_(registry={"port": 70000}), "registry.port", "less than or equal to 65535"),
    (with_(registry={"image": "mlflow latest"}), "registry.image", "pattern"),
    (
        with_(registry={"ingress": {"host": "Not A Host"}}),
        "registry.ingress.host",
        "not a valid host name",
    ),
    (with_(registry={"allowed_hosts": ["bad host"]}), "registry.allowed_hosts[0]", "pattern"),
    (with_(registry={"unknown": 1}), "registry.unknown", "unknown key"),
    (with_(routing={"mode": "nginx"}), "routing.mode", "'gateway' or 'ingress'"),
    (
        with_(target={"kind": "kind", "postgres": {"storage": "big"}}),
        "target.postgres.storage",
        "not a Kubernetes quantity",
    ),
    (with_(target={"kind": "aws", "region": "Europe"}), "target.region", "pattern"),
    (
        with_(
            target={
                "kind": "aws",
                "cluster": {
                    "node_groups": [
                        {"name": "cpu", "instance_types": ["m6i.large"], "min": 3, "max": 1}
                    ]
                },
            }
        ),
        "target.cluster.node_groups[0]",
        "at least min",
    ),
    (
        with_(target={"kind": "aws", "cluster": {"version": "latest"}}),
        "target.cluster.version",
        "pattern",
    ),
    (with_(extra_component={}), "extra_component", "allowed keys: data_protection"),
]


@pytest.mark.parametrize(("data", "path", "fragment"), INVALID)
def test_an_invalid_spec_names_the_field_and_what_is_allowed(
    data: dict[str, object], path: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as caught:
        StackSpec.load(data, path_prefix="mlops:")
    assert f"mlops:{path}" in caught.value.paths, str(caught.value)
    assert fragment in str(caught.value)


def test_a_spec_that_is_not_a_mapping_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="must be a mapping"):
        StackSpec.load(["name", "demo"])


def test_an_unreadable_yaml_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("name: [unclosed")
    with pytest.raises(SpecError, match="cannot read"):
        StackSpec.from_yaml(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "name",
        "target",
        "profile",
        "namespace",
        "registry",
        "routing",
        "data_protection",
        "kind",
        "x",
    ]
)
spec_like = st.dictionaries(field_names, json_values, max_size=6) | st.fixed_dictionaries(
    {
        "name": st.text(max_size=8),
        "target": st.dictionaries(st.sampled_from(["kind", "cluster", "region"]), json_values),
    },
    optional={
        "registry": st.dictionaries(
            st.sampled_from(["replicas", "resources", "image", "ingress"]), json_values
        )
    },
)


@settings(max_examples=300, deadline=None)
@given(data=spec_like | json_values)
def test_the_loader_either_validates_or_raises_a_spec_error(data: object) -> None:
    try:
        spec = StackSpec.load(data)
    except SpecError as error:
        assert error.issues
        assert all(str(issue) for issue in error.issues)
    else:
        assert isinstance(spec, StackSpec)
