"""IAM and bucket policy documents, as plain data: every statement names its resources."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
"""The service that assumes roles for EKS Pod Identity associations."""

BUCKET_READ_WRITE_OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]
BUCKET_LEVEL_ACTIONS = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]

AWS_MANAGED = "arn:aws:iam::aws:policy/"
CLUSTER_POLICIES = [f"{AWS_MANAGED}AmazonEKSClusterPolicy"]
NODE_POLICIES = [
    f"{AWS_MANAGED}AmazonEKSWorkerNodePolicy",
    f"{AWS_MANAGED}AmazonEC2ContainerRegistryPullOnly",
    f"{AWS_MANAGED}AmazonEKS_CNI_Policy",
]
EBS_CSI_POLICY = f"{AWS_MANAGED}service-role/AmazonEBSCSIDriverPolicy"


def assume_role(service: str, *, tag_session: bool = False) -> str:
    """A trust policy letting one AWS service assume the role."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else ["sts:AssumeRole"]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}
            ],
        }
    )


def pod_identity_trust() -> str:
    """The trust policy of a role that EKS Pod Identity hands to a ServiceAccount."""
    return assume_role(POD_IDENTITY_PRINCIPAL, tag_session=True)


def bucket_access(bucket_arns: Sequence[str]) -> str:
    """Read and write objects of exactly these buckets, and list them; nothing else."""
    arns = sorted(set(bucket_arns))
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListTheBuckets",
                    "Effect": "Allow",
                    "Action": BUCKET_LEVEL_ACTIONS,
                    "Resource": arns,
                },
                {
                    "Sid": "ReadWriteTheirObjects",
                    "Effect": "Allow",
                    "Action": BUCKET_READ_WRITE_OBJECT_ACTIONS,
                    "Resource": [f"{arn}/*" for arn in arns],
                },
            ],
        }
    )


def tls_only_bucket(bucket_arn: str) -> str:
    """Deny every request to the bucket and its objects that does not use TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def statements(document: str | dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of a policy document (JSON text or parsed), always as a list."""
    parsed = json.loads(document) if isinstance(document, str) else document
    found = parsed.get("Statement", [])
    return found if isinstance(found, list) else [found]
