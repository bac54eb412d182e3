"""The `mlops-iac` command line: synth, validate, doctor, up, preview, destroy, train, dev."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlops_iac.dev.cli import dev_app
from mlops_iac.spec import SpecError, StackSpec, config_fields

EXIT_SPEC_ERROR = 2
EXIT_MISSING_PREREQUISITES = 3

app = typer.Typer(
    help="Declare, test and deploy a whole MLOps stack with Pulumi.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"mlops-iac {version('mlops-iac')}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Declare, test and deploy a whole MLOps stack with Pulumi."""


app.add_typer(dev_app, name="dev")
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

ProgramDir = Annotated[
    Path, typer.Argument(help="Folder with Pulumi.yaml (the project).", show_default=True)
]
StackOption = Annotated[str, typer.Option("--stack", "-s", help="Stack name: Pulumi.<stack>.yaml.")]
StackArgument = Annotated[str, typer.Argument(help="Stack name: Pulumi.<stack>.yaml.")]
DirOption = Annotated[Path, typer.Option("--dir", "-C", help="Folder with Pulumi.yaml.")]


def _fail_spec(error: SpecError) -> typer.Exit:
    errors.print("[bold red]invalid stack spec[/]", highlight=False)
    for issue in error.issues:
        errors.print(f"  {issue}", highlight=False, markup=False)
    return typer.Exit(EXIT_SPEC_ERROR)


@app.command()
def synth(
    program_dir: ProgramDir = Path("."),
    stack: StackOption = "local",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
) -> None:
    """Run a stack program offline under mocks; write resources.json and manifests/."""
    from mlops_iac.program import PulumiProject
    from mlops_iac.testing import synth as run_synth
    from mlops_iac.testing.synth import DuplicateObjectError

    started = time.perf_counter()
    try:
        project = PulumiProject.load(program_dir)
        config, secret_keys = project.config(stack)
        result = run_synth(
            project.run, project=project.name, stack=stack, config=config, secret_keys=secret_keys
        )
    except SpecError as error:
        raise _fail_spec(error) from None
    except DuplicateObjectError as error:
        errors.print(str(error), highlight=False, markup=False)
        raise typer.Exit(1) from None
    if (out / "manifests").is_dir():
        shutil.rmtree(out / "manifests")
    written = result.write(out)
    elapsed = time.perf_counter() - started
    console.print(
        f"synthesized {len(result.resources)} resources and {written} "
        f"Kubernetes manifests into {out} in {elapsed:.2f} s",
        highlight=False,
    )


@app.command()
def validate(
    directory: Annotated[Path, typer.Argument(help="A synth output folder or a folder of YAML.")],
    kubernetes_version: Annotated[
        str | None, typer.Option(help="Kubernetes minor to validate against, e.g. 1.35.")
    ] = None,
) -> None:
    """Validate manifests: built-in kinds strictly against Kubernetes' OpenAPI, CRs against CRDs."""
    from mlops_iac.validate import DEFAULT_KUBERNETES_VERSION, validate_directory

    if not directory.is_dir():
        errors.print(f"{directory}: not a folder", highlight=False)
        raise typer.Exit(1)
    count, failures = validate_directory(
        directory, kubernetes_version or DEFAULT_KUBERNETES_VERSION
    )
    for failure in failures:
        errors.print(str(failure), highlight=False, markup=False)
    if count == 0:
        errors.print(f"{directory}: no manifests found", highlight=False)
        raise typer.Exit(1)
    console.print(f"{count} manifests, {len(failures)} failures", highlight=False)
    if failures:
        raise typer.Exit(1)


@app.command()
def check(out: Annotated[Path, typer.Argument(help="What `synth` wrote.")] = Path("out")) -> None:
    """Policy checks on synthesized manifests: Pod Security `restricted`, requests and
    limits, probes, pinned images, no secret as a plain env value, default-deny per
    namespace. Exit 1 when a rule is broken."""
    from mlops_iac.policy import check as run_checks
    from mlops_iac.validate import load_manifests

    directory = out / "manifests" if (out / "manifests").is_dir() else out
    manifests = [manifest for _, manifest in load_manifests(directory)] if out.is_dir() else []
    if not manifests:
        errors.print(
            f"[bold red]nothing to check[/]: no manifests under {out} (write them with "
            "`mlops-iac synth . --stack <stack> --out out`)",
            highlight=False,
        )
        raise typer.Exit(1)
    findings, excepted = run_checks(manifests)
    for finding in findings:
        errors.print(str(finding), highlight=False, markup=False)
    for finding, exception in excepted:
        console.print(f"excepted: {finding} ({exception.reason})", highlight=False, markup=False)
    console.print(f"{len(manifests)} manifests, {len(findings)} findings, {len(excepted)} excepted")
    if findings:
        raise typer.Exit(1)


@app.command()
def doctor() -> None:
    """Show which prerequisites of a real deployment are present, with install hints."""
    from mlops_iac.doctor import run_checks

    checks = run_checks()
    table = Table("prerequisite", "status", "detail / how to get it")
    for check in checks:
        status = "[green]ok[/]" if check.ok else "[red]missing[/]"
        table.add_row(
            check.name, status, check.detail if check.ok else f"{check.detail}: {check.hint}"
        )
    console.print(table)


def _load_spec(program_dir: Path, stack: str) -> StackSpec:
    """The stack's spec from `Pulumi.<stack>.yaml`, or exit 2 with the spec's errors."""
    from mlops_iac.program import PulumiProject

    try:
        config, _ = PulumiProject.load(program_dir).config(stack)
        data = config_fields(config)
        data.setdefault("name", stack)
        return StackSpec.load(data, path_prefix="mlops:")
    except SpecError as error:
        raise _fail_spec(error) from None


def _deploy(operation: str, stack: str, program_dir: Path) -> None:
    from mlops_iac.deploy import run_operation
    from mlops_iac.doctor import missing_for_target

    target = _load_spec(program_dir, stack).target.kind
    missing = missing_for_target(target)
    if missing:
        errors.print(
            f"[bold red]cannot {operation} stack {stack!r}[/]: prerequisites for a {target} "
            "target are missing (`mlops-iac doctor` lists them all). Offline, "
            f"`mlops-iac synth {program_dir} --stack {stack}` renders the stack instead.",
            highlight=False,
        )
        for check in missing:
            errors.print(f"  {check.name}: {check.detail}: {check.hint}", highlight=False)
        raise typer.Exit(EXIT_MISSING_PREREQUISITES)
    run_operation(operation, program_dir, stack, on_output=lambda line: console.print(line, end=""))


def _local_context(spec: StackSpec, program_dir: Path) -> Any:
    from mlops_iac.local.flow import Context

    return Context(spec=spec, program_dir=program_dir, console=console)


def _local_deployer(stack: str, program_dir: Path) -> Any:
    from mlops_iac.deploy import automation_deployer

    return automation_deployer(program_dir, stack, lambda line: console.print(line, end=""))


@app.command()
def up(
    stack: StackArgument = "local",
    program_dir: DirOption = Path("."),
    install: Annotated[
        bool,
        typer.Option(
            "--install/--no-install",
            help="kind target: download pinned kind / Pulumi CLI when missing (verified).",
        ),
    ] = True,
    build: Annotated[
        bool,
        typer.Option("--build/--no-build", help="kind target: build and load the runtime image."),
    ] = True,
) -> None:
    """Deploy the stack. A kind target gets the whole local flow: prerequisites, the kind
    cluster, the runtime image, `pulumi up` (Automation API, local file state), URLs."""
    spec = _load_spec(program_dir, stack)
    if spec.target.kind != "kind":
        _deploy("up", stack, program_dir)
        return
    from mlops_iac.local.flow import up_local

    code = up_local(
        _local_context(spec, program_dir),
        _local_deployer(stack, program_dir),
        install=install,
        build=build,
    )
    raise typer.Exit(code)


@app.command()
def down(
    stack: StackArgument = "local",
    program_dir: DirOption = Path("."),
    delete_data: Annotated[
        bool, typer.Option("--delete-data", help="Also delete protected and retained data.")
    ] = False,
    delete_cluster: Annotated[
        bool, typer.Option("--delete-cluster", help="Also delete the kind cluster.")
    ] = False,
) -> None:
    """Tear the stack down but keep its data: databases, object store, volumes, their Secrets
    and passwords stay deployed and under management, so a later `up` finds them unchanged
    (`--delete-data` destroys everything). A kind stack can also delete its cluster."""
    spec = _load_spec(program_dir, stack)
    if spec.target.kind != "kind":
        if delete_cluster:
            errors.print("--delete-cluster is for kind stacks: the stack did not make this cluster")
            raise typer.Exit(EXIT_SPEC_ERROR)
        deploy = _local_deployer(stack, program_dir)
        if delete_data:
            deploy("unprotect", None)
            deploy("destroy", None)
        else:
            kept = deploy("down", None)
            console.print(f"destroyed {kept['changes']['delete']} resources; the data was kept")
        return
    from mlops_iac.local.flow import down_local

    code = down_local(
        _local_context(spec, program_dir),
        _local_deployer(stack, program_dir),
        delete_data=delete_data,
        delete_cluster=delete_cluster,
    )
    raise typer.Exit(code)


@app.command()
def preview(stack: StackArgument = "local", program_dir: DirOption = Path(".")) -> None:
    """Show what `up` would change."""
    _deploy("preview", stack, program_dir)


@app.command()
def destroy(stack: StackArgument = "local", program_dir: DirOption = Path(".")) -> None:
    """Delete the stack's resources (protected data resources make it refuse)."""
    _deploy("destroy", stack, program_dir)


@app.command()
def train(
    job: Annotated[str, typer.Argument(help="Training job name (`training.jobs[].name`).")],
    stack: StackOption = "local",
    program_dir: DirOption = Path("."),
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Run the built-in trainer in this process against --tracking-uri instead "
            "of starting a Job in the cluster (needs the `workloads` extra).",
        ),
    ] = False,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow server for --local."
        ),
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="kubeconfig context; by the stack's target.")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="kubeconfig file; by the target.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the run and show its result.")
    ] = True,
) -> None:
    """Run a training job now: as a Job made from its CronJob in the cluster, or --local."""
    from mlops_iac.training_cli import run_in_cluster, run_locally

    spec = _load_spec(program_dir, stack)
    if local:
        code = run_locally(spec, job, tracking_uri, errors)
    else:
        code = run_in_cluster(
            spec, job, context=context, kubeconfig=kubeconfig, wait=wait, console=console
        )
    raise typer.Exit(code)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
