"""The whole loop, from the synthesized manifests: an endpoint's model server (`mlflow models
serve`, the champion from a real MLflow server) behind its inference-logger sidecar, live
traffic whose inputs have drifted, then the drift monitor's own command, which starts the
training job once (through a recorder standing in for the Kubernetes API)."""

from __future__ import annotations

import http.client
import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from k8s_recorder import CRONJOB, NAMESPACE

from mlops_iac.testing.local_servers import (
    LOOPBACK,
    MlflowServer,
    free_port,
    stop_process_group,
    venv_environ,
    wait_for_http,
)

pytestmark = pytest.mark.workload


@pytest.fixture(scope="module")
def champion(mlflow_server: MlflowServer) -> str:
    from mlops_iac.workloads.train import TrainConfig, train

    name = f"loop-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        assert train(TrainConfig(model_name=name, params={"n_estimators": 10})).promoted
    return name


def synthesized(champion: str) -> Any:
    from mlops_iac import MLOpsStack, StackSpec
    from mlops_iac.testing import synth

    endpoint = {"name": "churn", "model": f"models:/{champion}@champion", "runtime": "mlflow"}
    spec = StackSpec.load(
        {
            "name": "shop",
            "target": {"kind": "kind"},
            "serving": [endpoint],
            "training": {"jobs": [{"name": "churn", "dataset": "sklearn://breast_cancer"}]},
            "monitoring": {
                "inference_log": {"sample_rate": 0.5, "flush_records": 10},
                "drift": {"endpoint": "churn", "retrain_job": "churn", "min_samples": 30},
            },
        }
    )
    return synth(lambda: MLOpsStack("shop", spec), stack="shop")


def values_of(container: dict[str, Any], **overrides: str) -> dict[str, str]:
    """The container's plain env values (secrets come from Secrets), with overrides."""
    env = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    return {**env, **overrides}


@contextmanager
def running(command: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=venv_environ(**env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_for_http(health, timeout=180, process=process)
            yield
        finally:
            stop_process_group(process)


def test_drifted_traffic_through_the_endpoint_starts_retraining_once(
    champion, mlflow_server, batch_api, recorder, tmp_path
):
    from sklearn.datasets import load_breast_cancer

    from mlops_iac.runs import job_from_cronjob
    from mlops_iac.workloads.drift import parse_args, run

    result = synthesized(champion)
    pod = result.manifest("Deployment", "churn")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    server, logger = containers["model-server"], containers["inference-logger"]
    server_port, logger_port = free_port(), free_port()
    command = list(server["command"])
    command[command.index("--host") + 1] = LOOPBACK
    command[command.index("--port") + 1] = str(server_port)
    server_env = values_of(server, MLFLOW_TRACKING_URI=mlflow_server.url)
    logs = tmp_path / "inference"
    logger_env = values_of(
        logger,
        UPSTREAM=f"http://{LOOPBACK}:{server_port}",
        LISTEN_PORT=str(logger_port),
        LOG_LOCATION=str(logs),
    )
    rows = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).head(200).copy()
    rows["mean radius"] *= 1.8  # the population changed

    with (
        running(command, server_env, f"http://{LOOPBACK}:{server_port}/health", tmp_path / "s.log"),
        running(
            logger["command"], logger_env, f"http://{LOOPBACK}:{logger_port}/health",
            tmp_path / "l.log",
        ),
    ):  # fmt: skip
        connection = http.client.HTTPConnection(LOOPBACK, logger_port, timeout=30)
        for start in range(0, len(rows), 2):
            body = {
                "dataframe_split": rows.iloc[start : start + 2].to_dict(orient="split", index=False)
            }
            connection.request(
                "POST", "/invocations", json.dumps(body), {"Content-Type": "application/json"}
            )
            answer = connection.getresponse()
            assert answer.status == 200
            assert len(json.loads(answer.read())["predictions"]) == 2

    state, url = recorder
    cronjob = result.manifest("CronJob", "drift-churn", NAMESPACE)
    (drift,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = [
        f"--current={logs}" if arg.startswith("--current=") else
        f"--pushgateway={url}" if arg.startswith("--pushgateway=") else arg
        for arg in drift["command"][3:]
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        outcome = run(parse_args(args), batch=batch_api)

    assert 60 <= outcome.samples <= 140  # half of 100 requests of 2 rows, give or take
    assert outcome.drifted
    assert "mean radius" in {f.feature for f in outcome.features if f.drifted}
    (job,) = state.created_jobs
    assert job["spec"] == job_from_cronjob(CRONJOB, job["metadata"]["name"])["spec"]
    assert outcome.retrain == f"started {job['metadata']['name']}"
