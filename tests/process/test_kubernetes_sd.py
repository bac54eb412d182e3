"""kubernetes_sd gives each target the labels Prometheus' `endpoints` discovery gives it, the
ones the operator's relabelings read (its selector's service labels, the port name, the
target pod, its labels and container), at the address where the pod listens here."""

from __future__ import annotations

from typing import Any

from kubernetes_sd import target_groups
from node import cluster_ip, local_ip

SERVICE = {
    "metadata": {
        "namespace": "mlops",
        "name": "churn-metrics",
        "labels": {"app.kubernetes.io/name": "model-server", "mlops-iac.dev/endpoint": "churn"},
    },
    "spec": {"ports": [{"name": "metrics", "port": 8082}]},
}
POD = {
    "metadata": {
        "namespace": "mlops",
        "name": "churn-6f4997bcf4-hrkjf",
        "uid": "u-1",
        "labels": {"rollouts-pod-template-hash": "6f4997bcf4"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "churn-6f4997bcf4", "controller": True}],
    },
    "spec": {
        "nodeName": "process-node-0",
        "containers": [
            {"name": "model-server", "image": "runtime", "ports": [{"containerPort": 8082}]}
        ],
    },
    "status": {
        "phase": "Running",
        "podIP": "10.244.0.17",
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}


def endpoints(ready: bool = True) -> dict[str, Any]:
    address = {"ip": "10.244.0.17", "targetRef": {"kind": "Pod", "name": POD["metadata"]["name"]}}
    key = "addresses" if ready else "notReadyAddresses"
    return {
        "metadata": {"namespace": "mlops", "name": "churn-metrics"},
        "subsets": [{key: [address], "ports": [{"name": "metrics", "port": 8082}]}],
    }


def test_a_pod_target_has_the_labels_the_operators_relabelings_read() -> None:
    (group,) = target_groups([endpoints()], [SERVICE], [POD], ["mlops"])

    assert group["targets"] == ["127.77.0.17:8082"]
    labels = group["labels"]
    assert labels["__meta_kubernetes_service_label_mlops_iac_dev_endpoint"] == "churn"
    assert labels["__meta_kubernetes_service_labelpresent_app_kubernetes_io_name"] == "true"
    assert labels["__meta_kubernetes_endpoint_port_name"] == "metrics"
    assert labels["__meta_kubernetes_endpoint_ready"] == "true"
    assert labels["__meta_kubernetes_endpoint_address_target_kind"] == "Pod"
    assert labels["__meta_kubernetes_pod_name"] == "churn-6f4997bcf4-hrkjf"
    assert labels["__meta_kubernetes_pod_label_rollouts_pod_template_hash"] == "6f4997bcf4"
    assert labels["__meta_kubernetes_pod_container_name"] == "model-server"
    assert labels["__meta_kubernetes_pod_phase"] == "Running"
    assert labels["__meta_kubernetes_pod_controller_kind"] == "ReplicaSet"


def test_not_ready_addresses_are_targets_too_marked_not_ready() -> None:
    (group,) = target_groups([endpoints(ready=False)], [SERVICE], [POD], ["mlops"])

    assert group["labels"]["__meta_kubernetes_endpoint_ready"] == "false"


def test_only_the_scrape_configs_namespaces_are_discovered() -> None:
    assert target_groups([endpoints()], [SERVICE], [POD], ["other"]) == []


def test_a_pods_cluster_address_maps_back_to_where_it_listens() -> None:
    assert cluster_ip("127.77.3.41") == "10.244.3.41"
    assert local_ip(cluster_ip("127.77.3.41")) == "127.77.3.41"
    assert local_ip("127.0.0.1") == "127.0.0.1"
