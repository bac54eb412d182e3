"""The drift monitor against a real MLflow server (a champion trained here, with its logged
training features), inference records written as the inference logger writes them, a
recorder standing in for the Kubernetes API's Job calls, and one for the Pushgateway."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from k8s_recorder import CRONJOB, NAMESPACE

from mlops_iac.testing.local_servers import MlflowServer

pytestmark = pytest.mark.workload


@pytest.fixture
def champion(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A champion trained on breast_cancer; its run logged the reference features."""
    from mlops_iac.workloads.train import TrainConfig, train

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    name = f"churn-{uuid.uuid4().hex[:8]}"
    result = train(TrainConfig(model_name=name, params={"n_estimators": 10}))
    assert result.promoted
    return name


def write_records(folder: Path, endpoint: str, shift: dict[str, float] | None = None) -> int:
    """300 live rows drawn from the training distribution (optionally shifted), as OIP
    requests in the inference logger's layout; returns the row count."""
    from sklearn.datasets import load_breast_cancer

    from mlops_iac.workloads.inference_log import object_key

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    live = frame.sample(300, random_state=7, replace=True).reset_index(drop=True)
    for feature, factor in (shift or {}).items():
        live[feature] = live[feature] * factor
    lines = []
    now = datetime.now(UTC)
    for start in range(0, len(live), 10):
        chunk = live.iloc[start : start + 10]
        request = {
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": c, "shape": [len(chunk), 1], "datatype": "FP64", "data": chunk[c].tolist()}
                for c in chunk.columns
            ],
        }
        record = {
            "time": now.isoformat(),
            "endpoint": endpoint,
            "role": "stable",
            "path": f"/v2/models/{endpoint}/infer",
            "request": request,
            "response": {},
        }
        lines.append(json.dumps(record))
    path = folder / object_key("", endpoint, now, uuid.uuid4().hex[:8])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return len(live)


def config(champion: str, folder: Path, gateway: str | None = None, **extra: Any) -> Any:
    from mlops_iac.workloads.drift import DriftConfig

    settings: dict[str, Any] = {"retrain_job": "churn", "namespace": NAMESPACE, **extra}
    return DriftConfig(
        endpoint="churn",
        model_name=champion,
        current=str(folder),
        threshold=0.2,
        pushgateway=gateway,
        **settings,
    )


def test_live_traffic_like_the_training_data_is_not_drift(champion, batch_api, recorder, tmp_path):
    from mlops_iac.workloads.drift import run

    samples = write_records(tmp_path, "churn")
    result = run(config(champion, tmp_path), batch=batch_api)

    assert result.samples == samples
    assert result.drifted is False
    assert result.score < 0.2
    assert result.retrain == "not needed"
    assert len(result.features) == 30
    assert recorder[0].created_jobs == []


def test_a_shifted_feature_starts_the_training_job_exactly_once(
    champion, batch_api, recorder, tmp_path
):
    from mlops_iac.runs import job_from_cronjob
    from mlops_iac.workloads.drift import run

    state, url = recorder
    write_records(tmp_path, "churn", shift={"mean radius": 1.8})

    first = run(config(champion, tmp_path, gateway=url), batch=batch_api)
    while_running = run(config(champion, tmp_path), batch=batch_api)
    state.finished.add(state.created_jobs[0]["metadata"]["name"])
    cooling_down = run(config(champion, tmp_path), batch=batch_api)

    drifted = {f.feature for f in first.features if f.drifted}
    assert "mean radius" in drifted
    assert first.drifted is True and first.retrain.startswith("started churn-run-")
    assert while_running.retrain.startswith("skipped: churn is running")
    assert cooling_down.retrain.startswith("skipped: cool-down until ")
    (job,) = state.created_jobs
    expected = job_from_cronjob(CRONJOB, job["metadata"]["name"])
    assert job["spec"] == expected["spec"]
    assert job["metadata"]["labels"] == {"mlops-iac.dev/training-job": "churn"}
    assert job["metadata"]["ownerReferences"][0]["uid"] == "cron-uid-1"
    (push,) = state.pushed
    assert push[0] == "/metrics/job/mlops_drift/endpoint/churn"
    assert 'mlops_drift_score{endpoint="churn",feature="mean radius",method="psi"}' in push[1]
    assert 'mlops_drift_detected{endpoint="churn"} 1.0' in push[1]


def test_the_report_is_an_mlflow_artifact_with_the_plots(champion, batch_api, tmp_path):
    import mlflow

    from mlops_iac.workloads.drift import run

    write_records(tmp_path, "churn", shift={"mean texture": 2.0})
    result = run(config(champion, tmp_path, retrain_job=None), batch=batch_api)

    assert result.mlflow_run_id is not None
    client = mlflow.MlflowClient()
    names = {a.path for a in client.list_artifacts(result.mlflow_run_id)}
    assert {"drift_report.html", "drift.png"} <= names
    report = Path(
        mlflow.artifacts.download_artifacts(
            run_id=result.mlflow_run_id, artifact_path="drift_report.html", dst_path=str(tmp_path)
        )
    ).read_text()
    assert "drift detected" in report
    assert "data:image/png;base64," in report
    metrics = client.get_run(result.mlflow_run_id).data.metrics
    assert metrics["psi_mean texture"] > 0.2


def test_too_few_live_rows_never_retrain(champion, batch_api, recorder, tmp_path):
    from mlops_iac.workloads.drift import run

    write_records(tmp_path, "churn", shift={"mean radius": 3.0})
    result = run(config(champion, tmp_path, min_samples=1000), batch=batch_api)

    assert result.drifted is False
    assert result.retrain == "too few samples (< 1000)"
    assert recorder[0].created_jobs == []


def test_psi_is_zero_for_the_same_sample_and_grows_with_the_shift():
    import numpy as np

    from mlops_iac.workloads.drift import psi

    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 5000)

    assert psi(reference, reference) == pytest.approx(0, abs=1e-9)
    small, large = psi(reference, reference + 0.1), psi(reference, reference + 1.0)
    assert 0 < small < 0.1 < 0.2 < large


def test_a_training_run_pushes_its_outcome_for_the_training_dashboard(
    mlflow_server, recorder, monkeypatch
):
    from mlops_iac.workloads.train import main

    state, url = recorder
    monkeypatch.setenv("PUSHGATEWAY_URL", url)
    name = f"pushed-{uuid.uuid4().hex[:8]}"

    code = main(["--model-name", name, "--params", '{"n_estimators": 5}',
                 "--tracking-uri", mlflow_server.url])  # fmt: skip

    assert code == 0
    (push,) = state.pushed
    assert push[0] == f"/metrics/job/mlops_training/model/{name}"
    assert f'mlops_training_promoted{{model="{name}"}} 1.0' in push[1]
    assert f'mlops_training_holdout_score{{metric="roc_auc",model="{name}"}}' in push[1]
