"""A serving endpoint's model server, run here exactly as its synthesized Deployment runs it.

The command, arguments and environment come from the manifest `synth` produces; only the
in-cluster host names and ports are rewritten to 127.0.0.1. The model comes from a real
MLflow server, registered by the real trainer.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from typing import Any

import pytest

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
    """A model name whose `champion` alias points at a freshly trained version."""
    from mlflow import MlflowClient

    from mlops_iac.workloads.train import TrainConfig, train

    name = f"served-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        result = train(
            TrainConfig(model_name=name, params={"n_estimators": 20}),
            MlflowClient(tracking_uri=mlflow_server.url),
        )
    assert result.promoted
    return name


def synthesized_container(model_name: str) -> dict[str, Any]:
    from mlops_iac import MLOpsStack, StackSpec
    from mlops_iac.testing import synth

    spec = StackSpec.load(
        {
            "name": "demo",
            "target": {"kind": "kind", "cluster": "mlops"},
            "serving": [{"name": "churn", "model": f"models:/{model_name}@champion"}],
        }
    )
    result = synth(lambda: MLOpsStack("demo", spec), stack="demo")
    deployment = result.manifest("Deployment", "churn")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def to_loopback(
    container: dict[str, Any], tracking_uri: str, port: int
) -> tuple[list[str], dict[str, str]]:
    """The container's command and env with in-cluster hosts and ports made local."""
    command = list(container["command"])
    command[command.index("--host") + 1] = LOOPBACK
    command[command.index("--port") + 1] = str(port)
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc.cluster.local:5000"
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    return command, env


def test_the_synthesized_model_server_answers_like_the_model(
    mlflow_server: MlflowServer, champion: str, monkeypatch: pytest.MonkeyPatch, tmp_path
):
    import mlflow
    from sklearn.datasets import load_breast_cancer

    port = free_port()
    command, env = to_loopback(synthesized_container(champion), mlflow_server.url, port)
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        command, env=venv_environ(**env), stdout=log, stderr=subprocess.STDOUT, process_group=0
    )
    try:
        url = f"http://{LOOPBACK}:{port}"
        wait_for_http(f"{url}/health", timeout=120, process=server)
        rows = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).head(25)
        body = json.dumps({"dataframe_split": rows.to_dict(orient="split", index=False)})
        request = urllib.request.Request(
            f"{url}/invocations",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
    finally:
        stop_process_group(server)
        log.close()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    model = mlflow.sklearn.load_model(f"models:/{champion}@champion")
    assert predictions == model.predict(rows).tolist()
    assert set(predictions) == {0, 1}
