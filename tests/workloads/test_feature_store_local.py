"""The FeatureStore as synthesized, run for real: `feast apply`, materialization and the
feature server from their manifests' own commands and the generated feature_store.yaml,
against PostgreSQL (registry) and Redis (online store) started here, Parquet offline."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mlops_iac import runtime_image
from mlops_iac.spec import StackSpec
from mlops_iac.testing import SynthResult, synth
from mlops_iac.testing.data_servers import (
    PostgresServer,
    RedisServer,
    ServerUnavailable,
    postgres_bindir,
    postgres_server,
    redis_server,
)
from mlops_iac.testing.feast_local import FeastManifests, feast_env, feature_server, localize, run
from mlops_iac.testing.local_servers import MlflowServer, S3Server, pinned_venv, venv_environ

pytestmark = pytest.mark.workload

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "feature-store"


def example_data_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_data", EXAMPLE / "generate_data.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (under CI, .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def feast_bin() -> Path:
    return pinned_venv(runtime_image.REQUIREMENTS["feast"], "feast")


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PostgresServer, RedisServer]]:
    try:
        with postgres_server() as postgres, redis_server(tmp_path_factory.mktemp("redis")) as redis:
            yield postgres, redis
    except ServerUnavailable as error:
        unavailable(str(error))


CHURN_JOB = {
    "name": "churn",
    "features": {"service": "churn", "entities": "s3://datasets/labels.parquet"},
    "target": "churned",
    "params": {"n_estimators": 20},
}


@pytest.fixture(scope="module")
def stack() -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack

    spec = StackSpec.load(
        {
            "name": "shop",
            "target": {"kind": "kind"},
            "feature_store": {"repo": str(EXAMPLE / "features")},
            "training": {"jobs": [CHURN_JOB]},
        }
    )
    return synth(lambda: MLOpsStack("shop", spec), stack="shop")


@pytest.fixture(scope="module")
def manifests(stack: SynthResult) -> FeastManifests:
    return FeastManifests.of(stack)


@pytest.fixture(scope="module")
def served(
    manifests: FeastManifests,
    servers: tuple[PostgresServer, RedisServer],
    feast_bin: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """Apply, materialize, serve; yields the server URL and what happened on the way."""
    postgres, redis = servers
    root = tmp_path_factory.mktemp("feast")
    repo = manifests.write_repo(root / "repo")
    data = root / "data"
    example_data_module().write(data, customers=100, days=3)
    env = {**os.environ, **feast_env(postgres, redis, data)}
    repo.chmod(0o555)  # mounted read-only in the pods
    applied = run(localize(manifests.apply, repo, feast_bin), env)
    run(localize(manifests.materialize, repo, feast_bin), env)
    with feature_server(localize(manifests.serve, repo, feast_bin), env, root / "serve.log") as url:
        yield {"url": url, "applied": applied, "repo": repo, "env": env}


def online_features(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/get-online-features",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def by_name(answer: dict[str, Any]) -> dict[str, list[Any]]:
    names = answer["metadata"]["feature_names"]
    return {name: result["values"] for name, result in zip(names, answer["results"], strict=True)}


def test_apply_registers_the_repo_in_postgres(served, servers):
    postgres, _ = servers
    assert "Deploying infrastructure for customer_stats" in served["applied"]
    tables = subprocess.run(
        [str(postgres_bindir() / "psql"), "-h", postgres.host, "-p", str(postgres.port),
         "-U", postgres.user, "-d", postgres.database, "-tAc",
         "SELECT feature_view_name FROM feature_views"],
        capture_output=True, text=True, env={**os.environ, "PGPASSWORD": postgres.password},
        check=True,
    )  # fmt: skip
    assert tables.stdout.split() == ["customer_stats"]


def test_the_feature_server_returns_the_newest_materialized_values(served):
    expected = example_data_module().expected_features
    customers = [1001, 1050, 1100]

    answer = online_features(
        served["url"], {"feature_service": "churn", "entities": {"customer_id": customers}}
    )

    values = by_name(answer)
    for feature in ("tenure_months", "support_calls_30d"):
        assert values[feature] == [expected(c, 2)[feature] for c in customers]
    assert values["monthly_charges"] == pytest.approx(
        [expected(c, 2)["monthly_charges"] for c in customers]
    )
    statuses = {status for result in answer["results"] for status in result["statuses"]}
    assert statuses == {"PRESENT"}


def test_an_unknown_entity_gets_null_features(served):
    """Feast 0.67 on Redis still says PRESENT for a key it does not have, with a null value
    and a zero timestamp: callers must check the value."""
    answer = online_features(
        served["url"],
        {"features": ["customer_stats:tenure_months"], "entities": {"customer_id": [99]}},
    )

    assert by_name(answer)["tenure_months"] == [None]
    assert answer["results"][-1]["event_timestamps"] == ["1970-01-01T00:00:00Z"]


def test_materializing_again_loads_nothing_older_and_keeps_the_values(served, manifests, feast_bin):
    customers = [1001, 1002]
    body = {"feature_service": "churn", "entities": {"customer_id": customers}}
    before = by_name(online_features(served["url"], body))

    again = run(localize(manifests.materialize, served["repo"], feast_bin), served["env"])

    assert "customer_stats" in again
    assert by_name(online_features(served["url"], body)) == before


def test_a_training_job_trains_on_the_feature_service(
    stack, served, feast_bin, s3_server: S3Server, mlflow_server: MlflowServer, tmp_path
):
    """The job's own init container exports the point-in-time join of its entity rows (on
    an S3 API) with the feature service; its trainer then trains and registers on it."""
    import pandas as pd

    expected = example_data_module().expected_features
    customers = list(range(1001, 1101))
    stamp = pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=30)
    labels = pd.DataFrame(
        {
            "customer_id": customers,
            "event_timestamp": [stamp] * len(customers),
            "churned": [int(expected(c, 2)["support_calls_30d"] >= 3) for c in customers],
        }
    )
    s3_server.put("datasets", "labels.parquet", labels.to_parquet(index=False))
    pod = stack.manifest("CronJob", "churn")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (export,) = pod["initContainers"]
    (trainer,) = pod["containers"]
    env = {**served["env"], **s3_server.environ(), "PYTHONPATH": str(REPO)}

    run(localize(export["command"], served["repo"], feast_bin, tmp_path), env)
    table = pd.read_parquet(tmp_path / "training.parquet")

    assert list(table.columns) == [
        "tenure_months", "monthly_charges", "support_calls_30d", "churned",
    ]  # fmt: skip
    wanted = sorted(
        (
            f["tenure_months"],
            f["monthly_charges"],
            f["support_calls_30d"],
            int(f["support_calls_30d"] >= 3),
        )
        for f in map(lambda c: expected(c, 2), customers)
    )
    got = sorted(
        (
            int(r.tenure_months),
            round(float(r.monthly_charges), 2),
            int(r.support_calls_30d),
            int(r.churned),
        )
        for r in table.itertuples()
    )
    assert got == wanted  # the newest values before each row's timestamp
    command = localize(trainer["command"], served["repo"], feast_bin, tmp_path)
    trained = subprocess.run(
        [sys.executable, *command[1:]],
        capture_output=True,
        text=True,
        env=venv_environ(MLFLOW_TRACKING_URI=mlflow_server.url),
        timeout=300,
    )
    assert trained.returncode == 0, trained.stderr
    outcome = json.loads(trained.stdout.strip().splitlines()[-1])
    assert outcome["model_name"] == "churn"
    assert outcome["score"] > 0.9
