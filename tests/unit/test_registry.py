"""ModelRegistry and the Kubernetes platform under recording mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_iac import versions
from mlops_iac.testing import SynthResult

STATEFUL_TYPES = {
    "kubernetes:apps/v1:StatefulSet",
    "random:index/randomPassword:RandomPassword",
    "kubernetes:core/v1:Secret",
}


@pytest.fixture(scope="module")
def local(registry_stack: SynthResult) -> SynthResult:
    return registry_stack


def container(result: SynthResult, kind: str, name: str, index: int = 0) -> dict[str, Any]:
    return result.manifest(kind, name)["spec"]["template"]["spec"]["containers"][index]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def test_every_child_is_parented_to_the_component_that_named_it(local: SynthResult) -> None:
    by_urn = {r.urn: r for r in local.resources}
    for resource in local.resources:
        if resource.parent is None or resource.parent not in by_urn:
            assert resource.type == "mlops:index:MLOpsStack"
            continue
        parent = by_urn[resource.parent]
        parent_chain = parent.urn.split("::")[2]
        assert resource.urn.split("::")[2] == f"{parent_chain}${resource.type}"
        assert parent_chain.startswith("mlops:index:MLOpsStack")
        assert resource.name.startswith(parent.name), (resource.name, parent.name)


def test_component_type_tokens_are_mlops_index(local: SynthResult) -> None:
    components = {r.type for r in local.resources if not r.custom}
    assert components == {
        "mlops:index:MLOpsStack",
        "mlops:index:KubernetesPlatform",
        "mlops:index:ModelRegistry",
        "mlops:index:Postgres",
        "mlops:index:ObjectStore",
    }


def test_every_kubernetes_object_uses_the_stack_provider(local: SynthResult) -> None:
    provider = local.of_type("pulumi:providers:kubernetes")
    assert len(provider) == 1
    assert provider[0].inputs["context"] == "kind-mlops"
    for resource in local.resources:
        if resource.custom and resource.type.startswith("kubernetes:"):
            assert resource.provider is not None
            assert resource.provider.startswith(provider[0].urn), resource.name


def test_the_mlflow_server_reads_its_database_password_from_the_postgres_secret(
    local: SynthResult,
) -> None:
    mlflow = container(local, "Deployment", "mlflow")
    args = mlflow["command"]
    assert args[:2] == ["mlflow", "server"]
    env = env_of(mlflow)
    assert env["MLFLOW_BACKEND_STORE_URI"] == (
        "postgresql+psycopg2://$(MLFLOW_DB_USER):$(MLFLOW_DB_PASSWORD)"
        "@$(MLFLOW_DB_HOST):$(MLFLOW_DB_PORT)/$(MLFLOW_DB_NAME)"
    )
    assert env["MLFLOW_DB_PASSWORD"] == {
        "secretKeyRef": {"name": "demo-postgres-mlflow-credentials", "key": "password"}
    }
    assert env["MLFLOW_DB_HOST"] == "demo-postgres.mlops.svc.cluster.local"
    assert env["MLFLOW_DB_NAME"] == "mlflow"
    credentials = local.manifest("Secret", "demo-postgres-mlflow-credentials")
    assert set(credentials["stringData"]) == {"username", "password"}


def test_artifacts_go_to_the_bucket_through_the_server(local: SynthResult) -> None:
    mlflow = container(local, "Deployment", "mlflow")
    assert "--artifacts-destination=s3://mlflow-artifacts/" in mlflow["command"]
    assert "--serve-artifacts" in mlflow["command"]
    env = env_of(mlflow)
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://demo-s3.mlops.svc.cluster.local:8333"
    assert env["AWS_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "demo-s3-credentials", "key": "AWS_ACCESS_KEY_ID"}
    }
    job = container(local, "Job", "demo-s3-bucket-mlflow-artifacts")
    assert env_of(job)["BUCKET"] == "mlflow-artifacts"


def test_the_database_is_migrated_before_the_server_starts(local: SynthResult) -> None:
    pod = local.manifest("Deployment", "mlflow")["spec"]["template"]["spec"]
    migrate = pod["initContainers"][0]
    assert migrate["command"][:2] == ["python", "-c"]
    assert "from mlflow.db import upgrade" in migrate["command"][2]
    assert env_of(migrate)["MLFLOW_BACKEND_STORE_URI"].startswith(
        "postgresql+psycopg2://$(MLFLOW_DB_USER)"
    )
    deployment = local.resource("demo-registry-deployment")
    init_job = local.resource("demo-platform-postgres-mlflow-init")
    bucket_job = local.resource("demo-platform-s3-bucket-mlflow-artifacts")
    assert {init_job.urn, bucket_job.urn} <= set(deployment.depends_on)


def test_mlflow_allows_in_cluster_and_external_host_headers(local: SynthResult) -> None:
    args = container(local, "Deployment", "mlflow")["command"]
    allowed = next(a for a in args if a.startswith("--allowed-hosts=")).split("=", 1)[1].split(",")
    assert {"mlflow:*", "mlflow.mlops.svc:*", "mlflow.mlops.svc.cluster.local:*"} <= set(allowed)
    assert "mlflow.example.test" in allowed


def test_the_registry_pod_is_pss_restricted_with_probes_and_resources(local: SynthResult) -> None:
    pod = local.manifest("Deployment", "mlflow")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    mlflow = pod["containers"][0]
    assert mlflow["image"] == versions.MLFLOW_IMAGE
    assert mlflow["securityContext"]["allowPrivilegeEscalation"] is False
    assert mlflow["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert mlflow[probe]["httpGet"]["path"] == "/health"
    assert mlflow["resources"] == {
        "requests": {"cpu": "100m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def test_outputs_are_the_in_cluster_uri_the_external_url_and_the_bucket(local: SynthResult) -> None:
    assert local.outputs["registry_tracking_uri"] == "http://mlflow.mlops.svc.cluster.local:5000"
    assert local.outputs["registry_external_url"] == "http://mlflow.example.test"
    assert local.outputs["registry_artifact_bucket"] == "mlflow-artifacts"


def test_the_route_is_an_httproute_on_the_stack_gateway(local: SynthResult) -> None:
    route = local.manifest("HTTPRoute", "mlflow")
    assert route["spec"]["parentRefs"] == [{"name": "mlops", "namespace": "mlops"}]
    assert route["spec"]["hostnames"] == ["mlflow.example.test"]
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"name": "mlflow", "port": 5000, "weight": 100}
    ]
    gateway = local.manifest("Gateway", "mlops")
    assert gateway["spec"]["gatewayClassName"] == "eg"


def test_stateful_resources_are_retained_on_delete_in_the_local_profile(local: SynthResult) -> None:
    stateful = [r for r in local.resources if r.type in STATEFUL_TYPES]
    assert len(stateful) == 9
    for resource in stateful:
        assert resource.retain_on_delete or resource.protect, resource.name
    for statefulset in local.manifests_of("StatefulSet"):
        assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Retain",
            "whenScaled": "Retain",
        }


def test_no_password_appears_outside_secrets(local: SynthResult) -> None:
    passwords = [
        r.outputs["result"]["value"]
        for r in local.of_type("random:index/randomPassword:RandomPassword")
    ]
    assert len(passwords) == 4
    for manifest in local.manifests:
        text = json.dumps(manifest)
        for password in passwords:
            assert password not in text, f"{manifest['kind']}/{manifest['metadata']['name']}"
    everything = json.dumps(local.resources_json()) + json.dumps(local.outputs)
    for password in passwords:
        assert password not in everything


def test_the_namespace_enforces_restricted_pods_and_denies_traffic_by_default(
    local: SynthResult,
) -> None:
    namespace = local.manifest("Namespace", "mlops")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deny = local.manifest("NetworkPolicy", "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    postgres_in = local.manifest("NetworkPolicy", "demo-postgres-allow-ingress")["spec"]
    assert postgres_in["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"mlops-iac.dev/postgres-client": "demo-postgres"}}}
    ]
    mlflow_labels = local.manifest("Deployment", "mlflow")["spec"]["template"]["metadata"]["labels"]
    assert mlflow_labels["mlops-iac.dev/postgres-client"] == "demo-postgres"
    assert mlflow_labels["mlops-iac.dev/s3-client"] == "demo-s3"


def test_production_protects_data_spreads_replicas_and_keeps_one_available(
    make_spec: Any, synth_stack: Any
) -> None:
    result = synth_stack(make_spec(profile="production"))
    for resource in result.resources:
        if resource.type in STATEFUL_TYPES:
            assert resource.protect and not resource.retain_on_delete, resource.name
    deployment = result.manifest("Deployment", "mlflow")["spec"]
    assert deployment["replicas"] == 2
    assert deployment["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    spread = deployment["template"]["spec"]["topologySpreadConstraints"][0]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert result.manifest("PodDisruptionBudget", "mlflow")["spec"]["minAvailable"] == 1
    assert "--workers=4" in deployment["template"]["spec"]["containers"][0]["command"]


def test_data_protection_none_leaves_resources_deletable(make_spec: Any, synth_stack: Any) -> None:
    result = synth_stack(make_spec(data_protection="none"))
    assert not any(r.protect or r.retain_on_delete for r in result.resources)


def test_ingress_mode_creates_an_ingress_instead_of_an_httproute(
    make_spec: Any, synth_stack: Any
) -> None:
    result = synth_stack(
        make_spec(routing={"mode": "ingress", "ingress_class": "traefik"}, registry={"ingress": {}})
    )
    assert result.manifests_of("HTTPRoute") == []
    ingress = result.manifest("Ingress", "mlflow")["spec"]
    assert ingress["ingressClassName"] == "traefik"
    assert ingress["rules"][0]["host"] == "mlflow.localtest.me"
    assert result.outputs["registry_external_url"] == "http://mlflow.localtest.me"


def test_without_ingress_there_is_no_route_and_no_external_url(
    make_spec: Any, synth_stack: Any
) -> None:
    result = synth_stack(make_spec())
    assert result.manifests_of("HTTPRoute") == result.manifests_of("Ingress") == []
    assert "registry_external_url" not in result.outputs


def test_a_kind_stack_gets_its_own_gateway_unless_told_otherwise(
    make_spec: Any, synth_stack: Any
) -> None:
    default = synth_stack(make_spec())
    [gateway] = default.manifests_of("Gateway")
    assert gateway["spec"]["gatewayClassName"] == "eg"
    assert default.of_type("kubernetes:helm.sh/v3:Release")[0].inputs["name"] == "envoy-gateway"
    own = synth_stack(
        make_spec(
            routing={"gateway_class": None},
            target={"kind": "kind", "preinstalled": ["gateway-api"]},
        )
    )
    assert own.manifests_of("Gateway") == []
    assert own.of_type("kubernetes:helm.sh/v3:Release") == []


def test_a_disabled_registry_creates_no_data_services(make_spec: Any, synth_stack: Any) -> None:
    result = synth_stack(make_spec(registry={"enabled": False}))
    kinds = {m["kind"] for m in result.manifests}
    assert kinds == {"Namespace", "NetworkPolicy", "EnvoyProxy", "GatewayClass", "Gateway"}


def test_an_existing_cluster_target_passes_kubeconfig_and_context(
    make_spec: Any, synth_stack: Any
) -> None:
    result = synth_stack(
        make_spec(target={"kind": "kubernetes", "kubeconfig": "/etc/kube/config", "context": "ops"})
    )
    provider = result.of_type("pulumi:providers:kubernetes")[0]
    assert provider.inputs["kubeconfig"] == "/etc/kube/config"
    assert provider.inputs["context"] == "ops"


def test_synth_output_is_byte_for_byte_deterministic(
    make_spec: Any, synth_stack: Any, tmp_path: Path
) -> None:
    synth_stack(make_spec()).write(tmp_path / "first")
    synth_stack(make_spec()).write(tmp_path / "second")

    first = {p.relative_to(tmp_path / "first"): p for p in (tmp_path / "first").rglob("*.*")}
    second = {p.relative_to(tmp_path / "second"): p for p in (tmp_path / "second").rglob("*.*")}
    assert first.keys() == second.keys()
    assert len(first) > 20
    for relative, path in first.items():
        assert path.read_bytes() == second[relative].read_bytes(), relative


def test_the_stack_namespace_keeps_the_data_it_holds(make_spec: Any, synth_stack: Any) -> None:
    local = synth_stack(make_spec())
    production = synth_stack(make_spec(profile="production"))

    assert local.resource("test-platform-namespace").retain_on_delete
    assert production.resource("test-platform-namespace").protect
