"""Kueue for the training namespace: the controller by a pinned Helm release, and a
ClusterQueue holding the training quota with a LocalQueue that jobs are labelled with."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac import charts, versions
from mlops_iac.components.training_jobs import GPU_RESOURCE
from mlops_iac.k8s import network, pods
from mlops_iac.k8s.apis import ClusterApis
from mlops_iac.spec import Profile, TrainingQuota

API_VERSION = "kueue.x-k8s.io/v1beta2"
"""Kueue's storage version since 0.16; v1beta1 is deprecated and stops being served in 0.20."""
LOCAL_QUEUE = "training"
CONTROLLER_NAMESPACE = "kueue-system"
LOCAL_CONTROLLER_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
"""The chart asks for 500m/512Mi; a laptop's kind cluster gets less."""


CHART_MANAGER_CONFIG: dict[str, Any] = {
    "apiVersion": "config.kueue.x-k8s.io/v1beta2",
    "kind": "Configuration",
    "health": {"healthProbeBindAddress": ":8081"},
    "metrics": {"bindAddress": ":8443"},
    "webhook": {"port": 9443},
    "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
    "controller": {
        "groupKindConcurrency": {
            "Job.batch": 5,
            "Pod": 5,
            "Workload.kueue.x-k8s.io": 10,
            "LocalQueue.kueue.x-k8s.io": 5,
            "ClusterQueue.kueue.x-k8s.io": 5,
            "ResourceFlavor.kueue.x-k8s.io": 1,
        }
    },
    "clientConnection": {"qps": 300, "burst": 500},
    "integrations": {
        "frameworks": [
            "batch/job",
            "kubeflow.org/mpijob",
            "ray.io/rayjob",
            "ray.io/rayservice",
            "ray.io/raycluster",
            "jobset.x-k8s.io/jobset",
            "workload.codeflare.dev/appwrapper",
            "trainer.kubeflow.org/trainjob",
            "pod",
            "deployment",
            "statefulset",
            "leaderworkerset.x-k8s.io/leaderworkerset",
        ]
    },
}
"""The chart's `managerConfig.controllerManagerConfigYaml` (Kueue 0.19.2), as data. The
chart takes the manager's configuration as one YAML string, so changing one setting means
passing all of it."""
FRAMEWORKS = ["batch/job"]
"""What the stack queues: Jobs (its CronJobs make them). The chart's default list adds Pods,
Deployments and StatefulSets, whose webhooks then fail closed (`failurePolicy: Fail`)."""


def manager_config(training_namespace: str) -> dict[str, Any]:
    """The chart's manager configuration, with Kueue's webhooks and controllers limited to
    the training namespace and to Jobs.

    The chart's webhooks (`failurePolicy: Fail`) select every namespace but kube-system
    and kueue-system by default: while Kueue has no ready endpoint (installing, upgrading,
    crashed) the API server then refuses every Job, Pod, Deployment and StatefulSet in the
    cluster, the stack's own database and bucket Jobs included. `managedJobsNamespaceSelector`
    becomes the `namespaceSelector` of every workload webhook the chart renders; the
    training namespace is selected by its `kubernetes.io/metadata.name` label, which the API
    server sets and nobody can forge on another namespace."""
    config = copy.deepcopy(CHART_MANAGER_CONFIG)
    config["managedJobsNamespaceSelector"] = {
        "matchLabels": {network.NAMESPACE_NAME_LABEL: training_namespace}
    }
    config["integrations"] = {"frameworks": list(FRAMEWORKS)}
    return config


def helm_values(profile: Profile, training_namespace: str) -> dict[str, Any]:
    """Chart values: Kueue's webhooks for `training_namespace` only (`manager_config`), the
    controller smaller on `local` (the chart's resources on `production`)."""
    values: dict[str, Any] = {
        # JSON is YAML: the chart parses this string with `fromYaml`.
        "managerConfig": {
            "controllerManagerConfigYaml": json.dumps(manager_config(training_namespace), indent=2)
        }
    }
    if profile == "local":
        values["controllerManager"] = {"manager": {"resources": LOCAL_CONTROLLER_RESOURCES}}
    return values


def cluster_queue_spec(namespace: str, flavor: str, quota: TrainingQuota) -> dict[str, Any]:
    """Admit Jobs from `namespace` only, up to the training quota."""
    return {
        "namespaceSelector": {"matchLabels": {network.NAMESPACE_NAME_LABEL: namespace}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [
            {
                "coveredResources": ["cpu", "memory", GPU_RESOURCE],
                "flavors": [
                    {
                        "name": flavor,
                        "resources": [
                            {"name": "cpu", "nominalQuota": quota.cpu},
                            {"name": "memory", "nominalQuota": quota.memory},
                            {"name": GPU_RESOURCE, "nominalQuota": str(quota.gpu)},
                        ],
                    }
                ],
            }
        ],
    }


class TrainingQueue(pulumi.ComponentResource):
    """Kueue (Helm release, cluster-wide: one per cluster), a ResourceFlavor and a
    ClusterQueue named after the stack, and the LocalQueue `training`."""

    local_queue_name: str = LOCAL_QUEUE
    """The queue name Jobs carry in the `kueue.x-k8s.io/queue-name` label."""
    ready: list[pulumi.Resource]
    """What must exist before labelled Jobs are created (else Kueue's webhook misses them)."""

    def __init__(
        self,
        name: str,
        *,
        stack: str,
        apis: ClusterApis,
        namespace: pulumi.Resource,
        namespace_name: str,
        quota: TrainingQuota,
        profile: Profile,
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__("mlops:index:TrainingQueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = pods.labels("kueue", "training-queue", stack, versions.KUEUE_VERSION)
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name="kueue",
            **charts.KUEUE.release_args(),
            namespace=CONTROLLER_NAMESPACE,
            create_namespace=True,
            atomic=True,
            values=helm_values(profile, namespace_name),
            opts=child,
        )
        apis.install(charts.KUEUE.name, release)
        after_release = pulumi.ResourceOptions(parent=self)
        flavor = f"{stack}-training"
        apis.custom_resource(
            f"{name}-flavor",
            api_version=API_VERSION,
            kind="ResourceFlavor",
            metadata={"name": flavor, "labels": labels},
            spec={},
            opts=after_release,
        )
        cluster_queue = apis.custom_resource(
            f"{name}-cluster-queue",
            api_version=API_VERSION,
            kind="ClusterQueue",
            metadata={"name": flavor, "labels": labels},
            spec=cluster_queue_spec(namespace_name, flavor, quota),
            opts=after_release,
        )
        local_queue = apis.custom_resource(
            f"{name}-local-queue",
            api_version=API_VERSION,
            kind="LocalQueue",
            metadata={"name": LOCAL_QUEUE, "namespace": namespace_name, "labels": labels},
            spec={"clusterQueue": flavor},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, cluster_queue]),
        )
        self.ready = [release, local_queue]
        self.register_outputs({"local_queue": LOCAL_QUEUE, "cluster_queue": flavor})
