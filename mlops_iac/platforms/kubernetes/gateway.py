"""The Gateway API implementation on kind: Envoy Gateway by its pinned Helm chart (which
brings the Gateway API CRDs), a GatewayClass, and an EnvoyProxy that makes the Envoy Service
a NodePort on the port the shipped kind config maps to the host."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac import versions
from mlops_iac.k8s import pods
from mlops_iac.spec import RoutingSpec

CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
HTTP_NODE_PORT = 30080
"""Mapped to the host's port 80 by mlops_iac/local/kind-cluster.yaml."""
PROXY_CONFIG = "kind-nodeport"


def envoy_proxy_spec() -> dict[str, object]:
    """Envoy's Service as a NodePort whose port 80 is always node port 30080 (a strategic
    merge patch keyed on the Service port)."""
    return {
        "provider": {
            "type": "Kubernetes",
            "kubernetes": {
                "envoyService": {
                    "type": "NodePort",
                    "patch": {
                        "type": "StrategicMerge",
                        "value": {"spec": {"ports": [{"port": 80, "nodePort": HTTP_NODE_PORT}]}},
                    },
                }
            },
        }
    }


def install_envoy_gateway(
    name: str, routing: RoutingSpec, stack: str, opts: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    """Envoy Gateway, its EnvoyProxy settings and the GatewayClass; what a Gateway of that
    class must wait for."""
    assert routing.gateway_class is not None
    labels = pods.labels("envoy-gateway", "gateway", stack, versions.ENVOY_GATEWAY_VERSION)
    release = k8s.helm.v3.Release(
        f"{name}-envoy-gateway",
        name="envoy-gateway",
        chart=versions.ENVOY_GATEWAY_CHART,
        version=versions.ENVOY_GATEWAY_VERSION,
        namespace=routing.proxy_namespace,
        create_namespace=True,
        opts=opts,
    )
    after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[release]))
    proxy = k8s.apiextensions.CustomResource(
        f"{name}-envoy-proxy",
        api_version="gateway.envoyproxy.io/v1alpha1",
        kind="EnvoyProxy",
        metadata={"name": PROXY_CONFIG, "namespace": routing.proxy_namespace, "labels": labels},
        spec=envoy_proxy_spec(),
        opts=after,
    )
    gateway_class = k8s.apiextensions.CustomResource(
        f"{name}-gateway-class",
        api_version="gateway.networking.k8s.io/v1",
        kind="GatewayClass",
        metadata={"name": routing.gateway_class, "labels": labels},
        spec={
            "controllerName": CONTROLLER_NAME,
            "parametersRef": {
                "group": "gateway.envoyproxy.io",
                "kind": "EnvoyProxy",
                "name": PROXY_CONFIG,
                "namespace": routing.proxy_namespace,
            },
        },
        opts=pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[proxy])),
    )
    return [release, proxy, gateway_class]
