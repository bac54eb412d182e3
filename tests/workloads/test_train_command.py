"""`mlops-iac train JOB --local`: the jobs of a stack's spec, trained for real against an
MLflow server and an S3 API (moto) on 127.0.0.1, through the champion gate."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_iac.testing.local_servers import MlflowServer, S3Server, venv_environ

pytestmark = pytest.mark.workload

PROGRAM = "from mlops_iac import MLOpsStack, StackSpec\n"


@pytest.fixture
def model_name() -> str:
    return f"churn-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def project(tmp_path: Path, model_name: str) -> Path:
    """A user's project whose `dev` stack declares a weak tree and a forest training one
    model, and a job that runs its own command."""
    data = "s3://datasets/churn.parquet"
    common = {"dataset": data, "target": "churned", "model_name": model_name, "metric": "roc_auc"}
    jobs = [
        {
            "name": "stump",
            "estimator": "sklearn.tree.DecisionTreeClassifier",
            "params": {"max_depth": 1},
            **common,
        },
        {
            "name": "forest",
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 40},
            "schedule": "0 3 * * *",
            "min_metric": 0.9,
            **common,
        },
        {"name": "custom", "image": "ghcr.io/acme/train:1", "command": ["python", "x.py"]},
    ]
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    config = {
        "mlops:target": {"kind": "kind"},
        "mlops:training": {"quota": {"cpu": "8", "memory": "32Gi"}, "jobs": jobs},
    }
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


@pytest.fixture
def churn_data(s3_server: S3Server) -> dict[str, str]:
    """breast_cancer as `s3://datasets/churn.parquet` with a `churned` label; the S3 env."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "churned"})
    s3_server.put("datasets", "churn.parquet", frame.to_parquet(index=False))
    return s3_server.environ()


def train(project: Path, job: str, env: dict[str, str], *extra: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "mlops_iac.cli", "train", job, "--stack", "dev", "--dir",
         str(project), "--local", *extra],
        capture_output=True,
        text=True,
        env=venv_environ(**env),
        timeout=300,
    )  # fmt: skip


def result_of(completed: Any) -> dict[str, Any]:
    line = completed.stdout.strip().splitlines()[-1]
    outcome: dict[str, Any] = json.loads(line)
    return outcome


def test_train_promotes_only_through_the_gate(
    project: Path, churn_data: dict[str, str], mlflow_server: MlflowServer, model_name: str
):
    from mlflow import MlflowClient

    env = {**churn_data, "MLFLOW_TRACKING_URI": mlflow_server.url}
    first = train(project, "stump", env)
    better = train(project, "forest", env)
    worse = train(project, "stump", env)

    assert (first.returncode, better.returncode, worse.returncode) == (0, 0, 3), worse.stderr
    assert result_of(first)["reason"].startswith("first champion")
    assert result_of(better)["reason"].startswith("roc_auc ")
    assert "beats champion v1" in result_of(better)["reason"]
    assert "does not beat champion v2" in result_of(worse)["reason"]
    client = MlflowClient(tracking_uri=mlflow_server.url)
    champion = client.get_model_version_by_alias(model_name, "champion")
    challenger = client.get_model_version_by_alias(model_name, "challenger")
    assert (champion.version, challenger.version) == ("2", "3")
    forest_score = float(champion.tags["mlops.holdout_score"])
    stump_score = float(challenger.tags["mlops.holdout_score"])
    assert forest_score > 0.95 > stump_score
    assert champion.tags["mlops.promoted"] == "True"
    assert challenger.tags["mlops.promoted"] == "False"
    run = client.get_run(champion.run_id)
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(forest_score)
    assert run.data.params["n_estimators"] == "40"


def test_local_runs_need_a_tracking_uri_and_the_built_in_trainer(project: Path):
    without_uri = train(project, "stump", {"MLFLOW_TRACKING_URI": ""})
    custom = train(project, "custom", {}, "--tracking-uri", "http://127.0.0.1:9")
    unknown = train(project, "nope", {}, "--tracking-uri", "http://127.0.0.1:9")

    assert without_uri.returncode == 2
    assert "--local needs --tracking-uri" in without_uri.stderr
    assert custom.returncode == 2
    assert "runs its own command in its image" in custom.stderr
    assert unknown.returncode == 2
    assert "no training job 'nope'; jobs: stump, forest, custom" in unknown.stderr
