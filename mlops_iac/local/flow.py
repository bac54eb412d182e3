"""`mlops-iac up local` and `down local`, as a list of small steps.

Up: Docker must run; kind and the Pulumi CLI come from PATH or a verified download; the kind
cluster is created from the shipped config (or reused); the runtime image is built and
loaded into it (unless `--no-build`); `pulumi up` runs through the Automation API on the
local file backend; a preview afterwards must show no changes; the stack's URLs are printed.
Down: `pulumi destroy` (protected data makes it refuse; retained data stays in the cluster
unless `--delete-data`), then optionally the cluster.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from mlops_iac import runtime_image
from mlops_iac.local import cluster, image, tools
from mlops_iac.local.process import CommandFailed, Runner, run_checked, subprocess_runner
from mlops_iac.spec import KindTarget, StackSpec

DOCKER_INSTALL = "https://docs.docker.com/get-started/get-docker/"
EXIT_OK, EXIT_FAILED, EXIT_PREREQUISITES = 0, 1, 3


class Deployer(Protocol):
    """Runs a Pulumi operation (`up`, `preview`, `destroy`) on the stack; returns a summary
    with `changes` (resource changes other than `same`) and `outputs`."""

    def __call__(self, operation: str, pulumi_root: Path | None) -> dict[str, Any]: ...


class LocalError(RuntimeError):
    """A step cannot go on; the message says why and what to do."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Context:
    """What every step uses: the spec, the folder, the process boundary and the output."""

    spec: StackSpec
    program_dir: Path
    runner: Runner = subprocess_runner
    which: Callable[[str], str | None] = shutil.which
    download: tools.Downloader = tools.http_download
    cache: Path = tools.CACHE
    console: Console = field(default_factory=Console)

    @property
    def target(self) -> KindTarget:
        target = self.spec.target
        if not isinstance(target, KindTarget):
            raise LocalError(f"stack {self.spec.name!r} targets {target.kind!r}, not kind")
        return target

    @property
    def state_dir(self) -> Path:
        return self.program_dir.resolve() / ".pulumi-state"

    @property
    def image_context(self) -> Path:
        """Where the runtime image's build context is written (from the installed package)."""
        return self.program_dir.resolve() / ".mlops-iac" / "runtime-image"


def require_docker(ctx: Context) -> str:
    """The docker client, with a running engine; else exit 3 with where to get it."""
    docker = ctx.which("docker")
    if docker is None:
        raise LocalError(
            f"Docker is not installed: kind runs the cluster in Docker. Install it: "
            f"{DOCKER_INSTALL} (offline, `mlops-iac synth . --stack {ctx.spec.name}` renders "
            "the stack instead)",
            EXIT_PREREQUISITES,
        )
    info = ctx.runner([docker, "info", "--format", "{{.ServerVersion}}"], timeout=30)
    if info.returncode != 0:
        reason = (info.stderr or info.stdout).strip().splitlines()[-1:] or ["no answer"]
        raise LocalError(
            f"the Docker engine does not answer ({reason[0]}); start Docker Desktop or the "
            "docker service and try again",
            EXIT_PREREQUISITES,
        )
    return docker


def require_tools(ctx: Context, install: bool) -> tuple[Path, Path]:
    """kind and the Pulumi CLI (downloaded and verified when missing, unless not `install`)."""
    found = []
    for tool in (tools.KIND, tools.PULUMI):
        try:
            found.append(
                tools.ensure_tool(
                    tool,
                    install=install,
                    which=ctx.which,
                    download=ctx.download,
                    cache=ctx.cache,
                    say=ctx.console.print,
                )
            )
        except tools.ToolError as error:
            raise LocalError(str(error), EXIT_PREREQUISITES) from None
    return found[0], found[1]


def pulumi_root(pulumi: Path) -> Path | None:
    """The folder whose `bin/pulumi` the Automation API runs; None for a CLI found on PATH
    outside a `bin/` folder (the Automation API then finds the same one on PATH)."""
    return pulumi.parent.parent if pulumi.parent.name == "bin" else None


def prepare_image(ctx: Context, docker: str, kind: Path, build: bool) -> str:
    """Build and load the runtime image, or (`--no-build`) leave it to the cluster to pull."""
    tag = ctx.spec.runtime_image
    if not build:
        ctx.console.print(f"not building {tag}: the nodes must be able to pull it")
        return tag
    context = runtime_image.write_context(ctx.image_context)
    ctx.console.print(f"building {tag} from {context} (first build takes several minutes)")
    image.build_image(docker, tag, context, ctx.runner)
    image.load_image(kind, tag, ctx.target.cluster, ctx.runner)
    return tag


def urls_table(outputs: dict[str, Any]) -> Table:
    """Every URL output of the stack."""
    table = Table("what", "URL")
    for key, value in sorted(outputs.items()):
        if isinstance(value, str) and value.startswith("http") and key.endswith("url"):
            table.add_row(key.removesuffix("_url").replace("_", " "), value)
    return table


def up_local(ctx: Context, deploy: Deployer, *, install: bool = True, build: bool = True) -> int:
    """The whole `up local`; an exit code (0 ok, 1 failed, 3 prerequisites missing)."""
    try:
        docker = require_docker(ctx)
        kind, pulumi = require_tools(ctx, install)
        name = ctx.target.cluster
        created = cluster.ensure_cluster(kind, name, 0, ctx.state_dir, ctx.runner)
        ctx.console.print(f"kind cluster {name!r} {'created' if created else 'reused'}")
        prepare_image(ctx, docker, kind, build)
        root = pulumi_root(pulumi)
        result = deploy("up", root)
        again = deploy("preview", root)
    except (LocalError, CommandFailed) as error:
        ctx.console.print(f"[bold red]up local failed[/]: {error}", highlight=False)
        return error.code if isinstance(error, LocalError) else EXIT_FAILED
    if again["changes"]:
        ctx.console.print(f"[yellow]a second preview still plans changes: {again['changes']}[/]")
    else:
        ctx.console.print("a second preview plans no changes")
    ctx.console.print(urls_table(result["outputs"]))
    ctx.console.print(
        "first prediction: `mlops-iac train demo --stack local`, then add an endpoint serving "
        "models:/demo@champion and POST to /v2/models/<endpoint>/infer"
    )
    return EXIT_OK


def down_local(
    ctx: Context, deploy: Deployer, *, delete_data: bool = False, delete_cluster: bool = False
) -> int:
    """The whole `down local`."""
    try:
        kind, pulumi = require_tools(ctx, install=True)
        root = pulumi_root(pulumi)
        if delete_data:
            deploy("unprotect", root)
            deploy("destroy", root)
        else:
            deploy("down", root)
        if delete_data and not delete_cluster:
            namespaces = [ctx.spec.namespace, ctx.spec.training_namespace]
            run_checked(
                ctx.runner,
                ["kubectl", "--context", ctx.target.context, "delete", "namespace",
                 "--ignore-not-found", *namespaces],
            )  # fmt: skip
        elif not delete_data:
            ctx.console.print(
                "data resources were kept (profile data protection); `--delete-data` removes "
                "them too"
            )
        if delete_cluster:
            cluster.delete_cluster(kind, ctx.target.cluster, ctx.runner)
            ctx.console.print(f"kind cluster {ctx.target.cluster!r} deleted")
    except (LocalError, CommandFailed) as error:
        ctx.console.print(f"[bold red]down local failed[/]: {error}", highlight=False)
        return error.code if isinstance(error, LocalError) else EXIT_FAILED
    return EXIT_OK
