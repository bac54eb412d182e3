"""Shared test setup: the mlops_iac pytest plugin and the repository root as cwd."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_iac.testing import local_servers
from mlops_iac.testing.local_servers import MlflowServer, S3Server

pytest_plugins = ["mlops_iac.testing.pytest_plugin"]

REPO_ROOT = Path(__file__).resolve().parent.parent
os.chdir(REPO_ROOT)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real MLflow server (SQLite, proxied artifacts) on 127.0.0.1, shared by a session."""
    with local_servers.mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 API (moto server mode) on 127.0.0.1, shared by a session."""
    with local_servers.s3_server() as server:
        yield server
