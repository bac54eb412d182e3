"""Kueue for the training namespace: the controller by a pinned Helm release, and a
ClusterQueue holding the training quota with a LocalQueue that jobs are labelled with."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac import versions
from mlops_iac.components.training_jobs import GPU_RESOURCE
from mlops_iac.k8s import network, pods
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


def helm_values(profile: Profile) -> dict[str, Any]:
    """Chart values: smaller on `local`, the chart's defaults on `production`."""
    if profile == "local":
        return {"controllerManager": {"manager": {"resources": LOCAL_CONTROLLER_RESOURCES}}}
    return {}


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
            chart=versions.KUEUE_CHART,
            version=versions.KUEUE_VERSION,
            namespace=CONTROLLER_NAMESPACE,
            create_namespace=True,
            atomic=True,
            values=helm_values(profile),
            opts=child,
        )
        after_release = pulumi.ResourceOptions(parent=self, depends_on=[release])
        flavor = f"{stack}-training"
        k8s.apiextensions.CustomResource(
            f"{name}-flavor",
            api_version=API_VERSION,
            kind="ResourceFlavor",
            metadata={"name": flavor, "labels": labels},
            spec={},
            opts=after_release,
        )
        cluster_queue = k8s.apiextensions.CustomResource(
            f"{name}-cluster-queue",
            api_version=API_VERSION,
            kind="ClusterQueue",
            metadata={"name": flavor, "labels": labels},
            spec=cluster_queue_spec(namespace_name, flavor, quota),
            opts=after_release,
        )
        local_queue = k8s.apiextensions.CustomResource(
            f"{name}-local-queue",
            api_version=API_VERSION,
            kind="LocalQueue",
            metadata={"name": LOCAL_QUEUE, "namespace": namespace_name, "labels": labels},
            spec={"clusterQueue": flavor},
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[namespace, release, cluster_queue]
            ),
        )
        self.ready = [release, local_queue]
        self.register_outputs({"local_queue": LOCAL_QUEUE, "cluster_queue": flavor})
