"""Workload identity by EKS Pod Identity: a ServiceAccount, a role only that account can
get, and an inline policy scoped to the buckets that workload uses."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_iac.k8s import pods
from mlops_iac.platforms.base import BucketAccess

from . import policies


def grant_buckets(
    name: str,
    *,
    cluster_name: pulumi.Input[str],
    namespace: str,
    service_account: str,
    buckets: Sequence[BucketAccess],
    aws_options: pulumi.ResourceOptions,
    after: list[pulumi.Resource],
) -> aws.eks.PodIdentityAssociation:
    """Give pods running as `service_account` in `namespace` read and write access to
    exactly `buckets` (their ARNs), through a role whose trust is EKS Pod Identity; the
    association is made after `after` (the agent, the account)."""
    arns = [b.arn for b in buckets if b.arn is not None]
    if len(arns) != len(buckets):
        raise ValueError(f"{name}: every bucket needs an ARN for an IAM policy")
    role = pod_identity_role(
        f"{name}-role", f"Pod Identity of {namespace}/{service_account}", aws_options
    )
    aws.iam.RolePolicy(
        f"{name}-buckets",
        role=role.id,
        policy=pulumi.Output.all(*arns).apply(policies.bucket_access),
        opts=aws_options,
    )
    return aws.eks.PodIdentityAssociation(
        f"{name}-association",
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        opts=pulumi.ResourceOptions.merge(aws_options, pulumi.ResourceOptions(depends_on=after)),
    )


def pod_identity_role(name: str, description: str, opts: pulumi.ResourceOptions) -> aws.iam.Role:
    """A role that only EKS Pod Identity can assume (for the account it is associated with)."""
    return aws.iam.Role(
        name, assume_role_policy=policies.pod_identity_trust(), description=description, opts=opts
    )


def service_account(
    pulumi_name: str, *, name: str, namespace: str, opts: pulumi.ResourceOptions
) -> k8s.core.v1.ServiceAccount:
    """A ServiceAccount of its own for one workload (no API token mounted: Pod Identity
    injects its own)."""
    return k8s.core.v1.ServiceAccount(
        pulumi_name,
        metadata={
            "name": name,
            "namespace": namespace,
            "labels": pods.labels("mlops-iac", "workload-identity", name),
        },
        automount_service_account_token=False,
        opts=opts,
    )
