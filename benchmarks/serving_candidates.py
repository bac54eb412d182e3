"""The serving benchmark's candidate runtimes: how each is installed (a pinned venv), started
(command, environment, health path) and spoken to (request paths and bodies), with the
settings a Deployment of it would use. benchmarks/serving.py drives them.

Today's runtimes (MLServer, `mlflow models serve`) are started from the code the stack deploys
(mlops_iac.components.serving_runtime), in venvs made from the runtime image's requirements,
so the benchmark measures what we deploy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_iac import runtime_image
from mlops_iac.components.serving_runtime import (
    BUILTIN_MAX_BATCH_SIZE,
    BUILTIN_MAX_BATCH_TIME_S,
    builtin_container,
    mlflow_serve_command,
    mlserver_env,
)
from mlops_iac.testing.local_servers import LOOPBACK, free_port

HERE = Path(__file__).resolve().parent
VENVS = HERE / "serving-venvs"
MODEL_NAME = "bench"
BUILTIN_STACK = ("starlette", "uvicorn", "prometheus-client", "mlflow")
"""What the builtin runtime is built on: it is maintained while these are."""


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


def v1_body(rows: Any) -> bytes:
    """KServe V1 (TensorFlow Serving style): one list of values per row."""
    return json.dumps({"instances": rows.to_numpy().tolist()}).encode()


def bentoml_body(rows: Any) -> bytes:
    return json.dumps({"rows": rows.to_numpy().tolist()}).encode()


@dataclass(frozen=True)
class Protocol:
    name: str
    path: str
    encode: Callable[[Any], bytes]
    predictions: Callable[[Any], int]
    """How many predictions a decoded response holds (checked before the load)."""
    oip_v2: bool


MLFLOW = Protocol(
    "mlflow /invocations", "/invocations", mlflow_body, lambda r: len(r["predictions"]), False
)
OIP_V2 = Protocol(
    "OIP v2",
    f"/v2/models/{MODEL_NAME}/infer",
    oip_body,
    lambda r: len(r["outputs"][0]["data"]),
    True,
)
KSERVE_V1 = Protocol(
    "KServe V1",
    f"/v1/models/{MODEL_NAME}:predict",
    v1_body,
    lambda r: len(r["predictions"]),
    False,
)
BENTOML = Protocol("BentoML JSON", "/predict", bentoml_body, len, False)


@dataclass(frozen=True)
class Context:
    """What a launcher needs: the fetched MLflow model and the base environment."""

    model_uri: str
    mlflow_model: Path
    """The registered version, downloaded as the fetch-model init container does."""
    env: dict[str, str]
    tmp: Path
    cpus: int


Launch = tuple[list[str], dict[str, str], str]
"""(command with a `{port}` placeholder, environment, health path)."""


@dataclass(frozen=True)
class Candidate:
    name: str
    runtime: str
    packages: tuple[str, ...]
    """The PyPI projects whose releases say whether the runtime is maintained (all must be)."""
    requirements: Path
    venv: str
    protocols: tuple[Protocol, ...]
    launch: Callable[[Context, Path], Launch]
    """(context, the venv's bin folder) -> how to start it."""
    settings: dict[str, Any] = field(default_factory=dict)


def _path(bin_dir: Path, env: dict[str, str]) -> str:
    return os.pathsep.join([str(bin_dir), env["PATH"]])


def _mlserver(batching: bool) -> Callable[[Context, Path], Launch]:
    def launch(ctx: Context, bin_dir: Path) -> Launch:
        env = dict(ctx.env, **mlserver_env(MODEL_NAME, 0))
        env |= {
            "MLSERVER_HOST": LOOPBACK,
            "MLSERVER_MODEL_URI": str(ctx.mlflow_model),
            "MLSERVER_GRPC_PORT": str(free_port()),
            "MLSERVER_METRICS_PORT": str(free_port()),
            "MLSERVER_METRICS_DIR": str(ctx.tmp),
            "PATH": _path(bin_dir, ctx.env),
        }
        if not batching:
            env["MLSERVER_MODEL_MAX_BATCH_SIZE"] = "1"
            env["MLSERVER_MODEL_MAX_BATCH_TIME"] = "0"
        command = [
            str(bin_dir / "python"), "-c",
            "import os, sys; os.environ['MLSERVER_HTTP_PORT'] = sys.argv[1]; "
            "from mlserver.cli.main import root; "
            "sys.argv = ['mlserver', 'start', sys.argv[2]]; root()",
            "{port}", str(ctx.mlflow_model.parent),
        ]  # fmt: skip
        return command, env, "/v2/health/ready"

    return launch


def _mlflow_serve(ctx: Context, bin_dir: Path) -> Launch:
    command = mlflow_serve_command(ctx.model_uri, 0, ctx.cpus)
    command[command.index("--port") + 1] = "{port}"
    command[command.index("--host") + 1] = LOOPBACK
    return command, dict(ctx.env, PATH=_path(bin_dir, ctx.env)), "/health"


def _kserve(flavor: str, workers: int) -> Callable[[Context, Path], Launch]:
    def launch(ctx: Context, bin_dir: Path) -> Launch:
        command = [
            str(bin_dir / "python"), str(HERE / "serving_kserve.py"),
            "--flavor", flavor, "--model_name", MODEL_NAME, "--model_dir", str(ctx.mlflow_model),
            "--http_port", "{port}", "--grpc_port", str(free_port()),
            "--workers", str(workers),
        ]  # fmt: skip
        health = f"/v2/models/{MODEL_NAME}/ready"
        return command, dict(ctx.env, PATH=_path(bin_dir, ctx.env)), health

    return launch


def _bentoml(workers: int) -> Callable[[Context, Path], Launch]:
    def launch(ctx: Context, bin_dir: Path) -> Launch:
        env = dict(
            ctx.env,
            PATH=_path(bin_dir, ctx.env),
            BENCH_MODEL_DIR=str(ctx.mlflow_model),
            BENCH_WORKERS=str(workers),
            BENTOML_HOME=str(ctx.tmp / "bentoml"),
            BENTOML_DO_NOT_TRACK="true",
        )
        command = [
            str(bin_dir / "bentoml"), "serve", "serving_bentoml:Bench",
            "--working-dir", str(HERE), "--host", LOOPBACK, "--port", "{port}",
        ]  # fmt: skip
        return command, env, "/readyz"

    return launch


def _builtin(workers: int) -> Callable[[Context, Path], Launch]:
    def launch(ctx: Context, bin_dir: Path) -> Launch:
        container = builtin_container(
            image="-", model_name=MODEL_NAME, port=0, workers=workers, resources={}
        )
        env = ctx.env | {item["name"]: item["value"] for item in container["env"]}
        env |= {
            "MODEL_DIR": str(ctx.mlflow_model),
            "PATH": _path(bin_dir, ctx.env),
            "PYTHONPATH": str(HERE.parent),  # the runtime venv has no mlops_iac of its own
        }
        command = [str(bin_dir / "python"), *container["command"][1:]]
        for flag, value in (
            ("--host", LOOPBACK),
            ("--port", "{port}"),
            ("--metrics-port", str(free_port())),
        ):
            command[command.index(flag) + 1] = value
        return command, env, f"/v2/models/{MODEL_NAME}/ready"

    return launch


def _kserve_settings(workers: int) -> dict[str, Any]:
    return {
        "workers": workers,
        "batching": "none (KServe's batcher is the Go agent sidecar, not in the Python server)",
        "metrics": "/metrics on the HTTP port",
        "grpc": "on (default), separate port",
        "latency_logging": "on (default)",
    }


def _bentoml_settings(workers: int) -> dict[str, Any]:
    return {
        "workers": workers,
        "max_batch_size_rows": 3200,
        "max_latency_ms": 10000,
        "metrics": "/metrics on the HTTP port",
    }


def candidates(cpus: int) -> list[Candidate]:
    """Every candidate, today's default first."""
    mlserver = runtime_image.REQUIREMENTS["mlserver"]
    kserve = VENVS / "kserve-requirements.txt"
    bentoml = VENVS / "bentoml-requirements.txt"
    builtin_settings = {
        "stack": "starlette, uvicorn (httptools, uvloop), prometheus_client in the runtime "
        "venv: MLflow pyfunc, OIP v2 (mlops_iac.workloads.model_server)",
        "max_batch_size": BUILTIN_MAX_BATCH_SIZE,
        "max_batch_time_s": BUILTIN_MAX_BATCH_TIME_S,
        "batching": "next predict takes what queued, waiting (<= max_batch_time) for as many "
        "as were in the server during the last one",
        "metrics": "separate port (--metrics-port)",
        "access_log": False,
    }
    return [
        Candidate(
            "mlserver", "MLServer 1.7.1 MLflow runtime, adaptive batching",
            ("mlserver",), mlserver, "mlserver", (OIP_V2,), _mlserver(True),
            {"parallel_workers": 0, "max_batch_size": 8, "max_batch_time_s": 0.002,
             "metrics": "separate port (MLSERVER_METRICS_PORT)"},
        ),
        Candidate(
            "mlserver_unbatched", "MLServer 1.7.1 MLflow runtime, no batching",
            ("mlserver",), mlserver, "mlserver", (OIP_V2,), _mlserver(False),
            {"parallel_workers": 0, "max_batch_size": 1},
        ),
        Candidate(
            "mlflow_serve", f"`mlflow models serve`, uvicorn, {cpus} workers (= cores)",
            ("mlflow",), runtime_image.REQUIREMENTS["runtime"], "runtime", (MLFLOW,),
            _mlflow_serve, {"workers": cpus, "batching": "none", "metrics": "none"},
        ),
        Candidate(
            "kserve_sklearn", "KServe 0.21.0 kserve.Model predicting with the bare estimator",
            ("kserve",), kserve, "kserve", (KSERVE_V1, OIP_V2), _kserve("estimator", 1),
            _kserve_settings(1),
        ),
        Candidate(
            "kserve_mlflow", "KServe 0.21.0 kserve.Model loading the MLflow pyfunc",
            ("kserve",), kserve, "kserve", (KSERVE_V1, OIP_V2), _kserve("pyfunc", 1),
            _kserve_settings(1),
        ),
        Candidate(
            f"kserve_mlflow_workers{cpus}",
            f"KServe 0.21.0 MLflow pyfunc, {cpus} workers (= cores)",
            ("kserve",), kserve, "kserve", (OIP_V2,), _kserve("pyfunc", cpus),
            _kserve_settings(cpus),
        ),
        Candidate(
            "bentoml", "BentoML 1.4.40, adaptive batching, MLflow pyfunc",
            ("bentoml",), bentoml, "bentoml", (BENTOML,), _bentoml(1), _bentoml_settings(1),
        ),
        Candidate(
            f"bentoml_workers{cpus}",
            f"BentoML 1.4.40, adaptive batching, {cpus} workers (= cores)",
            ("bentoml",), bentoml, "bentoml", (BENTOML,), _bentoml(cpus), _bentoml_settings(cpus),
        ),
        Candidate(
            "builtin", "builtin (default), 1 worker, adaptive batching", BUILTIN_STACK,
            runtime_image.REQUIREMENTS["runtime"], "runtime", (OIP_V2,), _builtin(1),
            {"workers": 1, **builtin_settings},
        ),
        Candidate(
            f"builtin_workers{cpus}", f"builtin, {cpus} workers (= cores), adaptive batching",
            BUILTIN_STACK, runtime_image.REQUIREMENTS["runtime"], "runtime", (OIP_V2,),
            _builtin(cpus), {"workers": cpus, **builtin_settings},
        ),
    ]  # fmt: skip
