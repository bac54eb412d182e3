"""Prometheus' Kubernetes service discovery (role `endpoints`), for a Prometheus built without
it: Debian's package removes it (its NEWS.Debian: "Kubernetes support has been completely
removed"), so the targets it would discover, with the `__meta_kubernetes_*` labels it would
give them, are read here from the API server's Endpoints, Services and Pods and written to
the files of `file_sd_configs`, which Prometheus re-reads when they change. The scrape
configs keep the operator's relabelings unchanged (`service_monitors`).

Ported from Prometheus' discovery/kubernetes/endpoints.go (v2.42, the version Debian ships):
per Endpoints object its namespace, name and labels, its Service's name and labels; per
address and port the address, the port's name and protocol, `ready`, the target reference,
and for a Pod target the pod's name, IP, labels, phase, readiness and node, and the
container that declares the port. The address scraped is where the pod listens here
(`node.local_ip`). Not ported: annotations, host networking, and ports no
container declares (targets of their own there)."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

from node import local_ip

_INVALID = re.compile(r"[^a-zA-Z0-9_]")
META = "__meta_kubernetes_"


def _name(name: str) -> str:
    return _INVALID.sub("_", name)


def _labelled(prefix: str, labels: dict[str, str]) -> dict[str, str]:
    found = {}
    for key, value in labels.items():
        found[f"{META}{prefix}_label_{_name(key)}"] = value
        found[f"{META}{prefix}_labelpresent_{_name(key)}"] = "true"
    return found


def _pod_labels(pod: dict[str, Any]) -> dict[str, str]:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
    ready = any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )
    labels = {
        f"{META}pod_name": meta["name"],
        f"{META}pod_ip": status.get("podIP", ""),
        f"{META}pod_ready": "true" if ready else "false",
        f"{META}pod_phase": status.get("phase", ""),
        f"{META}pod_node_name": spec.get("nodeName", ""),
        f"{META}pod_host_ip": status.get("hostIP", ""),
        f"{META}pod_uid": meta["uid"],
        **_labelled("pod", meta.get("labels") or {}),
    }
    for owner in meta.get("ownerReferences") or []:
        if owner.get("controller"):
            labels[f"{META}pod_controller_kind"] = owner["kind"]
            labels[f"{META}pod_controller_name"] = owner["name"]
    return labels


def _container_labels(pod: dict[str, Any], port: int) -> dict[str, str]:
    for container in pod["spec"]["containers"]:
        for declared in container.get("ports") or []:
            if declared["containerPort"] == port:
                return {
                    f"{META}pod_container_name": container["name"],
                    f"{META}pod_container_image": container["image"],
                    f"{META}pod_container_port_name": declared.get("name", ""),
                    f"{META}pod_container_port_number": str(port),
                    f"{META}pod_container_port_protocol": declared.get("protocol", "TCP"),
                    f"{META}pod_container_init": "false",
                }
    return {}


def target_groups(
    endpoints: list[dict[str, Any]],
    services: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    namespaces: list[str],
) -> list[dict[str, Any]]:
    """The target groups role `endpoints` discovers in `namespaces`, as file_sd entries."""
    services_by = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services}
    pods_by = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
    groups = []
    for item in endpoints:
        meta = item["metadata"]
        namespace = meta["namespace"]
        if namespace not in namespaces:
            continue
        common = {
            f"{META}namespace": namespace,
            f"{META}endpoints_name": meta["name"],
            **_labelled("endpoints", meta.get("labels") or {}),
        }
        service = services_by.get((namespace, meta["name"]))
        if service is not None:
            common[f"{META}service_name"] = meta["name"]
            common.update(_labelled("service", service["metadata"].get("labels") or {}))
        for subset in item.get("subsets") or []:
            addresses = [(a, "true") for a in subset.get("addresses") or []] + [
                (a, "false") for a in subset.get("notReadyAddresses") or []
            ]
            for address, ready in addresses:
                for port in subset.get("ports") or []:
                    labels = {
                        **common,
                        f"{META}endpoint_port_name": port.get("name", ""),
                        f"{META}endpoint_port_protocol": port.get("protocol", "TCP"),
                        f"{META}endpoint_ready": ready,
                    }
                    if address.get("nodeName"):
                        labels[f"{META}endpoint_node_name"] = address["nodeName"]
                    if address.get("hostname"):
                        labels[f"{META}endpoint_hostname"] = address["hostname"]
                    target = address.get("targetRef") or {}
                    if target:
                        labels[f"{META}endpoint_address_target_kind"] = target.get("kind", "")
                        labels[f"{META}endpoint_address_target_name"] = target.get("name", "")
                    pod = pods_by.get((namespace, target.get("name", "")))
                    if target.get("kind") == "Pod" and pod is not None:
                        labels.update(_pod_labels(pod))
                        labels.update(_container_labels(pod, port["port"]))
                    local = local_ip(address["ip"])
                    groups.append({"targets": [f"{local}:{port['port']}"], "labels": labels})
    return groups


class EndpointsDiscovery:
    """Keeps one file_sd file per scrape config up to date with what it would discover,
    every `interval` seconds, until `stop`."""

    def __init__(self, api: Any, files: dict[str, list[str]], interval: float = 0.5) -> None:
        """`files`: file path -> the namespaces its scrape config discovers in."""
        from kubernetes import client

        self.api = api
        self.core = client.CoreV1Api(api)
        self.files = files
        self.interval = interval
        self.errors: list[str] = []
        self._written: dict[str, str] = {}
        self._stop = threading.Event()
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="endpoints-sd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def refresh(self) -> None:
        def listed(answer: Any) -> list[dict[str, Any]]:
            return list(self.api.sanitize_for_serialization(answer)["items"])

        endpoints = listed(self.core.list_endpoints_for_all_namespaces())
        services = listed(self.core.list_service_for_all_namespaces())
        pods = listed(self.core.list_pod_for_all_namespaces())
        for path, namespaces in self.files.items():
            text = json.dumps(target_groups(endpoints, services, pods, namespaces), indent=1)
            if self._written.get(path) == text:
                continue
            staged = f"{path}.tmp"
            Path(staged).write_text(text)
            os.replace(staged, path)  # whole, as Prometheus must read it
            self._written[path] = text

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception as error:  # the test reads `errors`; discovery keeps going
                self.errors.append(repr(error))
