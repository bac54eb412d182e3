"""Which custom-resource APIs a spec makes the stack create objects of, and which of them the
stack installs itself: pure functions of the spec, checked before anything is created."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .aws import AwsTarget
from .target import PreinstalledApi

if TYPE_CHECKING:
    from .stack import StackSpec


def required_apis(spec: StackSpec) -> dict[PreinstalledApi, str]:
    """Each API the stack would create objects of, with the first reason why."""
    needed: dict[PreinstalledApi, str] = {}
    routing = spec.routing
    if routing.mode == "gateway":
        routes = route_owners(spec)
        if routing.gateway_class is not None:
            needed["gateway-api"] = (
                f"the stack's Gateway (routing.gateway_class {routing.gateway_class!r})"
            )
        elif routes:
            needed["gateway-api"] = (
                f"HTTPRoutes for {', '.join(routes)} attach to the Gateway "
                f"{routing.gateway_name!r}, which the stack does not create without "
                "routing.gateway_class"
            )
    monitored = [e.name for e in spec.serving if e.service_monitor]
    if spec.monitoring is not None:
        needed["prometheus-operator"] = "monitoring (its ServiceMonitors and PrometheusRule)"
    elif monitored:
        needed["prometheus-operator"] = f"service_monitor of endpoints {', '.join(monitored)}"
    elif spec.feature_store is not None and spec.feature_store.server.service_monitor:
        needed["prometheus-operator"] = "feature_store.server.service_monitor"
    served_by_kserve = [e.name for e in spec.serving if e.runtime == "kserve"]
    if served_by_kserve:
        needed["kserve"] = f"endpoints {', '.join(served_by_kserve)} with runtime 'kserve'"
    if spec.training is not None and spec.training.kueue:
        needed["kueue"] = "training.kueue"
    rolled = [e.name for e in spec.rolled_endpoints]
    if rolled:
        needed["argo-rollouts"] = f"the rollout of endpoints {', '.join(rolled)}"
    return needed


def installed_apis(spec: StackSpec) -> set[PreinstalledApi]:
    """The APIs the stack installs itself (by a Helm release that ships their CRDs)."""
    installed: set[PreinstalledApi] = set()
    target = spec.target
    installs_gateway = isinstance(target, AwsTarget) or target.install_gateway
    if spec.routing.mode == "gateway" and spec.routing.gateway_class and installs_gateway:
        installed |= {"gateway-api", "envoy-gateway"}
    if spec.monitoring is not None:
        installed.add("prometheus-operator")
    if spec.training is not None and spec.training.kueue:
        installed.add("kueue")
    if installs_rollouts(spec):
        installed.add("argo-rollouts")
    return installed


def installs_rollouts(spec: StackSpec) -> bool:
    """Whether the stack installs Argo Rollouts: an endpoint has a `rollout` and the target
    does not declare the controller already there."""
    declared = () if isinstance(spec.target, AwsTarget) else spec.target.preinstalled
    return bool(spec.rolled_endpoints) and "argo-rollouts" not in declared


def route_owners(spec: StackSpec) -> list[str]:
    """What gets an external route: the registry, endpoints, the feature server, Grafana."""
    owners = []
    if spec.registry.enabled and spec.registry.ingress and spec.registry.ingress.enabled:
        owners.append("the registry")
    for endpoint in spec.serving:
        exposed = endpoint.ingress is not None and endpoint.ingress.enabled
        if exposed or endpoint.canary is not None or endpoint.rollout is not None:
            owners.append(f"endpoint {endpoint.name}")
    server = spec.feature_store.server if spec.feature_store else None
    if server is not None and server.ingress is not None and server.ingress.enabled:
        owners.append("the feature server")
    grafana = spec.monitoring.grafana if spec.monitoring else None
    if grafana is not None and grafana.enabled and grafana.ingress and grafana.ingress.enabled:
        owners.append("Grafana")
    return owners


def missing_apis(spec: StackSpec) -> list[str]:
    """One message per API the stack would use that it neither installs nor finds declared
    in `target.preinstalled`; empty when the cluster will serve everything."""
    target = spec.target
    declared: set[PreinstalledApi] = (
        set() if isinstance(target, AwsTarget) else set(target.preinstalled)
    )
    available = installed_apis(spec) | declared
    problems = []
    for api, reason in required_apis(spec).items():
        if api in available:
            continue
        fixes = []
        if api == "gateway-api":
            if spec.routing.gateway_class is None:
                fixes.append(
                    "set routing.gateway_class (e.g. `eg`) so the stack installs Envoy Gateway"
                )
            elif target.kind != "aws":
                fixes.append("set target.install_gateway: true")
        if api == "prometheus-operator":
            fixes.append("add `monitoring` (the stack then installs kube-prometheus-stack)")
        if target.kind != "aws":
            fixes.append(f"add {api!r} to target.preinstalled if the cluster already serves it")
        else:
            fixes.append("an EKS cluster made by the stack has nothing preinstalled")
        problems.append(
            f"{reason}: that needs the {api} API and nothing installs it; {'; or '.join(fixes)}"
        )
    return problems
