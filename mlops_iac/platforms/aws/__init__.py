"""The AWS target: EKS, RDS, S3, ElastiCache, ECR and EKS Pod Identity.

Importing this package imports `pulumi_aws` (the `aws` extra); only `create_platform` does,
and only for an AWS target.
"""

from .platform import AwsPlatform

__all__ = ["AwsPlatform"]
