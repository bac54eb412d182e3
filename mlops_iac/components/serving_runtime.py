"""The serving container: how each runtime is started, probed and configured."""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_iac.k8s import pods

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
    image: str,
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
