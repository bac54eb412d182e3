"""A fresh stack on one node: every pod template the stack declares, walked from its
synthesized objects and run by `kubelet.Pod` the way a new cluster reaches them.

On a fresh cluster every workload is created at once: Deployments and StatefulSets start
their pods, Jobs start theirs, and whoever starts before what it needs fails and is retried
by its restart policy or backoff limit. CronJobs wait for their schedule: `run_cronjob` runs
one now, as `kubectl create job --from=cronjob/...` would."""

from __future__ import annotations

import json
import random
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_iac.testing.local_servers import stop_process_group

from kubelet import Cluster, Pod, PodFailed, Sampler
from node import Endpoints
from proxy import Forwarder

WORKLOAD_KINDS = (
    "Deployment", "StatefulSet", "Job", "CronJob", "DaemonSet", "ReplicaSet", "Pod", "Rollout",
)  # fmt: skip


@dataclass(frozen=True)
class Workload:
    """One object that makes pods, and the pod template it makes them from."""

    kind: str
    namespace: str
    name: str
    template: dict[str, Any]
    backoff_limit: int = 6
    claim_templates: tuple[str, ...] = ()
    awaited: bool = True
    """Whether `pulumi up` waits for it to be ready (no `pulumi.com/waitFor` or
    `pulumi.com/skipAwait` of its own)."""
    by_controller: bool = False
    """Its pods are made by a controller in the API server (Argo Rollouts) and run by the
    `node.ProcessNode`, not started by the harness."""

    @property
    def key(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def is_job(self) -> bool:
        return self.kind in ("Job", "CronJob")


def workloads(objects: list[dict[str, Any]]) -> Iterator[Workload]:
    """Every pod-making object of a stack, with its pod template. A kind the harness cannot
    run is an error, so a new kind of workload cannot go unmeasured."""
    for item in objects:
        kind = item.get("kind")
        if kind not in WORKLOAD_KINDS:
            continue
        meta, spec = item["metadata"], item["spec"]
        namespace = meta.get("namespace", "default")
        annotations = meta.get("annotations") or {}
        awaited = not ({"pulumi.com/waitFor", "pulumi.com/skipAwait"} & set(annotations))
        if kind == "Deployment":
            if spec.get("replicas", 1) == 0:  # a pod template only (a Rollout's workloadRef)
                continue
            yield Workload(kind, namespace, meta["name"], spec["template"], awaited=awaited)
        elif kind == "Rollout":
            yield Workload(
                kind,
                namespace,
                meta["name"],
                _rollout_template(objects, namespace, spec),
                awaited=False,  # a custom resource: `pulumi up` does not wait for it
                by_controller=True,
            )
        elif kind == "StatefulSet":
            claims = tuple(t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", []))
            yield Workload(kind, namespace, meta["name"], spec["template"], claim_templates=claims)
        elif kind == "Job":
            yield Workload(
                kind, namespace, meta["name"], spec["template"], spec.get("backoffLimit", 6)
            )
        elif kind == "CronJob":
            job = spec["jobTemplate"]["spec"]
            yield Workload(
                kind, namespace, meta["name"], job["template"], job.get("backoffLimit", 6)
            )
        else:
            raise NotImplementedError(f"{kind} {namespace}/{meta['name']}: not run by this tier")


def _rollout_template(
    objects: list[dict[str, Any]], namespace: str, spec: dict[str, Any]
) -> dict[str, Any]:
    """A Rollout's pod template: its own, or its `workloadRef` Deployment's."""
    if "template" in spec:
        return dict(spec["template"])
    ref = spec["workloadRef"]
    return next(
        o["spec"]["template"]
        for o in objects
        if o.get("kind") == ref["kind"]
        and o["metadata"]["name"] == ref["name"]
        and o["metadata"].get("namespace", "default") == namespace
    )


@dataclass(frozen=True)
class ReleaseService:
    """A Service a Helm release of the stack makes (its chart's pods are not the stack's own
    templates, so this tier does not measure them), run here when the stack's pods reach it."""

    namespace: str
    name: str
    port: int
    argv: tuple[str, ...]
    """The program, with `{address}` for where it listens."""

    def host(self) -> str:
        return f"{self.name}.{self.namespace}.svc"


RELEASE_SERVICES = (
    ReleaseService(
        "mlops-monitoring",
        "pushgateway-prometheus-pushgateway",
        9091,
        ("prometheus-pushgateway", "--web.listen-address={address}"),
    ),
)
"""Debian's Pushgateway where kube-prometheus-stack's sibling release would run it."""


TIER_NETWORKS = ("127.77.", "127.78.")
"""Pod and Service addresses of this tier."""


def listeners_on_tier_addresses() -> list[str]:
    """`address:port` of each TCP socket listening on one of this tier's addresses (IPv4,
    from /proc/net/tcp): on a fresh stack, a process left by an earlier run that was killed
    before its teardown, which would answer in a new pod's place."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state != "0A":  # TCP_LISTEN
            continue
        hex_ip, hex_port = local.split(":")
        address = ".".join(str(int(hex_ip[i : i + 2], 16)) for i in (6, 4, 2, 0))
        if address.startswith(TIER_NETWORKS):
            found.append(f"{address}:{int(hex_port, 16)}")
    return found


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


class FreshStack:
    """The stack's workloads on this node, against empty stores."""

    def __init__(self, objects: list[dict[str, Any]], root: Path, cluster: Cluster) -> None:
        taken = listeners_on_tier_addresses()
        if taken:
            raise RuntimeError(
                f"already listening on this tier's addresses: {taken}; left by a run killed "
                "before its teardown, or by an earlier stack of this session that did not "
                "free them (`ss -ltnp | grep 127.7` names the processes)"
            )
        self.objects = objects
        self.root = root
        self.cluster = cluster
        self.sampler = Sampler()
        self.workloads = list(workloads(objects))
        self.pods: list[Pod] = []
        self._ips: dict[str, str] = {}
        self._next_ip = 2
        self.forwarders: list[Forwarder] = []
        self.endpoints = Endpoints()
        """Ready endpoints of the Services whose pods a controller makes (the node fills it)."""
        for workload in self.workloads:
            if not workload.is_job and not workload.by_controller:
                self._ip(workload.key)
            for container in workload.template["spec"]["containers"]:
                for port in container.get("ports", []):
                    users = cluster.port_users.setdefault(port["containerPort"], set())
                    users.add(workload.key)
        self._route_services()
        self.releases: list[subprocess.Popen[bytes]] = []
        self._start_release_services()

    def _start_release_services(self) -> None:
        text = json.dumps(self.objects)
        for index, service in enumerate(RELEASE_SERVICES):
            if service.host() not in text:
                continue
            address = f"127.78.1.{index + 2}"
            argv = [part.format(address=f"{address}:{service.port}") for part in service.argv]
            log = self.root / "releases" / f"{service.name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("wb") as out:
                process = subprocess.Popen(
                    argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            self.releases.append(process)
            self.cluster.service_ips[(service.namespace, service.name)] = address

    def pod_ip(self, key: str) -> str:
        """The loopback address of the pod (or the workload's one pod) named by `key`."""
        return self._ip(key)

    def _ip(self, key: str) -> str:
        if key not in self._ips:
            self._ips[key] = f"127.77.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
            self._next_ip += 1
        return self._ips[key]

    def _route_services(self) -> None:
        """Each Service name resolves to the IP of the pod it selects when its ports are the
        pod's container ports; otherwise to an address of its own, where a forwarder stands
        in for kube-proxy."""
        for service in (o for o in self.objects if o.get("kind") == "Service"):
            meta, spec = service["metadata"], service["spec"]
            namespace = meta.get("namespace", "default")
            backends = [
                w
                for w in self.workloads
                if not w.is_job
                and w.namespace == namespace
                and selects(spec.get("selector", {}), w.template["metadata"].get("labels", {}))
            ]
            if not backends:
                continue
            if backends[0].by_controller:
                self._route_to_endpoints(service)
                continue
            pod_ip = self._ip(backends[0].key)
            ports = {
                p.get("name"): p["containerPort"]
                for c in backends[0].template["spec"]["containers"]
                for p in c.get("ports", [])
            }
            targets = {}
            for port in spec["ports"]:
                target = port.get("targetPort", port["port"])
                targets[port["port"]] = ports[target] if isinstance(target, str) else int(target)
            key = (namespace, meta["name"])
            if all(service_port == target for service_port, target in targets.items()):
                self.cluster.service_ips[key] = pod_ip
                continue
            service_ip = self._service_address()
            self.cluster.service_ips[key] = service_ip
            for service_port, target in targets.items():
                self.forwarders.append(Forwarder((service_ip, service_port), (pod_ip, target)))

    def _service_address(self) -> str:
        """An address for a Service that needs forwarders of its own (kube-proxy's part)."""
        return f"127.78.0.{len(self.forwarders) + 2}"

    def _route_to_endpoints(self, service: dict[str, Any]) -> None:
        """A Service whose pods come and go (a controller's): an address of its own, and a
        forwarder per port to one of its ready endpoints at each connection, as kube-proxy
        picks one. A headless Service has no address; its clients (Prometheus) discover its
        endpoints from the API server themselves."""
        meta, spec = service["metadata"], service["spec"]
        if spec.get("clusterIP") == "None":
            return
        namespace = meta.get("namespace", "default")
        service_ip = self._service_address()
        self.cluster.service_ips[(namespace, meta["name"])] = service_ip
        for port in spec["ports"]:
            self.forwarders.append(
                Forwarder(
                    (service_ip, port["port"]),
                    self._endpoint_picker(namespace, meta["name"], port.get("name") or ""),
                )
            )

    def _endpoint_picker(
        self, namespace: str, service: str, port: str
    ) -> Callable[[], tuple[str, int] | None]:
        def pick() -> tuple[str, int] | None:
            ready = self.endpoints.ready(namespace, service)
            if not ready:
                return None
            endpoint = random.choice(ready)
            return endpoint.ip, endpoint.ports[port]

        return pick

    def owner_workload(self, pod: dict[str, Any]) -> str | None:
        """The key of the workload whose pods a controller makes and whose template made
        `pod` (its labels hold the template's), or None."""
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        for workload in self.workloads:
            template_labels = workload.template["metadata"].get("labels") or {}
            if (
                workload.by_controller
                and workload.namespace == meta["namespace"]
                and selects(template_labels, labels)
            ):
                return workload.key
        return None

    def pods_of(self, kind: str, namespace: str, name: str) -> list[Pod]:
        """The workload's pods that run and are not stopping, oldest first."""
        key = f"{kind} {namespace}/{name}"
        return [p for p in self.pods if p.workload == key and not p.stopping]

    def _pod(self, workload: Workload, name: str) -> Pod:
        claims = {
            claim: self.root / "claims" / f"{workload.namespace}.{claim}-{name}"
            for claim in workload.claim_templates
        }
        ip = self._ip(workload.key if not workload.is_job else f"{workload.key}/{name}")
        pod = Pod(
            self.cluster,
            self.sampler,
            workload.namespace,
            name,
            workload.template,
            ip,
            claims=claims,
            job=workload.is_job,
            workload=workload.key,
        )
        self.pods.append(pod)
        return pod

    def up(self, timeout: float) -> None:
        """Start every Deployment's, StatefulSet's and Job's pod at once; wait until the long
        running ones are ready and the Jobs complete (retrying a Job's failed pod up to its
        backoff limit)."""
        started: list[tuple[Workload, Pod]] = []
        for workload in self.workloads:
            if workload.kind == "CronJob" or workload.by_controller:
                continue
            suffix = "0" if workload.kind == "StatefulSet" else uuid.uuid4().hex[:5]
            pod = self._pod(workload, f"{workload.name}-{suffix}")
            pod.start()
            started.append((workload, pod))
        deadline = time.monotonic() + timeout
        for workload, pod in started:
            if not workload.awaited:
                continue
            if workload.kind == "Job":
                self._finish_job(workload, pod, deadline)
            else:
                pod.wait(max(deadline - time.monotonic(), 1))

    def run_cronjob(self, namespace: str, name: str, timeout: float) -> Pod:
        """One run of a CronJob's job template, now; its last pod."""
        workload = next(
            w
            for w in self.workloads
            if (w.kind, w.namespace, w.name) == ("CronJob", namespace, name)
        )
        return self.run_job_template(workload, timeout)

    def run_job(self, job: dict[str, Any], timeout: float) -> Pod:
        """Run a Job the stack's own programs created through the Kubernetes API."""
        meta = job["metadata"]
        workload = Workload(
            "Job",
            meta["namespace"],
            meta["name"],
            job["spec"]["template"],
            job["spec"].get("backoffLimit", 6),
        )
        return self.run_job_template(workload, timeout)

    def run_job_template(self, workload: Workload, timeout: float) -> Pod:
        pod = self._pod(workload, f"{workload.name}-{uuid.uuid4().hex[:5]}")
        pod.start()
        return self._finish_job(workload, pod, time.monotonic() + timeout)

    def _finish_job(self, workload: Workload, pod: Pod, deadline: float) -> Pod:
        for _ in range(workload.backoff_limit):
            try:
                pod.wait(max(deadline - time.monotonic(), 1))
                return pod
            except PodFailed:
                if time.monotonic() > deadline:
                    raise
            pod.stop()
            time.sleep(1)
            pod = self._pod(workload, f"{workload.name}-{uuid.uuid4().hex[:5]}")
            pod.start()
        pod.wait(max(deadline - time.monotonic(), 1))
        return pod

    def pod_of(self, kind: str, namespace: str, name: str) -> Pod:
        """The running pod of a Deployment or StatefulSet."""
        key = f"{kind} {namespace}/{name}"
        ip = self._ips[key]
        return next(p for p in reversed(self.pods) if p.ip == ip and p.namespace == namespace)

    def stop(self) -> None:
        for pod in reversed(self.pods):
            pod.stop()
        for forwarder in self.forwarders:
            forwarder.close()
        for process in self.releases:
            stop_process_group(process)
        self.sampler.stop()
        self.cluster.remove_mountpoints()
