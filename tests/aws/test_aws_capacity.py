"""Node sizing: what an EKS node can schedule, what the stack's pods ask for, and whether the
node groups of the reference stacks hold them (at `min`, before the autoscaler adds any node,
and at `max`)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_stacks import AWS_SPEC, REPO, synth_spec
from hypothesis import given
from hypothesis import strategies as st

from mlops_iac.platforms.aws import capacity
from mlops_iac.platforms.aws.capacity import Resources
from mlops_iac.spec import SpecError, StackSpec
from mlops_iac.spec.aws import EC2_INSTANCE_TYPES, AwsClusterSpec
from mlops_iac.testing import synth_project

RELEASE = "kubernetes:helm.sh/v3:Release"


def demand_of(result: Any) -> capacity.Demand:
    releases = [r.inputs for r in result.of_type(RELEASE)]
    return capacity.stack_demand(result.manifests, releases)


def cluster_of(project: Path, stack: str) -> AwsClusterSpec:
    config = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]
    return StackSpec.load({"name": "x", "target": config["mlops:target"]}).target.cluster


# --- allocatable, as EKS configures the kubelet ------------------------------------------------


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        # 2 vCPU: 2000 - 60 - 10; 8192 - 615 (7.5%) - (11 x 29 + 255) - 100; 3 x 9 + 2 pods
        ("m6i.large", Resources(cpu=1930, memory=6903, gpu=0, pods=29)),
        ("m6i.xlarge", Resources(cpu=3920, memory=14162, gpu=0, pods=58)),
        ("m6i.4xlarge", Resources(cpu=15890, memory=57691, gpu=0, pods=234)),
        ("g5.xlarge", Resources(cpu=3920, memory=14162, gpu=1, pods=58)),
    ],
)
def test_allocatable_follows_the_eks_reservation_formula(instance_type, expected):
    assert capacity.allocatable(EC2_INSTANCE_TYPES[instance_type]) == expected


@given(st.sampled_from(sorted(EC2_INSTANCE_TYPES)))
def test_every_allowed_instance_type_leaves_most_of_itself_to_pods(instance_type):
    shape = EC2_INSTANCE_TYPES[instance_type]
    node = capacity.allocatable(shape)

    assert 0.9 * shape.vcpus * 1000 < node.cpu < shape.vcpus * 1000
    assert 0.6 * shape.memory_mib < node.memory < shape.memory_mib
    assert node.gpu == shape.gpus and node.pods == shape.max_pods >= 29


@given(st.integers(min_value=1, max_value=191))
def test_reserved_cpu_grows_with_cores_and_stays_under_seven_percent(vcpus):
    reserved = capacity.reserved_cpu_millicores(vcpus)

    assert reserved < capacity.reserved_cpu_millicores(vcpus + 1)
    assert reserved <= 0.07 * vcpus * 1000


# --- what a pod asks for ------------------------------------------------------------------------


def test_a_pod_asks_for_its_containers_or_its_largest_init_container():
    pod = {
        "initContainers": [
            {"name": "fetch", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
            {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
        ],
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "3Gi"}}},
            {"name": "b", "resources": {"limits": {"cpu": "250m", "memory": "256Mi"}}},
            {"name": "c", "resources": {"limits": {"nvidia.com/gpu": 1}}},
            {"name": "d"},
        ],
    }

    assert capacity.pod_requests(pod) == Resources(cpu=2050, memory=3328, gpu=1, pods=1)
    defaults = {"cpu": "1", "memory": "4Gi"}
    assert capacity.pod_requests({"containers": [{"name": "d"}]}, defaults) == Resources(
        cpu=1000, memory=4096, pods=1
    )


def test_a_deployment_scaled_by_an_hpa_counts_its_minimum_and_maximum():
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "churn", "namespace": "mlops"},
        "spec": {"template": {"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}}},
    }
    hpa = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "churn", "namespace": "mlops"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "churn"},
            "minReplicas": 2,
            "maxReplicas": 8,
        },
    }
    (workload,) = capacity.manifest_demand([deployment, hpa]).workloads

    assert (workload.replicas, workload.max_replicas) == (2, 8)
    assert len(capacity.Demand([workload]).pods("cpu", at_max=True)) == 8


@pytest.mark.parametrize(
    ("inputs", "chart"),
    [
        ({"chart": "kube-prometheus-stack", "version": "88.5.3"}, "kube-prometheus-stack"),
        ({"chart": "oci://docker.io/envoyproxy/gateway-helm", "version": "v1.9.0"}, "gateway-helm"),
        ({"chart": "/charts/gateway-helm-v1.9.0"}, "gateway-helm"),
        ({"chart": "/charts/cluster-autoscaler-9.59.0"}, "cluster-autoscaler"),
    ],
)
def test_a_release_s_chart_is_recognized_wherever_it_comes_from(inputs, chart):
    assert capacity.release_chart(inputs) == chart


# --- packing, property-tested ------------------------------------------------------------------

rooms = st.builds(
    Resources,
    cpu=st.integers(min_value=500, max_value=16000),
    memory=st.integers(min_value=512, max_value=65536),
    gpu=st.integers(min_value=0, max_value=4),
    pods=st.integers(min_value=4, max_value=110),
)


@st.composite
def pods_and_room(draw: Any) -> tuple[list[Resources], Resources]:
    room = draw(rooms)
    pod = st.builds(
        Resources,
        cpu=st.integers(min_value=0, max_value=room.cpu),
        memory=st.integers(min_value=0, max_value=room.memory),
        gpu=st.integers(min_value=0, max_value=room.gpu),
        pods=st.just(1),
    )
    return draw(st.lists(pod, max_size=40)), room


@given(pods_and_room())
def test_the_node_count_holds_every_pod_and_no_fewer_nodes_do_by_the_same_packing(case):
    pods, room = case
    needed = capacity.nodes_needed(pods, room)
    packing = capacity.first_fit_decreasing(pods, [room] * needed)

    assert packing.unplaced == ()
    assert all(load.fits(room) for load in packing.loads)
    assert capacity.total(packing.loads) == capacity.total(pods)
    assert capacity.lower_bound(pods, room) <= needed <= len(pods)
    if needed:
        assert capacity.first_fit_decreasing(pods, [room] * (needed - 1)).unplaced != ()


@given(pods_and_room(), st.integers(min_value=0, max_value=12))
def test_a_packing_never_overfills_a_node_and_loses_no_pod(case, nodes):
    pods, room = case
    packing = capacity.first_fit_decreasing(pods, [room] * nodes)

    assert len(packing.loads) == nodes
    assert all(load.fits(room) for load in packing.loads)
    assert capacity.total(packing.loads) + capacity.total(packing.unplaced) == capacity.total(pods)


@given(rooms, st.integers(min_value=1, max_value=1000))
def test_a_pod_larger_than_a_node_is_an_error_not_a_node_count(room, extra):
    with pytest.raises(capacity.PodTooLarge):
        capacity.nodes_needed([Resources(cpu=room.cpu + extra, pods=1)], room)


# --- the reference stacks ----------------------------------------------------------------------


def describe(fit: capacity.ClusterFit) -> str:
    return f"groups {fit.groups}; nodes needed {fit.needed}; unplaced {fit.at_min.unplaced}"


def test_the_aws_dev_node_groups_hold_the_whole_stack_at_min_and_max(aws_dev):
    demand = demand_of(aws_dev)
    fit = capacity.cluster_fit(cluster_of(REPO, "aws-dev"), demand)
    names = {w.name for w in demand.workloads}

    # Every kind of pod is counted: the stack's, the charts', the add-ons', the autoscaler.
    assert {"Deployment mlops/mlflow", "CronJob mlops-training/demo"} <= names
    assert "Envoy proxy of Gateway mlops/mlops" in names
    assert "kube-prometheus-stack release monitoring: Prometheus" in names
    assert "cluster-autoscaler release cluster-autoscaler" in names
    assert "EKS add-on coredns" in names
    assert demand.not_counted == []
    assert fit.holds_at_min, describe(fit)  # before the autoscaler adds any node
    assert fit.holds_at_max, describe(fit)
    # More than half the CPU the stack asks is its own workloads: sizing them matters.
    assert capacity.total(demand.pods("cpu")).cpu > 6000


def test_the_old_aws_dev_nodes_could_not_hold_the_stack(aws_dev):
    """Two m6i.large (3.9 allocatable vCPU together) against ~6.6 vCPU of requests."""
    old = AwsClusterSpec.model_validate(
        {"node_groups": [{"name": "cpu", "instance_types": ["m6i.large"], "min": 2, "max": 6}]}
    )
    fit = capacity.cluster_fit(old, demand_of(aws_dev))

    assert not fit.holds_at_min
    assert fit.needed["cpu"] == 4


@pytest.fixture(scope="module")
def example_prod() -> Any:
    return synth_project(REPO / "examples" / "aws", "prod")


def test_the_example_s_node_groups_hold_it_with_its_endpoint_at_its_autoscaling_max(example_prod):
    demand = demand_of(example_prod)
    fit = capacity.cluster_fit(cluster_of(REPO / "examples" / "aws", "prod"), demand)
    churn = next(w for w in demand.workloads if w.name == "Deployment mlops/churn")

    assert (churn.replicas, churn.max_replicas) == (2, 8)
    assert fit.holds_at_min, describe(fit)
    assert fit.holds_at_max, describe(fit)


def test_the_default_node_group_holds_the_reference_stack():
    default = AwsClusterSpec()
    (group,) = default.node_groups
    target = {"kind": "aws", "cluster": {"version": "1.35"}}  # no node_groups: the default
    result = synth_project(REPO, "aws-dev", {"mlops:target": target})
    fit = capacity.cluster_fit(default, demand_of(result))

    assert (group.instance_types, group.min, group.max) == (["m6i.xlarge"], 2, 6)
    assert fit.holds_at_min and fit.holds_at_max, describe(fit)


def test_a_training_job_larger_than_any_node_fits_nowhere_even_at_max():
    spec = copy.deepcopy(AWS_SPEC)
    spec["registry"] = {}
    spec["training"] = {
        "quota": {"cpu": "32", "memory": "128Gi"},
        "jobs": [
            {
                "name": "big",
                "dataset": "sklearn://iris",
                "estimator": "sklearn.linear_model.LogisticRegression",
                "resources": {"cpu": "8", "memory": "16Gi"},
            }
        ],
    }
    result = synth_spec(spec)
    fit = capacity.cluster_fit(StackSpec.load(spec).target.cluster, demand_of(result))

    assert Resources(cpu=8000, memory=16384, pods=1) in fit.at_max.unplaced


@pytest.mark.parametrize(
    ("types", "message"),
    [
        (["m7g.large"], "x86_64, the runtime image is linux/amd64"),
        (["m6i.large", "m6i.xlarge"], "cluster-autoscaler sizes a group by its first type"),
    ],
)
def test_node_groups_use_instance_types_the_stack_can_size_and_run(types, message):
    spec = copy.deepcopy(AWS_SPEC)
    spec["target"]["cluster"]["node_groups"] = [{"name": "cpu", "instance_types": types}]

    with pytest.raises(SpecError, match=r"target\.cluster\.node_groups\[0\]\.instance_types") as e:
        StackSpec.load(spec)
    assert message in str(e.value)
