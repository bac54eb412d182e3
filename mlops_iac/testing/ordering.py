"""Whether every custom resource of a synthesized stack waits for what installs its CRD.

On an empty cluster an object whose kind is not served yet fails ("no matches for kind");
Pulumi's Kubernetes provider retries a few times, so an unordered stack can pass by luck.
`unordered_custom_resources` finds each custom resource with no dependency path (its own
`depends_on`, transitively, components standing for all their children) to a Helm release
whose chart ships its API, unless the target declares that API already served.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from mlops_iac import charts
from mlops_iac.k8s.apis import API_GROUPS, CHART_APIS, GROUP_APIS, api_group
from mlops_iac.spec.target import PreinstalledApi

from .mocks import Registration

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


def chart_of(release: Registration) -> str | None:
    """The pinned chart a Helm release installs (by name, OCI reference or local folder)."""
    reference = str(release.inputs.get("chart", ""))
    last = PurePosixPath(reference.rstrip("/")).name
    for chart in charts.ALL:
        if last in (chart.name, chart.folder_name):
            return chart.name
    return None


def resource_group(registration: Registration) -> str | None:
    """The API group of a custom resource (`monitoring.coreos.com`), else None."""
    if not registration.custom or not registration.type.startswith("kubernetes:"):
        return None
    api_version = registration.type.split(":")[1]
    group = api_group(api_version)
    return group if group in GROUP_APIS else None


def dependency_closure(resources: Iterable[Registration], start: Registration) -> set[str]:
    """Every URN `start` waits for: its `depends_on`, transitively, with each component
    dependency standing for all its descendants."""
    by_urn = {r.urn: r for r in resources}
    children: dict[str, list[str]] = {}
    for r in by_urn.values():
        if r.parent:
            children.setdefault(r.parent, []).append(r.urn)
    seen: set[str] = set()
    pending = list(start.depends_on)
    while pending:
        urn = pending.pop()
        if urn in seen:
            continue
        seen.add(urn)
        pending.extend(children.get(urn, []))
        found = by_urn.get(urn)
        if found is not None:
            pending.extend(found.depends_on)
    return seen


def unordered_custom_resources(
    resources: list[Registration], preinstalled: Iterable[PreinstalledApi] = ()
) -> list[str]:
    """One line per custom resource that does not wait for a release serving its API."""
    served = {group for api in preinstalled for group in API_GROUPS[api]}
    installers: dict[str, set[str]] = {}
    for release in (r for r in resources if r.type == RELEASE_TYPE):
        chart = chart_of(release)
        for api in CHART_APIS.get(chart or "", ()):
            for group in API_GROUPS[api]:
                installers.setdefault(group, set()).add(release.urn)
    problems = []
    for registration in resources:
        custom_group = resource_group(registration)
        if custom_group is None or custom_group in served:
            continue
        waits_for = dependency_closure(resources, registration) & installers.get(
            custom_group, set()
        )
        if not waits_for:
            problems.append(
                f"{registration.urn} ({custom_group}) waits for no release that installs its API"
            )
    return problems
