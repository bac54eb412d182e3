"""A node of the process tier's API server whose pods run here as processes: what a kubelet
does for the pods controllers create (a Rollout's ReplicaSets), where `FreshStack` runs the
pod templates it walks itself.

The node registers itself and keeps its Lease fresh, so the scheduler places pods on it
(the simulated kwok node is cordoned) and the node lifecycle controller leaves it Ready. Each
pod bound to it runs as a `kubelet.Pod` on a loopback address of its own, and its status is
written back as a kubelet writes it: phase, pod IP (`cluster_ip`: the API server refuses
loopback addresses in EndpointSlices), and the Ready condition from its readiness probes,
which is what the ReplicaSet and EndpointSlice controllers read. A pod the
API server deletes gets SIGTERM, its grace period, then SIGKILL, and is removed for good.
Only pods of a workload whose pods a controller makes (`Workload.by_controller`) run here;
others bound here (a Job's, which the harness runs itself) stay pending.
Services whose pods live here are reached through `Endpoints`, which follows their
EndpointSlices as kube-proxy and a Gateway implementation do."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubelet import Pod

if TYPE_CHECKING:
    from cluster import FreshStack

NODE_NAME = "process-node-0"
NODE_IP = "10.0.0.2"
SYNC_SECONDS = 0.25
"""How often pods, their status and the EndpointSlices are read and written (a kubelet
reacts to a watch; a quarter second is as quick on this machine)."""
LEASE_SECONDS = 40
DEFAULT_GRACE_SECONDS = 30


def cluster_ip(local: str) -> str:
    """The address the API server is told for a pod here: its loopback address moved into
    kind's pod range (10.244.0.0/16), since EndpointSlices may not hold loopback addresses."""
    _, _, third, fourth = local.split(".")
    return f"10.244.{third}.{fourth}"


def local_ip(address: str) -> str:
    """Where a pod whose cluster address is `address` listens on this machine."""
    first, second, third, fourth = address.split(".")
    return f"127.77.{third}.{fourth}" if (first, second) == ("10", "244") else address


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Endpoint:
    """One ready address of a Service's EndpointSlice, and the port numbers by name."""

    ip: str
    ports: dict[str, int]


class Endpoints:
    """The ready endpoints of every Service, from the API server's EndpointSlices."""

    def __init__(self) -> None:
        self._by_service: dict[tuple[str, str], list[Endpoint]] = {}
        self._lock = threading.Lock()

    def update(self, slices: list[dict[str, Any]]) -> None:
        found: dict[tuple[str, str], list[Endpoint]] = {}
        for item in slices:
            meta = item["metadata"]
            service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
            if not service:
                continue
            ports = {p.get("name") or "": p["port"] for p in item.get("ports") or []}
            for endpoint in item.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                for address in endpoint["addresses"]:
                    key = (meta["namespace"], service)
                    found.setdefault(key, []).append(Endpoint(local_ip(address), ports))
        with self._lock:
            self._by_service = found

    def ready(self, namespace: str, service: str) -> list[Endpoint]:
        with self._lock:
            return list(self._by_service.get((namespace, service), []))


class ProcessNode:
    """The node, its pods and the Endpoints it reads, until `stop`."""

    def __init__(self, api: Any, stack: FreshStack) -> None:
        from kubernetes import client

        self.api = api
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.discovery = client.DiscoveryV1Api(api)
        self.stack = stack
        self.endpoints = stack.endpoints
        self.pods: dict[str, Pod] = {}
        """Pod uid -> the pod running here."""
        self._written: dict[str, dict[str, Any]] = {}
        self._deleting: set[str] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    # -- the node ------------------------------------------------------------------------------

    def start(self) -> None:
        self._register()
        self._thread = threading.Thread(target=self._run, name="process-node", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=30)
        for pod in self.pods.values():
            pod.stop()

    def _register(self) -> None:
        from kubernetes import client

        capacity = {"cpu": "2", "memory": "24Gi", "pods": "110"}
        self.core.create_node(
            client.V1Node(
                metadata=client.V1ObjectMeta(
                    name=NODE_NAME,
                    labels={"kubernetes.io/hostname": NODE_NAME, "type": "process"},
                )
            )
        )
        self._report_ready(capacity)
        self.coordination.create_namespaced_lease(
            "kube-node-lease",
            {
                "metadata": {"name": NODE_NAME},
                "spec": {
                    "holderIdentity": NODE_NAME,
                    "leaseDurationSeconds": LEASE_SECONDS,
                    "renewTime": _micro_now(),
                },
            },
        )

    def _report_ready(self, capacity: dict[str, str] | None = None) -> None:
        now = _now()
        status: dict[str, Any] = {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "addresses": [{"type": "InternalIP", "address": NODE_IP}],
        }
        if capacity:
            status.update(capacity=capacity, allocatable=capacity)
        self.core.patch_node_status(NODE_NAME, {"status": status})

    def _renew(self) -> None:
        self.coordination.patch_namespaced_lease(
            NODE_NAME, "kube-node-lease", {"spec": {"renewTime": _micro_now()}}
        )
        self._report_ready()

    def _run(self) -> None:
        last_renewal = time.monotonic()
        while not self._stopping.wait(SYNC_SECONDS):
            try:
                if time.monotonic() - last_renewal > 10:
                    self._renew()
                    last_renewal = time.monotonic()
                self._sync()
            except Exception as error:  # the harness keeps going; the test reads `errors`
                self.errors.append(repr(error))

    # -- pods ----------------------------------------------------------------------------------

    def _sync(self) -> None:
        listed = self.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE_NAME}")
        for item in listed.items:
            pod = self.api.sanitize_for_serialization(item)
            uid = pod["metadata"]["uid"]
            if pod["metadata"].get("deletionTimestamp"):
                if uid not in self._deleting:
                    self._deleting.add(uid)
                    threading.Thread(target=self._terminate, args=(pod,), daemon=True).start()
                continue
            if uid not in self.pods:
                if self.stack.owner_workload(pod) is None:
                    continue  # the harness runs it (a Job's pod: `FreshStack.run_job`)
                self.pods[uid] = self._start(pod)
            self._write_status(pod, self.pods[uid])
        slices = self.discovery.list_endpoint_slice_for_all_namespaces()
        self.endpoints.update(self.api.sanitize_for_serialization(slices)["items"])

    def _start(self, pod: dict[str, Any]) -> Pod:
        meta = pod["metadata"]
        owner = self.stack.owner_workload(pod)
        assert owner is not None
        running = Pod(
            self.stack.cluster,
            self.stack.sampler,
            meta["namespace"],
            meta["name"],
            pod,
            self.stack.pod_ip(f"Pod {meta['namespace']}/{meta['name']}"),
            workload=owner,
        )
        self.stack.pods.append(running)
        running.start()
        return running

    def _write_status(self, pod: dict[str, Any], running: Pod) -> None:
        meta = pod["metadata"]
        ready = running.ready.is_set() and not running.failure
        # init containers are done once a container of the pod itself has started
        initialized = any(r.session for r in running.records.values() if not r.init)
        wanted = {
            "phase": "Running",
            "podIP": cluster_ip(running.ip),
            "podIPs": [{"ip": cluster_ip(running.ip)}],
            "hostIP": NODE_IP,
            "ready": ready,
            "initialized": initialized,
        }
        if self._written.get(meta["uid"]) == wanted:
            return
        now = _now()
        conditions = [
            {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": now}
            for kind, ok in (
                ("PodScheduled", True),
                ("Initialized", initialized),
                ("ContainersReady", ready),
                ("Ready", ready),
            )
        ]
        conditions_only = ("ready", "initialized")
        status = {key: value for key, value in wanted.items() if key not in conditions_only} | {
            "conditions": conditions,
            "startTime": pod["status"].get("startTime") or now,
        }
        self.core.patch_namespaced_pod_status(meta["name"], meta["namespace"], {"status": status})
        self._written[meta["uid"]] = wanted

    def _terminate(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        running = self.pods.get(meta["uid"])
        grace = pod["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        if running is not None:
            running.stop(grace=float(grace))
        with contextlib.suppress(Exception):  # already gone: what a final delete wants
            self.core.delete_namespaced_pod(meta["name"], meta["namespace"], grace_period_seconds=0)
