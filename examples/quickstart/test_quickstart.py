"""The quickstart stack under Pulumi mocks, with the public API and mlops_iac.testing only."""

from pathlib import Path

from mlops_iac.testing import synth_project

HERE = Path(__file__).parent


def synthesized():
    return synth_project(HERE, "dev")


def test_the_endpoint_serves_the_champion_from_the_stack_registry():
    result = synthesized()
    pod = result.manifest("Deployment", "churn")["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    env = {e["name"]: e.get("value") for e in fetch["env"]}

    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc.cluster.local:5000"
    assert "models:/churn@champion" in " ".join(fetch["command"])
    assert result.outputs["registry_external_url"] == "http://mlflow.localtest.me"


def test_the_program_is_at_most_fifteen_lines():
    code = [line for line in (HERE / "__main__.py").read_text().splitlines() if line.strip()]

    assert len(code) <= 15
