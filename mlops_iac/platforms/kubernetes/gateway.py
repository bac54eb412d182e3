"""The Gateway API implementation: Envoy Gateway by its pinned Helm chart (which brings the
Gateway API CRDs), a GatewayClass, and an EnvoyProxy that shapes the Envoy Service for the
target (on kind a NodePort on the port the shipped kind config maps to the host, on AWS a
Network Load Balancer); and the stack's Gateway."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac import charts, versions
from mlops_iac.k8s import pods
from mlops_iac.k8s.apis import ClusterApis
from mlops_iac.k8s.network import NAMESPACE_NAME_LABEL, namespaces_selector
from mlops_iac.spec import RoutingSpec

CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
HTTP_NODE_PORT = 30080
"""Mapped to the host's port 80 by mlops_iac/local/kind-cluster.yaml."""
AWS_ANNOTATIONS = "service.beta.kubernetes.io/aws-load-balancer-"
NLB_ANNOTATION = f"{AWS_ANNOTATIONS}type"
INTERNAL_ANNOTATION = f"{AWS_ANNOTATIONS}internal"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
"""The NLB's TLS negotiation policy: TLS 1.3 and 1.2 only."""
OFFLOADED_HTTPS_PORT = 443


@dataclass(frozen=True)
class EnvoyService:
    """How the Envoy proxies' Service is exposed: the EnvoyProxy object's name and its
    `spec.provider.kubernetes.envoyService`."""

    proxy_config: str
    service: dict[str, Any]


KIND_NODE_PORT = EnvoyService(
    "kind-nodeport",
    {
        "type": "NodePort",
        "patch": {
            "type": "StrategicMerge",
            "value": {"spec": {"ports": [{"port": 80, "nodePort": HTTP_NODE_PORT}]}},
        },
    },
)
"""Envoy's Service as a NodePort whose port 80 is always node port 30080 (a strategic merge
patch keyed on the Service port)."""
PROXY_CONFIG = KIND_NODE_PORT.proxy_config


def aws_network_load_balancer(internal: bool, certificate_arn: str | None = None) -> EnvoyService:
    """Envoy's Service as a LoadBalancer that the EKS cloud controller makes an NLB for
    (no AWS Load Balancer Controller needed); internal ones stay inside the VPC. With an ACM
    certificate the NLB ends TLS on port 443 and passes plain HTTP to Envoy."""
    annotations = {NLB_ANNOTATION: "nlb"}
    if internal:
        annotations[INTERNAL_ANNOTATION] = "true"
    if certificate_arn is not None:
        annotations |= {
            f"{AWS_ANNOTATIONS}ssl-cert": certificate_arn,
            f"{AWS_ANNOTATIONS}ssl-ports": str(OFFLOADED_HTTPS_PORT),
            f"{AWS_ANNOTATIONS}ssl-negotiation-policy": TLS_POLICY,
            f"{AWS_ANNOTATIONS}backend-protocol": "tcp",
        }
    return EnvoyService(
        "aws-nlb-internal" if internal else "aws-nlb",
        {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "annotations": annotations},
    )


def envoy_proxy_spec(envoy: EnvoyService = KIND_NODE_PORT) -> dict[str, object]:
    """The EnvoyProxy spec that shapes Envoy's Service."""
    return {"provider": {"type": "Kubernetes", "kubernetes": {"envoyService": envoy.service}}}


def install_envoy_gateway(
    name: str,
    routing: RoutingSpec,
    stack: str,
    apis: ClusterApis,
    opts: pulumi.ResourceOptions,
    envoy: EnvoyService = KIND_NODE_PORT,
) -> list[pulumi.Resource]:
    """Envoy Gateway (recorded in `apis` as what serves the Gateway API), its EnvoyProxy
    settings and the GatewayClass; what a Gateway of that class must wait for."""
    assert routing.gateway_class is not None
    labels = pods.labels("envoy-gateway", "gateway", stack, versions.ENVOY_GATEWAY_VERSION)
    release = k8s.helm.v3.Release(
        f"{name}-envoy-gateway",
        name="envoy-gateway",
        **charts.ENVOY_GATEWAY.release_args(),
        namespace=routing.proxy_namespace,
        create_namespace=True,
        opts=opts,
    )
    apis.install(charts.ENVOY_GATEWAY.name, release)
    proxy = apis.custom_resource(
        f"{name}-envoy-proxy",
        api_version="gateway.envoyproxy.io/v1alpha1",
        kind="EnvoyProxy",
        metadata={
            "name": envoy.proxy_config,
            "namespace": routing.proxy_namespace,
            "labels": labels,
        },
        spec=envoy_proxy_spec(envoy),
        opts=opts,
    )
    gateway_class = apis.custom_resource(
        f"{name}-gateway-class",
        api_version="gateway.networking.k8s.io/v1",
        kind="GatewayClass",
        metadata={"name": routing.gateway_class, "labels": labels},
        spec={
            "controllerName": CONTROLLER_NAME,
            "parametersRef": {
                "group": "gateway.envoyproxy.io",
                "kind": "EnvoyProxy",
                "name": envoy.proxy_config,
                "namespace": routing.proxy_namespace,
            },
        },
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[proxy])),
    )
    return [release, proxy, gateway_class]


def create_gateway(
    name: str,
    routing: RoutingSpec,
    *,
    namespace: str,
    labels: dict[str, str],
    apis: ClusterApis,
    opts: pulumi.ResourceOptions,
    offloaded_https: bool = False,
    route_namespaces: Sequence[str] = (),
) -> k8s.apiextensions.CustomResource:
    """The stack's Gateway `routing.gateway_name` with an HTTP listener on port 80 for
    routes of its own namespace (and of `route_namespaces`: the teams'). With
    `offloaded_https`, a listener on 443 takes those routes instead (plain HTTP: the load
    balancer in front ends TLS) and port 80 admits only the proxy namespace's routes: the
    redirect to https (`https_redirect`)."""
    own_routes: dict[str, Any] = {"namespaces": {"from": "Same"}}
    if set(route_namespaces) - {namespace}:
        own_routes = {
            "namespaces": {"from": "Selector", "selector": namespaces_selector(route_namespaces)}
        }
    listeners = [{"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": own_routes}]
    if offloaded_https:
        proxy_only = {
            "from": "Selector",
            "selector": {"matchLabels": {NAMESPACE_NAME_LABEL: routing.proxy_namespace}},
        }
        listeners[0]["allowedRoutes"] = {"namespaces": proxy_only}
        listeners.append(
            {
                "name": "https",
                "protocol": "HTTP",
                "port": OFFLOADED_HTTPS_PORT,
                "allowedRoutes": own_routes,
            }
        )
    return apis.custom_resource(
        f"{name}-gateway",
        api_version="gateway.networking.k8s.io/v1",
        kind="Gateway",
        metadata={"name": routing.gateway_name, "namespace": namespace, "labels": labels},
        spec={"gatewayClassName": routing.gateway_class, "listeners": listeners},
        opts=opts,
    )


def https_redirect(
    name: str,
    routing: RoutingSpec,
    *,
    gateway_namespace: str,
    labels: dict[str, str],
    apis: ClusterApis,
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """An HTTPRoute on the Gateway's port-80 listener answering every request with a
    permanent redirect to https (in the proxy namespace, the only one that listener admits)."""
    return apis.custom_resource(
        f"{name}-https-redirect",
        api_version="gateway.networking.k8s.io/v1",
        kind="HTTPRoute",
        metadata={"name": "https-redirect", "namespace": routing.proxy_namespace, "labels": labels},
        spec={
            "parentRefs": [
                {
                    "name": routing.gateway_name,
                    "namespace": gateway_namespace,
                    "sectionName": "http",
                }
            ],
            "rules": [
                {
                    "filters": [
                        {
                            "type": "RequestRedirect",
                            "requestRedirect": {"scheme": "https", "statusCode": 301},
                        }
                    ]
                }
            ],
        },
        opts=opts,
    )
