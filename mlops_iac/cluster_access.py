"""A Kubernetes API client for a stack's cluster, from the command line's flags or the stack's
target (the commands that act on a deployed stack: `train`, `rollout`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlops_iac.spec import AwsTarget, KindTarget, StackSpec

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class ClusterUnreachable(Exception):
    """No usable kubeconfig for the stack's cluster; the message says why."""


def kube_context(spec: StackSpec, context: str | None) -> str | None:
    """The kubeconfig context for the stack: the flag, else the target's."""
    if context:
        return context
    target = spec.target
    if isinstance(target, KindTarget):
        return target.context
    if isinstance(target, AwsTarget):
        return None
    return target.context


def api_client(spec: StackSpec, *, context: str | None, kubeconfig: Path | None) -> ApiClient:
    """A client for the stack's cluster: `kubeconfig` (else the target's, else the default
    file) at `context` (else the target's)."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    if kubeconfig is None and not isinstance(spec.target, KindTarget | AwsTarget):
        kubeconfig = Path(spec.target.kubeconfig) if spec.target.kubeconfig else None
    try:
        return config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None,
            context=kube_context(spec, context),
        )
    except (ConfigException, OSError) as error:
        raise ClusterUnreachable(f"cannot reach the stack's cluster: {error}") from error
