"""Every image the stack runs, pinned by tag, with where the tag was checked.

Change a version here and nowhere else; tests read these constants.
"""

from __future__ import annotations

MLFLOW_VERSION = "3.17.2"
MLFLOW_IMAGE = f"ghcr.io/mlflow/mlflow:v{MLFLOW_VERSION}-full"
"""MLflow server with Postgres (psycopg2) and S3 (boto3) clients. The plain `v<ver>` image has
neither (mlflow#9513); `-full` variants are published since 3.9.0 (MLflow docker docs)."""

POSTGRES_VERSION = "17.6"
POSTGRES_IMAGE = f"docker.io/library/postgres:{POSTGRES_VERSION}-bookworm"
"""Official postgres image (Debian based, user `postgres` = uid 999). Bitnami images were frozen
into `bitnamilegacy` in 2025-08, so the official image is used."""
POSTGRES_UID = 999

SEAWEEDFS_VERSION = "3.97"
SEAWEEDFS_IMAGE = f"docker.io/chrislusf/seaweedfs:{SEAWEEDFS_VERSION}"
"""SeaweedFS: an Apache-2.0, actively released S3-compatible store. MinIO's community edition
is in maintenance mode since 2025-12 with no new images."""
SEAWEEDFS_UID = 1000
MLFLOW_UID = 1000
"""The MLflow image runs as root by default; pods run it as this unprivileged uid."""
