"""Pure builders for CronJob specs, shared by every scheduled job of the stack."""

from __future__ import annotations

from typing import Any

HISTORY_LIMIT = 3
STARTING_DEADLINE_SECONDS = 600
"""A run that could not start within 10 minutes of its time is skipped, not run late."""
FINISHED_TTL_SECONDS = 7 * 24 * 3600
"""Finished Jobs (and their logs) are deleted after a week, on-demand ones included."""


def cronjob_spec(
    *,
    schedule: str,
    time_zone: str,
    suspend: bool,
    job_labels: dict[str, str],
    pod_labels: dict[str, str],
    pod: dict[str, Any],
    backoff_limit: int,
    deadline_seconds: int,
    pod_failure_policy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CronJob that never runs two Jobs at once, keeps a short history, stops a run at its
    deadline and skips runs that could not start in time."""
    job: dict[str, Any] = {
        "backoffLimit": backoff_limit,
        "activeDeadlineSeconds": deadline_seconds,
        "ttlSecondsAfterFinished": FINISHED_TTL_SECONDS,
        "template": {"metadata": {"labels": pod_labels}, "spec": pod},
    }
    if pod_failure_policy is not None:
        job["podFailurePolicy"] = pod_failure_policy
    return {
        "schedule": schedule,
        "timeZone": time_zone,
        "suspend": suspend,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
        "successfulJobsHistoryLimit": HISTORY_LIMIT,
        "failedJobsHistoryLimit": HISTORY_LIMIT,
        "jobTemplate": {"metadata": {"labels": job_labels}, "spec": job},
    }
