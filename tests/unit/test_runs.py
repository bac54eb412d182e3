"""On-demand runs: the Job made from a training job's CronJob is the CronJob's template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mlops_iac.runs import is_active, job_from_cronjob, run_name

CRONJOB = {
    "metadata": {"name": "churn", "namespace": "mlops-training", "uid": "1234"},
    "spec": {
        "schedule": "0 3 * * *",
        "jobTemplate": {
            "metadata": {"labels": {"mlops-iac.dev/training-job": "churn"}},
            "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never"}}},
        },
    },
}


def test_the_job_is_the_template_owned_by_the_cronjob_and_marked_manual():
    job = job_from_cronjob(CRONJOB, "churn-run-1")

    assert job["spec"] == CRONJOB["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["labels"] == {"mlops-iac.dev/training-job": "churn"}
    assert job["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "churn",
            "uid": "1234",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert job["metadata"]["namespace"] == "mlops-training"


def test_run_names_are_unique_per_second_in_utc_and_fit_a_kubernetes_name():
    moment = datetime(2026, 11, 23, 18, 5, 9, tzinfo=timezone(timedelta(hours=2)))

    assert run_name("churn", moment) == "churn-run-20261123160509"
    assert len(run_name("x" * 40, datetime.now(UTC))) <= 63


def test_a_job_is_active_until_it_completes_or_fails():
    def job(*conditions: tuple[str, str]) -> dict[str, object]:
        return {"status": {"conditions": [{"type": t, "status": s} for t, s in conditions]}}

    assert is_active({})
    assert is_active(job(("Suspended", "True")))
    assert is_active(job(("Failed", "False")))
    assert not is_active(job(("Complete", "True")))
    assert not is_active(job(("FailureTarget", "True"), ("Failed", "True")))
