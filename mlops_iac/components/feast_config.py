"""The `feature_store.yaml` the stack generates, and the Feast commands its pods run.

The yaml holds no secret and no address: Feast expands `${VAR}` in it from the environment
(`os.path.expandvars` in `feast.repo_config.load_repo_config`), so every pod gets the
connection details as env vars, passwords from Secrets, and a test can point the very same
file at local servers by setting other values.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlops_iac import versions

REPO_DIR = "/feast/repo"
"""Where the feature repo (and the generated yaml) is mounted in every Feast pod."""
DB_ENV = "FEAST_DB"
REDIS_ENV = "FEAST_REDIS"
DATA_ENV = "MLOPS_FEAST_DATA"
"""`s3://<bucket>`: where feature views find their Parquet files (the example reads it)."""
S3_ENDPOINT_ENV = "MLOPS_FEAST_S3_ENDPOINT"
"""The object store's S3 endpoint, for `FileSource(s3_endpoint_override=...)`."""
METRICS_PORT = 8000
"""`feast serve --metrics` serves Prometheus metrics on this port (fixed in Feast)."""
REGISTRY_TTL_SECONDS = 60


def feature_store_yaml(project: str, *, redis_tls: bool = False) -> str:
    """Registry in Postgres (SQL registry, psycopg 3), Redis online store (over TLS with
    `redis_tls`, as managed Redis requires), file offline store; every connection detail is
    a `${VAR}` reference."""
    redis = f"${{{REDIS_ENV}_HOST}}:${{{REDIS_ENV}_PORT}},password=${{{REDIS_ENV}_PASSWORD}}"
    config: dict[str, Any] = {
        "project": project,
        "provider": "local",
        "registry": {
            "registry_type": "sql",
            "path": (
                f"postgresql+psycopg://${{{DB_ENV}_USER}}:${{{DB_ENV}_PASSWORD}}"
                f"@${{{DB_ENV}_HOST}}:${{{DB_ENV}_PORT}}/${{{DB_ENV}_NAME}}"
            ),
            "cache_ttl_seconds": REGISTRY_TTL_SECONDS,
        },
        "online_store": {
            "type": "redis",
            "connection_string": f"{redis},ssl=true" if redis_tls else redis,
        },
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }
    return yaml.safe_dump(config, sort_keys=False)


def feast_command(*args: str) -> list[str]:
    """`feast -c <repo> ARGS` with the runtime image's Feast."""
    return [versions.FEAST_BIN, "-c", REPO_DIR, *args]


def apply_command() -> list[str]:
    """Register the repo's objects in the registry and create their online tables.

    Without reading the offline data: a new stack has none yet (it arrives after `up`), and
    `feast apply` would otherwise fail on a source file that does not exist, so the Job, and
    `pulumi up` with it, never completes. A wrong path shows in the materialization CronJob.
    Feature views must therefore not leave Feast to infer types from the data: an entity
    declares its `value_type` (or the view's schema its join key)."""
    return feast_command("apply", "--skip-source-validation")


def materialize_command() -> list[str]:
    """Load what is new since the last run (the first run: the feature view's TTL back)
    from the offline store into the online store, up to now."""
    feast = " ".join(feast_command("materialize-incremental"))
    return ["sh", "-c", f'exec {feast} "$(date -u +%Y-%m-%dT%H:%M:%S)"']


def serve_command(port: int, workers: int, metrics: bool) -> list[str]:
    """The HTTP feature server on all interfaces."""
    command = feast_command(
        "serve",
        "--host=0.0.0.0",
        f"--port={port}",
        f"--workers={workers}",
        f"--registry_ttl_sec={REGISTRY_TTL_SECONDS}",
        "--no-access-log",
    )
    return [*command, "--metrics"] if metrics else command
