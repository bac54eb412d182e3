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
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlops_iac import runtime_image
from mlops_iac.local import cluster, image, tools
from mlops_iac.local.next_steps import next_steps, url_rows
from mlops_iac.local.process import (
    CommandFailed,
    Completed,
    LineSink,
    Runner,
    run_checked,
    subprocess_runner,
)
from mlops_iac.spec import KindTarget, StackSpec

DOCKER_INSTALL = "https://docs.docker.com/get-started/get-docker/"
EXIT_OK, EXIT_FAILED, EXIT_PREREQUISITES = 0, 1, 3
FAILURE_LINES = 20
"""How many of a failed step's last output lines are shown (the whole output is logged)."""


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
    stack: str = ""
    """The Pulumi stack name (`Pulumi.<stack>.yaml`); the spec's name when empty."""
    runner: Runner = subprocess_runner
    which: Callable[[str], str | None] = shutil.which
    download: tools.Downloader = tools.http_download
    cache: Path = tools.CACHE
    console: Console = field(default_factory=Console)

    def __post_init__(self) -> None:
        self.stack = self.stack or self.spec.name

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

    @property
    def log_dir(self) -> Path:
        """Where each long step's whole output is kept."""
        return self.program_dir.resolve() / ".mlops-iac" / "logs"


@dataclass
class Step:
    """One long step under way: its Runner, and what to say of it when done."""

    run: Runner
    outcome: str = ""
    """Said after the title when the step is done (e.g. `created`, `reused`)."""


@contextmanager
def long_step(ctx: Context, title: str, log_name: str) -> Iterator[Step]:
    """A Runner for one long step (kind create, docker build, kind load): a spinner shows
    each output line as it comes, the whole output goes to `.mlops-iac/logs/<log_name>.log`,
    and the step ends with its time, or fails with its last lines and the log's path."""
    log = ctx.log_dir / f"{log_name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w") as sink, ctx.console.status(escape(title)) as status:

        def show(line: str) -> None:
            sink.write(line + "\n")
            if line.strip():
                status.update(f"{escape(title)}: [dim]{escape(line.strip()[:100])}[/]")

        def streaming(
            args: Sequence[str],
            *,
            input: str | None = None,
            timeout: float = 900,
            on_line: LineSink | None = None,
        ) -> Completed:
            sink.write(f"$ {' '.join(args)}\n")
            return ctx.runner(args, input=input, timeout=timeout, on_line=on_line or show)

        step = Step(streaming)
        try:
            yield step
        except CommandFailed as error:
            result = error.result
            tail = (result.stdout + result.stderr).strip().splitlines()[-FAILURE_LINES:]
            shown = "\n".join(f"    {line}" for line in tail)
            raise LocalError(
                f"{title}: `{' '.join(error.args_run)}` exited {result.returncode}\n{shown}\n"
                f"  the whole output: {log}"
            ) from None
    outcome = f": {step.outcome}" if step.outcome else ""
    elapsed = time.monotonic() - started
    ctx.console.print(f"[green]✓[/] {escape(title + outcome)} ({elapsed:.0f} s)", highlight=False)


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


def require_tool(ctx: Context, tool: tools.PinnedTool, install: bool) -> Path:
    """kind or the Pulumi CLI (downloaded and verified when missing, unless not `install`)."""
    try:
        return tools.ensure_tool(
            tool,
            install=install,
            which=ctx.which,
            download=ctx.download,
            cache=ctx.cache,
            say=ctx.console.print,
        )
    except tools.ToolError as error:
        raise LocalError(str(error), EXIT_PREREQUISITES) from None


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
    with long_step(ctx, f"building {tag} (the first build takes several minutes)", "build") as step:
        image.build_image(docker, tag, context, step.run)
    with long_step(ctx, f"loading {tag} into the kind nodes", "load") as step:
        image.load_image(kind, tag, ctx.target.cluster, step.run)
    return tag


def urls_table(outputs: dict[str, Any]) -> Table:
    """The stack's URLs: from this machine where it has a route, else in-cluster only."""
    table = Table("what", "URL", "reachable")
    for what, url, where in url_rows(outputs):
        table.add_row(what, url, where)
    return table


def up_local(
    ctx: Context,
    deploy: Deployer,
    *,
    install: bool = True,
    build: bool = True,
    expect_no_changes: bool = False,
) -> int:
    """The whole `up local`; an exit code (0 ok, 1 failed — or, with `expect_no_changes`, a
    second preview still planning changes —, 3 prerequisites missing)."""
    try:
        docker = require_docker(ctx)
        kind = require_tool(ctx, tools.KIND, install)
        pulumi = require_tool(ctx, tools.PULUMI, install)
        name = ctx.target.cluster
        with long_step(ctx, f"kind cluster {name!r}", "kind-create") as step:
            created = cluster.ensure_cluster(kind, name, 0, ctx.state_dir, step.run)
            step.outcome = "created" if created else "reused"
        prepare_image(ctx, docker, kind, build)
        root = pulumi_root(pulumi)
        ctx.console.print(f"pulumi up of stack {ctx.stack!r} (state in {ctx.state_dir})")
        result = deploy("up", root)
        again = deploy("preview", root)
    except (LocalError, CommandFailed) as error:
        ctx.console.print(f"[bold red]up {ctx.stack} failed[/]: {escape(str(error))}")
        return error.code if isinstance(error, LocalError) else EXIT_FAILED
    if again["changes"]:
        ctx.console.print(f"[yellow]a second preview still plans changes: {again['changes']}[/]")
        if expect_no_changes:
            ctx.console.print(f"[bold red]up {ctx.stack} failed[/]: --expect-no-changes")
            return EXIT_FAILED
    else:
        ctx.console.print("a second preview plans no changes")
    print_next_steps(ctx.console, ctx.spec, ctx.stack, result["outputs"], ctx.program_dir)
    return EXIT_OK


def print_next_steps(
    console: Console, spec: StackSpec, stack: str, outputs: dict[str, Any], program_dir: Path
) -> None:
    """The stack's URLs and this stack's own next commands: how `up` ends."""
    console.print(urls_table(outputs))
    console.print("next:")
    for command, what in next_steps(spec, stack, outputs, program_dir):
        console.print(f"  {escape(command)}\n      [dim]{escape(what)}[/]", highlight=False)


def down_local(
    ctx: Context, deploy: Deployer, *, delete_data: bool = False, delete_cluster: bool = False
) -> int:
    """The whole `down local`. Without Docker no kind cluster runs, so there is nothing to
    tear down: it stops before downloading anything."""
    try:
        if ctx.which("docker") is None:
            raise LocalError(
                f"Docker is not installed, so no kind cluster of stack {ctx.stack!r} runs "
                "here: there is nothing to tear down",
                EXIT_PREREQUISITES,
            )
        require_docker(ctx)
        pulumi = require_tool(ctx, tools.PULUMI, install=True)
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
            kind = require_tool(ctx, tools.KIND, install=True)
            cluster.delete_cluster(kind, ctx.target.cluster, ctx.runner)
            ctx.console.print(f"kind cluster {ctx.target.cluster!r} deleted")
    except (LocalError, CommandFailed) as error:
        ctx.console.print(f"[bold red]down {ctx.stack} failed[/]: {escape(str(error))}")
        return error.code if isinstance(error, LocalError) else EXIT_FAILED
    return EXIT_OK
