"""Where the stack runs: a kind cluster, any existing cluster, or AWS."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator

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


PreinstalledApi = Literal[
    "gateway-api", "envoy-gateway", "prometheus-operator", "kserve", "kueue", "argo-rollouts"
]
"""A custom-resource API (CRDs and the controller serving them) that a cluster may already
have: `gateway-api` (the Gateway API, with an implementation serving the stack's Gateway or
GatewayClass), `envoy-gateway` (Envoy Gateway's own EnvoyProxy API), `prometheus-operator`
(ServiceMonitor, PrometheusRule), `kserve` (InferenceService), `kueue`, `argo-rollouts`
(Rollout, AnalysisTemplate; its controller must have the Gateway API traffic-router plugin
`argoproj-labs/gatewayAPI`)."""


class _KubernetesTargetBase(SpecModel):
    preinstalled: list[PreinstalledApi] = Field(
        default_factory=list,
        description="Custom-resource APIs the cluster already serves (CRDs and controller). "
        "The stack installs the Gateway API with Envoy Gateway (`install_gateway`), the "
        "Prometheus Operator with `monitoring`, Kueue with `training.kueue` and Argo Rollouts "
        "with an endpoint's `rollout`; anything else "
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


class ApiServerSpec(SpecModel):
    """Where the cluster's pods reach the Kubernetes API server: what the egress
    NetworkPolicy of the pods that call it (the drift monitor, which starts retraining Jobs)
    allows.

    NetworkPolicies see a connection to the `kubernetes` Service after kube-proxy (or the
    CNI's own service handling) has translated its ClusterIP to an endpoint: in kindnet,
    Calico, Cilium and most CNIs a policy must allow the API server's own addresses and
    port, which `kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes`
    lists."""

    cidrs: list[str] = Field(
        min_length=1, description="Networks holding the API server's endpoint addresses."
    )
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        min_length=1, description="The API server's endpoint port(s) (kubeadm and kind: 6443)."
    )

    @field_validator("cidrs")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR such as 172.18.0.0/16") from None
        return cidrs


KIND_API_SERVER = ApiServerSpec(cidrs=["172.16.0.0/12", "192.168.0.0/16"], ports=[6443])
"""kind's control-plane node is a container on Docker's `kind` network, whose subnet Docker
takes from its default address pools (172.17.0.0/16 to 172.31.0.0/16, then /20s of
192.168.0.0/16); the API server listens on 6443 there."""
PRIVATE_API_SERVER = ApiServerSpec(
    cidrs=["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], ports=[443, 6443]
)
"""An existing cluster's API server is somewhere unknown in advance: by default anywhere in
the private IPv4 ranges on the usual ports (no public address); set `api_server` to the
cluster's own endpoints to narrow it."""


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
    api_server: ApiServerSpec = Field(
        default_factory=lambda: KIND_API_SERVER.model_copy(deep=True),
        description="The API server's endpoint addresses and port, for egress NetworkPolicies; "
        "by default Docker's default address pools (where kind's network is) on 6443.",
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
    api_server: ApiServerSpec = Field(
        default_factory=lambda: PRIVATE_API_SERVER.model_copy(deep=True),
        description="The API server's endpoint addresses and port(s), for egress "
        "NetworkPolicies; by default the private IPv4 ranges on 443 and 6443. Set it to the "
        "cluster's own (`kubectl get endpointslices -n default -l "
        "kubernetes.io/service-name=kubernetes`).",
    )


Target = Annotated[KindTarget | KubernetesTarget | AwsTarget, Field(discriminator="kind")]
"""The deployment target, chosen by its `kind` field."""
