"""Pure builders for a training job's CronJob: the trainer's command line, its container,
the pod and the Job template. Plain dicts in the Kubernetes API's camelCase."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from mlops_iac import versions
from mlops_iac.k8s import jobs, pods
from mlops_iac.spec import ResourceRequirements, TrainingJobSpec
from mlops_iac.workloads.exit_codes import EXIT_INVALID_CONFIG

CONTAINER = "trainer"
"""Name of the trainer container (podFailurePolicy rules refer to it)."""
TRAINER_MODULE = "mlops_iac.workloads.train"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
"""GPU nodes are tainted `nvidia.com/gpu:NoSchedule` so that only GPU jobs land there."""
ON_DEMAND_SCHEDULE = "@yearly"
"""The schedule of a job that has none: its CronJob is suspended, so it never fires."""
ON_DEMAND_ANNOTATION = "mlops-iac.dev/on-demand-only"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
FEATURES_DIR = "/features"
FEATURES_FILE = f"{FEATURES_DIR}/training.parquet"
"""Where a job that reads `features` finds its training table (an emptyDir)."""
FEAST_PYTHON = "/opt/feast/bin/python"
"""The runtime image's Feast venv, which also holds mlops_iac (without its dependencies)."""
JOB_LABEL = "mlops-iac.dev/training-job"
"""Carried by a training job's CronJob, Jobs and pods: the job's name."""


def trainer_args(job: TrainingJobSpec) -> list[str]:
    """The built-in trainer's flags for `job` (`python -m mlops_iac.workloads.train ...`);
    a job that reads `features` trains on the file the export init container writes."""
    dataset = FEATURES_FILE if job.features is not None else job.dataset
    assert dataset is not None  # the spec requires one of them without a command
    args = [
        f"--model-name={job.registered_model}",
        f"--dataset={dataset}",
        f"--target={job.target}",
        f"--estimator={job.estimator}",
        f"--params={json.dumps(job.params, sort_keys=True)}",
        f"--metric={job.metric}",
        f"--holdout-fraction={job.holdout_fraction}",
        f"--seed={job.seed}",
    ]
    if job.min_metric is not None:
        args.append(f"--min-metric={job.min_metric}")
    return args


def trainer_command(job: TrainingJobSpec) -> list[str]:
    """The container command: the built-in trainer, or the job's own `command`.

    In a Job, "trained but not promoted" exits 0: the run did its work, and a non-zero exit
    would be retried and counted as a failure.
    """
    if job.command is not None:
        return list(job.command)
    return ["python", "-m", TRAINER_MODULE, *trainer_args(job), "--succeed-when-not-promoted"]


def feature_export_command(job: TrainingJobSpec, repo_dir: str) -> list[str]:
    """The init container that writes the job's training table from its feature service."""
    assert job.features is not None
    return [
        FEAST_PYTHON,
        "-m",
        "mlops_iac.workloads.feature_export",
        f"--repo={repo_dir}",
        f"--service={job.features.service}",
        f"--entities={job.features.entities}",
        f"--target={job.target}",
        f"--out={FEATURES_FILE}",
    ]


def container_resources(job: TrainingJobSpec, default: ResourceRequirements) -> dict[str, Any]:
    """Requests and limits: the job's (or the profile's), plus its GPUs."""
    result = (job.resources or default).to_kubernetes()
    if job.gpu:
        result["requests"][GPU_RESOURCE] = str(job.gpu)
        result["limits"][GPU_RESOURCE] = str(job.gpu)
    return result


def pod_failure_policy(job: TrainingJobSpec) -> dict[str, Any]:
    """Evictions and preemptions do not count as failures; an invalid trainer config fails
    the Job at once (retrying cannot fix it)."""
    rules: list[dict[str, Any]] = [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]
    if job.command is None:
        rules.append(
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": CONTAINER,
                    "operator": "In",
                    "values": [EXIT_INVALID_CONFIG],
                },
            }
        )
    return {"rules": rules}


def pod_spec(
    job: TrainingJobSpec,
    *,
    image: pulumi.Input[str],
    env: list[dict[str, Any]],
    resources: dict[str, Any],
    service_account: str,
) -> dict[str, Any]:
    """The trainer pod: Pod Security `restricted`, no API token, never restarted in place
    (the Job retries with a new pod), GPU toleration when it asks for GPUs."""
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": pods.pod_security_context(versions.RUNTIME_UID),
        "containers": [
            {
                "name": CONTAINER,
                "image": image,
                "command": trainer_command(job),
                "env": [
                    *env,
                    pods.env_value("HOME", "/tmp"),
                    *(pods.env_value(key, value) for key, value in sorted(job.env.items())),
                ],
                "resources": resources,
                "securityContext": pods.container_security_context(),
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [pods.scratch_volume("tmp", "4Gi")],
    }
    if job.node_selector:
        spec["nodeSelector"] = dict(job.node_selector)
    if job.gpu:
        spec["tolerations"] = [GPU_TOLERATION]
    return spec


def add_feature_export(
    pod: dict[str, Any],
    job: TrainingJobSpec,
    *,
    image: pulumi.Input[str],
    repo_volume: dict[str, Any],
    repo_dir: str,
    env: list[dict[str, Any]],
    resources: dict[str, Any],
) -> dict[str, Any]:
    """`pod` with an init container that exports the job's feature service to the file the
    trainer reads, through a shared emptyDir."""
    features = {"name": "features", "mountPath": FEATURES_DIR}
    export = {
        "name": "features",
        "image": image,
        "command": feature_export_command(job, repo_dir),
        "env": pods.env_with_defaults(
            env, pods.env_value("HOME", "/tmp"), pods.env_value("PYTHONDONTWRITEBYTECODE", "1")
        ),
        "resources": resources,
        "securityContext": pods.container_security_context(),
        "volumeMounts": [
            {"name": repo_volume["name"], "mountPath": repo_dir, "readOnly": True},
            features,
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    (trainer,) = pod["containers"]
    trainer = {**trainer, "volumeMounts": [*trainer["volumeMounts"], features]}
    return {
        **pod,
        "initContainers": [export],
        "containers": [trainer],
        "volumes": [*pod["volumes"], repo_volume, pods.scratch_volume("features", "4Gi")],
    }


def cronjob_spec(
    job: TrainingJobSpec,
    *,
    pod: dict[str, Any],
    pod_labels: dict[str, str],
    job_labels: dict[str, str],
) -> dict[str, Any]:
    """The job's CronJob, suspended when the job has no schedule (it then runs only on
    demand)."""
    return jobs.cronjob_spec(
        schedule=job.schedule or ON_DEMAND_SCHEDULE,
        time_zone=job.time_zone,
        suspend=job.schedule is None,
        job_labels=job_labels,
        pod_labels=pod_labels,
        pod=pod,
        backoff_limit=job.backoff_limit,
        deadline_seconds=job.deadline_minutes * 60,
        pod_failure_policy=pod_failure_policy(job),
    )
