"""External routes for a Service: a Gateway API HTTPRoute, or a classic Ingress."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac.k8s.apis import ClusterApis
from mlops_iac.spec import ExposeSpec, RoutingSpec


def route_host(expose: ExposeSpec, routing: RoutingSpec, service: str) -> str:
    """The external host name: the spec's, or `<service>.<domain>`."""
    return expose.host or f"{service}.{routing.domain}"


def external_url(host: str, routing: RoutingSpec) -> str:
    """`http(s)://<host>`."""
    return f"{'https' if routing.tls else 'http'}://{host}"


def httproute_spec(
    routing: RoutingSpec,
    gateway_namespace: str,
    host: str,
    backends: list[dict[str, Any]],
    filters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An HTTPRoute spec sending every path of `host` to the weighted backends."""
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": backends,
    }
    if filters:
        rule["filters"] = filters
    return {
        "parentRefs": [{"name": routing.gateway_name, "namespace": gateway_namespace}],
        "hostnames": [host],
        "rules": [rule],
    }


def ingress_spec(routing: RoutingSpec, host: str, service: str, port: int) -> dict[str, Any]:
    """An Ingress spec sending every path of `host` to one Service port."""
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": service, "port": {"number": port}}},
                        }
                    ]
                },
            }
        ]
    }
    if routing.ingress_class:
        spec["ingressClassName"] = routing.ingress_class
    return spec


def create_route(
    name: str,
    *,
    routing: RoutingSpec,
    gateway_namespace: str,
    namespace: str,
    host: str,
    service: str,
    port: int,
    labels: dict[str, str],
    apis: ClusterApis,
    opts: pulumi.ResourceOptions,
    route_name: str | None = None,
) -> pulumi.Resource:
    """The route object for `routing.mode` to `service`:`port`; Pulumi name `<name>-route`,
    Kubernetes name `route_name` (default: the service's)."""
    metadata: dict[str, Any] = {
        "name": route_name or service,
        "namespace": namespace,
        "labels": labels,
    }
    if routing.mode == "ingress":
        return k8s.networking.v1.Ingress(
            f"{name}-route",
            metadata=metadata,
            spec=ingress_spec(routing, host, service, port),
            opts=opts,
        )
    return apis.custom_resource(
        f"{name}-route",
        api_version="gateway.networking.k8s.io/v1",
        kind="HTTPRoute",
        metadata=metadata,
        spec=httproute_spec(
            routing, gateway_namespace, host, [{"name": service, "port": port, "weight": 100}]
        ),
        opts=opts,
    )
