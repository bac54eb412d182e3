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


def select_stack(project_dir: Path, stack: str, backend: Backend) -> Any:
    """The Automation API stack for `Pulumi.<stack>.yaml` in `project_dir` (created if new)."""
    from pulumi import automation as auto

    workspace = auto.LocalWorkspaceOptions(work_dir=str(project_dir), env_vars=backend.env())
    return auto.create_or_select_stack(stack_name=stack, work_dir=str(project_dir), opts=workspace)


def run_operation(
    operation: str, project_dir: Path, stack: str, on_output: Callable[[str], None]
) -> Any:
    """Run `up`, `preview` or `destroy` on the stack, streaming the engine's output."""
    backend = local_backend(project_dir)
    selected = select_stack(project_dir, stack, backend)
    if operation == "up":
        return selected.up(on_output=on_output)
    if operation == "preview":
        return selected.preview(on_output=on_output)
    if operation == "destroy":
        return selected.destroy(on_output=on_output)
    raise ValueError(f"unknown operation {operation!r}; allowed: up, preview, destroy")
