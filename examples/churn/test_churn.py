"""The churn stack under Pulumi mocks, and its loop run for real on loopback."""

from pathlib import Path

import pytest

from mlops_iac.testing import synth_project

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def stack():
    return synth_project(HERE, "dev")


def test_each_new_champion_is_rolled_out_in_steps_judged_by_its_metrics(stack):
    canary = stack.manifest("Rollout", "churn")["spec"]["strategy"]["canary"]
    analysis = stack.manifest("AnalysisTemplate", "churn-rollout-analysis")["spec"]
    route = stack.manifest("HTTPRoute", "churn")["spec"]["rules"][0]["backendRefs"]

    assert [s["setWeight"] for s in canary["steps"] if "setWeight" in s] == [10, 50]
    assert [m["name"] for m in analysis["metrics"]] == [
        "error-ratio",
        "client-error-increase",
        "p99-latency",
    ]
    # the alert thresholds judge each step: 1% errors (5xx; 4xx above the stable's), p99 250 ms
    assert [m["successCondition"][-4:] for m in analysis["metrics"]] == ["0.01", "0.01", "0.25"]
    assert [(b["name"], b["weight"]) for b in route] == [("churn", 100), ("churn-canary", 0)]


def test_drift_past_the_threshold_retrains_the_churn_job(stack):
    (drift,) = stack.manifest("CronJob", "drift-churn", "mlops-training")["spec"]["jobTemplate"][
        "spec"
    ]["template"]["spec"]["containers"]

    assert "--threshold=0.2" in drift["command"]
    assert "--retrain-job=churn" in drift["command"]


def test_the_job_trains_on_the_feature_service(stack):
    pod = stack.manifest("CronJob", "churn", "mlops-training")["spec"]["jobTemplate"]["spec"][
        "template"
    ]["spec"]
    (export,) = pod["initContainers"]

    assert "--service=churn" in export["command"]
    assert "--min-metric=0.75" in pod["containers"][0]["command"]


@pytest.mark.workload
def test_the_loop_runs_for_real(tmp_path):
    import sys

    sys.path.insert(0, str(HERE))
    from loop import run_loop

    outcome = run_loop(tmp_path)

    assert outcome["first"].promoted
    assert outcome["drift"].drifted
    assert outcome["second"].version == "2"


@pytest.mark.workload
def test_seed_data_puts_the_features_and_labels_where_the_stack_reads_them(stack):
    import io
    import os
    import subprocess
    import sys

    import boto3
    import pandas as pd

    from mlops_iac.testing.local_servers import s3_server

    training = stack.manifest("CronJob", "churn")
    read = " ".join(
        str(word)
        for container in _containers(training)
        for word in [*container.get("command", []), *container.get("args", [])]
    )
    with s3_server() as server:
        s3 = boto3.client("s3", **_client_args(server))
        for bucket in ("feast-offline", "datasets"):
            s3.create_bucket(Bucket=bucket)

        done = subprocess.run(
            [sys.executable, str(HERE / "seed_data.py"), "--endpoint-url", server.endpoint_url],
            env={**os.environ, **server.environ()},
            capture_output=True,
            text=True,
            check=True,
        )
        body = s3.get_object(Bucket="datasets", Key="churn-labels.parquet")["Body"].read()
        features = s3.head_object(Bucket="feast-offline", Key="customer_stats.parquet")

    labels = pd.read_parquet(io.BytesIO(body))
    assert "labels: s3://datasets/churn-labels.parquet" in done.stdout
    assert "s3://datasets/churn-labels.parquet" in read  # what the training job joins
    assert set(labels["churned"]) == {0, 1} and len(labels) == 400
    assert features["ContentLength"] > 0


def _containers(manifest):
    pod = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def _client_args(server):
    return {
        "endpoint_url": server.endpoint_url,
        "aws_access_key_id": server.access_key_id,
        "aws_secret_access_key": server.secret_access_key,
        "region_name": server.region,
    }
