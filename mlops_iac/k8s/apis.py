"""Which custom-resource APIs a cluster serves, and what the stack must wait for before it
creates an object of one.

A custom resource created before its CRD is served fails ("no matches for kind"); the
provider retries a few times, so an unordered stack may pass by luck on a fast cluster and
fail on a slow one. So every custom resource the stack declares goes through
`ClusterApis.ready`, which returns the resources that install its API group (a Helm release
that ships the CRDs) to depend on, and refuses an API that nothing installs and the target
does not declare as already there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac.spec.target import PreinstalledApi

API_GROUPS: dict[PreinstalledApi, tuple[str, ...]] = {
    "gateway-api": ("gateway.networking.k8s.io",),
    "envoy-gateway": ("gateway.envoyproxy.io",),
    "prometheus-operator": ("monitoring.coreos.com",),
    "kserve": ("serving.kserve.io",),
    "kueue": ("kueue.x-k8s.io",),
    "argo-rollouts": ("argoproj.io",),
}
"""The API groups each declarable API brings."""
GROUP_APIS: dict[str, PreinstalledApi] = {
    group: api for api, groups in API_GROUPS.items() for group in groups
}
"""API group -> the declarable API it belongs to."""

CHART_APIS: dict[str, tuple[PreinstalledApi, ...]] = {
    "gateway-helm": ("gateway-api", "envoy-gateway"),
    "kube-prometheus-stack": ("prometheus-operator",),
    "kueue": ("kueue",),
    "argo-rollouts": ("argo-rollouts",),
}
"""The APIs whose CRDs each chart the stack installs ships (as CRDs or templates)."""


class ApiNotInstalled(ValueError):
    """The stack would create a custom resource of an API that nothing serves."""


def api_group(api_version: str) -> str:
    """`monitoring.coreos.com` for `monitoring.coreos.com/v1`; `` for the core `v1`."""
    return api_version.rpartition("/")[0]


class ClusterApis:
    """The custom-resource APIs of one cluster: declared as already served by the target, or
    installed by a resource of the stack (which objects of that API then depend on)."""

    def __init__(self, preinstalled: Iterable[PreinstalledApi] = ()) -> None:
        self._preinstalled = {group for api in preinstalled for group in API_GROUPS[api]}
        self._installers: dict[str, list[pulumi.Resource]] = {}

    def install(self, chart: str, installer: pulumi.Resource) -> None:
        """Record that `installer` (a release of `chart`) brings the chart's APIs."""
        for api in CHART_APIS[chart]:
            for group in API_GROUPS[api]:
                self._installers.setdefault(group, []).append(installer)

    def serves(self, api_version: str) -> bool:
        """Whether objects of this API version can be created in this stack."""
        group = api_group(api_version)
        return group in self._preinstalled or group in self._installers

    def ready(self, api_version: str, kind: str) -> list[pulumi.Resource]:
        """What an object of `api_version` must depend on: the resources installing its API
        group (none when the target declares it already served); ApiNotInstalled if nothing
        serves it."""
        group = api_group(api_version)
        if group in self._installers:
            return list(self._installers[group])
        if group in self._preinstalled:
            return []
        declarable = GROUP_APIS.get(group)
        hint = (
            f"add {declarable!r} to target.preinstalled if the cluster already serves it"
            if declarable
            else "nothing in this stack installs it"
        )
        raise ApiNotInstalled(
            f"the stack would create a {kind} ({api_version}), but no part of it installs the "
            f"{group} API: {hint}"
        )

    def custom_resource(
        self,
        pulumi_name: str,
        *,
        api_version: str,
        kind: str,
        metadata: dict[str, Any],
        spec: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        """A custom resource created after what installs its API (see `ready`)."""
        after = pulumi.ResourceOptions(depends_on=self.ready(api_version, kind))
        return k8s.apiextensions.CustomResource(
            pulumi_name,
            api_version=api_version,
            kind=kind,
            metadata=metadata,
            spec=spec,
            opts=pulumi.ResourceOptions.merge(opts, after),
        )
