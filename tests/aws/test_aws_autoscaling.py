"""Node autoscaling on EKS under mocks: cluster-autoscaler pinned to the cluster's minor,
discovering the managed node groups by the tags EKS gives their Auto Scaling groups (so it
reads each group's min and max there), allowed to resize only those, and able to start a
GPU group from zero nodes."""

from __future__ import annotations

import copy
import fnmatch
import re
from typing import Any

import pytest
from aws_stacks import AWS_SPEC, synth_spec

from mlops_iac import versions
from mlops_iac.charts import CHARTS_ENV, ChartNotFound
from mlops_iac.platforms.aws import autoscaler, policies
from mlops_iac.spec import SpecError, StackSpec
from mlops_iac.testing.mocks import is_secret

RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASG_TAG = "aws:autoscaling/tag:Tag"


def release(result: Any, name: str) -> Any:
    (found,) = [r for r in result.of_type(RELEASE) if r.inputs["name"] == name]
    return found


def node_groups(result: Any) -> dict[str, Any]:
    return {g.inputs["nodeGroupName"]: g for g in result.of_type(NODE_GROUP)}


def asg_name(group: Any) -> str:
    return group.outputs["resources"][0]["autoscalingGroups"][0]["name"]


def autoscaler_policy(result: Any) -> dict[str, Any]:
    (association,) = [
        a
        for a in result.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"] == autoscaler.SERVICE_ACCOUNT
    ]
    role = {r.outputs["arn"]: r.outputs["name"] for r in result.of_type("aws:iam/role:Role")}[
        association.inputs["roleArn"]
    ]
    (policy,) = [
        p.inputs["policy"]
        for p in result.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == role
    ]
    return {
        "association": association.inputs,
        "statements": policies.statements(policy["value"] if is_secret(policy) else policy),
    }


@pytest.fixture(scope="module")
def shop() -> Any:
    return synth_spec(AWS_SPEC)


def test_cluster_autoscaler_is_installed_from_the_pinned_chart_for_the_cluster_s_minor(aws_dev):
    ca = release(aws_dev, "cluster-autoscaler")
    (cluster,) = aws_dev.of_type("aws:eks/cluster:Cluster")

    assert ca.inputs["chart"] == "cluster-autoscaler"
    assert ca.inputs["version"] == versions.CLUSTER_AUTOSCALER_CHART_VERSION == "9.59.0"
    assert ca.inputs["repositoryOpts"]["repo"] == "https://kubernetes.github.io/autoscaler"
    assert ca.inputs["namespace"] == "kube-system"
    values = ca.inputs["values"]
    assert values["image"]["tag"] == "v1.35.2"  # cluster-autoscaler's minor = EKS's (1.35)
    assert values["cloudProvider"] == "aws" and values["awsRegion"] == "eu-west-1"
    assert values["autoDiscovery"] == {"clusterName": cluster.outputs["name"]}
    assert values["resources"]["requests"] == {"cpu": "100m", "memory": "300Mi"}
    assert values["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    # After every node group: it scales them, and runs on them.
    group_urns = {g.urn for g in aws_dev.of_type(NODE_GROUP)}
    assert group_urns <= set(ca.depends_on)


def test_the_autoscaler_reads_each_group_s_min_and_max_from_its_auto_scaling_group(aws_dev):
    ca = release(aws_dev, "cluster-autoscaler").inputs["values"]
    groups = node_groups(aws_dev)
    (cluster,) = aws_dev.of_type("aws:eks/cluster:Cluster")

    # Discovery, not a static --nodes=min:max:asg list: the bounds are the ASG's.
    assert "autoscalingGroups" not in ca
    assert not any(key.startswith("nodes") for key in ca["extraArgs"])
    assert {name: g.inputs["scalingConfig"] for name, g in groups.items()} == {
        "cpu": {"minSize": 2, "maxSize": 6, "desiredSize": 2},
        "gpu": {"minSize": 0, "maxSize": 2, "desiredSize": 0},
    }
    # The chart's default discovery tags are the two EKS puts on managed node groups' ASGs.
    assert ca["autoDiscovery"]["clusterName"] == cluster.outputs["name"]
    scaling = autoscaler_policy(aws_dev)["statements"][2]
    assert scaling["Condition"]["StringEquals"] == {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster.outputs['name']}": "owned",
    }
    (pattern,) = scaling["Resource"]
    for group in groups.values():
        asg_arn = (
            f"arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:"
            f"0a1b2c3d-0000-4000-8000-000000000000:autoScalingGroupName/{asg_name(group)}"
        )
        assert fnmatch.fnmatchcase(asg_arn, pattern), (asg_arn, pattern)


def test_the_autoscaler_s_identity_may_resize_only_this_cluster_s_node_groups(aws_dev):
    found = autoscaler_policy(aws_dev)
    read, describe, scaling = found["statements"]

    assert found["association"]["namespace"] == "kube-system"
    assert found["association"]["serviceAccount"] == "cluster-autoscaler"
    assert release(aws_dev, "cluster-autoscaler").inputs["values"]["rbac"] == {
        "serviceAccount": {"name": "cluster-autoscaler"}
    }
    assert read["Resource"] == "*"
    assert all(":Describe" in a or ":Get" in a for a in read["Action"])
    assert describe["Action"] == ["eks:DescribeNodegroup"]
    assert describe["Resource"] == [
        "arn:aws:eks:eu-west-1:123456789012:nodegroup/mlops-aws-dev/*/*"
    ]
    assert scaling["Action"] == [
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    assert scaling["Resource"] == [
        "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/eks-*"
    ]


def test_a_gpu_group_at_zero_carries_its_node_template_on_its_auto_scaling_group(aws_dev):
    groups = node_groups(aws_dev)
    tags = [t.inputs for t in aws_dev.of_type(ASG_TAG)]
    gpu_asg = asg_name(groups["gpu"])

    assert {t["autoscalingGroupName"] for t in tags} == {gpu_asg}  # cpu has min 2: untagged
    template = {t["tag"]["key"]: t["tag"]["value"] for t in tags}
    assert all(t["tag"]["propagateAtLaunch"] is False for t in tags)
    prefix = "k8s.io/cluster-autoscaler/node-template"
    assert template == {
        f"{prefix}/label/nvidia.com/gpu.present": "true",
        f"{prefix}/label/k8s.amazonaws.com/accelerator": "nvidia-a10g",
        f"{prefix}/label/mlops-iac.dev/node-group": "gpu",
        f"{prefix}/label/eks.amazonaws.com/nodegroup": "gpu",
        f"{prefix}/taint/nvidia.com/gpu": "true:NoSchedule",
        f"{prefix}/resources/nvidia.com/gpu": "1",
        f"{prefix}/resources/ephemeral-storage": "44Gi",  # 50 GiB disk
    }
    # The labels on the ASG are the ones EKS puts on the group's nodes.
    assert {
        k.removeprefix(f"{prefix}/label/"): v for k, v in template.items() if "/label/" in k
    } == {**groups["gpu"].inputs["labels"], "eks.amazonaws.com/nodegroup": "gpu"}
    tag_urns = {t.urn for t in aws_dev.of_type(ASG_TAG)}
    assert tag_urns <= set(release(aws_dev, "cluster-autoscaler").depends_on)


def node_from_template(tags: dict[str, str], gpus_of_instance: int) -> dict[str, Any]:
    """The node cluster-autoscaler imagines for an empty group (its AWS provider's
    buildNodeFromTemplate): labels, taints and capacity from the node-template tags."""
    prefix = "k8s.io/cluster-autoscaler/node-template/"
    labels, taints, capacity = {}, [], {"nvidia.com/gpu": gpus_of_instance}
    for key, value in tags.items():
        if key.startswith(prefix + "label/"):
            labels[key.removeprefix(prefix + "label/")] = value
        elif key.startswith(prefix + "taint/"):
            match = re.fullmatch(r"(.*):(NoSchedule|NoExecute|PreferNoSchedule)", value)
            assert match, value
            taints.append(
                {"key": key.removeprefix(prefix + "taint/"), "value": match[1], "effect": match[2]}
            )
        elif key.startswith(prefix + "resources/nvidia.com/gpu"):
            capacity["nvidia.com/gpu"] = int(value)
    return {"labels": labels, "taints": taints, "capacity": capacity}


def tolerates(pod: dict[str, Any], taint: dict[str, str]) -> bool:
    for toleration in pod.get("tolerations") or []:
        if toleration.get("effect") not in (None, taint["effect"]):
            continue
        if toleration.get("operator") == "Exists" and toleration.get("key") in (None, taint["key"]):
            return True
        if toleration.get("key") == taint["key"] and toleration.get("value") == taint["value"]:
            return True
    return False


def test_a_pending_gpu_training_pod_fits_the_template_of_the_empty_gpu_group():
    spec = copy.deepcopy(AWS_SPEC)
    spec["training"] = {
        "quota": {"cpu": "8", "memory": "32Gi", "gpu": 1},
        "jobs": [
            {
                "name": "vision",
                "image": "ghcr.io/acme/vision:1.2",
                "command": ["python", "train.py"],
                "gpu": 1,
                "resources": {"cpu": "2", "memory": "8Gi"},
            }
        ],
    }
    result = synth_spec(spec)
    tags = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in result.of_type(ASG_TAG)}
    node = node_from_template(tags, gpus_of_instance=1)
    cron = result.manifest("CronJob", "vision")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert all(tolerates(pod, taint) for taint in node["taints"])
    assert node["taints"]  # ...and CPU pods, which do not tolerate it, stay off GPU nodes
    assert all(node["labels"].get(k) == v for k, v in (pod.get("nodeSelector") or {}).items())
    assert (
        int(container["resources"]["limits"]["nvidia.com/gpu"])
        <= node["capacity"]["nvidia.com/gpu"]
    )
    registry = result.manifest("Deployment", "mlflow")["spec"]["template"]["spec"]
    assert not all(tolerates(registry, taint) for taint in node["taints"])


def test_a_group_that_never_drops_to_zero_needs_no_node_template(shop):
    groups = node_groups(shop)

    assert groups["cpu"].inputs["scalingConfig"]["minSize"] == 2
    assert {t.inputs["autoscalingGroupName"] for t in shop.of_type(ASG_TAG)} == {
        asg_name(groups["gpu"])
    }


def test_the_autoscaler_follows_the_cluster_version():
    spec = copy.deepcopy(AWS_SPEC)
    spec["target"]["cluster"]["version"] = "1.34"
    result = synth_spec(spec)

    assert release(result, "cluster-autoscaler").inputs["values"]["image"]["tag"] == "v1.34.5"
    for minor, tag in versions.CLUSTER_AUTOSCALER_VERSIONS.items():
        assert tag.startswith(f"v{minor}.")


def test_a_version_without_an_autoscaler_release_is_refused_unless_autoscaling_is_off():
    spec = copy.deepcopy(AWS_SPEC)
    spec["target"]["cluster"]["version"] = "1.37"

    with pytest.raises(SpecError, match=r"target\.cluster.*1\.37.*node_autoscaler: none"):
        StackSpec.load(spec)
    spec["target"]["cluster"]["node_autoscaler"] = "none"
    assert StackSpec.load(spec).target.cluster.version == "1.37"


def test_without_the_autoscaler_nothing_is_installed_or_tagged():
    spec = copy.deepcopy(AWS_SPEC)
    spec["target"]["cluster"]["node_autoscaler"] = "none"
    result = synth_spec(spec)

    assert [r.inputs["name"] for r in result.of_type(RELEASE)] == ["nvidia-device-plugin"]
    assert result.of_type(ASG_TAG) == []
    assert all(
        a.inputs["serviceAccount"] != "cluster-autoscaler"
        for a in result.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    )


def test_the_chart_comes_from_a_local_copy_under_mlops_iac_charts(tmp_path):
    chart = autoscaler.CLUSTER_AUTOSCALER

    with pytest.raises(ChartNotFound, match=r"cluster-autoscaler-9\.59\.0/Chart\.yaml"):
        chart.release_args({CHARTS_ENV: str(tmp_path)})
    (tmp_path / "cluster-autoscaler-9.59.0").mkdir()
    (tmp_path / "cluster-autoscaler-9.59.0" / "Chart.yaml").write_text("name: cluster-autoscaler\n")
    assert chart.release_args({CHARTS_ENV: str(tmp_path)}) == {
        "chart": str(tmp_path / "cluster-autoscaler-9.59.0")
    }
