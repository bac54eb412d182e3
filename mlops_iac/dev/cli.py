"""`mlops-iac dev controlplane up|down|env`: a local control plane for real `pulumi up` runs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

DEFAULT_ROOT = Path(".controlplane")

dev_app = typer.Typer(help="Developer tools.", no_args_is_help=True, rich_markup_mode=None)
controlplane_app = typer.Typer(
    help="A local kube-apiserver + etcd + controllers + kwok on 127.0.0.1 (no Docker).",
    short_help="A local control plane on 127.0.0.1 (no Docker).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
dev_app.add_typer(controlplane_app, name="controlplane")
errors = Console(stderr=True, soft_wrap=True)

RootOption = Annotated[
    Path, typer.Option("--root", help="Folder for the control plane's state and logs.")
]


@controlplane_app.command("up", short_help="Start the control plane; print its environment.")
def up(
    root: RootOption = DEFAULT_ROOT,
    build: Annotated[bool, typer.Option(help="Build missing binaries (Go, ~15 min cold).")] = True,
) -> None:
    """Start the control plane and print the environment to use it (as `export` lines)."""
    _require_dev_extra()
    from .controlplane import ControlPlane, ControlPlaneError, find_binaries

    try:
        plane = ControlPlane(root, find_binaries(build=build))
        plane.start()
    except ControlPlaneError as error:
        errors.print(f"[bold red]control plane:[/] {error}", highlight=False)
        raise typer.Exit(1) from error
    _print_env(plane.env())


@controlplane_app.command("env", short_help="Print the running control plane's environment.")
def env(root: RootOption = DEFAULT_ROOT) -> None:
    """Print the environment of the running control plane (as `export` lines)."""
    _require_dev_extra()
    from .controlplane import ControlPlaneError, attach, find_binaries

    try:
        _print_env(attach(root, find_binaries()).env())
    except ControlPlaneError as error:
        errors.print(f"[bold red]control plane:[/] {error}", highlight=False)
        raise typer.Exit(1) from error


@controlplane_app.command("down", short_help="Stop the control plane, delete its state.")
def down(root: RootOption = DEFAULT_ROOT) -> None:
    """Stop the control plane and delete its state."""
    _require_dev_extra()
    from .controlplane import stop

    if not stop(root):
        errors.print(f"no control plane was running from {root}")


def _require_dev_extra() -> None:
    """Exit 2 with one line when the dev extra is missing (the PKI needs cryptography)."""
    from mlops_iac.extras import message, missing_modules

    missing = missing_modules("dev")
    if missing:
        errors.print(message("dev", "mlops-iac dev controlplane", missing), markup=False)
        raise typer.Exit(2)


def _print_env(variables: dict[str, str]) -> None:
    for key, value in variables.items():
        print(f"export {key}={shlex.quote(value)}")
