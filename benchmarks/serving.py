"""Serving throughput on this machine: the same registered scikit-learn model served several
ways, each driven by the same load from a separate process. Prints one JSON document.

    python benchmarks/serving.py [--requests 2000]

Servers, each with the settings a ServingEndpoint gives it: the default runtime, MLServer
1.7.1's MLflow runtime with adaptive batching (in its own venv, made from
mlops_iac/runtime_image/mlserver-requirements.txt), and the same without batching; `mlflow models
serve` with 1 worker (local profile) and 2 (production); and the floor, `model.predict` in a
loop in one process.
Loads: concurrency 1 and 8, 1 row and 100 rows per request. Not a test: numbers only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgen import drive, summary  # noqa: E402  (benchmarks/ is the script's folder)

from mlops_iac import runtime_image  # noqa: E402
from mlops_iac.components.serving_runtime import (  # noqa: E402
    MODELS_DIR,
    fetch_model_command,
    mlflow_serve_command,
    mlserver_env,
)
from mlops_iac.testing.local_servers import (  # noqa: E402
    LOOPBACK,
    free_port,
    mlflow_server,
    pinned_venv,
    stop_process_group,
    venv_environ,
    wait_for_http,
)

LOADS = [(1, 1), (8, 1), (1, 100), (8, 100)]
"""(concurrency, rows per request)."""


def mlflow_body(rows: Any) -> bytes:
    return json.dumps({"dataframe_split": rows.to_dict(orient="split", index=False)}).encode()


def oip_body(rows: Any) -> bytes:
    """Open Inference Protocol v2: one input per column, decoded as a pandas frame."""
    inputs = [
        {"name": str(column), "shape": [len(rows)], "datatype": "FP64",
         "data": rows[column].tolist()}
        for column in rows.columns
    ]  # fmt: skip
    return json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}).encode()


@contextmanager
def serving(command: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[int]:
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
        try:
            wait_for_http(f"http://{LOOPBACK}:{port}{health}", 180, process)
            yield port
        finally:
            stop_process_group(process)


def run_loads(
    port: int, path: str, encode: Callable[[Any], bytes], frame: Any, requests: int
) -> dict[str, Any]:
    results = {}
    for concurrency, rows in LOADS:
        body = encode(frame.head(rows))
        drive(port, path, body, min(200, requests), concurrency)  # warm-up
        results[f"c{concurrency}_rows{rows}"] = drive(port, path, body, requests, concurrency)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    import mlflow
    from mlflow import MlflowClient
    from sklearn.datasets import load_breast_cancer

    from mlops_iac.workloads.train import TrainConfig, train

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    report: dict[str, Any] = {"requests_per_load": args.requests, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp, mlflow_server(Path(tmp) / "mlflow") as server:
        os.environ["MLFLOW_TRACKING_URI"] = server.url
        os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
        with contextlib.redirect_stdout(sys.stderr):  # MLflow prints run links
            trained = train(
                TrainConfig(model_name="bench", params={"n_estimators": 100}),
                MlflowClient(server.url),
            )
        model_uri = "models:/bench@champion"
        report["model"] = {"estimator": "RandomForestClassifier(100)", "version": trained.version}
        env = venv_environ(
            MLFLOW_TRACKING_URI=server.url, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true"
        )

        model = mlflow.sklearn.load_model(model_uri)
        floor = {}
        for _, rows in LOADS[::2]:
            batch = frame.head(rows)
            latencies = []
            started = time.perf_counter()
            for _ in range(args.requests):
                start = time.perf_counter()
                model.predict(batch)
                latencies.append(time.perf_counter() - start)
            floor[f"c1_rows{rows}"] = summary(latencies, time.perf_counter() - started, 0)
        report["in_process_predict"] = floor

        for workers in (1, 2):
            command = mlflow_serve_command(model_uri, 0, workers)
            command[command.index("--port") + 1] = "{port}"
            command[command.index("--host") + 1] = LOOPBACK
            with serving(command, env, "/health", Path(tmp) / f"mlflow{workers}.log") as port:
                report[f"mlflow_serve_workers{workers}"] = run_loads(
                    port, "/invocations", mlflow_body, frame, args.requests
                )

        bin_dir = pinned_venv(runtime_image.REQUIREMENTS["mlserver"], "mlserver")
        models = Path(tmp) / "models"
        fetch = [p.replace(MODELS_DIR, str(models)) for p in fetch_model_command(model_uri)]
        subprocess.run(fetch, env=env, check=True, stdout=subprocess.DEVNULL)
        for name, batching in {
            "mlserver_default_runtime": True,
            "mlserver_unbatched": False,
        }.items():
            ml_env = dict(env, **mlserver_env("bench", 0))
            ml_env |= {
                "MLSERVER_HOST": LOOPBACK,
                "MLSERVER_MODEL_URI": str(models / "model"),
                "MLSERVER_GRPC_PORT": str(free_port()),
                "MLSERVER_METRICS_PORT": str(free_port()),
                "MLSERVER_METRICS_DIR": tmp,
                "PATH": os.pathsep.join([str(bin_dir), env["PATH"]]),
            }
            if not batching:
                ml_env["MLSERVER_MODEL_MAX_BATCH_SIZE"] = "1"
                ml_env["MLSERVER_MODEL_MAX_BATCH_TIME"] = "0"
            command = [
                str(bin_dir / "python"), "-c",
                "import os, sys; os.environ['MLSERVER_HTTP_PORT'] = sys.argv[1]; "
                "from mlserver.cli.main import root; "
                "sys.argv = ['mlserver', 'start', sys.argv[2]]; root()",
                "{port}", str(models),
            ]  # fmt: skip
            with serving(command, ml_env, "/v2/health/ready", Path(tmp) / f"{name}.log") as port:
                report[name] = run_loads(
                    port, "/v2/models/bench/infer", oip_body, frame, args.requests
                )

    base = report["mlflow_serve_workers1"]["c8_rows1"]["rps"]
    report["ratio_vs_mlflow_serve_workers1_at_c8_rows1"] = {
        key: round(value["c8_rows1"]["rps"] / base, 2)
        for key, value in report.items()
        if isinstance(value, dict) and "c8_rows1" in value
    }
    sys.stdout.flush()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
