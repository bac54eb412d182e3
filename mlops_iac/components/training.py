"""TrainingCluster: a quota-bound namespace where training jobs run on schedule and on demand."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac.components import feast_config, kueue
from mlops_iac.components.feature_store import FeastClient, FeatureStore
from mlops_iac.components.monitoring_values import PUSHGATEWAY_PORT, pushgateway_address
from mlops_iac.components.registry import ModelRegistry
from mlops_iac.components.training_jobs import (
    GPU_RESOURCE,
    JOB_LABEL,
    ON_DEMAND_ANNOTATION,
    QUEUE_LABEL,
    add_feature_export,
    container_resources,
    cronjob_spec,
    pod_spec,
)
from mlops_iac.k8s import network, pods, resources
from mlops_iac.platforms.base import BucketAccess, ClientNamespace, Platform, with_bucket_names
from mlops_iac.spec import StackSpec, TrainingJobSpec, TrainingQuota
from mlops_iac.workloads.train import PUSHGATEWAY_ENV

TRAINER_SERVICE_ACCOUNT = "trainer"
"""Runs the training pods; it has no API rights and its token is not mounted."""
RETRAINER_SERVICE_ACCOUNT = "retrainer"
"""May start a run of a job (read its CronJob, create and list Jobs), and nothing more."""


def retrainer_rules() -> list[dict[str, Any]]:
    """What starting a run from a CronJob's template needs, and what telling whether one is
    already running needs."""
    return [
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list"]},
    ]


def quota_hard(quota: TrainingQuota) -> dict[str, str]:
    """ResourceQuota `hard` limits: requests and limits of CPU and memory, and GPUs (zero
    GPUs forbids asking for any)."""
    return {
        "requests.cpu": quota.cpu,
        "limits.cpu": quota.cpu,
        "requests.memory": quota.memory,
        "limits.memory": quota.memory,
        f"requests.{GPU_RESOURCE}": str(quota.gpu),
    }


def limit_range_spec(default: dict[str, Any], quota: TrainingQuota) -> dict[str, Any]:
    """Containers that set no resources get the profile's; none may exceed the quota."""
    return {
        "limits": [
            {
                "type": "Container",
                "defaultRequest": default["requests"],
                "default": default["limits"],
                "max": {"cpu": quota.cpu, "memory": quota.memory},
            }
        ]
    }


class TrainingCluster(pulumi.ComponentResource):
    """Training namespace (Pod Security `restricted`, default-deny network, ResourceQuota,
    LimitRange), service accounts, data-bucket credentials and one CronJob per job, optionally
    queued by Kueue.

    Every job is a CronJob: a scheduled job runs on its schedule, one without a schedule is
    suspended; either runs on demand as a Job made from the CronJob's template
    (`mlops-iac train JOB`, or the drift monitor through the `retrainer` account).
    """

    namespace: str
    """The training namespace."""
    cronjobs: dict[str, k8s.batch.v1.CronJob]
    """Each job's CronJob, by job name."""
    client: ClientNamespace
    """The training namespace, for other components that put pods there (drift monitors)."""
    jobs_ready: list[pulumi.Resource]
    """What must exist before anything that creates Jobs in the training namespace (its
    CronJobs, the drift monitors'): with `kueue`, the Kueue release and the LocalQueue, as
    Kueue's Job webhooks there fail closed until its controller serves them."""

    def __init__(
        self,
        name: str,
        spec: StackSpec,
        platform: Platform,
        registry: ModelRegistry,
        features: FeatureStore | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:TrainingCluster", name, None, opts)
        training = spec.training
        if training is None:
            raise ValueError("TrainingCluster needs `training` in the stack spec")
        self.namespace = namespace = spec.training_namespace
        labels = pods.labels("mlops-iac", "training", spec.name)
        child = platform.child_options(self)
        namespace_resource = resources.hardened_namespace(
            f"{name}", name=namespace, labels=labels, opts=child
        )
        inside = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[namespace_resource])
        )
        self.client = client = ClientNamespace(namespace, namespace_resource)
        defaults = spec.defaults.training_resources
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata={"name": "training", "namespace": namespace, "labels": labels},
            spec={"hard": quota_hard(training.quota)},
            opts=inside,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata={"name": "training", "namespace": namespace, "labels": labels},
            spec=limit_range_spec(defaults.to_kubernetes(), training.quota),
            opts=inside,
        )
        self._service_accounts(name, namespace, labels, inside)

        buckets = [platform.bucket(bucket, client) for bucket in training.buckets()]
        data = next(b for b in buckets if b.name == training.data_bucket)
        trainer_match = pods.selector("trainer", spec.name)
        client_labels = {**trainer_match, **_client_labels(buckets)}
        registry.allow_clients(
            f"{name}-registry", client=client, client_labels=trainer_match, opts=child
        )
        queue = None
        if training.kueue:
            queue = kueue.TrainingQueue(
                f"{name}-kueue",
                stack=spec.name,
                apis=platform.apis,
                namespace=namespace_resource,
                namespace_name=namespace,
                quota=training.quota,
                profile=spec.profile,
                opts=inside,
            )
        env = [pods.env_value("MLFLOW_TRACKING_URI", registry.tracking_uri), *data.env()]
        if spec.monitoring is not None:
            env.append(pods.env_value(PUSHGATEWAY_ENV, pushgateway_address(spec)))
            resources.network_policy(
                f"{name}-pushgateway-egress",
                name="trainer-pushgateway-egress",
                namespace=namespace,
                labels=labels,
                spec=network.allow_egress(
                    trainer_match,
                    PUSHGATEWAY_PORT,
                    [network.namespace_peer(spec.monitoring_namespace)],
                ),
                opts=inside,
            )
        ready = [b for access in buckets for b in access.ready]
        feast = None
        if any(job.features for job in training.jobs):
            if features is None:
                raise ValueError("training jobs read `features`: pass the FeatureStore")
            feast = features.client_access(client)
        readable = [*buckets, *(feast.buckets if feast else [])]
        identity = platform.workload_identity(
            TRAINER_SERVICE_ACCOUNT,
            namespace=namespace,
            buckets=readable,
            parent=self,
            service_account=TRAINER_SERVICE_ACCOUNT,
        )
        self.jobs_ready = list(queue.ready) if queue is not None else []
        self.cronjobs = {}
        for job in training.jobs:
            reader = feast if job.features is not None else None
            job_labels = {
                **pods.labels("trainer", "training", spec.name),
                JOB_LABEL: job.name,
            }
            if queue is not None:
                job_labels[QUEUE_LABEL] = queue.local_queue_name
            self.cronjobs[job.name] = self._cronjob(
                name,
                job,
                namespace=namespace,
                image=job.image or platform.runtime_image,
                env=env,
                resources=container_resources(job, defaults),
                job_labels=job_labels,
                pod_labels={
                    **job_labels,
                    **client_labels,
                    **(reader.client_labels if reader else {}),
                },
                feast=reader,
                buckets=readable,
                identity=identity,
                opts=pulumi.ResourceOptions.merge(
                    inside,
                    pulumi.ResourceOptions(
                        depends_on=[
                            *ready,
                            *self.jobs_ready,
                            *(reader.ready if reader else []),
                        ]
                    ),
                ),
            )
        self.register_outputs({"namespace": namespace, "jobs": sorted(self.cronjobs)})

    def _service_accounts(
        self, name: str, namespace: str, labels: dict[str, str], opts: pulumi.ResourceOptions
    ) -> None:
        for account in (TRAINER_SERVICE_ACCOUNT, RETRAINER_SERVICE_ACCOUNT):
            k8s.core.v1.ServiceAccount(
                f"{name}-{account}",
                metadata={"name": account, "namespace": namespace, "labels": labels},
                automount_service_account_token=False,
                opts=opts,
            )
        meta = {"name": RETRAINER_SERVICE_ACCOUNT, "namespace": namespace, "labels": labels}
        resources.service_account_role(
            f"{name}-retrainer-role",
            f"{name}-retrainer-binding",
            metadata=meta,
            rules=retrainer_rules(),
            opts=opts,
        )

    def _cronjob(
        self,
        name: str,
        job: TrainingJobSpec,
        *,
        namespace: str,
        image: pulumi.Input[str],
        env: list[dict[str, Any]],
        resources: dict[str, Any],
        job_labels: dict[str, str],
        pod_labels: dict[str, str],
        feast: FeastClient | None,
        buckets: list[BucketAccess],
        identity: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> k8s.batch.v1.CronJob:
        metadata: dict[str, Any] = {"name": job.name, "namespace": namespace, "labels": job_labels}
        if job.schedule is None:
            metadata["annotations"] = {ON_DEMAND_ANNOTATION: "true"}
        pod = pod_spec(
            job,
            image=image,
            env=env,
            resources=resources,
            service_account=TRAINER_SERVICE_ACCOUNT,
        )
        if feast is not None:
            pod = add_feature_export(
                pod,
                job,
                image=image,
                repo_volume=feast.repo_volume,
                repo_dir=feast_config.REPO_DIR,
                env=feast.env,
                resources=resources,
            )
        pod.update(identity)
        for container in [*pod["containers"], *pod.get("initContainers", [])]:
            container["command"] = [with_bucket_names(arg, buckets) for arg in container["command"]]
        return k8s.batch.v1.CronJob(
            f"{name}-job-{job.name}",
            metadata=metadata,
            spec=cronjob_spec(job, pod=pod, pod_labels=pod_labels, job_labels=job_labels),
            opts=opts,
        )


def _client_labels(buckets: list[BucketAccess]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for access in buckets:
        labels.update(access.client_labels)
    return labels
