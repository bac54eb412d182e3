"""An S3-compatible object store in the cluster (SeaweedFS), with generated credentials."""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_iac import versions
from mlops_iac.k8s import pods
from mlops_iac.platforms.base import BucketAccess, ClientNamespace, SecretKeyRef
from mlops_iac.spec import ResourceRequirements

from . import single_node

S3_PORT = 8333
DATA_DIR = "/data"
CONFIG_DIR = "/etc/seaweedfs"
REGION = "us-east-1"

# Idempotent: creating a bucket that this identity already owns is not an error.
CREATE_BUCKET_SCRIPT = """\
import os, time
import boto3
from botocore.exceptions import ClientError, EndpointConnectionError
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
bucket = os.environ["BUCKET"]
for attempt in range(120):
    try:
        s3.head_bucket(Bucket=bucket)
        print(f"bucket {bucket} exists")
        break
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise
        s3.create_bucket(Bucket=bucket)
        print(f"bucket {bucket} created")
        break
    except EndpointConnectionError:
        time.sleep(2)
else:
    raise SystemExit("object store not reachable")
"""


def s3_identities(access_key: str, secret_key: str) -> str:
    """SeaweedFS `-s3.config` JSON: one identity with full rights on this store."""
    return json.dumps(
        {
            "identities": [
                {
                    "name": "mlops",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
    )


def server_command(port: int = S3_PORT) -> list[str]:
    """Single-node SeaweedFS: master, volume server, filer and S3 gateway in one process.

    The binary is called directly: the image's entrypoint adds `-master.volumePreallocate`,
    which reserves a whole volume (1 GiB) on disk up front. The parts find each other at
    the pod's IP (`POD_IP`, from the downward API), not at whichever interface weed detects
    first.
    """
    return [
        "/usr/bin/weed",
        "server",
        f"-dir={DATA_DIR}",
        "-ip=$(POD_IP)",
        "-ip.bind=0.0.0.0",
        "-volume.max=0",
        "-master.volumeSizeLimitMB=128",
        "-s3",
        f"-s3.port={port}",
        f"-s3.config={CONFIG_DIR}/s3.json",
    ]


class InClusterObjectStore(pulumi.ComponentResource):
    """A single-node SeaweedFS with an S3 API on port 8333 and generated credentials."""

    endpoint_url: str
    """In-cluster S3 endpoint."""

    def __init__(
        self,
        name: str,
        settings: single_node.ServerSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:ObjectStore", name, None, opts)
        k8s_name, namespace = settings.k8s_name, settings.namespace
        storage, storage_class = settings.storage, settings.storage_class
        resources, stateful = settings.resources, settings.stateful
        self._name = name
        self._k8s_name = k8s_name
        self._namespace = namespace
        self._labels = pods.labels(
            "seaweedfs", "object-store", k8s_name, versions.SEAWEEDFS_VERSION
        )
        self._match = pods.selector("seaweedfs", k8s_name)
        self._bucket_jobs: dict[str, k8s.batch.v1.Job] = {}
        self._client_secrets: dict[str, k8s.core.v1.Secret] = {}
        self.endpoint_url = f"http://{k8s_name}.{namespace}.svc.cluster.local:{S3_PORT}"
        self.client_labels = {"mlops-iac.dev/s3-client": k8s_name}
        labels = self._labels
        match = self._match
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions.merge(child, stateful)

        self._keys = access_key, secret_key = (
            random.RandomPassword(
                f"{name}-access-key", length=20, special=False, lower=False, opts=keep
            ),
            random.RandomPassword(f"{name}-secret-key", length=40, special=False, opts=keep),
        )
        self.credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": f"{k8s_name}-credentials", "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={
                "AWS_ACCESS_KEY_ID": access_key.result,
                "AWS_SECRET_ACCESS_KEY": secret_key.result,
                "s3.json": pulumi.Output.all(access_key.result, secret_key.result).apply(
                    lambda keys: s3_identities(keys[0], keys[1])
                ),
            },
            opts=keep,
        )
        self.service = single_node.service(
            f"{name}-service",
            settings=settings,
            labels=labels,
            match=match,
            port_name="s3",
            port=S3_PORT,
            opts=child,
        )
        container = {
            "name": "seaweedfs",
            "image": versions.SEAWEEDFS_IMAGE,
            "command": server_command(),
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "ports": [{"name": "s3", "containerPort": S3_PORT}],
            "resources": resources.to_kubernetes(),
            "securityContext": pods.container_security_context(),
            "readinessProbe": pods.http_probe("/readyz", "s3", period=5),
            "livenessProbe": pods.http_probe("/healthz", "s3", period=15, failures=6),
            "startupProbe": pods.http_probe("/healthz", "s3", period=5, failures=60),
            "volumeMounts": [
                {"name": "data", "mountPath": DATA_DIR},
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        config_volume = {
            "name": "config",
            "secret": {
                "secretName": self.credentials.metadata.name,
                "items": [{"key": "s3.json", "path": "s3.json"}],
            },
        }
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": k8s_name, "namespace": namespace, "labels": labels},
            spec=single_node.statefulset_spec(
                k8s_name=k8s_name,
                labels=labels,
                match=match,
                uid=versions.SEAWEEDFS_UID,
                container=container,
                volumes=[config_volume, pods.scratch_volume("tmp")],
                storage=storage,
                storage_class=storage_class,
            ),
            opts=single_node.statefulset_options(keep),
        )
        single_node.client_network_policies(
            name,
            k8s_name=k8s_name,
            namespace=namespace,
            labels=labels,
            match=match,
            client_labels=self.client_labels,
            port=S3_PORT,
            opts=child,
        )
        self.register_outputs({"endpoint_url": self.endpoint_url})

    def access(self, bucket: str, client: ClientNamespace | None = None) -> BucketAccess:
        """Credentials and endpoint for one bucket of this store, for pods of the store's
        namespace or of `client`."""
        secret = self._credentials_for(client) if client else self.credentials
        return BucketAccess(
            name=bucket,
            bucket=bucket,
            endpoint_url=self.endpoint_url,
            region=REGION,
            access_key_id=SecretKeyRef(secret.metadata.name, "AWS_ACCESS_KEY_ID"),
            secret_access_key=SecretKeyRef(secret.metadata.name, "AWS_SECRET_ACCESS_KEY"),
            client_labels=dict(self.client_labels),
        )

    def bucket(self, bucket: str, client: ClientNamespace | None = None) -> BucketAccess:
        """A bucket created by a Job (idempotently, once per bucket) on this store."""
        if bucket not in self._bucket_jobs:
            self._bucket_jobs[bucket] = self._create_bucket_job(bucket)
        return dataclasses.replace(self.access(bucket, client), ready=[self._bucket_jobs[bucket]])

    def _credentials_for(self, client: ClientNamespace) -> k8s.core.v1.Secret:
        """The store's keys as a Secret in the client namespace, and the network path from
        that namespace's client pods to the store (once per namespace)."""
        if client.name in self._client_secrets:
            return self._client_secrets[client.name]
        access_key, secret_key = self._keys
        secret = single_node.grant_client_namespace(
            f"{self._name}-client-{client.name}",
            client=client,
            secret_name=f"{self._k8s_name}-credentials",
            string_data={
                "AWS_ACCESS_KEY_ID": access_key.result,
                "AWS_SECRET_ACCESS_KEY": secret_key.result,
            },
            labels=self._labels,
            server_namespace=self._namespace,
            server_labels=self._match,
            client_labels=self.client_labels,
            port=S3_PORT,
            parent=self,
        )
        self._client_secrets[client.name] = secret
        return secret

    def _create_bucket_job(self, bucket: str) -> k8s.batch.v1.Job:
        access = self.access(bucket)
        k8s_name = f"{self._k8s_name}-bucket-{bucket}"[:63].rstrip("-.")
        labels = pods.labels("seaweedfs", "bucket-init", k8s_name)
        return k8s.batch.v1.Job(
            f"{self._name}-bucket-{bucket}",
            metadata={"name": k8s_name, "namespace": self._namespace, "labels": labels},
            spec={
                "backoffLimit": 6,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {"labels": {**labels, **self.client_labels}},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "automountServiceAccountToken": False,
                        "securityContext": pods.pod_security_context(versions.MLFLOW_UID),
                        "containers": [
                            {
                                "name": "create-bucket",
                                "image": versions.MLFLOW_IMAGE,
                                "command": ["python", "-c", CREATE_BUCKET_SCRIPT],
                                "env": [*access.env(), pods.env_value("BUCKET", bucket)],
                                "resources": ResourceRequirements(
                                    cpu="50m", memory="128Mi", memory_limit="256Mi"
                                ).to_kubernetes(),
                                "securityContext": pods.container_security_context(),
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.statefulset]),
        )
