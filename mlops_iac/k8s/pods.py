"""Pure builders for pod and container fragments: labels, security, probes, env.

They return plain dicts in the Kubernetes API's camelCase, so components and tests share
one definition of "a well-formed pod" and the builders are testable without Pulumi.
"""

from __future__ import annotations

from typing import Any

import pulumi

MANAGED_BY = "mlops-iac"
RUNTIME_DEFAULT_SECCOMP = {"type": "RuntimeDefault"}
ZERO_DOWNTIME_ROLLOUT = {
    "type": "RollingUpdate",
    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
}
"""A Deployment strategy where a new pod is ready before an old one goes."""


def labels(app: str, component: str, instance: str, version: str | None = None) -> dict[str, str]:
    """The recommended `app.kubernetes.io/*` labels."""
    result = {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": "mlops-iac",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if version:
        result["app.kubernetes.io/version"] = version
    return result


def selector(app: str, instance: str) -> dict[str, str]:
    """The stable subset of `labels` used in selectors (selectors are immutable)."""
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": instance}


def pod_security_context(user: int, group: int | None = None) -> dict[str, Any]:
    """A pod securityContext that passes the `restricted` Pod Security Standard."""
    gid = user if group is None else group
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": gid,
        "fsGroup": gid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": RUNTIME_DEFAULT_SECCOMP,
    }


def container_security_context(read_only_root: bool = True) -> dict[str, Any]:
    """A container securityContext that passes the `restricted` Pod Security Standard."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": RUNTIME_DEFAULT_SECCOMP,
    }


def http_probe(
    path: str,
    port: int | str,
    *,
    period: int = 10,
    failures: int = 3,
    timeout: int = 5,
    initial_delay: int = 0,
) -> dict[str, Any]:
    """An HTTP GET probe."""
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": timeout,
    }
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    return probe


def exec_probe(command: list[str], *, period: int = 10, failures: int = 3) -> dict[str, Any]:
    """A probe that runs a command in the container."""
    return {
        "exec": {"command": command},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def env_value(name: str, value: pulumi.Input[str]) -> dict[str, Any]:
    """A plain env var. Never use it for a secret: see `env_secret`."""
    return {"name": name, "value": value}


def env_with_defaults(env: list[dict[str, Any]], *defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """`env`, then each of `defaults` whose name `env` does not set. A container's env is a
    list keyed by name: the API server's server-side apply refuses one that names a
    variable twice."""
    names = {variable["name"] for variable in env}
    return [*env, *(variable for variable in defaults if variable["name"] not in names)]


def env_secret(name: str, secret_name: pulumi.Input[str], key: str) -> dict[str, Any]:
    """An env var read from a Secret key, so the value never appears in the pod spec."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def scratch_volume(name: str, size: str = "256Mi") -> dict[str, Any]:
    """A size-limited emptyDir, for the writable paths of a read-only root filesystem."""
    return {"name": name, "emptyDir": {"sizeLimit": size}}


def spread_across_nodes(match: dict[str, str]) -> list[dict[str, Any]]:
    """Topology spread constraints that place replicas on different nodes where possible."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": match},
        }
    ]
