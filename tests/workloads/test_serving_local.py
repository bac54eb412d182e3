"""A serving endpoint's model server, run here exactly as its synthesized Deployment runs it.

The commands, arguments and environment come from the manifest `synth` produces; only
in-cluster host names and ports are rewritten to 127.0.0.1, and the image's paths (`/models`,
`/opt/mlserver/bin`) to local ones. The model comes from a real MLflow server, registered by
the real trainer. Every runtime is checked: the builtin server (the default), MLServer (in its
own venv) and `mlflow models serve`.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlops_iac import runtime_image
from mlops_iac.testing.local_servers import (
    LOOPBACK,
    MlflowServer,
    free_port,
    pinned_venv,
    stop_process_group,
    venv_environ,
    wait_for_http,
)

pytestmark = pytest.mark.workload

REPO = Path(__file__).resolve().parents[2]
IN_CLUSTER_TRACKING = "http://mlflow.mlops.svc.cluster.local:5000"


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


@pytest.fixture(scope="module")
def mlserver_bin() -> Path:
    """MLServer's own venv, built from the same requirements file as the runtime image."""
    try:
        return pinned_venv(runtime_image.REQUIREMENTS["mlserver"], "mlserver")
    except (subprocess.SubprocessError, OSError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot install MLServer here: {error}")


def synthesized_spec(model_name: str, runtime: str, **extra: Any) -> Any:
    from mlops_iac import StackSpec

    return StackSpec.load(
        {
            "name": "demo",
            "target": {"kind": "kind", "cluster": "mlops"},
            "serving": [
                {"name": "churn", "model": f"models:/{model_name}@champion", "runtime": runtime}
            ],
            **extra,
        }
    )


def synthesized_pod(model_name: str, runtime: str) -> dict[str, Any]:
    from mlops_iac import MLOpsStack
    from mlops_iac.testing import synth

    spec = synthesized_spec(model_name, runtime)
    result = synth(lambda: MLOpsStack("demo", spec), stack="demo")
    pod: dict[str, Any] = result.manifest("Deployment", "churn")["spec"]["template"]["spec"]
    return pod


def local_env(container: dict[str, Any], tracking_uri: str, **overrides: str) -> dict[str, str]:
    env = {item["name"]: item["value"] for item in container["env"]}
    if "MLFLOW_TRACKING_URI" in env:
        assert env["MLFLOW_TRACKING_URI"] == IN_CLUSTER_TRACKING
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return {**env, **overrides}


def predictions_from(
    command: list[str], env: dict[str, str], health: str, path: str, body: bytes, log: Path
) -> Any:
    port = int(env.get("MLSERVER_HTTP_PORT") or command[command.index("--port") + 1])
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env=venv_environ(**env), stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
        try:
            wait_for_http(f"http://{LOOPBACK}:{port}{health}", timeout=180, process=server)
            request = urllib.request.Request(
                f"http://{LOOPBACK}:{port}{path}",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        finally:
            stop_process_group(server)


@pytest.fixture(scope="module")
def rows_and_expected(mlflow_server: MlflowServer, champion: str) -> tuple[Any, list[int]]:
    import mlflow
    from sklearn.datasets import load_breast_cancer

    rows = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).head(25)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        patch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
        model = mlflow.sklearn.load_model(f"models:/{champion}@champion")
    expected = model.predict(rows).tolist()
    assert set(expected) == {0, 1}
    return rows, expected


def fetched_model(
    champion: str, runtime: str, mlflow_server: MlflowServer, tmp_path: Path
) -> tuple[dict[str, Any], Path]:
    """The synthesized pod's server container, after its fetch-model init container ran
    here: the model is in the returned folder's `model/`."""
    pod = synthesized_pod(champion, runtime)
    (fetch,) = pod["initContainers"]
    (server,) = pod["containers"]
    models = tmp_path / "models"
    fetch_command = [part.replace("/models", str(models)) for part in fetch["command"]]
    subprocess.run(
        fetch_command, env=venv_environ(**local_env(fetch, mlflow_server.url)), check=True,
        timeout=120,
    )  # fmt: skip
    return server, models


def test_mlflow_runtime_answers_like_the_model(
    mlflow_server, champion, rows_and_expected, tmp_path
):
    rows, expected = rows_and_expected
    pod = synthesized_pod(champion, "mlflow")
    (wait,) = pod["initContainers"]
    (container,) = pod["containers"]
    subprocess.run(
        wait["command"], env=venv_environ(**local_env(wait, mlflow_server.url)), check=True,
        timeout=120,
    )  # fmt: skip
    command = list(container["command"])
    command[command.index("--host") + 1] = LOOPBACK
    command[command.index("--port") + 1] = str(free_port())
    body = json.dumps({"dataframe_split": rows.to_dict(orient="split", index=False)}).encode()

    answer = predictions_from(
        command, local_env(container, mlflow_server.url), "/health", "/invocations", body,
        tmp_path / "server.log",
    )  # fmt: skip

    assert answer["predictions"] == expected


def test_mlserver_runtime_answers_like_the_model(
    mlflow_server, champion, rows_and_expected, mlserver_bin, tmp_path
):
    rows, expected = rows_and_expected
    server, models = fetched_model(champion, "mlserver", mlflow_server, tmp_path)
    assert (models / "model" / "MLmodel").is_file()

    command = [
        part.replace("/opt/mlserver/bin", str(mlserver_bin)).replace("/models", str(models))
        for part in server["command"]
    ]
    env = local_env(
        server,
        mlflow_server.url,
        MLSERVER_HOST=LOOPBACK,
        MLSERVER_HTTP_PORT=str(free_port()),
        MLSERVER_GRPC_PORT=str(free_port()),
        MLSERVER_METRICS_PORT=str(free_port()),
        MLSERVER_MODEL_URI=str(models / "model"),
        MLSERVER_METRICS_DIR=str(tmp_path),
        PATH=os.pathsep.join([str(mlserver_bin), os.environ["PATH"]]),
    )
    inputs = [
        {"name": str(c), "shape": [len(rows)], "datatype": "FP64", "data": rows[c].tolist()}
        for c in rows.columns
    ]
    body = json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}).encode()

    answer = predictions_from(
        command, env, "/v2/health/ready", "/v2/models/churn/infer", body, tmp_path / "ml.log"
    )

    assert answer["model_name"] == "churn"
    assert answer["outputs"][0]["data"] == expected


def served_metrics(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The Prometheus exposition at `url`, as samples per metric name."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("workers", [1, 2])
def test_builtin_runtime_answers_like_the_model_and_counts_by_version(
    mlflow_server, champion, rows_and_expected, tmp_path, workers
):
    from mlflow import MlflowClient

    from mlops_iac.components import serving_metrics
    from mlops_iac.components.alert_rules import alert_groups

    rows, expected = rows_and_expected
    version = MlflowClient(mlflow_server.url).get_model_version_by_alias(champion, "champion")
    server, models = fetched_model(champion, "builtin", mlflow_server, tmp_path)
    recorded = json.loads((models / "model" / "registered-model.json").read_text())
    assert recorded == {
        "name": champion, "version": version.version, "uri": f"models:/{champion}@champion"
    }  # fmt: skip
    port, metrics_port = free_port(), free_port()
    command = list(server["command"])
    assert command[command.index("--workers") + 1] == "1"
    settings = {"--host": LOOPBACK, "--port": port, "--metrics-port": metrics_port}
    for flag, value in {**settings, "--workers": workers}.items():
        command[command.index(flag) + 1] = str(value)
    env = local_env(server, mlflow_server.url, MODEL_DIR=str(models / "model"))
    inputs = [
        {"name": str(c), "shape": [len(rows)], "datatype": "FP64", "data": rows[c].tolist()}
        for c in rows.columns
    ]
    base = f"http://{LOOPBACK}:{port}"
    with (tmp_path / "server.log").open("wb") as out:
        process = subprocess.Popen(
            command, env=venv_environ(**env), stdout=out, stderr=subprocess.STDOUT,
            process_group=0,
        )  # fmt: skip
        try:
            wait_for_http(f"{base}/v2/health/ready", timeout=180, process=process)
            good = post(f"{base}/v2/models/churn/infer", json.dumps({"inputs": inputs}).encode())
            short = post(
                f"{base}/v2/models/churn/infer", json.dumps({"inputs": inputs[1:]}).encode()
            )
            with urllib.request.urlopen(f"{base}/v2/models/churn", timeout=10) as response:
                metadata = json.loads(response.read())
            exported = served_metrics(f"http://{LOOPBACK}:{metrics_port}/metrics")
        finally:
            stop_process_group(process)

    status, answer = good
    assert status == 200
    assert answer["model_name"] == "churn"
    assert answer["model_version"] == version.version  # which version answered, per request
    assert answer["outputs"][0]["data"] == expected
    assert short[0] == 400 and "missing inputs" in short[1]["error"]
    assert metadata["versions"] == [version.version]
    counted = {
        labels["code"]: value
        for labels, value in exported["inference_requests_total"]
        if labels["model"] == "churn" and labels["model_version"] == version.version
    }
    # a 5xx series exists, at 0, before any failure: rate() ignores a series' first sample, so
    # a series born at a canary's first failures would hide them from its rollout analysis
    assert counted == {"200": 1.0, "400": 1.0, "500": 0.0}
    # Every series the serving alerts query for this runtime is one the server exports.
    spec = synthesized_spec(champion, "builtin", monitoring={})
    queried = " ".join(
        rule["expr"] for group in alert_groups(spec) for rule in group["rules"]
        if group["name"] == "mlops-serving"
    )  # fmt: skip
    for name in (serving_metrics.BUILTIN.requests, serving_metrics.BUILTIN.duration_bucket):
        assert name in queried
        assert name in exported, f"the alert rules query {name}, which the server lacks"
