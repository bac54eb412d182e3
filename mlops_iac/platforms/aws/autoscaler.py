"""Node autoscaling on EKS: the Kubernetes cluster-autoscaler, which grows and shrinks each
managed node group between the `min` and `max` of its spec, from zero for GPU groups.

Why cluster-autoscaler and not Karpenter: the stack's nodes are EKS managed node groups,
each an EC2 Auto Scaling group whose `min`/`max` the spec already states. cluster-autoscaler
works on exactly those groups: it discovers them by the tags EKS puts on every managed node
group's Auto Scaling group (`k8s.io/cluster-autoscaler/enabled`,
`k8s.io/cluster-autoscaler/<cluster>`), reads each group's min and max from it and only ever
changes the desired capacity; so the spec's `min`/`max` mean what they say, node groups keep
their AMI, taints, labels and rolling updates, and no custom resource (no CRD, nothing for
`ClusterApis`) is involved. Karpenter, which EKS recommends for new clusters, would replace
the node groups by its own NodePools and EC2NodeClasses (its own CRDs), an SQS interruption
queue and EventBridge rules: a different node model than the spec's, for more moving parts.

Scale-up from zero (a GPU group with `min: 0` has no node to copy) needs the group's labels,
taints and GPU count as `k8s.io/cluster-autoscaler/node-template/...` tags on the Auto
Scaling group (cluster-autoscaler's cloudprovider/aws/README.md): EKS does not put them there
(its DescribeNodegroup fallback works only until the group first had a node), so the stack
tags the groups that may be empty.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_iac import versions
from mlops_iac.charts import CLUSTER_AUTOSCALER
from mlops_iac.spec import AwsClusterSpec, AwsNodeGroupSpec

from .identity import pod_identity_role

"""The chart, resolved like every other release (a local copy under `MLOPS_IAC_CHARTS`)."""
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"
NODE_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"
DISCOVERY_TAG = "k8s.io/cluster-autoscaler/enabled"
"""Set (to `true`) by EKS on every managed node group's Auto Scaling group."""
ASG_NAME_PREFIX = "eks-"
"""EKS names a managed node group's Auto Scaling group `eks-<node group>-<uuid>`."""
TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute"}
TAINT_EFFECTS["PREFER_NO_SCHEDULE"] = "PreferNoSchedule"

READ_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
]
"""What auto-discovery needs (cloudprovider/aws/README.md, "Full Cluster Autoscaler Features
Policy"); these Describe calls support no resource-level permission, so `*`."""
SCALING_ACTIONS = [
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
]


def cluster_tag(cluster_name: str) -> str:
    """The second discovery tag, per cluster (EKS sets it to `owned`)."""
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


def autoscaler_policy(cluster_arn: str, cluster_name: str) -> str:
    """The autoscaler's inline policy: discovery reads; `eks:DescribeNodegroup` on this
    cluster's node groups; resizing and terminating only Auto Scaling groups named as EKS
    names them and tagged as EKS tags this cluster's managed node groups."""
    partition, region, account = _arn_parts(cluster_arn)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DiscoverNodeGroups",
                    "Effect": "Allow",
                    "Action": READ_ACTIONS,
                    "Resource": "*",
                },
                {
                    "Sid": "DescribeTheClustersNodeGroups",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeNodegroup"],
                    "Resource": [
                        f"arn:{partition}:eks:{region}:{account}:nodegroup/{cluster_name}/*/*"
                    ],
                },
                {
                    "Sid": "ScaleTheClustersNodeGroups",
                    "Effect": "Allow",
                    "Action": SCALING_ACTIONS,
                    "Resource": [
                        f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:"
                        f"autoScalingGroupName/{ASG_NAME_PREFIX}*"
                    ],
                    "Condition": {
                        "StringEquals": {
                            f"aws:ResourceTag/{DISCOVERY_TAG}": "true",
                            f"aws:ResourceTag/{cluster_tag(cluster_name)}": "owned",
                        }
                    },
                },
            ],
        }
    )


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """Partition, region and account of an ARN."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"{arn!r} is not an ARN")
    return parts[1], parts[3], parts[4]


def image_tag(cluster: AwsClusterSpec) -> str:
    """The cluster-autoscaler release of the cluster's Kubernetes minor."""
    return versions.CLUSTER_AUTOSCALER_VERSIONS[cluster.version]


def values(cluster: AwsClusterSpec, cluster_name: str, region: str) -> dict[str, Any]:
    """Chart values: auto-discovery by the EKS tags (so each group's min and max come from
    its Auto Scaling group; no `--nodes`, no `autoscalingGroups`), the image of the
    cluster's minor, the least-waste expander, similar groups balanced across zones, nodes
    with emptyDir pods allowed to scale down (the stack's pods use them as scratch space),
    restricted security contexts, and requests that the node sizing counts."""
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "fullnameOverride": "cluster-autoscaler",
        "image": {"repository": versions.CLUSTER_AUTOSCALER_IMAGE, "tag": image_tag(cluster)},
        "rbac": {"serviceAccount": {"name": SERVICE_ACCOUNT}},
        "extraArgs": {
            "expander": "least-waste",
            "balance-similar-node-groups": True,
            "skip-nodes-with-local-storage": False,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "300Mi"},
            "limits": {"memory": "600Mi"},
        },
        "priorityClassName": "system-cluster-critical",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
    }


def node_template_tags(group: AwsNodeGroupSpec, args: dict[str, Any]) -> dict[str, str]:
    """The Auto Scaling group tags from which cluster-autoscaler builds a node of an empty
    group: its labels, taints (`value:Effect`) and GPUs. `args` are the node group's EKS
    settings (`cluster.node_group_args`)."""
    tags = {f"{NODE_TEMPLATE}/label/{key}": value for key, value in args["labels"].items()}
    tags[f"{NODE_TEMPLATE}/label/eks.amazonaws.com/nodegroup"] = group.name
    for taint in args["taints"]:
        effect = TAINT_EFFECTS[taint["effect"]]
        tags[f"{NODE_TEMPLATE}/taint/{taint['key']}"] = f"{taint.get('value', '')}:{effect}"
    gpus = min(shape.gpus for shape in group.node_types)
    if group.gpu and gpus:
        tags[f"{NODE_TEMPLATE}/resources/nvidia.com/gpu"] = str(gpus)
    # The root volume less the kubelet's reservation (1Gi) and eviction threshold (10%).
    disk = group.disk_size - 1 - math.ceil(group.disk_size * 0.1)
    tags[f"{NODE_TEMPLATE}/resources/ephemeral-storage"] = f"{disk}Gi"
    return tags


def tag_for_scale_from_zero(
    name: str,
    group: AwsNodeGroupSpec,
    args: dict[str, Any],
    node_group: aws.eks.NodeGroup,
    opts: pulumi.ResourceOptions,
) -> list[aws.autoscaling.Tag]:
    """Tag the Auto Scaling group of a node group that may have no node (`min: 0`) with its
    node template (not propagated to instances: they get labels and taints from EKS)."""
    if group.min > 0:
        return []
    asg_name = node_group.resources.apply(lambda found: found[0].autoscaling_groups[0].name)
    return [
        aws.autoscaling.Tag(
            f"{name}-{index}",
            autoscaling_group_name=asg_name,
            tag={"key": key, "value": value, "propagate_at_launch": False},
            opts=opts,
        )
        for index, (key, value) in enumerate(sorted(node_template_tags(group, args).items()))
    ]


def install_cluster_autoscaler(
    name: str,
    cluster: AwsClusterSpec,
    *,
    cluster_name: pulumi.Input[str],
    cluster_arn: pulumi.Output[str],
    eks_cluster_name: str,
    region: str,
    pod_identity_agent: pulumi.Resource,
    aws_options: pulumi.ResourceOptions,
    in_cluster: pulumi.ResourceOptions,
    after: Sequence[pulumi.Resource],
) -> k8s.helm.v3.Release:
    """cluster-autoscaler in kube-system, its Pod Identity role scoped to this cluster's
    node groups, installed after the node groups (and their scale-from-zero tags)."""
    role = pod_identity_role(
        f"{name}-role", f"Pod Identity of {NAMESPACE}/{SERVICE_ACCOUNT}", aws_options
    )
    policy = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=cluster_arn.apply(lambda arn: autoscaler_policy(arn, eks_cluster_name)),
        opts=aws_options,
    )
    association = aws.eks.PodIdentityAssociation(
        f"{name}-association",
        cluster_name=cluster_name,
        namespace=NAMESPACE,
        service_account=SERVICE_ACCOUNT,
        role_arn=role.arn,
        opts=pulumi.ResourceOptions.merge(
            aws_options, pulumi.ResourceOptions(depends_on=[pod_identity_agent])
        ),
    )
    return k8s.helm.v3.Release(
        name,
        name="cluster-autoscaler",
        **CLUSTER_AUTOSCALER.release_args(),
        namespace=NAMESPACE,
        values=values(cluster, eks_cluster_name, region),
        opts=pulumi.ResourceOptions.merge(
            in_cluster, pulumi.ResourceOptions(depends_on=[association, policy, *after])
        ),
    )
