"""How services are reached from outside the cluster."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .types import Dns1123Label, Hostname, SpecModel


class RoutingSpec(SpecModel):
    """Stack-wide routing: Gateway API routes (default) or classic Ingress.

    ingress-nginx was retired in March 2026; the Gateway API is the supported way in.
    """

    mode: Literal["gateway", "ingress"] = Field(
        default="gateway",
        description="`gateway`: HTTPRoutes attached to a Gateway; `ingress`: networking.k8s.io "
        "Ingress objects for clusters without the Gateway API.",
    )
    gateway_name: Dns1123Label = Field(
        default="mlops", description="Name of the Gateway that routes attach to."
    )
    gateway_class: Dns1123Label | None = Field(
        default=None,
        description="When set, the stack creates the Gateway with this GatewayClass (e.g. `eg` "
        "for Envoy Gateway); when unset, routes attach to an existing Gateway. On a `kind` "
        "target it defaults to `eg` (the stack installs Envoy Gateway): set it to null there "
        "to attach to a Gateway of your own.",
    )
    gateway_namespace: Dns1123Label | None = Field(
        default=None, description="Namespace of the Gateway; the stack's namespace when unset."
    )
    proxy_namespace: Dns1123Label = Field(
        default="envoy-gateway-system",
        description="Namespace where the gateway's (or ingress controller's) proxy pods run; "
        "network policies admit traffic from it. Envoy Gateway runs them in "
        "`envoy-gateway-system`.",
    )
    ingress_class: Dns1123Label | None = Field(
        default=None, description="IngressClass for `ingress` mode; the cluster default when unset."
    )
    domain: Hostname = Field(
        default="localtest.me",
        description="Base domain for default host names (`mlflow.<domain>`); `localtest.me` "
        "resolves to 127.0.0.1.",
    )
    tls: bool = Field(
        default=False, description="Whether external URLs use https (TLS ends at the gateway)."
    )


class ExposeSpec(SpecModel):
    """Expose one service outside the cluster."""

    enabled: bool = Field(default=True, description="Create the route.")
    host: Hostname | None = Field(
        default=None, description="Host name; `<service>.<routing.domain>` when unset."
    )
