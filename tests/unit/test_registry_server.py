"""The MLflow server's command line and environment under recording mocks: no secret in
argv, the job runner off, the route's origin allowed, one NetworkPolicy per kind of client."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_iac.components.registry import POLICY_NAME_MAX, client_policy_name
from mlops_iac.k8s import pods
from mlops_iac.testing import SynthResult

REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@pytest.fixture(scope="module")
def demo(registry_stack: SynthResult) -> SynthResult:
    return registry_stack


def registry_pod(result: SynthResult) -> dict[str, Any]:
    pod: dict[str, Any] = result.manifest("Deployment", "mlflow")["spec"]["template"]["spec"]
    return pod


def server(result: SynthResult) -> dict[str, Any]:
    return next(c for c in registry_pod(result)["containers"] if c["name"] == "mlflow")


def env_values(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_job_runner_is_off(demo: SynthResult) -> None:
    assert env_values(server(demo))["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_the_backend_store_uri_is_built_in_the_environment_from_earlier_entries(
    demo: SynthResult,
) -> None:
    pod = registry_pod(demo)
    for container in [*pod["initContainers"], *pod["containers"]]:
        names = [e["name"] for e in container["env"]]
        uri = env_values(container)["MLFLOW_BACKEND_STORE_URI"]
        assert uri == (
            "postgresql+psycopg2://$(MLFLOW_DB_USER):$(MLFLOW_DB_PASSWORD)"
            "@$(MLFLOW_DB_HOST):$(MLFLOW_DB_PORT)/$(MLFLOW_DB_NAME)"
        )
        earlier = set(names[: names.index("MLFLOW_BACKEND_STORE_URI")])
        assert set(REFERENCE.findall(uri)) <= earlier  # the kubelet expands only those


def test_no_container_argument_holds_or_references_a_secret(demo: SynthResult) -> None:
    pod = registry_pod(demo)
    for container in [*pod["initContainers"], *pod["containers"]]:
        secret_vars = {
            e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert "MLFLOW_DB_PASSWORD" in secret_vars
        argv = [*container.get("command", []), *container.get("args", [])]
        referenced = {name for arg in argv for name in REFERENCE.findall(arg)}
        assert not referenced & secret_vars, (container["name"], argv)
        assert not any("PASSWORD" in arg or "backend-store-uri" in arg for arg in argv), argv


def test_the_route_origin_may_change_things(demo: SynthResult) -> None:
    assert "--cors-allowed-origins=http://mlflow.example.test" in server(demo)["command"]


def test_with_tls_the_allowed_origin_is_https(make_spec: Any, synth_stack: Any) -> None:
    spec = make_spec(
        routing={"gateway_class": "eg", "tls": True, "domain": "ml.example.com"},
        registry={"ingress": {"enabled": True}},
    )
    command = server(synth_stack(spec))["command"]
    origins = [a for a in command if a.startswith("--cors-allowed-origins=")]
    assert origins == ["--cors-allowed-origins=https://mlflow.ml.example.com"]


def test_without_a_route_only_localhost_origins_may_change_things(
    make_spec: Any, synth_stack: Any
) -> None:
    spec = make_spec(registry={"ingress": {"enabled": False}})
    command = server(synth_stack(spec))["command"]
    assert not any(arg.startswith("--cors-allowed-origins") for arg in command)


def test_client_policy_names_tell_kinds_of_clients_apart_and_fit_63_characters() -> None:
    trainer = pods.selector("trainer", "churn")
    drift = pods.selector("drift-monitor", "churn")
    assert (
        client_policy_name("mlflow", "mlops-training", trainer)
        == "mlflow-from-mlops-training-trainer"
    )
    assert client_policy_name("mlflow", "mlops-training", drift) == (
        "mlflow-from-mlops-training-drift-monitor"
    )
    long_namespace = "a-training-namespace-with-a-long-name-" + "x" * 20
    long = [client_policy_name("mlflow", long_namespace, labels) for labels in (trainer, drift)]
    assert long[0] != long[1]
    for name in long:
        assert len(name) <= POLICY_NAME_MAX and len(f"{name}-ingress") <= 63
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
    unlabelled = client_policy_name("mlflow", "ns", {"team": "a"})
    assert unlabelled != client_policy_name("mlflow", "ns", {"team": "b"})
