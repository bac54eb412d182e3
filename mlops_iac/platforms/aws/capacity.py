"""How many nodes the stack needs: the requests of every pod it declares, against what an
EKS node can schedule. Pure functions on data (manifests, Helm values, the spec): no Pulumi.

What a node can schedule (`allocatable`) is computed as EKS's node agent configures the
kubelet on AL2023 (awslabs/amazon-eks-ami, `nodeadm/internal/kubelet/config.go` and
`eni_max_pods.go`, read at v20260724):

- max pods = ENIs x (IPv4 addresses per ENI - 1) + 2 (no prefix delegation);
- kube-reserved CPU = 6% of the first core, 1% of the second, 0.5% of the third and
  fourth, 0.25% of every core above four (`getCPUMillicoresToReserve`);
- kube-reserved memory = 11 MiB x max pods + 255 MiB (`getMemoryMebibytesToReserve`);
- hard eviction threshold `memory.available<100Mi` (the default kubelet config).

The memory the kernel reports (the node's capacity) is less than the nominal EC2 memory;
this uses Karpenter's estimate of that gap, 7.5% (`vmMemoryOverheadPercent`, its chart's
default), so a computed allocatable is a little below what a real node shows, not above.

What the stack asks (`Demand`) is the pods of the synthesized manifests (pod templates x
replicas, HorizontalPodAutoscaler bounds, LimitRange defaults for containers that set no
requests), the pods of the Helm releases it installs (from their values, with the charts'
defaults where the values set none), and `EKS_ADDON_WORKLOADS` / `EKS_ADDON_DAEMONSETS`, the
add-ons EKS runs. The scheduler counts requests only: a pod without requests takes a pod slot
and nothing else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Literal

from mlops_iac.spec import quantity_value
from mlops_iac.spec.aws import AwsClusterSpec, AwsNodeGroupSpec, Ec2InstanceType

GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_NODE_LABEL = "nvidia.com/gpu.present"
VM_MEMORY_OVERHEAD = Decimal("0.075")
"""Share of nominal memory the kernel does not report as capacity (Karpenter's default)."""
EVICTION_HARD_MIB = 100
ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"

Placement = Literal["cpu", "gpu"]
"""Which node groups a pod can land on: GPU nodes are tainted, so only pods asking for GPUs
(and tolerating the taint) go there; everything else needs CPU nodes."""


@dataclass(frozen=True)
class Resources:
    """Requests, or room: CPU in millicores, memory in MiB, GPUs, pod slots."""

    cpu: int = 0
    memory: int = 0
    gpu: int = 0
    pods: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu + other.cpu,
            self.memory + other.memory,
            self.gpu + other.gpu,
            self.pods + other.pods,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu - other.cpu,
            self.memory - other.memory,
            self.gpu - other.gpu,
            self.pods - other.pods,
        )

    def times(self, count: int) -> Resources:
        return Resources(self.cpu * count, self.memory * count, self.gpu * count, self.pods * count)

    def fits(self, room: Resources) -> bool:
        """Whether these requests fit in `room` in every dimension."""
        return (
            self.cpu <= room.cpu
            and self.memory <= room.memory
            and self.gpu <= room.gpu
            and self.pods <= room.pods
        )

    def __str__(self) -> str:
        return f"{self.cpu}m CPU, {self.memory}Mi, {self.gpu} GPU, {self.pods} pods"


def total(items: Iterable[Resources]) -> Resources:
    """The sum of some requests."""
    result = Resources()
    for item in items:
        result = result + item
    return result


# --- what a node can schedule ---------------------------------------------------------------


def reserved_cpu_millicores(vcpus: int) -> int:
    """kube-reserved CPU of a node with `vcpus` cores (nodeadm's getCPUMillicoresToReserve)."""
    millicores = vcpus * 1000
    reserved = 0
    for start, end, basis_points in ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50)):
        if millicores > start:
            reserved += (min(millicores, end) - start) * basis_points // 10000
    if millicores > 4000:
        reserved += (millicores - 4000) * 25 // 10000
    return reserved


def reserved_memory_mib(max_pods: int) -> int:
    """kube-reserved memory (nodeadm's getMemoryMebibytesToReserve)."""
    return 11 * max_pods + 255


def allocatable(shape: Ec2InstanceType) -> Resources:
    """What the scheduler may place on one node of this shape."""
    capacity_mib = shape.memory_mib - math.ceil(shape.memory_mib * VM_MEMORY_OVERHEAD)
    return Resources(
        cpu=shape.vcpus * 1000 - reserved_cpu_millicores(shape.vcpus),
        memory=capacity_mib - reserved_memory_mib(shape.max_pods) - EVICTION_HARD_MIB,
        gpu=shape.gpus,
        pods=shape.max_pods,
    )


def group_allocatable(group: AwsNodeGroupSpec) -> Resources:
    """The allocatable of the group's smallest instance type, dimension by dimension (the
    autoscaling group may launch any of its types)."""
    nodes = [allocatable(shape) for shape in group.node_types]
    return Resources(
        cpu=min(n.cpu for n in nodes),
        memory=min(n.memory for n in nodes),
        gpu=min(n.gpu for n in nodes),
        pods=min(n.pods for n in nodes),
    )


# --- what a pod asks for --------------------------------------------------------------------


def _cpu(quantity: Any) -> int:
    return math.ceil(quantity_value(str(quantity)) * 1000)


def _mebibytes(quantity: Any) -> int:
    return math.ceil(quantity_value(str(quantity)) / 2**20)


def container_requests(
    container: Mapping[str, Any], default_request: Mapping[str, Any] | None = None
) -> Resources:
    """A container's requests as the API server settles them: a resource with a limit and
    no request requests its limit; one with neither takes the namespace's LimitRange
    `defaultRequest`; else nothing."""
    resources = container.get("resources") or {}
    requests = dict(default_request or {})
    requests |= resources.get("limits") or {}
    requests |= resources.get("requests") or {}
    return Resources(
        cpu=_cpu(requests["cpu"]) if "cpu" in requests else 0,
        memory=_mebibytes(requests["memory"]) if "memory" in requests else 0,
        gpu=int(quantity_value(str(requests[GPU_RESOURCE]))) if GPU_RESOURCE in requests else 0,
    )


def _largest(items: Iterable[Resources]) -> Resources:
    found = list(items)
    return Resources(
        cpu=max((r.cpu for r in found), default=0),
        memory=max((r.memory for r in found), default=0),
        gpu=max((r.gpu for r in found), default=0),
    )


def pod_requests(
    pod_spec: Mapping[str, Any], default_request: Mapping[str, Any] | None = None
) -> Resources:
    """The scheduler's view of a pod: its containers' requests summed, or its largest init
    container's if larger (sidecar init containers, `restartPolicy: Always`, count with
    both), and one pod slot."""
    sidecars = [
        container_requests(c, default_request)
        for c in pod_spec.get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    ]
    init = [
        container_requests(c, default_request)
        for c in pod_spec.get("initContainers") or []
        if c.get("restartPolicy") != "Always"
    ]
    running = total(container_requests(c, default_request) for c in pod_spec["containers"])
    steady = running + total(sidecars)
    starting = _largest(init) + total(sidecars)
    return _largest([steady, starting]) + Resources(pods=1)


def _placement(requests: Resources) -> Placement:
    return "gpu" if requests.gpu > 0 else "cpu"


# --- what the stack declares -------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Pods of one controller: `replicas` of them normally, up to `max_replicas` (an HPA)."""

    name: str
    pod: Resources
    replicas: int
    max_replicas: int
    placement: Placement = "cpu"
    batch: bool = False
    """A Job or CronJob: runs to completion (counted as if all ran at once)."""

    def pods(self, at_max: bool = False) -> list[Resources]:
        return [self.pod] * (self.max_replicas if at_max else self.replicas)


DaemonNodes = Literal["all", "cpu", "gpu"]


@dataclass(frozen=True)
class DaemonSet:
    """One pod on each node it selects: taken off every such node's room."""

    name: str
    pod: Resources
    nodes: DaemonNodes = "all"


@dataclass
class Demand:
    """Everything the stack will ask nodes for."""

    workloads: list[Workload] = field(default_factory=list)
    daemonsets: list[DaemonSet] = field(default_factory=list)
    not_counted: list[str] = field(default_factory=list)
    """Objects that make pods this cannot see (e.g. a KServe InferenceService)."""

    def __add__(self, other: Demand) -> Demand:
        return Demand(
            [*self.workloads, *other.workloads],
            [*self.daemonsets, *other.daemonsets],
            [*self.not_counted, *other.not_counted],
        )

    def pods(self, placement: Placement, *, at_max: bool = False) -> list[Resources]:
        """Every pod that needs a node of this kind."""
        return [pod for w in self.workloads if w.placement == placement for pod in w.pods(at_max)]

    def per_node(self, gpu_node: bool) -> Resources:
        """What the DaemonSets take on each node of one kind."""
        kind = "gpu" if gpu_node else "cpu"
        return total(d.pod for d in self.daemonsets if d.nodes in ("all", kind))


def _template(manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = manifest.get("spec") or {}
    if manifest["kind"] == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if manifest["kind"] == "Pod":
        return manifest
    return spec.get("template")


def _daemon_nodes(pod_spec: Mapping[str, Any]) -> DaemonNodes:
    selector = pod_spec.get("nodeSelector") or {}
    if GPU_NODE_LABEL in selector:
        return "gpu"
    tolerations = pod_spec.get("tolerations") or []
    tolerates = any(
        t.get("key") == GPU_TAINT_KEY or (t.get("operator") == "Exists" and not t.get("key"))
        for t in tolerations
    )
    return "all" if tolerates else "cpu"


def _key(manifest: Mapping[str, Any]) -> tuple[str, str]:
    metadata = manifest.get("metadata") or {}
    return metadata.get("namespace") or "default", metadata.get("name") or ""


POD_CONTROLLERS = {"Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob", "DaemonSet", "Pod"}
UNCOUNTED_POD_MAKERS = {"InferenceService", "TrainJob", "RayCluster", "RayJob", "Workflow"}


def manifest_demand(manifests: Iterable[Mapping[str, Any]]) -> Demand:
    """The pods of these manifests: controllers' templates x replicas (an HPA's min and max
    for the Deployments it scales), one pod per Job/CronJob (`parallelism`), DaemonSets per
    node, and the Envoy proxies Envoy Gateway runs for each Gateway."""
    manifests = list(manifests)
    limit_defaults: dict[str, dict[str, Any]] = {}
    scaled: dict[tuple[str, str, str], tuple[int, int]] = {}
    envoy_classes: dict[str, Mapping[str, Any]] = {}
    envoy_proxies: dict[tuple[str, str], Mapping[str, Any]] = {}
    for m in manifests:
        kind = m.get("kind")
        namespace, name = _key(m)
        spec = m.get("spec") or {}
        if kind == "LimitRange":
            for limit in spec.get("limits") or []:
                if limit.get("type") == "Container" and limit.get("defaultRequest"):
                    limit_defaults[namespace] = dict(limit["defaultRequest"])
        elif kind == "HorizontalPodAutoscaler":
            target = spec["scaleTargetRef"]
            low = int(spec.get("minReplicas", 1))
            scaled[(namespace, target["kind"], target["name"])] = (low, int(spec["maxReplicas"]))
        elif kind == "GatewayClass" and spec.get("controllerName") == ENVOY_GATEWAY_CONTROLLER:
            envoy_classes[name] = spec
        elif kind == "EnvoyProxy":
            envoy_proxies[(namespace, name)] = spec
    demand = Demand()
    for m in manifests:
        kind = m.get("kind")
        namespace, name = _key(m)
        label = f"{kind} {namespace}/{name}"
        if kind in UNCOUNTED_POD_MAKERS:
            demand.not_counted.append(label)
            continue
        if kind == "Gateway":
            gateway_class = envoy_classes.get((m.get("spec") or {}).get("gatewayClassName", ""))
            if gateway_class is not None:
                demand.workloads.append(_envoy_proxy(label, gateway_class, envoy_proxies))
            continue
        if kind not in POD_CONTROLLERS:
            continue
        template = _template(m)
        if not template:
            continue
        pod_spec = template["spec"]
        pod = pod_requests(pod_spec, limit_defaults.get(namespace))
        spec = m.get("spec") or {}
        if kind == "DaemonSet":
            demand.daemonsets.append(DaemonSet(label, pod, _daemon_nodes(pod_spec)))
            continue
        batch = kind in ("Job", "CronJob")
        if batch:
            job = (spec.get("jobTemplate") or {}).get("spec", {}) if kind == "CronJob" else spec
            low = high = int(job.get("parallelism", 1))
        elif kind == "Pod":
            low = high = 1
        elif (namespace, kind, name) in scaled:
            low, high = scaled[(namespace, kind, name)]
            if "replicas" in spec:
                low = max(low, int(spec["replicas"]))
        else:
            low = high = int(spec.get("replicas", 1))
        demand.workloads.append(Workload(label, pod, low, max(low, high), _placement(pod), batch))
    return demand


ENVOY_PROXY_DEFAULT = Resources(cpu=100 + 10, memory=512 + 32, pods=1)
"""Envoy Gateway's defaults for each proxy pod when the EnvoyProxy sets no resources: the
envoy container 100m/512Mi and the shutdown manager 10m/32Mi
(`DefaultDeploymentCPUResourceRequests`, `DefaultDeploymentMemoryResourceRequests`,
`DefaultShutdownManager*ResourceRequests` in envoyproxy/gateway `api/v1alpha1/shared_types.go`);
one replica."""


def _envoy_proxy(
    label: str,
    gateway_class: Mapping[str, Any],
    proxies: Mapping[tuple[str, str], Mapping[str, Any]],
) -> Workload:
    ref = gateway_class.get("parametersRef") or {}
    proxy = proxies.get((ref.get("namespace") or "default", ref.get("name") or ""), {})
    kubernetes = (proxy.get("provider") or {}).get("kubernetes") or {}
    deployment = kubernetes.get("envoyDeployment") or {}
    pod = ENVOY_PROXY_DEFAULT
    container = (deployment.get("container") or {}).get("resources")
    if container:
        pod = container_requests({"resources": container}) + Resources(cpu=10, memory=32, pods=1)
    hpa = kubernetes.get("envoyHpa") or {}
    low = int(hpa.get("minReplicas", deployment.get("replicas", 1)))
    high = int(hpa.get("maxReplicas", low))
    return Workload(f"Envoy proxy of {label}", pod, low, max(low, high))


# --- the Helm releases -------------------------------------------------------------------------

CONFIG_RELOADER = Resources(cpu=10, memory=50)
"""The Prometheus Operator's default requests for the config-reloader sidecar it adds to
Prometheus and Alertmanager pods (`--config-reloader-cpu-request` 10m,
`--config-reloader-memory-request` 50Mi) when kube-prometheus-stack's values set none."""
GATEWAY_HELM_CONTROLLER = Resources(cpu=100, memory=256, pods=1)
"""gateway-helm v1.9.0's `deployment.envoyGateway.resources.requests`."""
KUEUE_CONTROLLER = Resources(cpu=500, memory=512, pods=1)
"""Kueue 0.19.2's chart default for `controllerManager.manager.resources.requests`."""


def release_chart(inputs: Mapping[str, Any]) -> str:
    """The chart name of a `helm.v3.Release`'s inputs: `chart` as a name, an `oci://`
    reference or a local `<chart>-<version>` folder (`MLOPS_IAC_CHARTS`)."""
    chart = str(inputs.get("chart", ""))
    name = PurePath(chart.rstrip("/")).name if "/" in chart else chart
    if "/" in chart and not chart.startswith("oci://"):
        name = re.sub(r"-v?[0-9][0-9A-Za-z.+-]*$", "", name)
    return name


def _dig(values: Mapping[str, Any], *path: str) -> Any:
    found: Any = values
    for key in path:
        if not isinstance(found, Mapping):
            return None
        found = found.get(key)
    return found


def _requests_of(resources: Any, default: Resources = Resources()) -> Resources:
    if not resources:
        return default
    return container_requests({"resources": resources})


def _on(values: Mapping[str, Any], *path: str, default: bool = True) -> bool:
    flag = _dig(values, *path)
    return default if flag is None else bool(flag)


def release_demand(chart: str, values: Mapping[str, Any], name: str = "") -> Demand:
    """The pods a release of a chart the stack installs runs, from its values (the chart's
    defaults where they set none); an unknown chart is reported in `not_counted`."""
    pod = Resources(pods=1)
    label = f"{chart} release {name}".strip()
    if chart == "kube-prometheus-stack":
        demand = Demand()
        spec = _dig(values, "prometheus", "prometheusSpec") or {}
        demand.workloads.append(
            _replicated(
                f"{label}: Prometheus",
                _requests_of(spec.get("resources")) + CONFIG_RELOADER + pod,
                int(spec.get("replicas", 1)),
            )
        )
        if _on(values, "alertmanager", "enabled"):
            am = _dig(values, "alertmanager", "alertmanagerSpec") or {}
            demand.workloads.append(
                _replicated(
                    f"{label}: Alertmanager",
                    _requests_of(am.get("resources")) + CONFIG_RELOADER + pod,
                    int(am.get("replicas", 1)),
                )
            )
        if _on(values, "prometheusOperator", "enabled"):
            operator = _requests_of(_dig(values, "prometheusOperator", "resources")) + pod
            demand.workloads.append(_replicated(f"{label}: operator", operator, 1))
        if _on(values, "kubeStateMetrics", "enabled"):
            ksm = _requests_of(_dig(values, "kube-state-metrics", "resources")) + pod
            demand.workloads.append(_replicated(f"{label}: kube-state-metrics", ksm, 1))
        if _on(values, "grafana", "enabled"):
            grafana = _requests_of(_dig(values, "grafana", "resources"))
            sidecar = _requests_of(_dig(values, "grafana", "sidecar", "resources"))
            grafana_pod = grafana + sidecar + sidecar + pod  # dashboards + datasources
            demand.workloads.append(_replicated(f"{label}: Grafana", grafana_pod, 1))
        if _on(values, "nodeExporter", "enabled"):
            exporter = _requests_of(_dig(values, "prometheus-node-exporter", "resources")) + pod
            demand.daemonsets.append(DaemonSet(f"{label}: node exporter", exporter, "all"))
        return demand
    if chart == "prometheus-pushgateway":
        requests = _requests_of(values.get("resources")) + pod
        return Demand([_replicated(label, requests, int(values.get("replicaCount", 1)))])
    if chart == "gateway-helm":
        deployment = values.get("deployment") or {}
        requests = _requests_of(
            _dig(deployment, "envoyGateway", "resources"), GATEWAY_HELM_CONTROLLER - pod
        )
        return Demand([_replicated(label, requests + pod, int(deployment.get("replicas", 1)))])
    if chart == "kueue":
        manager = _dig(values, "controllerManager", "manager", "resources")
        requests = _requests_of(manager, KUEUE_CONTROLLER - pod) + pod
        return Demand([_replicated(label, requests, 1)])
    if chart == "nvidia-device-plugin":
        return Demand(
            daemonsets=[DaemonSet(label, _requests_of(values.get("resources")) + pod, "gpu")]
        )
    if chart == "cluster-autoscaler":
        requests = _requests_of(values.get("resources")) + pod
        return Demand([_replicated(label, requests, int(values.get("replicaCount", 1)))])
    return Demand(not_counted=[label])


def _replicated(name: str, pod: Resources, replicas: int) -> Workload:
    return Workload(name, pod, replicas, replicas)


EKS_ADDON_WORKLOADS = (
    Workload("EKS add-on coredns", Resources(cpu=100, memory=70, pods=1), 2, 2),
    Workload("EKS add-on aws-ebs-csi-driver (controller)", Resources(60, 232, 0, 1), 2, 2),
)
"""The add-ons' Deployments. coredns: two replicas requesting 100m/70Mi (CoreDNS's upstream
Kubernetes manifest, which the EKS add-on follows; the add-on's own manifest not read here).
EBS CSI controller: two replicas, five containers at the chart's 10m/40Mi and the liveness
probe at 10m/32Mi (kubernetes-sigs/aws-ebs-csi-driver chart 2.64.0)."""
EKS_ADDON_DAEMONSETS = (
    DaemonSet("EKS add-on vpc-cni (aws-node)", Resources(cpu=25, pods=1)),
    DaemonSet("EKS add-on kube-proxy", Resources(cpu=100, pods=1)),
    DaemonSet("EKS add-on aws-ebs-csi-driver (node)", Resources(cpu=30, memory=104, pods=1)),
    DaemonSet("EKS add-on eks-pod-identity-agent", Resources(pods=1)),
)
"""The add-ons on every node. aws-node 25m (aws/amazon-vpc-cni-k8s chart 1.23.1; its node
agent sets none); kube-proxy 100m (the upstream kube-proxy manifest's request; the add-on's
own not read here); EBS CSI node 10m/40Mi + 10m/32Mi + 10m/32Mi (chart 2.64.0); the Pod
Identity agent sets no requests (aws/eks-pod-identity-agent chart)."""


def eks_addons_demand() -> Demand:
    """The EKS add-ons' pods (`EKS_ADDON_WORKLOADS`, `EKS_ADDON_DAEMONSETS`)."""
    return Demand(list(EKS_ADDON_WORKLOADS), list(EKS_ADDON_DAEMONSETS))


def stack_demand(
    manifests: Iterable[Mapping[str, Any]], releases: Iterable[Mapping[str, Any]]
) -> Demand:
    """Everything a synthesized stack asks nodes for: its manifests' pods, its Helm
    releases' pods (each release given by its inputs: `chart`, `version`, `values`, `name`)
    and the EKS add-ons'."""
    demand = manifest_demand(manifests)
    for inputs in releases:
        chart = release_chart(inputs)
        demand = demand + release_demand(chart, inputs.get("values") or {}, inputs.get("name", ""))
    return demand + eks_addons_demand()


# --- packing -----------------------------------------------------------------------------------


class PodTooLarge(ValueError):
    """A pod asks for more than an empty node has room for."""


@dataclass(frozen=True)
class Packing:
    """Pods placed on nodes: each node's load, and the pods that fit nowhere."""

    loads: tuple[Resources, ...]
    unplaced: tuple[Resources, ...]


def _size(pod: Resources, scale: Resources) -> float:
    dims = [(pod.cpu, scale.cpu), (pod.memory, scale.memory), (pod.gpu, scale.gpu)]
    dims.append((pod.pods, scale.pods))
    return max(used / room if room > 0 else (math.inf if used else 0.0) for used, room in dims)


def first_fit_decreasing(pods: Sequence[Resources], rooms: Sequence[Resources]) -> Packing:
    """Place the pods, largest first (by their largest share of a node), each on the first
    node with room: a packing at least as tight as the scheduler's spreading, so when this
    leaves a pod unplaced a real cluster will too (or needs the autoscaler)."""
    if not rooms:
        return Packing((), tuple(pods))
    scale = Resources(
        max(r.cpu for r in rooms),
        max(r.memory for r in rooms),
        max(r.gpu for r in rooms),
        max(r.pods for r in rooms),
    )
    loads = [Resources() for _ in rooms]
    unplaced: list[Resources] = []
    for pod in sorted(pods, key=lambda p: _size(p, scale), reverse=True):
        for index, room in enumerate(rooms):
            if (loads[index] + pod).fits(room):
                loads[index] = loads[index] + pod
                break
        else:
            unplaced.append(pod)
    return Packing(tuple(loads), tuple(unplaced))


def nodes_needed(pods: Sequence[Resources], room: Resources) -> int:
    """How many nodes with this much room each hold all the pods: first fit decreasing,
    opening a node when none has room (with k + 1 nodes it places on the first k exactly
    what it places with k, so this is the fewest nodes it manages with); PodTooLarge if one
    pod exceeds an empty node."""
    too_large = [p for p in pods if not p.fits(room)]
    if too_large:
        raise PodTooLarge(f"a pod asking {too_large[0]} does not fit a node with {room}")
    packing = first_fit_decreasing(pods, [room] * len(pods))
    return sum(1 for load in packing.loads if load != Resources())


def lower_bound(pods: Sequence[Resources], room: Resources) -> int:
    """Nodes no packing can do with fewer of: the pods' total over one node's room, in the
    tightest dimension."""
    needed = total(pods)
    ratios = [
        math.ceil(used / space) if space > 0 else (0 if used == 0 else math.inf)
        for used, space in (
            (needed.cpu, room.cpu),
            (needed.memory, room.memory),
            (needed.gpu, room.gpu),
            (needed.pods, room.pods),
        )
    ]
    return int(max(ratios, default=0))


# --- the cluster ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupRoom:
    """One node group: the room of each of its nodes once its DaemonSets run."""

    name: str
    gpu: bool
    room: Resources
    min: int
    max: int


@dataclass(frozen=True)
class ClusterFit:
    """How the stack's pods fit the cluster's node groups, at `min` and at `max` nodes."""

    groups: tuple[GroupRoom, ...]
    at_min: Packing
    """The CPU pods (every controller at its minimum, every Job and CronJob running) on the
    CPU groups' `min` nodes."""
    at_max: Packing
    """Every pod (HPAs at their maximum) on every group's `max` nodes."""
    needed: dict[str, int]
    """Per CPU group shape: nodes of that group alone that hold the CPU pods at minimum."""
    not_counted: tuple[str, ...]

    @property
    def holds_at_min(self) -> bool:
        return not self.at_min.unplaced

    @property
    def holds_at_max(self) -> bool:
        return not self.at_max.unplaced


def group_rooms(cluster: AwsClusterSpec, demand: Demand) -> tuple[GroupRoom, ...]:
    """Each node group's per-node room: its smallest type's allocatable minus DaemonSets."""
    return tuple(
        GroupRoom(g.name, g.gpu, group_allocatable(g) - demand.per_node(g.gpu), g.min, g.max)
        for g in cluster.node_groups
    )


def cluster_fit(cluster: AwsClusterSpec, demand: Demand) -> ClusterFit:
    """Whether the node groups hold the stack: its CPU pods on the CPU groups' `min`
    nodes (what runs before the autoscaler adds any), and all pods on all `max` nodes
    (GPU pods only on GPU groups, which may start at zero)."""
    groups = group_rooms(cluster, demand)
    cpu_groups = [g for g in groups if not g.gpu]
    gpu_groups = [g for g in groups if g.gpu]
    cpu_pods = demand.pods("cpu")
    at_min = first_fit_decreasing(cpu_pods, [g.room for g in cpu_groups for _ in range(g.min)])
    cpu_max = first_fit_decreasing(
        demand.pods("cpu", at_max=True), [g.room for g in cpu_groups for _ in range(g.max)]
    )
    gpu_max = first_fit_decreasing(
        demand.pods("gpu", at_max=True), [g.room for g in gpu_groups for _ in range(g.max)]
    )
    needed = {}
    for g in cpu_groups:
        try:
            needed[g.name] = nodes_needed(cpu_pods, g.room)
        except PodTooLarge:
            needed[g.name] = -1
    return ClusterFit(
        groups=groups,
        at_min=at_min,
        at_max=Packing(cpu_max.loads + gpu_max.loads, cpu_max.unplaced + gpu_max.unplaced),
        needed=needed,
        not_counted=tuple(demand.not_counted),
    )
