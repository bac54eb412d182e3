"""Progressive delivery in the process tier, for a stack with Rollouts: the Argo Rollouts
controller and its Gateway API plugin (built by tools/controlplane/build.sh) against the
tier's API server, a node whose pods run here (`node.ProcessNode`), a real Prometheus that
scrapes them as the stack's ServiceMonitors say (`service_monitors`; its targets from the API
server by `kubernetes_sd`), and a Gateway data plane that follows the HTTPRoutes' weights
(`gateway`).

What the API server holds besides the tier's usual objects: the stack's Deployments that
only carry a Rollout's pod template, its Rollouts, AnalysisTemplates, HTTPRoutes, Services
and ServiceMonitors, applied as `pulumi up` would apply them. The controller runs with the
cluster's host names (the AnalysisTemplate asks Prometheus at its in-cluster address), and
Prometheus listens at the address that name has here."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.dev.controlplane import NODE_NAME as SIMULATED_NODE
from mlops_iac.dev.controlplane import ControlPlane
from mlops_iac.dev.rollouts import rollouts_controller
from mlops_iac.testing.local_servers import prometheus_binary, prometheus_server

from cluster import FreshStack
from gateway import Gateway, gateway
from kubernetes_sd import EndpointsDiscovery
from node import ProcessNode
from service_monitors import ApiAccess, scrape_configs

PROMETHEUS_ADDRESS = "127.78.2.2"
GATEWAY_ADDRESS = "127.78.3.2"
DELIVERY_KINDS = {"Rollout", "AnalysisTemplate", "HTTPRoute", "Service", "ServiceMonitor"}


def has_rollouts(objects: list[dict[str, Any]]) -> bool:
    return any(o.get("kind") == "Rollout" for o in objects)


def unavailable(bin_dir: Path) -> str | None:
    """Why this machine cannot run a stack's Rollouts here, or None."""
    for binary in ("rollouts-controller", "gatewayapi-plugin", "argo-rollouts-crds.yaml"):
        if not (bin_dir / binary).exists():
            return f"needs {binary} (tools/controlplane/build.sh argo-rollouts rollouts-gatewayapi)"
    if prometheus_binary() is None:
        return "needs prometheus (Debian's package; tools/test-servers.sh)"
    return None


@dataclass
class Delivery:
    """The running parts, for a test to drive and read."""

    api: ControlPlane
    node: ProcessNode
    gateway: Gateway
    prometheus_url: str | None
    """The Prometheus the analyses ask, when any rollout has an analysis."""

    def rollout(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self.api.get("rollouts.argoproj.io", name, "-n", namespace))

    def weights(self, namespace: str, route: str) -> dict[str, int]:
        """The backends of the route's first rule and their weights."""
        item = self.api.get("httproutes.gateway.networking.k8s.io", route, "-n", namespace)
        refs = item["spec"]["rules"][0]["backendRefs"]
        return {ref["name"]: int(ref.get("weight", 1)) for ref in refs}


def delivery_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the controller, the gateway and Prometheus read: the Rollouts, the Deployments they
    take their template from, and the Services, routes, templates and monitors."""
    referenced = {
        (o["metadata"]["namespace"], o["spec"]["workloadRef"]["name"])
        for o in objects
        if o.get("kind") == "Rollout" and "workloadRef" in o["spec"]
    }
    routes = {
        (o["metadata"]["namespace"], ref["httpRoute"])
        for o in objects
        if o.get("kind") == "Rollout"
        for ref in o["spec"]["strategy"]["canary"]["trafficRouting"]["plugins"].values()
    }
    chosen = []
    for item in objects:
        key = (item["metadata"].get("namespace"), item["metadata"]["name"])
        if item["kind"] == "Deployment" and key in referenced:
            chosen.append(item)
        elif item["kind"] == "HTTPRoute":
            if key in routes:
                chosen.append(item)
        elif item["kind"] in DELIVERY_KINDS:
            chosen.append(item)
    return chosen


def analysis_prometheus(objects: list[dict[str, Any]]) -> tuple[str, str, int] | None:
    """(namespace, Service name, port) of the Prometheus the AnalysisTemplates ask; None when
    no rollout has an analysis."""
    addresses = {
        metric["provider"]["prometheus"]["address"]
        for o in objects
        if o.get("kind") == "AnalysisTemplate"
        for metric in o["spec"]["metrics"]
    }
    if not addresses:
        return None
    (address,) = addresses
    parsed = urllib.parse.urlsplit(address)
    assert parsed.hostname and parsed.port, address
    service, namespace = parsed.hostname.split(".")[:2]
    return namespace, service, parsed.port


@contextmanager
def running_prometheus(
    api: ControlPlane,
    client: Any,
    service_monitors: list[dict[str, Any]],
    root: Path,
    port: int,
) -> Iterator[str]:
    """Prometheus at PROMETHEUS_ADDRESS:`port`, scraping what the ServiceMonitors select: the
    operator's scrape configs, their targets found by `kubernetes_sd`."""
    assert api.endpoints
    access = ApiAccess(
        server=api.endpoints.server,
        ca_file=str(api.pki.cert("ca")),
        cert_file=str(api.pki.cert("admin")),
        key_file=str(api.pki.key("admin")),
    )
    configs = scrape_configs(service_monitors, access)
    files: dict[str, list[str]] = {}
    for index, scrape in enumerate(configs):  # Debian's Prometheus has no Kubernetes SD
        (kubernetes_sd,) = scrape.pop("kubernetes_sd_configs")
        path = str(root / f"targets-{index}.json")
        files[path] = kubernetes_sd["namespaces"]["names"]
        scrape["file_sd_configs"] = [{"files": [path]}]
    root.mkdir(parents=True, exist_ok=True)
    discovery = EndpointsDiscovery(client, files)
    try:
        with prometheus_server(
            root, {"scrape_configs": configs}, address=PROMETHEUS_ADDRESS, port=port
        ) as url:
            yield url
    finally:
        discovery.stop()


def with_hosts(hosts: Path) -> list[str]:
    """A command prefix that runs the rest with `hosts` as its /etc/hosts (a mount namespace
    of its own), as a pod sees the cluster's Service names."""
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(hosts)]


@contextmanager
def progressive_delivery(
    api: ControlPlane, stack: FreshStack, objects: list[dict[str, Any]], root: Path
) -> Iterator[Delivery]:
    """Everything above, running until the block ends."""
    from kubernetes import config as kube_config

    client = kube_config.new_client_from_config(config_file=str(api.kubeconfig))
    chosen = delivery_objects(objects)
    asked = analysis_prometheus(objects)
    if asked is not None:
        stack.cluster.service_ips[asked[:2]] = PROMETHEUS_ADDRESS
    hosts = root / "controller-hosts"
    hosts.parent.mkdir(parents=True, exist_ok=True)
    hosts.write_text(stack.cluster.hosts_file("127.0.0.1", "rollouts-controller", "default"))
    api.kubectl("cordon", SIMULATED_NODE)  # its pods would never run: kwok only pretends
    with ExitStack() as running:
        running.enter_context(rollouts_controller(api, root / "argo", wrapper=with_hosts(hosts)))
        api.kubectl(
            "apply", "--server-side", "--field-manager=pulumi-kubernetes", "-f", "-",
            stdin=yaml.safe_dump_all(chosen),
        )  # fmt: skip
        node = ProcessNode(client, stack)
        node.start()
        running.callback(node.stop)
        prometheus_url = None
        if asked is not None:
            monitors = [o for o in chosen if o["kind"] == "ServiceMonitor"]
            prometheus_url = running.enter_context(
                running_prometheus(api, client, monitors, root / "prometheus", asked[2])
            )
        served = running.enter_context(gateway(client, stack.endpoints, GATEWAY_ADDRESS))
        yield Delivery(api, node, served, prometheus_url)
