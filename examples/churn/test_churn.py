"""The churn stack under Pulumi mocks, and its loop run for real on loopback."""

from pathlib import Path

import pytest

from mlops_iac.testing import synth_project

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def stack():
    return synth_project(HERE, "dev")


def test_the_canary_gets_ten_percent_of_the_traffic(stack):
    route = stack.manifest("HTTPRoute", "churn")["spec"]["rules"][0]["backendRefs"]

    assert [(b["name"], b["weight"]) for b in route] == [("churn", 90), ("churn-challenger", 10)]


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
