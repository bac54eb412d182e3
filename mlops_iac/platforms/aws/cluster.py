"""The EKS cluster: roles, secrets encryption, control-plane logs, managed node groups
(GPU ones with the NVIDIA AMI and a taint), the add-ons the stack relies on (network
policies, Pod Identity, EBS volumes), and a Kubernetes provider for it."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_iac import charts
from mlops_iac.spec import AwsClusterSpec, AwsNodeGroupSpec
from mlops_iac.spec.aws import GPU_ACCELERATOR_LABELS

from . import autoscaler, policies
from .identity import pod_identity_role
from .network import NetworkRefs

GPU_LABEL = "nvidia.com/gpu.present"
"""Set on GPU nodes: the NVIDIA device plugin chart's default node affinity selects it."""
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
"""Set on GPU nodes before they join: cluster-autoscaler (its AWS `GPULabel`) then treats a
new node whose device plugin has not yet advertised `nvidia.com/gpu` as a GPU node on the
way, instead of adding more nodes for the same pending pod."""
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
"""Matches the toleration of GPU training jobs (`nvidia.com/gpu` Exists NoSchedule)."""
NODE_GROUP_LABEL = "mlops-iac.dev/node-group"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
STORAGE_CLASS = "gp3-encrypted"


def node_group_args(group: AwsNodeGroupSpec) -> dict[str, Any]:
    """The node group's EKS settings that follow from its spec."""
    labels = {NODE_GROUP_LABEL: group.name, **group.labels}
    if group.gpu:
        labels[GPU_LABEL] = "true"
        family = group.instance_types[0].split(".")[0]
        labels.setdefault(ACCELERATOR_LABEL, GPU_ACCELERATOR_LABELS.get(family, "nvidia"))
    return {
        "node_group_name": group.name,
        "instance_types": group.instance_types,
        "ami_type": "AL2023_x86_64_NVIDIA" if group.gpu else "AL2023_x86_64_STANDARD",
        "capacity_type": "SPOT" if group.spot else "ON_DEMAND",
        "disk_size": group.disk_size,
        "scaling_config": {
            "min_size": group.min,
            "max_size": group.max,
            "desired_size": group.desired if group.desired is not None else group.min,
        },
        "update_config": {"max_unavailable": 1},
        "labels": labels,
        "taints": [GPU_TAINT] if group.gpu else [],
    }


def kubeconfig(
    name: pulumi.Input[str], endpoint: pulumi.Input[str], ca: pulumi.Input[str], region: str
) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `aws eks get-token` (the AWS CLI), so no
    credential is stored in it."""
    return pulumi.Output.json_dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "aws",
            "clusters": [
                {"name": "eks", "cluster": {"server": endpoint, "certificate-authority-data": ca}}
            ],
            "contexts": [{"name": "aws", "context": {"cluster": "eks", "user": "aws"}}],
            "users": [
                {
                    "name": "aws",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                        }
                    },
                }
            ],
        }
    )


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster with its node groups and add-ons, and a provider for it."""

    cluster: aws.eks.Cluster
    security_group_id: pulumi.Output[str]
    """The cluster security group, which EKS puts on managed nodes (and so on pods)."""
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]
    ready: list[pulumi.Resource]
    """What workloads must wait for: nodes and the networking add-ons."""
    pod_identity_agent: aws.eks.Addon

    def __init__(
        self,
        name: str,
        spec: AwsClusterSpec,
        *,
        cluster_name: str,
        region: str,
        network: NetworkRefs,
        log_retention_days: int,
        stateful: pulumi.ResourceOptions,
        deletion_protection: bool,
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__("mlops:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_role = _service_role(
            f"{name}-cluster-role", "eks.amazonaws.com", policies.CLUSTER_POLICIES, child
        )
        secrets_key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"Envelope encryption of Kubernetes Secrets in EKS cluster {cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=pulumi.ResourceOptions.merge(child, stateful),
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=log_retention_days,
            opts=child,
        )
        vpc_config: dict[str, Any] = {
            "subnet_ids": network.private_subnet_ids,
            "endpoint_private_access": True,
            "endpoint_public_access": spec.public_endpoint,
        }
        if spec.public_endpoint and spec.public_access_cidrs:
            vpc_config["public_access_cidrs"] = spec.public_access_cidrs
        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=spec.version,
            role_arn=cluster_role.arn,
            vpc_config=vpc_config,
            enabled_cluster_log_types=list(spec.log_types),
            encryption_config={"provider": {"key_arn": secrets_key.arn}, "resources": ["secrets"]},
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": True,
            },
            deletion_protection=deletion_protection,
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions.merge(stateful, pulumi.ResourceOptions(depends_on=[logs])),
            ),
        )
        self.security_group_id = self.cluster.vpc_config.cluster_security_group_id
        node_role = _service_role(
            f"{name}-node-role", "ec2.amazonaws.com", policies.NODE_POLICIES, child
        )
        vpc_cni = self._addon(
            name,
            "vpc-cni",
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
        )
        self.pod_identity_agent = self._addon(name, "eks-pod-identity-agent")
        kube_proxy = self._addon(name, "kube-proxy")
        node_groups: list[aws.eks.NodeGroup] = []
        template_tags: list[pulumi.Resource] = []
        for group in spec.node_groups:
            args = node_group_args(group)
            node_group = aws.eks.NodeGroup(
                f"{name}-nodes-{group.name}",
                cluster_name=self.cluster.name,
                node_role_arn=node_role.arn,
                subnet_ids=network.private_subnet_ids,
                **args,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[vpc_cni, kube_proxy],
                    ignore_changes=["scalingConfig.desiredSize"],
                ),
            )
            node_groups.append(node_group)
            if spec.node_autoscaler == "cluster-autoscaler":
                template_tags += autoscaler.tag_for_scale_from_zero(
                    f"{name}-nodes-{group.name}-template", group, args, node_group, child
                )
        coredns = self._addon(name, "coredns", after=node_groups)
        ebs_role = pod_identity_role(
            f"{name}-ebs-csi-role", "Pod Identity of the EBS CSI controller", child
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-role-policy",
            role=ebs_role.name,
            policy_arn=policies.EBS_CSI_POLICY,
            opts=child,
        )
        ebs_csi = self._addon(
            name,
            "aws-ebs-csi-driver",
            after=[*node_groups, self.pod_identity_agent],
            pod_identity_associations=[
                {"role_arn": ebs_role.arn, "service_account": EBS_CSI_SERVICE_ACCOUNT}
            ],
        )
        self.kubeconfig = pulumi.Output.secret(
            kubeconfig(
                self.cluster.name,
                self.cluster.endpoint,
                self.cluster.certificate_authority.apply(lambda ca: ca.data),
                region,
            )
        )
        self.provider = k8s.Provider(f"{name}-provider", kubeconfig=self.kubeconfig, opts=child)
        self.ready = [*node_groups, coredns, ebs_csi, vpc_cni, self.pod_identity_agent]
        in_cluster = pulumi.ResourceOptions(
            parent=self, provider=self.provider, depends_on=self.ready
        )
        k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata={
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain",
            opts=in_cluster,
        )
        if spec.node_autoscaler == "cluster-autoscaler":
            autoscaler.install_cluster_autoscaler(
                f"{name}-cluster-autoscaler",
                spec,
                cluster_name=self.cluster.name,
                cluster_arn=self.cluster.arn,
                eks_cluster_name=cluster_name,
                region=region,
                pod_identity_agent=self.pod_identity_agent,
                aws_options=child,
                in_cluster=in_cluster,
                after=template_tags,
            )
        if spec.has_gpu:
            k8s.helm.v3.Release(
                f"{name}-nvidia-device-plugin",
                name="nvidia-device-plugin",
                **charts.NVIDIA_DEVICE_PLUGIN.release_args(),
                namespace="kube-system",
                values=device_plugin_values(),
                opts=in_cluster,
            )
        self.register_outputs({"name": self.cluster.name, "endpoint": self.cluster.endpoint})

    def _addon(
        self,
        name: str,
        addon: str,
        *,
        after: list[pulumi.Resource] | None = None,
        **args: Any,
    ) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{name}-addon-{addon}",
            cluster_name=self.cluster.name,
            addon_name=addon,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            **args,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after or []),
        )


def device_plugin_values() -> dict[str, Any]:
    """The chart's defaults already select nodes labelled `nvidia.com/gpu.present=true`
    (which GPU node groups carry) and tolerate the `nvidia.com/gpu` taint; the plugin is
    small and critical to GPU scheduling."""
    return {
        "priorityClassName": "system-node-critical",
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"cpu": "100m", "memory": "128Mi"},
        },
        "gfd": {"enabled": False},
    }


def _service_role(
    name: str, service: str, managed: list[str], opts: pulumi.ResourceOptions
) -> aws.iam.Role:
    role = aws.iam.Role(name, assume_role_policy=policies.assume_role(service), opts=opts)
    for index, policy_arn in enumerate(managed):
        aws.iam.RolePolicyAttachment(
            f"{name}-{index}", role=role.name, policy_arn=policy_arn, opts=opts
        )
    return role
