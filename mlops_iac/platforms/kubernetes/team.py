"""A team's share of a platform stack's cluster: its provider and the namespace the platform
made for it, with no data services of its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_iac.k8s.apis import ClusterApis
from mlops_iac.platforms.base import (
    BucketAccess,
    ClientNamespace,
    DatabaseConnection,
    RedisConnection,
    StackNamespaceMixin,
)
from mlops_iac.spec import KindTarget, KubernetesTarget, StackSpec

from .platform import provider_args


class TeamPlatform(StackNamespaceMixin, pulumi.ComponentResource):
    """The Kubernetes provider a team's stack deploys with (its own kubeconfig: the team's
    identity), into the namespace its platform stack made for it.

    The provider waits for the checked team entry (`read_team`), so when the platform stack
    does not know this team, or gives it another namespace, nothing at all is created."""

    def __init__(
        self,
        name: str,
        spec: StackSpec,
        team: pulumi.Output[Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:TeamPlatform", name, None, opts)
        target = spec.target
        if not isinstance(target, KindTarget | KubernetesTarget):
            raise TypeError(f"a team's stack cannot deploy a {target.kind!r} target yet")
        self._spec = spec
        self.provider = k8s.Provider(
            f"{name}-provider",
            namespace=team.apply(lambda entry: entry["namespace"]),
            opts=pulumi.ResourceOptions(parent=self),
            **provider_args(target),
        )
        self.apis = ClusterApis(target.preinstalled)
        self.register_outputs({"namespace": spec.namespace})

    @property
    def stack_outputs(self) -> dict[str, pulumi.Input[object]]:
        """None: the cluster and the namespace are the platform stack's."""
        return {}

    def child_options(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Parent and the team's provider (the namespace is the platform stack's)."""
        return pulumi.ResourceOptions(parent=parent, provider=self.provider)

    def stateful_options(self) -> pulumi.ResourceOptions:
        """None: a team's stack holds no data."""
        return pulumi.ResourceOptions()

    def database(self, name: str, client: ClientNamespace | None = None) -> DatabaseConnection:
        """Refused: a team's stack has no database (the spec keeps it from asking)."""
        raise _not_in_a_team_stack("a database")

    def redis(self) -> RedisConnection:
        """Refused: a team's stack has no Redis."""
        raise _not_in_a_team_stack("Redis")

    def bucket(self, name: str, client: ClientNamespace | None = None) -> BucketAccess:
        """Refused: a team's stack has no object store."""
        raise _not_in_a_team_stack(f"bucket {name!r}")

    def workload_identity(
        self,
        name: str,
        *,
        namespace: str,
        buckets: Sequence[BucketAccess],
        parent: pulumi.Resource,
        service_account: str | None = None,
    ) -> dict[str, Any]:
        """Nothing: a team's endpoints use no buckets."""
        return {}


def _not_in_a_team_stack(what: str) -> TypeError:
    return TypeError(
        f"{what} belongs to the platform stack: a team's stack has no data services of its own"
    )
