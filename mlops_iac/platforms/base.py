"""What a target provides to components, behind small interfaces.

Components ask the platform for a database, a bucket and resource options; they never know
whether the answer is an in-cluster StatefulSet (kind) or a managed service (AWS).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi

from mlops_iac.k8s.apis import ClusterApis
from mlops_iac.k8s.pods import env_secret, env_value
from mlops_iac.spec import StackSpec


@dataclass(frozen=True)
class SecretKeyRef:
    """A key in a Kubernetes Secret of the stack's namespace."""

    name: pulumi.Input[str]
    key: str

    def env(self, variable: str) -> dict[str, Any]:
        """An env var that reads this key."""
        return env_secret(variable, self.name, self.key)


@dataclass(frozen=True)
class ClientNamespace:
    """A namespace other than the stack's whose pods use a platform service."""

    name: str
    resource: pulumi.Resource
    """The Namespace resource: what the platform creates in it must wait for it."""


@dataclass(frozen=True)
class DatabaseConnection:
    """A PostgreSQL database a component may use, with its own role."""

    host: pulumi.Input[str]
    """The server's address: an in-cluster DNS name, or a managed server's endpoint."""
    port: int
    database: str
    username: str
    password: SecretKeyRef
    client_labels: dict[str, str] = field(default_factory=dict)
    """Pod labels that open the network path to the database."""
    ready: list[pulumi.Resource] = field(default_factory=list)
    """Resources that must exist before a client starts (e.g. the database-creation Job)."""

    def env(self, prefix: str) -> list[dict[str, Any]]:
        """`<prefix>_HOST`, `_PORT`, `_NAME`, `_USER` as values and `_PASSWORD` from the Secret."""
        return [
            env_value(f"{prefix}_HOST", self.host),
            env_value(f"{prefix}_PORT", str(self.port)),
            env_value(f"{prefix}_NAME", self.database),
            env_value(f"{prefix}_USER", self.username),
            self.password.env(f"{prefix}_PASSWORD"),
        ]

    def sqlalchemy_url(self, prefix: str, driver: str = "postgresql+psycopg2") -> str:
        """A URL that Kubernetes completes from the env vars of `env(prefix)`.

        `$(VAR)` references are expanded by the kubelet in `command` and `args`, so the
        password never appears in the pod spec.
        """
        return (
            f"{driver}://$({prefix}_USER):$({prefix}_PASSWORD)"
            f"@$({prefix}_HOST):$({prefix}_PORT)/$({prefix}_NAME)"
        )


@dataclass(frozen=True)
class BucketAccess:
    """An S3 bucket a component may use."""

    name: str
    """The bucket's name in the spec (`s3://<name>/...` in URIs the user writes)."""
    bucket: pulumi.Input[str]
    """Its real name: the spec's name on an in-cluster store, a unique one on AWS."""
    endpoint_url: pulumi.Input[str] | None
    """S3 API endpoint; None means AWS S3 itself."""
    region: str
    access_key_id: SecretKeyRef | None
    """Static credentials; None when the platform gives workloads an identity instead."""
    secret_access_key: SecretKeyRef | None
    client_labels: dict[str, str] = field(default_factory=dict)
    """Pod labels that open the network path to the object store."""
    ready: list[pulumi.Resource] = field(default_factory=list)
    """Resources that must exist before a client starts (e.g. the bucket-creation Job)."""
    arn: pulumi.Input[str] | None = None
    """The bucket's ARN where the platform grants access by IAM policy (AWS)."""

    def uri(self, path: str = "") -> pulumi.Output[str]:
        """`s3://<bucket>/<path>`."""
        return pulumi.Output.concat("s3://", self.bucket, "/", path)

    def env(self) -> list[dict[str, Any]]:
        """The env vars boto3 and MLflow read to reach this bucket."""
        result = [env_value("AWS_DEFAULT_REGION", self.region)]
        if self.endpoint_url is not None:
            result += [
                env_value("MLFLOW_S3_ENDPOINT_URL", self.endpoint_url),
                env_value("AWS_ENDPOINT_URL_S3", self.endpoint_url),
            ]
        if self.access_key_id is not None and self.secret_access_key is not None:
            result += [
                self.access_key_id.env("AWS_ACCESS_KEY_ID"),
                self.secret_access_key.env("AWS_SECRET_ACCESS_KEY"),
            ]
        return result


def with_bucket_names(text: str, buckets: Sequence[BucketAccess]) -> pulumi.Input[str]:
    """`text` with every `s3://<spec name>` of these buckets turned into `s3://<real name>`.

    URIs in the spec name buckets as the spec does; on AWS the real names are unique ones
    that exist only once the buckets do. Text that names none of them is returned as is.
    """
    renamed = [b for b in buckets if b.bucket != b.name and f"s3://{b.name}" in text]
    if not renamed:
        return text

    def substitute(real: list[str]) -> str:
        names = {b.name: name for b, name in zip(renamed, real, strict=True)}
        pattern = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        return re.sub(
            rf"s3://({pattern})(?=/|$|[^a-z0-9.-])",
            lambda match: f"s3://{names[match.group(1)]}",
            text,
        )

    return pulumi.Output.all(*(b.bucket for b in renamed)).apply(substitute)


@dataclass(frozen=True)
class RedisConnection:
    """A Redis server a component may use (the feature store's online store)."""

    host: pulumi.Input[str]
    port: int
    password: SecretKeyRef
    tls: bool = False
    """Whether clients must connect with TLS (managed services); in-cluster Redis is plain."""
    client_labels: dict[str, str] = field(default_factory=dict)
    """Pod labels that open the network path to the server."""
    ready: list[pulumi.Resource] = field(default_factory=list)
    """Resources that must exist before a client starts."""

    def env(self, prefix: str) -> list[dict[str, Any]]:
        """`<prefix>_HOST`, `_PORT` as values and `_PASSWORD` from the Secret."""
        return [
            env_value(f"{prefix}_HOST", self.host),
            env_value(f"{prefix}_PORT", str(self.port)),
            self.password.env(f"{prefix}_PASSWORD"),
        ]


def data_protection_options(protection: str) -> pulumi.ResourceOptions:
    """`protect` or `retain_on_delete` for data-holding resources, by the spec's
    `data_protection` (`none`: neither)."""
    return pulumi.ResourceOptions(
        protect=protection == "protect", retain_on_delete=protection == "retain"
    )


class StackNamespaceMixin:
    """What every platform does the same way once it has a Kubernetes provider and the
    stack's namespace: name the namespaces and give components' children their options."""

    _spec: StackSpec
    provider: pulumi.ProviderResource
    namespace_resource: pulumi.Resource
    apis: ClusterApis
    """The custom-resource APIs the cluster serves, and what installs each."""
    _built_runtime_image: pulumi.Input[str] | None = None
    """The runtime image the platform built and pushed for the stack, if it did."""

    @property
    def namespace(self) -> str:
        """The namespace components deploy into."""
        return self._spec.namespace

    @property
    def gateway_namespace(self) -> str:
        """The namespace of the Gateway that routes attach to."""
        return self._spec.routing.gateway_namespace or self._spec.namespace

    @property
    def runtime_image(self) -> pulumi.Input[str]:
        """The image the platform built for the stack, else `spec.runtime_image`."""
        if self._built_runtime_image is not None:
            return self._built_runtime_image
        return self._spec.runtime_image

    def child_options(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Parent, the cluster's provider, and ordering after the namespace."""
        return pulumi.ResourceOptions(
            parent=parent, provider=self.provider, depends_on=[self.namespace_resource]
        )


class Platform(Protocol):
    """What every target offers to components."""

    apis: ClusterApis
    """The custom-resource APIs the cluster serves; every custom resource is created
    through it, after what installs its API."""

    @property
    def namespace(self) -> str:
        """The namespace components deploy into."""
        ...

    @property
    def gateway_namespace(self) -> str:
        """The namespace of the Gateway that routes attach to (for network policies)."""
        ...

    @property
    def stack_outputs(self) -> dict[str, pulumi.Input[object]]:
        """What the target adds to the stack's outputs (e.g. the EKS cluster's name)."""
        ...

    @property
    def runtime_image(self) -> pulumi.Input[str]:
        """The stack's runtime image as the cluster pulls it (`spec.runtime_image`, or the
        image the platform built and pushed)."""
        ...

    def child_options(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options for a component's children: parent, provider, after the namespace."""
        ...

    def stateful_options(self) -> pulumi.ResourceOptions:
        """Options that guard data-holding resources (`protect` or `retain_on_delete`)."""
        ...

    def database(self, name: str, client: ClientNamespace | None = None) -> DatabaseConnection:
        """A database (and its own role) for one component; with `client`, for pods of that
        namespace too."""
        ...

    def redis(self) -> RedisConnection:
        """The stack's Redis (created on first use)."""
        ...

    def bucket(self, name: str, client: ClientNamespace | None = None) -> BucketAccess:
        """A bucket for one component; with `client`, for pods of that namespace (the
        platform puts what they need to reach it there: credentials, network policies)."""
        ...

    def workload_identity(
        self,
        name: str,
        *,
        namespace: str,
        buckets: Sequence[BucketAccess],
        parent: pulumi.Resource,
        service_account: str | None = None,
    ) -> dict[str, Any]:
        """Pod spec fields (`serviceAccountName`, ...) that let pods of workload `name` in
        `namespace` use `buckets`; empty where buckets come with static credentials. With
        `service_account`, that existing account is given the access instead of a new one
        named `name`."""
        ...
