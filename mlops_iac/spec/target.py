"""Where the stack runs: a kind cluster, any existing cluster, or AWS."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .aws import AwsTarget
from .types import Dns1123Label, Quantity, ShortName, SpecModel


class PostgresSpec(SpecModel):
    """The in-cluster PostgreSQL server (kind and existing clusters)."""

    storage: Quantity | None = Field(
        default=None, description="Volume size; defaults by profile (local 2Gi, production 20Gi)."
    )
    storage_class: Dns1123Label | None = Field(
        default=None, description="StorageClass of the volume; the cluster default when unset."
    )


class ObjectStoreSpec(SpecModel):
    """The in-cluster S3-compatible object store (kind and existing clusters)."""

    storage: Quantity | None = Field(
        default=None, description="Volume size; defaults by profile (local 5Gi, production 100Gi)."
    )
    storage_class: Dns1123Label | None = Field(
        default=None, description="StorageClass of the volume; the cluster default when unset."
    )


PreinstalledApi = Literal["gateway-api", "envoy-gateway", "prometheus-operator", "kserve", "kueue"]
"""A custom-resource API (CRDs and the controller serving them) that a cluster may already
have: `gateway-api` (the Gateway API, with an implementation serving the stack's Gateway or
GatewayClass), `envoy-gateway` (Envoy Gateway's own EnvoyProxy API), `prometheus-operator`
(ServiceMonitor, PrometheusRule), `kserve` (InferenceService), `kueue`."""


class _KubernetesTargetBase(SpecModel):
    preinstalled: list[PreinstalledApi] = Field(
        default_factory=list,
        description="Custom-resource APIs the cluster already serves (CRDs and controller). "
        "The stack installs the Gateway API with Envoy Gateway (`install_gateway`), the "
        "Prometheus Operator with `monitoring` and Kueue with `training.kueue`; anything else "
        "it would create (an InferenceService for `runtime: kserve`, a ServiceMonitor without "
        "`monitoring`, routes to a Gateway it does not create) must be listed here, or the "
        "spec is refused before anything is created.",
    )
    postgres: PostgresSpec = Field(
        default_factory=PostgresSpec, description="The in-cluster PostgreSQL server."
    )
    object_store: ObjectStoreSpec = Field(
        default_factory=ObjectStoreSpec, description="The in-cluster S3-compatible object store."
    )


class KindTarget(_KubernetesTargetBase):
    """A local kind cluster. `mlops-iac up local` creates it; the stack only deploys into it."""

    kind: Literal["kind"] = Field(description="Discriminator: `kind`.")
    cluster: ShortName = Field(
        default="mlops", description="Name of the kind cluster; its context is `kind-<cluster>`."
    )
    install_gateway: bool = Field(
        default=True,
        description="With routing.mode `gateway` and a `gateway_class`: install Envoy Gateway "
        "(pinned Helm chart, with the Gateway API CRDs) and that GatewayClass, its Envoy "
        "Service on node port 30080 (the shipped kind config maps it to the host's port 80).",
    )

    @property
    def context(self) -> str:
        """The kubeconfig context kind writes for this cluster."""
        return f"kind-{self.cluster}"


class KubernetesTarget(_KubernetesTargetBase):
    """An existing cluster reached through a kubeconfig."""

    kind: Literal["kubernetes"] = Field(description="Discriminator: `kubernetes`.")
    kubeconfig: str | None = Field(
        default=None,
        description="Path to a kubeconfig file; the ambient one ($KUBECONFIG, ~/.kube/config) "
        "when unset.",
    )
    context: str | None = Field(
        default=None, description="Context in the kubeconfig; its current context when unset."
    )
    install_gateway: bool = Field(
        default=False,
        description="With routing.mode `gateway` and a `gateway_class`: install Envoy Gateway "
        "(pinned Helm chart, with the Gateway API CRDs, cluster-wide) and that GatewayClass, "
        "its Envoy Service a NodePort (node port 30080). Off by default: an existing cluster "
        "usually has its own Gateway implementation; then list `gateway-api` in "
        "`preinstalled`.",
    )


Target = Annotated[KindTarget | KubernetesTarget | AwsTarget, Field(discriminator="kind")]
"""The deployment target, chosen by its `kind` field."""
