"""The safety rules hold on every reference stack, each rule can fail, and no secret value
appears outside a Secret."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops_iac.cli import app
from mlops_iac.policy import check
from mlops_iac.spec import StackSpec
from mlops_iac.testing import SynthResult, generated_secrets, secret_leaks, synth

EXAMPLE_REPO = Path(__file__).resolve().parents[2] / "examples" / "feature-store" / "features"
EVERYTHING: dict[str, Any] = {
    "name": "full",
    "target": {"kind": "kind", "preinstalled": ["kserve"]},
    "profile": "production",
    "routing": {"mode": "gateway", "gateway_class": "eg"},
    "registry": {"ingress": {"host": "mlflow.example.com"}},
    "feature_store": {"repo": str(EXAMPLE_REPO), "server": {"ingress": {"host": "f.example.com"}}},
    "serving": [
        {
            "name": "churn",
            "model": "models:/churn@champion",
            "canary": {"model": "models:/churn@challenger", "weight": 10},
            "autoscaling": {"min": 2, "max": 4},
            "feature_server": True,
        },
        {"name": "fraud", "model": "models:/fraud/3", "runtime": "mlflow"},
        {"name": "risk", "model": "models:/risk@champion", "runtime": "kserve"},
    ],
    "training": {
        "kueue": True,
        "quota": {"gpu": 1},
        "jobs": [
            {"name": "churn", "dataset": "s3://datasets/churn.parquet", "schedule": "@daily"},
            {"name": "vision", "image": "ghcr.io/acme/vision:1.2", "command": ["train"], "gpu": 1},
            {
                "name": "features",
                "features": {"service": "churn", "entities": "s3://datasets/l.parquet"},
            },
        ],
    },
    "monitoring": {
        "grafana": {"ingress": {"host": "grafana.example.com"}},
        "drift": {"endpoint": "churn", "retrain_job": "churn"},
    },
}


@pytest.fixture(scope="module")
def everything() -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack

    spec = StackSpec.load(EVERYTHING)
    return synth(lambda: MLOpsStack("full", spec).export(), stack="full")


def test_a_stack_with_every_component_breaks_no_rule(everything):
    findings, excepted = check(everything.manifests)

    assert [str(f) for f in findings] == []
    assert [(f.rule, f.name) for f, _ in excepted] == [("default-deny", "mlops-monitoring")]


def test_check_on_what_synth_wrote_for_the_local_stack(tmp_path):
    out = tmp_path / "out"
    assert (
        CliRunner().invoke(app, ["synth", ".", "--stack", "local", "--out", str(out)]).exit_code
        == 0
    )

    result = CliRunner().invoke(app, ["check", str(out)])

    assert result.exit_code == 0, result.output
    assert "0 findings, 1 excepted" in result.output


def broken(everything: SynthResult) -> dict[str, Any]:
    deployment = copy.deepcopy(everything.manifest("Deployment", "mlflow"))
    pod = deployment["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    container = pod["containers"][0]
    container["image"] = "ghcr.io/mlflow/mlflow:latest"
    container["securityContext"]["allowPrivilegeEscalation"] = True
    del container["resources"]["limits"]["memory"]
    del container["readinessProbe"]
    container["env"].append({"name": "DB_PASSWORD", "value": "hunter2"})
    return deployment


def test_each_rule_catches_what_it_is_for(everything):
    findings, _ = check([broken(everything)])

    assert {(f.rule, f.message) for f in findings} >= {
        ("pod-security", "hostNetwork is set"),
        ("pod-security", "container mlflow does not set allowPrivilegeEscalation: false"),
        ("images", "container mlflow image 'ghcr.io/mlflow/mlflow:latest' uses `latest`"),
        ("resources", "container mlflow has no memory limit"),
        ("probes", "container mlflow has no readinessProbe"),
        ("secret-values", "container mlflow sets DB_PASSWORD as a plain value"),
    }


def test_a_namespace_without_default_deny_is_reported(everything):
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "open"}}

    findings, _ = check([namespace])

    assert [str(f) for f in findings] == [
        "[default-deny] Namespace open: no default-deny NetworkPolicy"
    ]


def test_no_secret_value_appears_outside_secrets(everything):
    """The generated passwords and keys (revealed from the mocks) are nowhere but in
    Secret objects: not in other manifests, not in resources.json, not in outputs."""
    secrets = generated_secrets(everything)

    assert len(secrets) >= 6  # Postgres roles, S3 keys, Redis, Grafana
    assert secret_leaks(everything, secrets) == []


def test_a_leaked_secret_is_found_where_it_leaked(everything):
    secret = sorted(generated_secrets(everything))[0]
    leaky = dataclasses.replace(everything, outputs={**everything.outputs, "leak": secret})

    assert (
        secret_leaks(leaky, {secret})
        == [
            f"{secret[:4]}... in synth's files",  # outputs.json
            f"{secret[:4]}... in stack outputs",
        ]
    )


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_check_fails_when_there_is_nothing_to_check(tmp_path: Path, where: str) -> None:
    from typer.testing import CliRunner

    from mlops_iac.cli import app

    folder = tmp_path / "out"
    if where == "empty":
        folder.mkdir()
    result = CliRunner().invoke(app, ["check", str(folder)])

    assert result.exit_code == 1
    assert "nothing to check" in result.output


def test_the_cli_has_a_version_and_short_help() -> None:
    from importlib.metadata import version

    from typer.testing import CliRunner

    from mlops_iac.cli import app

    assert (
        CliRunner().invoke(app, ["--version"]).output.strip() == f"mlops-iac {version('mlops-iac')}"
    )
    assert "Usage" in CliRunner().invoke(app, ["-h"]).output
