"""Fixtures of the workload tests: recorders for the Kubernetes API and the Pushgateway, and
an MLflow client of the session's real MLflow server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from k8s_recorder import Recorder, handler_for

from mlops_iac.testing.local_servers import LOOPBACK, MlflowServer


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    state = Recorder()
    server = ThreadingHTTPServer((LOOPBACK, 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def batch_api(recorder: tuple[Recorder, str]) -> Any:
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = recorder[1]
    return client.BatchV1Api(client.ApiClient(configuration))


@pytest.fixture
def tracking(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An MlflowClient for the test server, with MLFLOW_TRACKING_URI pointing at it."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    return MlflowClient(tracking_uri=mlflow_server.url)
