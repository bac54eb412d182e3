"""`up`, `preview` and `destroy` through the Pulumi Automation API, on a local file backend."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_DIR_NAME = ".pulumi-state"
PASSPHRASE_FILE = "passphrase"


@dataclass(frozen=True)
class Backend:
    """Where state lives and how its secrets are encrypted."""

    url: str
    passphrase: str

    def env(self) -> dict[str, str]:
        """Environment for the Pulumi CLI."""
        return {
            "PULUMI_BACKEND_URL": self.url,
            "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }


def local_backend(project_dir: Path, environ: dict[str, str] | None = None) -> Backend:
    """A file backend in `<project>/.pulumi-state`, unless PULUMI_BACKEND_URL says otherwise.

    The passphrase comes from PULUMI_CONFIG_PASSPHRASE, or is generated once and kept in
    `.pulumi-state/passphrase` with mode 0600.
    """
    env = os.environ if environ is None else environ
    state_dir = project_dir.resolve() / STATE_DIR_NAME
    url = env.get("PULUMI_BACKEND_URL") or f"file://{state_dir}"
    passphrase = env.get("PULUMI_CONFIG_PASSPHRASE")
    if passphrase is None:
        passphrase = _stored_passphrase(state_dir)
    return Backend(url, passphrase)


def _stored_passphrase(state_dir: Path) -> str:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / PASSPHRASE_FILE
    if path.exists():
        return path.read_text().strip()
    passphrase = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(passphrase + "\n")
    return passphrase


def select_stack(
    project_dir: Path, stack: str, backend: Backend, pulumi_root: Path | None = None
) -> Any:
    """The Automation API stack for `Pulumi.<stack>.yaml` in `project_dir` (created if new),
    driven by the CLI in `<pulumi_root>/bin` (else the one on PATH)."""
    from pulumi import automation as auto

    command = auto.PulumiCommand(root=str(pulumi_root)) if pulumi_root else None
    workspace = auto.LocalWorkspaceOptions(
        work_dir=str(project_dir), env_vars=backend.env(), pulumi_command=command
    )
    return auto.create_or_select_stack(stack_name=stack, work_dir=str(project_dir), opts=workspace)


def kept_with_data(resources: list[dict[str, Any]]) -> set[str]:
    """URNs a data-keeping teardown leaves in place: every resource of the exported state
    with `protect` or `retainOnDelete`, and everything it needs to stay managed (its
    dependencies, parents and providers, transitively)."""
    by_urn = {resource["urn"]: resource for resource in resources}
    pending = [r["urn"] for r in resources if r.get("protect") or r.get("retainOnDelete")]
    kept: set[str] = set()
    while pending:
        urn = pending.pop()
        if urn in kept or urn not in by_urn:
            continue
        kept.add(urn)
        resource = by_urn[urn]
        pending += resource.get("dependencies", [])
        for urns in resource.get("propertyDependencies", {}).values():
            pending += urns
        if resource.get("parent"):
            pending.append(resource["parent"])
        if resource.get("provider"):
            pending.append(resource["provider"].rsplit("::", 1)[0])
    return kept


def teardown_targets(resources: list[dict[str, Any]]) -> list[str]:
    """What `down` destroys: every resource but the stack itself and what `kept_with_data`
    keeps (so a later `up` finds the data, its Secrets and its volumes still under
    management, and changes nothing in them)."""
    kept = kept_with_data(resources)
    return [
        r["urn"] for r in resources if r["urn"] not in kept and r["type"] != "pulumi:pulumi:Stack"
    ]


def down_keeping_data(stack: Any, on_output: Callable[[str], None]) -> int:
    """Destroy everything in the stack but its data (see `teardown_targets`); how many
    resources were destroyed."""
    resources = stack.export_stack().deployment.get("resources", [])
    targets = teardown_targets(resources)
    if targets:
        stack.destroy(target=targets, on_output=on_output)
    return len(targets)


def unprotect_all(stack: Any) -> int:
    """Lift `protect` and `retainOnDelete` from every resource in the stack's state (for
    `down --delete-data`: a destroy then deletes the data too); how many had either."""
    from pulumi import automation as auto

    deployment = stack.export_stack()
    resources = deployment.deployment.get("resources", [])
    lifted = 0
    for resource in resources:
        guarded = resource.pop("protect", False) | resource.pop("retainOnDelete", False)
        lifted += bool(guarded)
    stack.import_stack(
        auto.Deployment(version=deployment.version, deployment=deployment.deployment)
    )
    return lifted


def automation_deployer(
    project_dir: Path, stack: str, on_output: Callable[[str], None]
) -> Callable[[str, Path | None], dict[str, Any]]:
    """A Deployer for the local flow: each operation through the Automation API with the
    given CLI, summarized as `changes` (operations other than `same`) and `outputs`
    (secrets shown as `[secret]`)."""

    def deploy(operation: str, pulumi_root: Path | None) -> dict[str, Any]:
        selected = select_stack(project_dir, stack, local_backend(project_dir), pulumi_root)
        if operation == "unprotect":
            return {"changes": {"unprotected": unprotect_all(selected)}, "outputs": {}}
        if operation == "down":
            return {"changes": {"delete": down_keeping_data(selected, on_output)}, "outputs": {}}
        if operation == "preview":
            summary = selected.preview(on_output=on_output).change_summary
            return {"changes": _changes(summary), "outputs": {}}
        result = run_operation_on(selected, operation, on_output)
        outputs = (
            {
                key: "[secret]" if value.secret else value.value
                for key, value in result.outputs.items()
            }
            if operation == "up"
            else {}
        )
        return {"changes": _changes(result.summary.resource_changes or {}), "outputs": outputs}

    return deploy


def _changes(summary: dict[str, int]) -> dict[str, int]:
    return {str(op): count for op, count in summary.items() if str(op) != "same" and count}


def run_operation(
    operation: str, project_dir: Path, stack: str, on_output: Callable[[str], None]
) -> Any:
    """Run `up`, `preview` or `destroy` on the stack, streaming the engine's output."""
    backend = local_backend(project_dir)
    return run_operation_on(select_stack(project_dir, stack, backend), operation, on_output)


def run_operation_on(selected: Any, operation: str, on_output: Callable[[str], None]) -> Any:
    """`up`, `preview` or `destroy` on an Automation API stack."""
    if operation == "up":
        return selected.up(on_output=on_output)
    if operation == "preview":
        return selected.preview(on_output=on_output)
    if operation == "destroy":
        return selected.destroy(on_output=on_output)
    raise ValueError(f"unknown operation {operation!r}; allowed: up, preview, destroy")
