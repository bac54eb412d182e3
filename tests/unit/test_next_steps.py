"""What `up` prints at the end comes from the stack itself: its URLs, where each is reachable
from, and the commands for its own jobs and endpoints."""

from __future__ import annotations

from pathlib import Path

from mlops_iac.local.next_steps import FROM_HERE, IN_CLUSTER, next_steps, port_forward, url_rows
from mlops_iac.spec import StackSpec

OUTPUTS = {
    "namespace": "mlops",
    "registry_tracking_uri": "http://local-mlflow.mlops.svc.cluster.local:5000",
    "registry_external_url": "http://mlflow.localtest.me",
    "serving_fraud_url": "http://fraud.mlops.svc.cluster.local:8080",
    "serving_fraud_external_url": None,
    "grafana_url": "http://local-grafana.mlops.svc.cluster.local:80",
    "grafana_external_url": "http://grafana.localtest.me",
}


def spec(**fields: object) -> StackSpec:
    return StackSpec.load({"name": "fraud", "target": {"kind": "kind"}, **fields})


def test_a_url_with_a_route_is_shown_as_reachable_from_here_and_its_in_cluster_twin_is_not():
    assert url_rows(OUTPUTS) == [
        ("grafana", "http://grafana.localtest.me", FROM_HERE),
        ("registry", "http://mlflow.localtest.me", FROM_HERE),
        ("serving fraud", "http://fraud.mlops.svc.cluster.local:8080", IN_CLUSTER),
    ]


def test_an_in_cluster_url_becomes_a_port_forward_to_the_same_port():
    assert port_forward("http://fraud.mlops.svc.cluster.local:8080", "kind-mlops") == (
        "kubectl --context kind-mlops -n mlops port-forward svc/fraud 8080",
        "http://127.0.0.1:8080",
    )


def test_the_next_commands_train_this_stack_s_job_and_call_its_endpoint():
    stack = spec(
        training={
            "jobs": [
                {
                    "name": "fraud-nightly",
                    "model_name": "fraud",
                    "dataset": "sklearn://breast_cancer",
                }
            ]
        },
        serving=[{"name": "fraud", "model": "models:/fraud@champion"}],
    )

    commands = [command for command, _ in next_steps(stack, "dev", OUTPUTS, Path.cwd())]

    assert commands[0] == "mlops-iac train fraud-nightly --stack dev"
    assert commands[1] == "kubectl --context kind-mlops -n mlops port-forward svc/fraud 8080 &"
    assert commands[2].startswith("curl -s http://127.0.0.1:8080/v2/models/fraud/infer ")
    assert commands[-1] == "mlops-iac down dev"


def test_an_endpoint_with_a_route_is_called_there_and_mlflow_serve_on_invocations():
    stack = spec(serving=[{"name": "fraud", "model": "models:/fraud/3", "runtime": "mlflow"}])
    outputs = {**OUTPUTS, "serving_fraud_external_url": "http://fraud.localtest.me"}

    commands = [command for command, _ in next_steps(stack, "dev", outputs, Path.cwd())]

    assert commands[0].startswith("curl -s http://fraud.localtest.me/invocations ")
    assert not any("port-forward" in command for command in commands)


def test_a_stack_that_trains_but_does_not_serve_is_told_how_to_serve_its_champion():
    stack = spec(training={"jobs": [{"name": "fraud", "dataset": "sklearn://breast_cancer"}]})

    steps = dict(next_steps(stack, "dev", OUTPUTS, Path.cwd()))

    assert "mlops:serving: [{name: fraud, model: 'models:/fraud@champion'}]" in steps


def test_commands_name_the_project_folder_when_up_ran_from_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "fraud-stack"
    project.mkdir()

    commands = [command for command, _ in next_steps(spec(), "dev", OUTPUTS, project)]

    assert commands == ["mlops-iac down dev -C fraud-stack"]


def test_a_registry_without_a_route_is_shown_in_cluster_with_its_port_forward():
    outputs = {"registry_tracking_uri": "http://mlflow.mlops.svc.cluster.local:5000"}

    steps = next_steps(spec(), "dev", outputs, Path.cwd())

    assert url_rows(outputs) == [
        ("registry", "http://mlflow.mlops.svc.cluster.local:5000", IN_CLUSTER)
    ]
    assert steps[0] == (
        "kubectl --context kind-mlops -n mlops port-forward svc/mlflow 5000 &",
        "the MLflow UI and tracking URI at http://127.0.0.1:5000",
    )
