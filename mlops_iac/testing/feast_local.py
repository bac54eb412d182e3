"""Run a synthesized FeatureStore for real on this machine: the repo ConfigMap laid out as
the pods mount it, and the apply Job's, the materialization CronJob's and the feature
server's own commands, against local Postgres, Redis and Parquet files.

Only what names a place changes: the repo folder, the Feast binary (the pinned venv
instead of the image's /opt/feast) and the connection env vars; the generated
`feature_store.yaml` is used as synthesized.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_iac import versions
from mlops_iac.components import feast_config
from mlops_iac.components.training_jobs import FEAST_PYTHON, FEATURES_DIR
from mlops_iac.testing.data_servers import PostgresServer, RedisServer
from mlops_iac.testing.local_servers import (
    LOOPBACK,
    free_port,
    stop_process_group,
    wait_for_http,
)
from mlops_iac.testing.synth import SynthResult


@dataclass(frozen=True)
class FeastManifests:
    """What a FeatureStore synthesized: the repo ConfigMap and the three commands."""

    configmap: dict[str, Any]
    items: list[dict[str, str]]
    apply: list[str]
    materialize: list[str]
    serve: list[str]

    @classmethod
    def of(cls, result: SynthResult) -> FeastManifests:
        """Find them in a synth result (one FeatureStore)."""
        (job,) = [m for m in result.manifests_of("Job") if "-feast-apply-" in m["metadata"]["name"]]
        (cronjob,) = [
            m
            for m in result.manifests_of("CronJob")
            if m["metadata"]["name"].endswith("-feast-materialize")
        ]
        (deployment,) = [
            m for m in result.manifests_of("Deployment") if m["metadata"]["name"].endswith("-feast")
        ]
        pod = job["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if "configMap" in v]
        configmap = result.manifest("ConfigMap", volume["configMap"]["name"])
        cron_pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        server_pod = deployment["spec"]["template"]["spec"]
        return cls(
            configmap=configmap,
            items=volume["configMap"]["items"],
            apply=pod["containers"][0]["command"],
            materialize=cron_pod["containers"][0]["command"],
            serve=server_pod["containers"][0]["command"],
        )

    def write_repo(self, folder: Path) -> Path:
        """Lay out the ConfigMap's keys as the volume's `items` do in a pod."""
        for item in self.items:
            path = folder / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.configmap["data"][item["key"]])
        return folder


def _named(result: SynthResult, kind: str, match: Callable[[str], bool]) -> list[dict[str, Any]]:
    return [m for m in result.manifests_of(kind) if match(m["metadata"]["name"])]


def localize(
    command: list[str], repo: Path, feast_bin: Path, features_dir: Path | None = None
) -> list[str]:
    """A pod's command with this machine's repo folder, Feast venv and (for a training
    job's export) features folder."""
    places = {
        versions.FEAST_BIN: str(feast_bin / "feast"),
        FEAST_PYTHON: str(feast_bin / "python"),
        feast_config.REPO_DIR: str(repo),
    }
    if features_dir is not None:
        places[FEATURES_DIR] = str(features_dir)
    localized = []
    for part in command:
        for pod_path, local_path in places.items():
            part = part.replace(pod_path, local_path)
        localized.append(part)
    return localized


def feast_env(postgres: PostgresServer, redis: RedisServer, data: Path) -> dict[str, str]:
    """The env vars the pods get, pointing at local servers and a Parquet folder."""
    db, kv = feast_config.DB_ENV, feast_config.REDIS_ENV
    return {
        f"{db}_HOST": postgres.host,
        f"{db}_PORT": str(postgres.port),
        f"{db}_NAME": postgres.database,
        f"{db}_USER": postgres.user,
        f"{db}_PASSWORD": postgres.password,
        f"{kv}_HOST": redis.host,
        f"{kv}_PORT": str(redis.port),
        f"{kv}_PASSWORD": redis.password,
        feast_config.DATA_ENV: str(data),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def run(command: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run a Feast command; its output, or RuntimeError with the output."""
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{command[:4]} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


@contextmanager
def feature_server(
    serve: list[str], env: dict[str, str], log: Path, timeout: float = 120
) -> Iterator[str]:
    """The synthesized `feast serve` on a free loopback port; yields its base URL."""
    port = free_port()
    command = [f"--host={LOOPBACK}" if part.startswith("--host=") else part for part in serve]
    command = [f"--port={port}" if part.startswith("--port=") else part for part in command]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            url = f"http://{LOOPBACK}:{port}"
            wait_for_http(f"{url}/health", timeout, process)
            yield url
        finally:
            stop_process_group(process)
