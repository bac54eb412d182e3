"""The trainer against a real MLflow server: it registers every run and moves `champion`
only through the gate (min_metric, then beating the champion on the same holdout)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.testing.local_servers import S3Server, venv_environ

pytestmark = pytest.mark.workload

STRONG = {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 30}}
WEAK = {"estimator": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 1}}
USELESS = {"estimator": "sklearn.dummy.DummyClassifier", "params": {"strategy": "prior"}}


@pytest.fixture
def model_name() -> str:
    return f"model-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def run_trainer(tracking: Any, model_name: str) -> Callable[..., Any]:
    from mlops_iac.workloads.train import TrainConfig, train

    def run(**fields: Any) -> Any:
        return train(TrainConfig(model_name=model_name, **fields), tracking)

    return run


def alias_version(client: Any, name: str, alias: str) -> str:
    return str(client.get_model_version_by_alias(name, alias).version)


def test_first_run_becomes_champion_and_records_why(run_trainer, tracking, model_name):
    result = run_trainer(**STRONG)

    assert result.promoted is True
    assert result.version == "1"
    assert result.reason.startswith("first champion")
    assert result.score > 0.95  # breast_cancer with a random forest
    assert alias_version(tracking, model_name, "champion") == "1"
    assert alias_version(tracking, model_name, "challenger") == "1"
    version = tracking.get_model_version(model_name, "1")
    assert version.tags["mlops.holdout_metric"] == "roc_auc"
    assert float(version.tags["mlops.holdout_score"]) == pytest.approx(result.score)
    assert version.tags["mlops.promoted"] == "True"
    run = tracking.get_run(result.run_id)
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(result.score)
    assert run.data.params["n_estimators"] == "30"
    assert len(run.data.tags["mlops.dataset_digest"]) == 64
    (logged,) = run.inputs.dataset_inputs
    assert logged.dataset.name == "breast_cancer"
    assert logged.dataset.digest == run.data.tags["mlops.dataset_digest"][:16]


def test_worse_model_is_registered_but_champion_stays(run_trainer, tracking, model_name):
    first = run_trainer(**STRONG)
    worse = run_trainer(**USELESS)

    assert worse.promoted is False
    assert worse.score == pytest.approx(0.5)
    assert worse.champion_version == first.version
    assert worse.champion_score == pytest.approx(first.score)
    assert "does not beat champion v1" in worse.reason
    assert alias_version(tracking, model_name, "champion") == "1"
    assert alias_version(tracking, model_name, "challenger") == "2"
    assert tracking.get_model_version(model_name, "2").tags["mlops.promoted"] == "False"


def test_better_model_takes_over(run_trainer, tracking, model_name):
    weak = run_trainer(**WEAK)
    strong = run_trainer(**STRONG)

    assert weak.promoted is True
    assert strong.promoted is True
    assert strong.score > weak.score
    assert strong.champion_score == pytest.approx(weak.score)
    assert "beats champion v1" in strong.reason
    assert alias_version(tracking, model_name, "champion") == "2"


def test_min_metric_blocks_even_the_first_version(run_trainer, tracking, model_name):
    from mlflow.exceptions import MlflowException

    result = run_trainer(**WEAK, min_metric=0.999)

    assert result.promoted is False
    assert "below min_metric 0.9990" in result.reason
    with pytest.raises(MlflowException):
        tracking.get_model_version_by_alias(model_name, "champion")
    assert alias_version(tracking, model_name, "challenger") == "1"


def test_regression_uses_a_neg_error_scorer(run_trainer, tracking, model_name):
    result = run_trainer(
        dataset="sklearn://diabetes",
        estimator="sklearn.linear_model.Ridge",
        metric="neg_root_mean_squared_error",
    )

    assert result.promoted is True
    assert -80 < result.score < -40  # RMSE of a ridge on diabetes is ~55


def test_csv_dataset_with_its_own_target_column(run_trainer, tmp_path: Path):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    frame.to_csv(tmp_path / "iris.csv", index=False)

    result = run_trainer(
        dataset=str(tmp_path / "iris.csv"),
        target="species",
        estimator="sklearn.linear_model.LogisticRegression",
        params={"max_iter": 500},
        metric="accuracy",
    )

    assert result.promoted is True
    assert result.score > 0.85


def test_parquet_dataset_read_through_the_s3_api(
    run_trainer, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
):
    import boto3
    from sklearn.datasets import load_wine

    for key, value in s3_server.environ().items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    s3.create_bucket(Bucket="datasets")
    body = load_wine(as_frame=True).frame.to_parquet(index=False)
    s3.put_object(Bucket="datasets", Key="wine.parquet", Body=body)

    result = run_trainer(dataset="s3://datasets/wine.parquet", metric="accuracy", **STRONG)

    assert result.promoted is True
    assert result.score > 0.85


def test_missing_target_column_names_the_columns(run_trainer):
    with pytest.raises(ValueError, match=r"target column 'churned' is not in dataset"):
        run_trainer(target="churned")


def run_cli(*args: str, tracking_uri: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_iac.workloads.train", *args],
        capture_output=True,
        text=True,
        env=venv_environ(MLFLOW_TRACKING_URI=tracking_uri, **env),
        timeout=300,
    )


def test_cli_prints_one_json_line_and_exit_codes_tell_the_outcome(mlflow_server, model_name):
    promoted = run_cli(
        "--model-name", model_name, "--params", '{"n_estimators": 20}',
        tracking_uri=mlflow_server.url,
    )  # fmt: skip
    kept = run_cli(
        "--model-name", model_name, "--estimator", "sklearn.dummy.DummyClassifier",
        tracking_uri=mlflow_server.url,
    )  # fmt: skip

    assert promoted.returncode == 0, promoted.stderr
    assert json.loads(promoted.stdout.strip().splitlines()[-1])["promoted"] is True
    assert kept.returncode == 3, kept.stderr
    outcome = json.loads(kept.stdout.strip().splitlines()[-1])
    assert outcome["promoted"] is False
    assert outcome["version"] == "2"
    assert outcome["champion_version"] == "1"


def test_cli_exits_1_when_mlflow_is_unreachable(model_name):
    from mlops_iac.testing.local_servers import free_port

    result = run_cli(
        "--model-name", model_name,
        tracking_uri=f"http://127.0.0.1:{free_port()}",
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",  # MLflow's default backoff takes ~4 minutes
    )  # fmt: skip

    assert result.returncode == 1
    assert json.loads(result.stdout.strip().splitlines()[-1])["model_name"] == model_name
