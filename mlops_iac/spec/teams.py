"""Teams: a platform stack that gives each team a namespace, and a team's own stack in it.

A platform team deploys the cluster's shared services (registry, data services, monitoring,
the Gateway) and lists the teams under `teams`. Each team deploys its endpoints from its
own Pulumi stack, which names the platform stack under `platform` and reads what it needs
through a Pulumi `StackReference`.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from .types import Dns1123Label, Quantity, SpecModel

GROUP_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._@-]{0,252}$")
STACK_PATTERN = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,2}$")


class TeamQuota(SpecModel):
    """The most a team's namespace may request at once (a ResourceQuota the team cannot
    change)."""

    cpu: Quantity = Field(default="4", description="CPU for all the team's pods together.")
    memory: Quantity = Field(default="8Gi", description="Memory for all the team's pods.")
    pods: int = Field(default=50, ge=1, le=10000, description="How many pods may exist.")


class TeamSpec(SpecModel):
    """One team's namespace, made by the platform stack: Pod Security `restricted`,
    default-deny network, a quota, the network paths to the platform's registry and Gateway,
    and a Role that lets the team's group manage its endpoints there and nowhere else."""

    name: Dns1123Label = Field(description="Team name; the platform stack's `teams` output key.")
    namespace: Dns1123Label | None = Field(
        default=None, description="The team's namespace; `<stack namespace>-<name>` when unset."
    )
    group: str | None = Field(
        default=None,
        description="The Kubernetes group (a client certificate's organisation, or what the "
        "cluster's authenticator maps an identity to) whose members deploy the team's stack; "
        "`mlops-iac:team:<name>` when unset.",
    )
    quota: TeamQuota = Field(default_factory=TeamQuota, description="The namespace's quota.")

    @field_validator("group")
    @classmethod
    def _group_name(cls, group: str | None) -> str | None:
        if group is not None and not GROUP_PATTERN.fullmatch(group):
            raise ValueError(
                f"{group!r} is not a group name: letters, digits and ':._@-', at most 253"
            )
        return group

    @property
    def group_name(self) -> str:
        """`group`, or `mlops-iac:team:<name>`."""
        return self.group or f"mlops-iac:team:{self.name}"


class PlatformReference(SpecModel):
    """The platform stack a team's stack deploys into (read through a `StackReference`)."""

    stack: str = Field(
        description="The platform stack's name as `pulumi stack ls` shows it: "
        "`<organization>/<project>/<stack>` (or `<project>/<stack>`, or `<stack>` in the "
        "same project)."
    )
    team: Dns1123Label = Field(description="Which of the platform's `teams` this stack is.")

    @field_validator("stack")
    @classmethod
    def _stack_name(cls, stack: str) -> str:
        if not STACK_PATTERN.fullmatch(stack):
            raise ValueError(
                f"{stack!r} is not a stack name: `<organization>/<project>/<stack>`, with "
                "letters, digits and '._-' in each part"
            )
        return stack
