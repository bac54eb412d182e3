"""The training part of the spec: what it accepts, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_iac.spec import SpecError, StackSpec
from mlops_iac.spec.schedule import check_cron

JOB = {"name": "churn", "dataset": "sklearn://breast_cancer"}


def load(training: dict[str, Any], **fields: Any) -> StackSpec:
    return StackSpec.load(
        {"name": "demo", "target": {"kind": "kind"}, "training": training, **fields}
    )


def error_of(training: dict[str, Any], **fields: Any) -> str:
    with pytest.raises(SpecError) as caught:
        load(training, **fields)
    return str(caught.value)


def test_the_issue_example_loads_with_its_values():
    spec = load(
        {
            "quota": {"cpu": "8", "memory": "32Gi", "gpu": 0},
            "jobs": [
                {
                    "name": "churn",
                    "dataset": "s3://datasets/churn.parquet",
                    "estimator": "sklearn.ensemble.RandomForestClassifier",
                    "params": {"n_estimators": 200},
                    "target": "churned",
                    "metric": "roc_auc",
                    "min_metric": 0.75,
                    "schedule": "0 3 * * *",
                    "resources": {"cpu": "2", "memory": "4Gi"},
                }
            ],
            "distributed": {"ray": False},
        }
    )
    assert spec.training is not None
    job = spec.training.job("churn")
    assert (job.schedule, job.min_metric, job.registered_model) == ("0 3 * * *", 0.75, "churn")
    assert spec.training_namespace == "mlops-training"
    assert spec.training.buckets() == ["datasets"]


@pytest.mark.parametrize(
    "schedule",
    [
        "0 3 * * *",
        "*/15 * * * *",
        "0 0 1-15/2 JAN,jul ?",
        "30 6 * * MON-FRI",
        "@daily",
        "0 0 * * 6",
    ],
)
def test_schedules_kubernetes_accepts_are_accepted(schedule):
    assert check_cron(schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("61 * * * *", "minute: 61 is outside 0-59"),
        ("0 3 * *", "use 5 fields"),
        ("0 25 * * *", "hour: 25 is outside 0-23"),
        ("0 3 * * 7", "day of week: 7 is outside 0-6"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("0 5-1 * * *", "range '5-1' runs backwards"),
        ("@every 5m", "is not a cron macro"),
        ("TZ=UTC 0 3 * * *", "time zone in `time_zone`"),
        ("? 3 * * *", "'?' is only allowed for the days"),
    ],
)
def test_an_invalid_cron_names_the_job_field(schedule, message):
    text = error_of({"jobs": [{**JOB, "schedule": schedule}]})

    assert text.startswith("training.jobs[0].schedule: ")
    assert message in text


@pytest.mark.parametrize(
    ("job", "path", "message"),
    [
        ({"estimator": "sklearn.ensemble.NoSuchForest"}, "estimator", "cannot be imported"),
        ({"estimator": "RandomForest"}, "estimator", "not an import path"),
        ({"estimator": "json.dumps"}, "estimator", "not a scikit-learn estimator class"),
        ({"metric": "auc_of_dreams"}, "metric", "allowed: scikit-learn scorer names"),
        ({"dataset": "gs://bucket/x.csv"}, "dataset", "allowed: sklearn://NAME, s3://"),
        ({"dataset": "s3://only-a-bucket"}, "dataset", "expected s3://BUCKET/KEY"),
        ({"dataset": "sklearn://mnist"}, "dataset", "allowed: breast_cancer, diabetes"),
        ({"gpu": -1}, "gpu", "greater than or equal to 0"),
        ({"resources": {"cpu": "-1", "memory": "1Gi"}}, "resources.cpu", "is negative"),
        ({"holdout_fraction": 1.0}, "holdout_fraction", "less than 1"),
        ({"deadline_minutes": 0}, "deadline_minutes", "greater than or equal to 1"),
        ({"name": "Churn"}, "name", "not a valid Kubernetes name"),
        ({"learning_rate": 0.1}, "learning_rate", "unknown key"),
    ],
)
def test_an_invalid_job_field_is_named_with_what_is_allowed(job, path, message):
    text = error_of({"jobs": [{**JOB, **job}]})

    assert text.startswith(f"training.jobs[0].{path}: ")
    assert message in text


@pytest.mark.parametrize(
    ("quota", "path"),
    [({"cpu": "-2"}, "cpu"), ({"memory": "-1Gi"}, "memory"), ({"gpu": -1}, "gpu")],
)
def test_a_negative_quota_is_refused(quota, path):
    assert error_of({"quota": quota}).startswith(f"training.quota.{path}: ")


def test_a_job_needing_more_than_the_quota_could_never_start():
    text = error_of({"quota": {"cpu": "1"}, "jobs": [JOB]})

    assert "training.jobs[0] ('churn') has a cpu limit of 2, above training.quota.cpu 1" in text
    assert "got" not in text


def test_a_gpu_job_needs_a_gpu_quota():
    text = error_of({"jobs": [{**JOB, "gpu": 1}]})

    assert "job 'churn' asks for 1 GPU(s) but quota.gpu is 0" in text


def test_the_built_in_trainer_needs_a_dataset_and_a_custom_job_takes_none_of_its_settings():
    assert "exactly one of `dataset` and `features`" in error_of({"jobs": [{"name": "churn"}]})
    text = error_of({"jobs": [{"name": "x", "command": ["train"], "estimator": "a.B"}]})
    assert "estimator: built-in trainer settings, but the job runs its own `command`" in text


def test_job_names_are_unique():
    assert "repeated: churn" in error_of({"jobs": [JOB, JOB]})


def test_training_needs_the_registry_and_its_own_namespace():
    assert "enable `registry`" in error_of({"jobs": [JOB]}, registry={"enabled": False})
    assert "training needs its own" in error_of({"namespace": "mlops"})


def test_ray_is_refused_until_it_is_supported():
    text = error_of({"distributed": {"ray": True}})

    assert text.startswith("training.distributed.ray: KubeRay is not supported yet")


def test_an_unknown_job_name_lists_the_jobs():
    spec = load({"jobs": [JOB]})
    assert spec.training is not None

    with pytest.raises(KeyError, match="no training job 'nope'; jobs: churn"):
        spec.training.job("nope")


def test_scikit_learn_names_are_remembered_per_version(tmp_path, monkeypatch):
    import json

    from mlops_iac.workloads import estimators

    monkeypatch.setattr(estimators, "CACHE_DIR", tmp_path)
    estimators.check_metric("roc_auc")
    estimators.check_estimator("sklearn.ensemble.RandomForestClassifier")

    (cache,) = tmp_path.glob("sklearn-*.json")
    remembered = json.loads(cache.read_text())
    assert "roc_auc" in remembered["scorers"]
    assert remembered["estimators"] == ["sklearn.ensemble.RandomForestClassifier"]
    with pytest.raises(ValueError, match="unknown metric 'auc_of_dreams'"):
        estimators.check_metric("auc_of_dreams")
