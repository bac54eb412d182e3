"""On-demand runs of a training job: a Job made from its CronJob's template, through the
Kubernetes API (what `kubectl create job --from=cronjob/NAME` does), one run at a time.

Used by `mlops-iac train JOB --stack NAME` and by the drift monitor's retraining trigger.
The `kubernetes` client is imported only by the functions that talk to a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_iac.components.training_jobs import CONTAINER, JOB_LABEL

if TYPE_CHECKING:
    from kubernetes.client import BatchV1Api, CoreV1Api

INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
"""What kubectl marks a Job made by hand from a CronJob with (`manual`)."""


class RunError(RuntimeError):
    """A run could not be started or did not succeed; the message says why."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    job: str
    succeeded: bool
    reason: str
    result_line: str | None
    """The trainer's one-line JSON result from the pod's log, when it could be read."""


def run_name(job: str, now: datetime) -> str:
    """`<job>-run-<UTC timestamp>`: unique per second and at most 60 characters."""
    return f"{job}-run-{now.astimezone(UTC):%Y%m%d%H%M%S}"


def job_from_cronjob(cronjob: dict[str, Any], name: str) -> dict[str, Any]:
    """A Job manifest from a CronJob's `jobTemplate`, owned by the CronJob (so its history
    and garbage collection apply) and marked as started by hand."""
    template = cronjob["spec"]["jobTemplate"]
    template_meta = template.get("metadata") or {}
    meta = cronjob["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": dict(template_meta.get("labels") or {}),
            "annotations": {
                **(template_meta.get("annotations") or {}),
                INSTANTIATE_ANNOTATION: "manual",
            },
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": template["spec"],
    }


def is_active(job: dict[str, Any]) -> bool:
    """True while a Job has not finished (no Complete or Failed condition)."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return not any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
    )


def list_runs(batch: BatchV1Api, namespace: str, job: str) -> list[dict[str, Any]]:
    """The Jobs of training job `job` (scheduled or on demand), as plain dicts."""
    listed = batch.list_namespaced_job(namespace, label_selector=f"{JOB_LABEL}={job}")
    runs: list[dict[str, Any]] = batch.api_client.sanitize_for_serialization(listed)["items"]
    return runs


def active_runs(runs: list[dict[str, Any]]) -> list[str]:
    """Names of the unfinished ones among `runs`."""
    return sorted(run["metadata"]["name"] for run in runs if is_active(run))


def last_run_time(runs: list[dict[str, Any]]) -> datetime | None:
    """When the newest of `runs` was created, or None if there is none."""
    stamps = [run["metadata"].get("creationTimestamp") for run in runs]
    return max((datetime.fromisoformat(s) for s in stamps if s), default=None)


def start_run(batch: BatchV1Api, namespace: str, job: str, *, now: datetime) -> str:
    """Create a Job from training job `job`'s CronJob and return its name.

    Refuses (RunError) when the CronJob does not exist or a run is still going: a training
    job never runs twice at once, like the CronJob's `concurrencyPolicy: Forbid`.
    """
    from kubernetes.client.exceptions import ApiException

    try:
        cronjob = batch.read_namespaced_cron_job(job, namespace)
    except ApiException as error:
        if error.status == 404:
            raise RunError(
                f"no training job {job!r} in namespace {namespace!r} (no CronJob of that "
                "name); is the stack deployed?"
            ) from None
        raise RunError(f"cannot read CronJob {namespace}/{job}: {error.reason}") from None
    running = active_runs(list_runs(batch, namespace, job))
    if running:
        raise RunError(f"training job {job!r} is already running: {', '.join(running)}")
    manifest = job_from_cronjob(batch.api_client.sanitize_for_serialization(cronjob), "")
    manifest["metadata"]["name"] = run_name(job, now)
    created = batch.create_namespaced_job(namespace, manifest)
    return str(created.metadata.name)


def wait_for_run(
    batch: BatchV1Api,
    core: CoreV1Api,
    namespace: str,
    name: str,
    *,
    timeout: float,
    poll: float = 2.0,
    on_wait: Callable[[str], None] = lambda _: None,
) -> RunOutcome:
    """Poll Job `name` until it finishes; read the trainer's result line from its pod."""
    deadline = time.monotonic() + timeout
    while True:
        job = batch.api_client.sanitize_for_serialization(
            batch.read_namespaced_job(name, namespace)
        )
        if not is_active(job):
            break
        if time.monotonic() > deadline:
            raise RunError(f"run {name} has not finished after {timeout:.0f} s")
        on_wait(_progress(job))
        time.sleep(poll)
    finished = next(c for c in job["status"]["conditions"] if c["type"] in ("Complete", "Failed"))
    succeeded = finished["type"] == "Complete"
    reason = finished.get("message") or finished.get("reason") or finished["type"]
    return RunOutcome(name, succeeded, reason, _result_line(core, namespace, name))


def _progress(job: dict[str, Any]) -> str:
    status = job.get("status") or {}
    if (job.get("spec") or {}).get("suspend"):
        return "queued (suspended until admitted)"
    return f"active {status.get('active', 0)}, failed {status.get('failed', 0)}"


def _result_line(core: CoreV1Api, namespace: str, job: str) -> str | None:
    """The last JSON line the trainer printed, from the Job's newest pod, if readable."""
    from kubernetes.client.exceptions import ApiException

    listed = core.list_namespaced_pod(namespace, label_selector=f"job-name={job}")
    pods = sorted(listed.items, key=lambda pod: pod.metadata.creation_timestamp)
    if not pods:
        return None
    try:
        log = core.read_namespaced_pod_log(pods[-1].metadata.name, namespace, container=CONTAINER)
    except ApiException:
        return None
    lines = [line for line in str(log).splitlines() if line.startswith("{")]
    return lines[-1] if lines else None
