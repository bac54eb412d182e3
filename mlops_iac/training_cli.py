"""What `mlops-iac train JOB` does: run the job's trainer here (`--local`) or start a run of
its CronJob in the stack's cluster and follow it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from mlops_iac.extras import message, missing_modules
from mlops_iac.spec import StackSpec, TrainingJobSpec

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2


def _job(spec: StackSpec, name: str, errors: Console) -> TrainingJobSpec | None:
    if spec.training is None:
        errors.print(f"stack {spec.name!r} has no `training` section", markup=False)
        return None
    try:
        return spec.training.job(name)
    except KeyError as error:
        errors.print(str(error.args[0]), markup=False)
        return None


def run_locally(spec: StackSpec, name: str, tracking_uri: str | None, errors: Console) -> int:
    """Run the built-in trainer in this process; its exit code (0 promoted, 3 not promoted,
    2 invalid config, 1 failed), or 2 when the job cannot run here."""
    job = _job(spec, name, errors)
    if job is None:
        return EXIT_USAGE
    if job.command is not None:
        errors.print(
            f"job {name!r} runs its own command in its image; --local runs only the built-in "
            "trainer. Start it in the cluster instead (without --local).",
            markup=False,
        )
        return EXIT_USAGE
    if job.features is not None:
        errors.print(
            f"job {name!r} reads feature service {job.features.service!r}, exported by a Feast "
            "init container in the cluster; --local trains only on a `dataset`. Start it in "
            "the cluster instead (without --local).",
            markup=False,
        )
        return EXIT_USAGE
    missing = missing_modules("workloads")
    if missing:
        errors.print(message("workloads", "--local", missing), markup=False)
        return EXIT_USAGE
    if not tracking_uri:
        errors.print("--local needs --tracking-uri (or MLFLOW_TRACKING_URI)", markup=False)
        return EXIT_USAGE
    from mlops_iac.components.training_jobs import trainer_args
    from mlops_iac.workloads import train

    return train.main([*trainer_args(job), f"--tracking-uri={tracking_uri}"])


def run_in_cluster(
    spec: StackSpec,
    name: str,
    *,
    context: str | None,
    kubeconfig: Path | None,
    wait: bool,
    console: Console,
) -> int:
    """Start a run of the job's CronJob; with `wait`, follow it and print its result."""
    errors = Console(stderr=True, soft_wrap=True)
    job = _job(spec, name, errors)
    if job is None:
        return EXIT_USAGE
    from kubernetes import client

    from mlops_iac.cluster_access import ClusterUnreachable, api_client
    from mlops_iac.runs import RunError, start_run, wait_for_run

    try:
        api = api_client(spec, context=context, kubeconfig=kubeconfig)
    except ClusterUnreachable as error:
        errors.print(str(error), markup=False)
        return EXIT_USAGE
    namespace = spec.training_namespace
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    try:
        run = start_run(batch, namespace, name, now=datetime.now(UTC))
        console.print(f"started {namespace}/{run}", markup=False)
        if not wait:
            return EXIT_OK
        outcome = wait_for_run(batch, core, namespace, run, timeout=job.deadline_minutes * 60 + 120)
    except RunError as error:
        errors.print(str(error), markup=False)
        return EXIT_RUN_FAILED
    except Exception as error:  # urllib3/ApiException: an unreachable or refusing cluster
        errors.print(f"the Kubernetes API refused or did not answer: {error}", markup=False)
        return EXIT_RUN_FAILED
    status = "succeeded" if outcome.succeeded else "failed"
    console.print(f"{run} {status}: {outcome.reason}", markup=False)
    if outcome.result_line:
        console.print(outcome.result_line, markup=False)
    return EXIT_OK if outcome.succeeded else EXIT_RUN_FAILED
