"""`mlops-iac synth` and `mlops-iac validate` on the repository's own stacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlops_iac.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def local_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local")
    result = runner.invoke(app, ["synth", ".", "--stack", "local", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_synth_writes_every_resource_with_its_options(local_out: Path) -> None:
    resources = json.loads((local_out / "resources.json").read_text())
    assert {
        "urn",
        "type",
        "name",
        "parent",
        "custom",
        "inputs",
        "protect",
        "retainOnDelete",
        "dependsOn",
    } == set(resources[0])
    by_name = {r["name"]: r for r in resources}
    stack = by_name["local"]
    assert stack["type"] == "mlops:index:MLOpsStack"
    assert stack["parent"].endswith("::pulumi:pulumi:Stack::mlops-iac-local")
    postgres = by_name["local-platform-postgres-statefulset"]
    assert postgres["retainOnDelete"] is True
    assert postgres["parent"] == by_name["local-platform-postgres"]["urn"]
    deployment = by_name["local-registry-deployment"]
    assert by_name["local-platform-postgres-mlflow-init"]["urn"] in deployment["dependsOn"]


def test_secret_values_are_masked_in_resources_json(local_out: Path) -> None:
    resources = json.loads((local_out / "resources.json").read_text())
    secret = next(r for r in resources if r["name"] == "local-platform-postgres-admin")
    assert secret["inputs"]["stringData"] == {"POSTGRES_PASSWORD": "[secret]"}
    text = (local_out / "resources.json").read_text()
    for password in (r for r in resources if r["type"].startswith("random:")):
        assert "result" not in password["inputs"]
    assert "password:" not in text


def test_one_manifest_file_per_kubernetes_object_with_deterministic_names(local_out: Path) -> None:
    files = sorted(p.name for p in (local_out / "manifests").iterdir())
    assert "_cluster.Namespace.mlops.yaml" in files
    assert "mlops.Deployment.mlflow.yaml" in files
    assert "mlops.HTTPRoute.mlflow.yaml" in files
    deployment = yaml.safe_load(
        (local_out / "manifests" / "mlops.Deployment.mlflow.yaml").read_text()
    )
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["spec"]["replicas"] == 1  # an int, not Pulumi's 1.0
    secret = yaml.safe_load(
        (local_out / "manifests" / "mlops.Secret.local-s3-credentials.yaml").read_text()
    )
    assert set(secret["stringData"].values()) == {"[secret]"}


def test_outputs_json_lists_the_stack_outputs(local_out: Path) -> None:
    outputs = json.loads((local_out / "outputs.json").read_text())
    assert outputs["registry_tracking_uri"] == "http://mlflow.mlops.svc.cluster.local:5000"
    assert outputs["registry_external_url"] == "http://mlflow.localtest.me"
    assert outputs["training_namespace"] == "mlops-training"
    assert outputs["training_jobs"] == ["demo"]
    assert outputs["feature_server_url"] == "http://local-feast.mlops.svc.cluster.local:6566"
    assert outputs["feature_server_external_url"] == "http://features.localtest.me"
    assert outputs["grafana_external_url"] == "http://grafana.localtest.me"


def test_the_local_stack_validates_with_zero_failures(local_out: Path) -> None:
    result = runner.invoke(app, ["validate", str(local_out)])
    assert result.exit_code == 0, result.output
    assert "66 manifests, 0 failures" in result.output


def test_validate_reports_one_line_per_failure(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "dataa": {}}
        )
        + "---\n"
        + yaml.safe_dump(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": "r"},
                "spec": {"rules": [{"backendRefs": [{"name": "svc", "port": "eighty"}]}]},
            }
        )
    )
    result = runner.invoke(app, ["validate", str(tmp_path), "--kubernetes-version", "1.35"])
    assert result.exit_code == 1
    assert (
        "ConfigMap/x: <root>: Additional properties are not allowed ('dataa' was unexpected)"
        in result.output
    )
    assert "HTTPRoute/r: spec.rules.0.backendRefs.0.port" in result.output
    assert "2 manifests, 2 failures" in result.output


BAD_STACK = """\
config:
  mlops:target: {kind: kind}
  mlops:registry: {replicas: -1}
"""


def test_an_invalid_spec_exits_2_naming_the_config_path_without_a_traceback(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        Path("Pulumi.yaml")
        .read_text()
        .replace("main: stacks/", f"main: {Path('stacks').resolve()}")
    )
    (project / "Pulumi.bad.yaml").write_text(BAD_STACK)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_iac.cli",
            "synth",
            str(project),
            "--stack",
            "bad",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert (
        "mlops:registry.replicas: Input should be greater than or equal to 1 (got -1)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


def test_up_local_without_docker_stops_at_once_and_names_the_offline_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = runner.invoke(app, ["up", "local"])
    assert result.exit_code == 3
    assert "Docker is not installed" in result.output
    assert "https://docs.docker.com/get-started/get-docker/" in result.output
    assert "mlops-iac synth . --stack local" in result.output


@pytest.mark.parametrize("command", ["up", "down", "preview", "destroy"])
def test_every_deploy_command_takes_the_stack_as_synth_does_with_stack(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # each stops at its prerequisites

    positional = runner.invoke(app, [command, "nope"])
    flag = runner.invoke(app, [command, "--stack", "nope"])
    both = runner.invoke(app, [command, "local", "--stack", "nope"])

    assert positional.exit_code == flag.exit_code == 2
    assert "nope" in positional.output and positional.output == flag.output
    assert both.exit_code == 2
    assert "two stacks given: 'local' and --stack 'nope'" in both.output


def test_down_without_docker_says_there_is_nothing_to_tear_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")

    result = runner.invoke(app, ["down", "-s", "local"])

    assert result.exit_code == 3
    assert "nothing to tear down" in result.output
    assert "down local failed" in result.output
