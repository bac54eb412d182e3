"""What a team's stack reads from its platform stack, through a Pulumi `StackReference`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from mlops_iac.spec import CONFIG_NAMESPACE, SpecError, StackSpec

TEAMS_OUTPUT = "teams"
"""The platform stack's output: each team's `TeamNamespace.reference`, by team name."""


@dataclass(frozen=True)
class RegistryReference:
    """The platform's registry as a team's endpoints use it. The network path from the
    team's endpoint pods to it is the platform stack's (`TeamNamespace`), not theirs."""

    tracking_uri: pulumi.Output[str]
    """The registry's in-cluster tracking URI."""


def team_entry(teams: Mapping[str, Any] | None, spec: StackSpec) -> dict[str, Any]:
    """This stack's entry in the platform stack's `teams` output, checked against the spec:
    a spec error naming the field when the platform has no such team, or gives it another
    namespace or Gateway than the spec says."""
    platform = spec.platform
    if platform is None:
        raise ValueError("team_entry is for a team's stack (a spec with `platform`)")
    entry = dict((teams or {}).get(platform.team) or {})
    if not entry:
        known = ", ".join(sorted(teams or {})) or "none"
        raise SpecError.single(
            f"{CONFIG_NAMESPACE}:platform.team",
            f"the platform stack {platform.stack!r} has no team {platform.team!r} in its "
            f"`{TEAMS_OUTPUT}` output; its teams: {known}",
            platform.team,
        )
    if entry.get("namespace") != spec.namespace:
        raise SpecError.single(
            f"{CONFIG_NAMESPACE}:namespace",
            f"the platform gives team {platform.team} the namespace {entry.get('namespace')!r}: "
            "a team's stack deploys there and nowhere else",
            spec.namespace,
        )
    gateway = entry.get("gateway") or {}
    routing = spec.routing
    if routing.mode == "gateway" and (
        gateway.get("name") != routing.gateway_name
        or gateway.get("namespace") != routing.gateway_namespace
    ):
        raise SpecError.single(
            f"{CONFIG_NAMESPACE}:routing",
            f"the platform's Gateway is {gateway.get('namespace')}/{gateway.get('name')}: set "
            "routing.gateway_namespace and routing.gateway_name to it",
            f"{routing.gateway_namespace}/{routing.gateway_name}",
        )
    return entry


def read_team(name: str, spec: StackSpec, opts: pulumi.ResourceOptions) -> pulumi.Output[Any]:
    """This team's checked entry, read from the platform stack (`spec.platform.stack`)."""
    assert spec.platform is not None
    reference = pulumi.StackReference(
        f"{name}-platform-stack", stack_name=spec.platform.stack, opts=opts
    )
    return reference.require_output(TEAMS_OUTPUT).apply(lambda teams: team_entry(teams, spec))
