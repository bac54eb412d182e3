"""`mlops-iac synth`, `validate` and `check` on the repo's aws-dev stack, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_iac.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def aws_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aws-dev")
    result = runner.invoke(app, ["synth", ".", "--stack", "aws-dev", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_synth_writes_the_aws_resources_and_the_cluster_s_manifests(aws_out: Path) -> None:
    resources = json.loads((aws_out / "resources.json").read_text())
    types = {r["type"] for r in resources}
    outputs = json.loads((aws_out / "outputs.json").read_text())

    assert {"aws:eks/cluster:Cluster", "aws:rds/instance:Instance", "aws:s3/bucket:Bucket"} <= types
    assert len(resources) > 150
    assert outputs["kubeconfig"] == "[secret]"
    assert outputs["runtime_image_repository"].endswith(".amazonaws.com/mlops/runtime")
    assert len(list((aws_out / "manifests").glob("*.yaml"))) > 50


def test_validate_finds_no_failure(aws_out: Path) -> None:
    result = runner.invoke(app, ["validate", str(aws_out)])

    assert result.exit_code == 0, result.output
    assert ", 0 failures" in result.output


def test_the_policy_checks_find_nothing_but_the_declared_exception(aws_out: Path) -> None:
    result = runner.invoke(app, ["check", str(aws_out)])

    assert result.exit_code == 0, result.output
    assert "0 findings, 1 excepted" in result.output
