"""What `mlops-iac rollout status|promote|abort|retry ENDPOINT` does: read or steer an
endpoint's Argo Rollouts Rollout, with the same patches the controller's own kubectl plugin
sends (argo-rollouts v1.10.2 pkg/kubectl-argo-rollouts/cmd/{promote,abort,retry})."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from mlops_iac.components.rollout_specs import MODEL_VERSION_ANNOTATION, ROLLOUT_API
from mlops_iac.spec import StackSpec

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
GROUP, VERSION = ROLLOUT_API.split("/")


def promote_patch(rollout: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    """The status patch that moves a rollout on: past its pause (or its current step), or
    with `full` straight to 100% (skipping steps and analysis)."""
    status = rollout.get("status") or {}
    if full:
        return {"status": {"promoteFull": True}}
    if status.get("pauseConditions"):
        return {"status": {"pauseConditions": None}}
    steps = rollout["spec"]["strategy"]["canary"].get("steps") or []
    index = min(int(status.get("currentStepIndex") or 0) + 1, len(steps))
    return {"status": {"pauseConditions": None, "currentStepIndex": index}}


ABORT_PATCH = {"status": {"abort": True}}
"""Send every request back to the stable version and scale the new one away."""
RETRY_PATCH = {"status": {"abort": False}}
"""Start the aborted revision's steps again."""


def describe(rollout: dict[str, Any], pinned: str | None) -> list[str]:
    """Lines for `status`: phase, step, weights' target, revisions and the pinned version."""
    status = rollout.get("status") or {}
    steps = rollout["spec"]["strategy"]["canary"].get("steps") or []
    weight = (status.get("canary") or {}).get("weights", {}).get("canary", {}).get("weight")
    lines = [
        f"phase: {status.get('phase', 'unknown')}"
        + (f" ({status['message']})" if status.get("message") else ""),
        f"step: {status.get('currentStepIndex', 0)} of {len(steps)}",
        f"stable revision: {status.get('stableRS', '-')}, "
        f"new revision: {status.get('currentPodHash', '-')}",
        f"model version pinned on the template: {pinned or 'none yet (pods follow the alias)'}",
    ]
    if weight is not None:
        lines.insert(2, f"new revision's share of requests: {weight}%")
    if status.get("abort"):
        lines.append("aborted: the stable revision serves every request (`retry` starts again)")
    return lines


def run(
    spec: StackSpec,
    action: str,
    endpoint: str,
    *,
    full: bool,
    context: str | None,
    kubeconfig: Path | None,
    console: Console,
) -> int:
    """Do `action` (status, promote, abort, retry) on the endpoint's Rollout."""
    errors = Console(stderr=True, soft_wrap=True)
    rolled = [e.name for e in spec.rolled_endpoints]
    if endpoint not in rolled:
        allowed = ", ".join(rolled) or "none"
        errors.print(
            f"endpoint {endpoint!r} of stack {spec.name!r} has no `rollout`; "
            f"endpoints with one: {allowed}",
            markup=False,
        )
        return EXIT_USAGE
    from kubernetes import client

    from mlops_iac.cluster_access import ClusterUnreachable, api_client

    try:
        api = api_client(spec, context=context, kubeconfig=kubeconfig)
    except ClusterUnreachable as error:
        errors.print(str(error), markup=False)
        return EXIT_USAGE
    objects, apps = client.CustomObjectsApi(api), client.AppsV1Api(api)
    namespace = spec.namespace
    try:
        rollout = objects.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "rollouts", endpoint
        )
        if action != "status":
            patch = {
                "promote": lambda: promote_patch(rollout, full=full),
                "abort": lambda: ABORT_PATCH,
                "retry": lambda: RETRY_PATCH,
            }[action]()
            rollout = objects.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, "rollouts", endpoint, patch
            )
            console.print(f"{action}: {namespace}/{endpoint}", markup=False)
        template = apps.read_namespaced_deployment(endpoint, namespace).spec.template.metadata
        pinned = (template.annotations or {}).get(MODEL_VERSION_ANNOTATION)
    except Exception as error:  # ApiException/urllib3: an unreachable or refusing cluster
        errors.print(f"the Kubernetes API refused or did not answer: {error}", markup=False)
        return EXIT_FAILED
    for line in describe(rollout, pinned):
        console.print(line, markup=False)
    return EXIT_OK
