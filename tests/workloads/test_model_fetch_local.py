"""The model-server pod's init container, run here exactly as its synthesized Deployment runs
it, against a real MLflow server on 127.0.0.1 (in-cluster URIs and `/models` rewritten).

A stack's endpoints are created in the same first `pulumi up` as its registry, so the model
they serve does not exist yet: the init container must wait for it (with a log line saying
what to do), then fetch it once it is trained and promoted; and it must still fail, within a
bounded time, on what waiting cannot fix.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.testing.local_servers import (
    LOOPBACK,
    MlflowServer,
    free_port,
    stop_process_group,
    venv_environ,
)

pytestmark = pytest.mark.workload

IN_CLUSTER_TRACKING = "http://mlflow.mlops.svc.cluster.local:5000"
POLL = "0.3"


def fetch_container(model_name: str) -> dict[str, Any]:
    """The stable Deployment's init container for an endpoint serving `model_name`, in a stack
    with a training job for that model."""
    from mlops_iac import MLOpsStack, StackSpec
    from mlops_iac.testing import synth

    spec = StackSpec.load(
        {
            "name": "demo",
            "target": {"kind": "kind", "cluster": "mlops"},
            "training": {
                "jobs": [
                    {
                        "name": "churn",
                        "model_name": model_name,
                        "dataset": "sklearn://breast_cancer",
                    }
                ]
            },
            "serving": [{"name": "churn", "model": f"models:/{model_name}@champion"}],
        }
    )
    result = synth(lambda: MLOpsStack("demo", spec), stack="demo")
    pod = result.manifest("Deployment", "churn")["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    assert fetch["name"] == "fetch-model"
    container: dict[str, Any] = fetch
    return container


def local_command(container: dict[str, Any], models: Path) -> list[str]:
    return [part.replace("/models/", f"{models}/") for part in container["command"]]


def local_env(container: dict[str, Any], tracking_uri: str, **overrides: str) -> dict[str, str]:
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["MLFLOW_TRACKING_URI"] == IN_CLUSTER_TRACKING
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    return venv_environ(**{**env, **overrides})


def wait_for_text(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        assert process.poll() is None, f"exited {process.returncode}:\n{content}"
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} within {timeout}s:\n{log.read_text()}")


def test_on_an_empty_registry_it_waits_then_fetches_once_the_model_is_promoted(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    from mlops_iac.workloads.train import TrainConfig, train

    name = f"late-{uuid.uuid4().hex[:8]}"
    container = fetch_container(name)
    models = tmp_path / "models"
    models.mkdir()
    log = tmp_path / "fetch.log"
    env = local_env(container, mlflow_server.url, MODEL_FETCH_POLL_SECONDS=POLL)
    with log.open("wb") as out:
        process = subprocess.Popen(
            local_command(container, models), env=env, stdout=out, stderr=subprocess.STDOUT,
            process_group=0,
        )  # fmt: skip
        try:
            waiting = wait_for_text(log, f"waiting for models:/{name}@champion", process, 60)
            assert f"registered model '{name}' does not exist yet" in waiting
            assert "mlops-iac train churn --stack demo" in waiting
            time.sleep(10 * float(POLL))
            assert process.poll() is None, log.read_text()
            assert not (models / "model").exists()

            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
                result = train(
                    TrainConfig(model_name=name, params={"n_estimators": 5}),
                    MlflowClient(tracking_uri=mlflow_server.url),
                )
            assert result.promoted

            assert process.wait(timeout=120) == 0, log.read_text()
        finally:
            if process.poll() is None:
                stop_process_group(process)

    assert (models / "model" / "MLmodel").is_file()
    assert [p.name for p in models.iterdir()] == ["model"]
    assert f"models:/{name}@champion is version 1" in log.read_text()


def test_a_malformed_model_uri_fails_at_once(tmp_path: Path) -> None:
    container = fetch_container("churn")
    command = local_command(container, tmp_path)
    command[command.index("--model-uri") + 1] = "models:/churn"
    env = local_env(container, f"http://{LOOPBACK}:{free_port()}")

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2, done.stderr
    assert "'models:/churn' is not a registry model URI" in done.stderr


def test_a_tracking_uri_that_is_no_mlflow_server_fails_without_waiting(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    container = fetch_container("churn")
    env = local_env(container, f"{mlflow_server.url}/not-mlflow", MODEL_FETCH_POLL_SECONDS=POLL)

    started = time.monotonic()
    done = subprocess.run(
        local_command(container, tmp_path), env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1, done.stderr
    assert "the registry refused" in done.stderr
    assert "waiting for" not in done.stderr
    assert time.monotonic() - started < 45


def test_an_unreachable_registry_fails_after_the_bounded_retries(tmp_path: Path) -> None:
    container = fetch_container("churn")
    env = local_env(
        container,
        f"http://{LOOPBACK}:{free_port()}",
        MODEL_FETCH_POLL_SECONDS="0.2",
        MODEL_FETCH_UNREACHABLE_SECONDS="3",
    )

    started = time.monotonic()
    done = subprocess.run(
        local_command(container, tmp_path), env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1, done.stderr
    assert "unreachable for 3s" in done.stderr
    assert time.monotonic() - started < 45
    assert not (tmp_path / "model").exists()
