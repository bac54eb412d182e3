"""The serving container: how each runtime is started, probed and configured."""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_iac.k8s import pods
from mlops_iac.spec import InferenceLogSpec, ResourceRequirements
from mlops_iac.spec.serving import registered_model_of

MODEL_REVISION_ANNOTATION = "mlops-iac.dev/model-revision"


def mlflow_serve_command(model_uri: str, port: int, workers: int) -> list[str]:
    """`mlflow models serve` in the image's own environment (no per-model virtualenv)."""
    return [
        "mlflow", "models", "serve",
        "--model-uri", model_uri,
        "--env-manager", "local",
        "--host", "0.0.0.0",
        "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip


def mlflow_serve_container(
    *,
    image: pulumi.Input[str],
    model_uri: str,
    tracking_uri: pulumi.Input[str],
    port: int,
    workers: int,
    resources: dict[str, Any],
) -> dict[str, Any]:
    """The scoring-server container: it downloads the model through the registry's artifact
    proxy at start, so it needs only the tracking URI, no object-store credentials."""
    return {
        "name": "model-server",
        "image": image,
        "command": mlflow_serve_command(model_uri, port, workers),
        "env": [
            pods.env_value("MLFLOW_TRACKING_URI", tracking_uri),
            # MLflow 3.17 refuses to deserialize any scikit-learn model (skops included)
            # without this; the models come from the stack's own registry.
            pods.env_value("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true"),
            pods.env_value("HOME", "/tmp"),
        ],
        "ports": [{"name": "http", "containerPort": port}],
        "resources": resources,
        "securityContext": pods.container_security_context(),
        # `/health` answers 200 only once the model is loaded; the download can take minutes.
        "startupProbe": pods.http_probe("/health", "http", period=5, failures=120),
        "readinessProbe": pods.http_probe("/health", "http", period=5),
        "livenessProbe": pods.http_probe("/ping", "http", period=15, failures=4),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


MODELS_DIR = "/models"
METRICS_PORT = 8082
"""Prometheus metrics of the `builtin` and `mlserver` runtimes (the Service's `metrics`)."""

MODEL_SERVER_MODULE = "mlops_iac.workloads.model_server"
"""The `builtin` runtime's program (the default)."""
BUILTIN_MAX_BATCH_SIZE = 32
BUILTIN_MAX_BATCH_TIME_S = 0.005
"""Adaptive batching of the `builtin` runtime: one predict at a time, each taking up to 32
queued requests and waiting at most 5 ms for as many as the last one served; at concurrency 8
it served 0.66 of the batched in-process floor (benchmarks/serving.py, docs/benchmarks.md)."""

MLSERVER_BIN = "/opt/mlserver/bin/mlserver"
"""MLServer in the runtime image's own venv (it pins an old FastAPI)."""
MLSERVER_GRPC_PORT = 8081
MLSERVER_MAX_BATCH_SIZE = 8
MLSERVER_MAX_BATCH_TIME_S = 0.002
"""MLServer's adaptive batching: up to 8 concurrent requests answered by one predict call,
waiting at most 2 ms (it took MLServer from 75 to ~400 requests/s at concurrency 8)."""


MODEL_FETCH_MODULE = "mlops_iac.workloads.model_fetch"
"""The init container's program: waits for the model in the registry, then downloads it."""


def fetch_model_container(
    *,
    image: pulumi.Input[str],
    model_uri: str,
    tracking_uri: pulumi.Input[str],
    resources: dict[str, Any],
    hint: str,
    download: bool = True,
) -> dict[str, Any]:
    """An init container that waits until `model_uri` exists in the registry (on a fresh
    stack it does not yet: the pod stays in `Init` and logs `hint` every minute), then, with
    `download`, fetches it through the registry's artifact proxy into `<MODELS_DIR>/model`.
    Without `download` it only waits (`wait-for-model`, for `mlflow models serve`, which
    downloads the model itself). The command carries no secret: the tracking URI is in env."""
    volume_mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if download:
        volume_mounts.insert(0, {"name": "models", "mountPath": MODELS_DIR})
    return {
        "name": "fetch-model" if download else "wait-for-model",
        "image": image,
        "command": fetch_model_command(model_uri, hint, download=download),
        "env": [
            pods.env_value("MLFLOW_TRACKING_URI", tracking_uri),
            pods.env_value("HOME", "/tmp"),
        ],
        "resources": resources,
        "securityContext": pods.container_security_context(),
        "volumeMounts": volume_mounts,
    }


def fetch_model_command(model_uri: str, hint: str, *, download: bool = True) -> list[str]:
    """`python -m mlops_iac.workloads.model_fetch`: wait for `model_uri`, then (with
    `download`) fetch it into `<MODELS_DIR>/model`."""
    command = ["python", "-m", MODEL_FETCH_MODULE, "--model-uri", model_uri]
    if download:
        command += ["--dst", f"{MODELS_DIR}/model"]
    return [*command, "--hint", hint]


def model_hint(model_uri: str, training_jobs: list[str], stack: str) -> str:
    """What to do while `model_uri` does not exist, for the init container's log line:
    run the stack's training jobs that train its registered model, or register it."""
    if training_jobs:
        runs = " or ".join(f"mlops-iac train {job} --stack {stack}" for job in training_jobs)
        return f"train and promote it: {runs}"
    name = registered_model_of(model_uri)
    prefix = f"no training job of stack {stack} trains {name!r}: register"
    if "@" in model_uri:
        alias = model_uri.partition("@")[2]
        return f"{prefix} a version of it in the registry and point alias {alias!r} at it"
    return f"{prefix} version {model_uri.rsplit('/', 1)[1]} of it in the registry"


def mlserver_env(model_name: str, port: int) -> dict[str, str]:
    """MLServer settings for one MLflow model loaded from `<MODELS_DIR>/model`."""
    return {
        "MLSERVER_MODEL_NAME": model_name,
        "MLSERVER_MODEL_IMPLEMENTATION": "mlserver_mlflow.MLflowRuntime",
        "MLSERVER_MODEL_URI": f"{MODELS_DIR}/model",
        # 0: inference in the server process; extra processes only add IPC for small models.
        "MLSERVER_PARALLEL_WORKERS": "0",
        "MLSERVER_MODEL_MAX_BATCH_SIZE": str(MLSERVER_MAX_BATCH_SIZE),
        "MLSERVER_MODEL_MAX_BATCH_TIME": str(MLSERVER_MAX_BATCH_TIME_S),
        "MLSERVER_HOST": "0.0.0.0",
        "MLSERVER_HTTP_PORT": str(port),
        "MLSERVER_GRPC_PORT": str(MLSERVER_GRPC_PORT),
        "MLSERVER_METRICS_PORT": str(METRICS_PORT),
        "MLSERVER_METRICS_DIR": "/tmp",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "HOME": "/tmp",
    }


def builtin_env(model_name: str) -> dict[str, str]:
    """The `builtin` server's settings for one MLflow model in `<MODELS_DIR>/model`."""
    return {
        "MODEL_DIR": f"{MODELS_DIR}/model",
        "MODEL_NAME": model_name,
        "MAX_BATCH_SIZE": str(BUILTIN_MAX_BATCH_SIZE),
        "MAX_BATCH_TIME": str(BUILTIN_MAX_BATCH_TIME_S),
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        # MLflow 3.17's telemetry thread edits os.environ while other threads read it.
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "HOME": "/tmp",
    }


def builtin_container(
    *,
    image: pulumi.Input[str],
    model_name: str,
    port: int,
    workers: int,
    resources: dict[str, Any],
) -> dict[str, Any]:
    """The stack's own model server (mlops_iac.workloads.model_server): Open Inference
    Protocol v2 on `port`, Prometheus metrics on 8082, serving the model the init container
    fetched."""
    command = [
        "python", "-m", MODEL_SERVER_MODULE,
        "--host", "0.0.0.0",
        "--port", str(port),
        "--metrics-port", str(METRICS_PORT),
        "--workers", str(workers),
    ]  # fmt: skip
    return _oip_container(
        image=image,
        command=command,
        env=builtin_env(model_name),
        ports=[{"name": "http", "containerPort": port}],
        resources=resources,
    )


def mlserver_container(
    *, image: pulumi.Input[str], model_name: str, port: int, resources: dict[str, Any]
) -> dict[str, Any]:
    """MLServer's MLflow runtime (Open Inference Protocol v2 on `port`, gRPC on 8081,
    Prometheus metrics on 8082) serving the model the init container fetched."""
    return _oip_container(
        image=image,
        command=[MLSERVER_BIN, "start", MODELS_DIR],
        env=mlserver_env(model_name, port),
        ports=[
            {"name": "http", "containerPort": port},
            {"name": "grpc", "containerPort": MLSERVER_GRPC_PORT},
        ],
        resources=resources,
    )


def _oip_container(
    *,
    image: pulumi.Input[str],
    command: list[str],
    env: dict[str, str],
    ports: list[dict[str, Any]],
    resources: dict[str, Any],
) -> dict[str, Any]:
    """A v2 (Open Inference Protocol) model server on the fetched model: its health
    probes, the metrics port, the read-only models volume and a writable /tmp."""
    return {
        "name": "model-server",
        "image": image,
        "command": command,
        "env": [pods.env_value(k, v) for k, v in env.items()],
        "ports": [*ports, {"name": "metrics", "containerPort": METRICS_PORT}],
        "resources": resources,
        "securityContext": pods.container_security_context(),
        "startupProbe": pods.http_probe("/v2/health/live", "http", period=5, failures=60),
        "readinessProbe": pods.http_probe("/v2/health/ready", "http", period=5),
        "livenessProbe": pods.http_probe("/v2/health/live", "http", period=15, failures=4),
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


INFERENCE_LOGGER_PORT = 8090
"""The inference logger sidecar's port; the Service sends traffic there when logging is on."""
INFERENCE_LOGGER_RESOURCES = ResourceRequirements(
    cpu="20m", memory="64Mi", cpu_limit="500m", memory_limit="128Mi"
)


def inference_logger_container(
    *,
    image: pulumi.Input[str],
    endpoint: str,
    role: str,
    upstream_port: int,
    log: InferenceLogSpec,
    location: pulumi.Input[str],
    bucket_env: list[dict[str, Any]],
) -> dict[str, Any]:
    """The sidecar that passes traffic to the model server on `upstream_port` and keeps a
    sample of inference requests at `location` (mlops_iac.workloads.inference_logger)."""
    settings = {
        "UPSTREAM": f"http://127.0.0.1:{upstream_port}",
        "LISTEN_HOST": "0.0.0.0",
        "LISTEN_PORT": str(INFERENCE_LOGGER_PORT),
        "ENDPOINT": endpoint,
        "ROLE": role,
        "SAMPLE_RATE": f"{log.sample_rate:g}",
        "LOG_LOCATION": location,
        "FLUSH_RECORDS": str(log.flush_records),
        "FLUSH_SECONDS": str(log.flush_seconds),
        "HOME": "/tmp",
    }
    return {
        "name": "inference-logger",
        "image": image,
        "command": ["python", "-m", "mlops_iac.workloads.inference_logger"],
        "env": [*(pods.env_value(k, v) for k, v in settings.items()), *bucket_env],
        "ports": [{"name": "logged", "containerPort": INFERENCE_LOGGER_PORT}],
        "resources": INFERENCE_LOGGER_RESOURCES.to_kubernetes(),
        "securityContext": pods.container_security_context(),
        "readinessProbe": {"tcpSocket": {"port": "logged"}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": "logged"}, "periodSeconds": 15},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
