"""The `mlops-iac` command line: new, synth, validate, check, doctor, target, up, down,
preview, destroy, train, rollout, image, dev."""

from __future__ import annotations

import enum
import json
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from mlops_iac.dev.cli import dev_app
from mlops_iac.spec import CONFIG_NAMESPACE, SpecError, StackSpec

EXIT_SPEC_ERROR = 2
EXIT_MISSING_PREREQUISITES = 3
EXIT_PROGRAM_FAILED = 1
EXIT_USAGE = 2

# Plain help (click's layout, rich_markup_mode=None): rich panels label every flag `<bool>`
# and wrap sentences inside their boxes.
app = typer.Typer(
    help="Declare, test and deploy a whole MLOps stack with Pulumi.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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
StackArgument = Annotated[
    str | None, typer.Argument(help="Stack name: Pulumi.<stack>.yaml (or --stack).")
]
StackFlag = Annotated[
    str | None, typer.Option("--stack", "-s", help="Stack name, as on synth and train.")
]
DirOption = Annotated[Path, typer.Option("--dir", "-C", help="Folder with Pulumi.yaml.")]
ContextOption = Annotated[
    str | None, typer.Option("--context", help="kubeconfig context; by the stack's target.")
]
KubeconfigOption = Annotated[
    Path | None, typer.Option("--kubeconfig", help="kubeconfig file; by the target.")
]


def _fail_spec(error: SpecError) -> typer.Exit:
    """Print a spec (or project) error, one `mlops:<path>: message` line per problem; the
    exit to raise (2)."""
    from mlops_iac.program import ProjectError

    header = "cannot read the project" if isinstance(error, ProjectError) else "invalid stack spec"
    errors.print(f"[bold red]{header}[/]", highlight=False)
    for issue in error.in_namespace(CONFIG_NAMESPACE, StackSpec.model_fields).issues:
        errors.print(f"  {issue}", highlight=False, markup=False)
    return typer.Exit(EXIT_SPEC_ERROR)


def _fail_program(error: BaseException, project_dir: Path) -> typer.Exit:
    """Print where the program failed, as the user wrote it: the innermost frame in the
    project's own files (file:line and the line) and the exception on one line."""
    from mlops_iac.program import program_frame

    frame = program_frame(error, project_dir)
    cause = _one_line(error)
    if frame is None:
        errors.print(f"[bold red]the program failed[/]: {escape(cause)}", highlight=False)
    else:
        errors.print(
            f"[bold red]the program failed[/] at {_shown_path(frame.filename)}:{frame.lineno}",
            highlight=False,
        )
        if frame.line:
            errors.print(f"    {frame.line.strip()}", highlight=False, markup=False)
        errors.print(cause, highlight=False, markup=False)
    errors.print("(--traceback shows the whole traceback)", highlight=False, markup=False)
    return typer.Exit(EXIT_PROGRAM_FAILED)


def _one_line(error: BaseException) -> str:
    """The exception on one line, as the last line of its traceback says it."""
    import traceback

    if isinstance(error, SyntaxError):
        return f"{type(error).__name__}: {error.msg}"
    exception = traceback.TracebackException.from_exception(error)
    lines = list(exception.format_exception_only())[-1].strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _shown_path(filename: str) -> str:
    path = Path(filename).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _usage_error(message: str) -> typer.Exit:
    errors.print(f"[bold red]error[/]: {escape(message)}", highlight=False)
    return typer.Exit(EXIT_USAGE)


def _check_out_folder(out: Path) -> None:
    """Exit 2 when `out` (or a folder above it) exists as a file, or holds a `manifests/`
    folder synth did not write: synth writes a folder and replaces only its own."""
    from mlops_iac.testing.synth import WRITTEN_MARKER

    manifests = out / "manifests"
    if manifests.is_dir() and not (out / WRITTEN_MARKER).is_file():
        raise _usage_error(
            f"{manifests} exists and was not written by synth: give --out a folder of its "
            "own (nothing was changed)"
        )
    for folder in [out, *out.parents]:
        if folder.exists():
            if not folder.is_dir():
                what = "is a file" if folder == out else f"is inside {folder}, a file"
                raise _usage_error(
                    f"--out {out} {what}; synth writes a folder (resources.json, "
                    "outputs.json, manifests/): give a folder's path"
                )
            return


@app.command(short_help="Synthesize a stack offline under mocks into a folder.")
def synth(
    program_dir: ProgramDir = Path("."),
    stack: StackOption = "local",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    show_traceback: Annotated[
        bool, typer.Option("--traceback", help="On a failing program, the whole traceback.")
    ] = False,
    stack_outputs: Annotated[
        list[str] | None,
        typer.Option(
            "--stack-outputs",
            metavar="STACK=FILE",
            help="Outputs of a stack the program reads with a StackReference: a JSON file as "
            "`pulumi stack output --json` or another synth's outputs.json writes it. Repeatable.",
        ),
    ] = None,
) -> None:
    """Run a stack program offline under mocks; write resources.json and manifests/.

    The project is the first Pulumi.yaml in PROGRAM_DIR or a folder above it, as Pulumi
    finds it. Exit 2 on an invalid spec or project, 1 when the program itself fails."""
    from mlops_iac.extras import ExtraNotInstalled
    from mlops_iac.program import PulumiProject
    from mlops_iac.testing import synth as run_synth
    from mlops_iac.testing.synth import DuplicateObjectError, OutFolderError

    started = time.perf_counter()
    _check_out_folder(out)
    references = _stack_outputs(stack_outputs or [])
    try:
        project = PulumiProject.load(program_dir)
        config, secret_keys = project.config(stack)
    except SpecError as error:
        raise _fail_spec(error) from None
    try:
        result = run_synth(
            project.run,
            project=project.name,
            stack=stack,
            config=config,
            secret_keys=secret_keys,
            stack_outputs=references,
        )
    except SpecError as error:
        raise _fail_spec(error) from None
    except DuplicateObjectError as error:
        errors.print(str(error), highlight=False, markup=False)
        raise typer.Exit(1) from None
    except ExtraNotInstalled as error:
        errors.print(
            f"[bold red]cannot synthesize stack {stack!r}[/]: {escape(str(error))}",
            highlight=False,
        )
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as error:
        if show_traceback:
            raise
        raise _fail_program(error, project.directory) from None
    try:
        written = result.write(out)
    except OutFolderError as error:
        raise _usage_error(str(error)) from None
    except OSError as error:
        errors.print(f"[bold red]cannot write {out}[/]: {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from None
    elapsed = time.perf_counter() - started
    console.print(
        f"synthesized {len(result.resources)} resources and {written} Kubernetes manifests "
        f"into {out}/ (resources.json, manifests/, outputs.json) in {elapsed:.2f} s",
        highlight=False,
    )
    _print_outputs(result.shown_outputs(), out)


def _stack_outputs(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """`STACK=FILE` pairs read into each stack's outputs; a usage error names a bad one."""
    outputs: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        stack, _, file = pair.partition("=")
        if not stack or not file:
            raise _usage_error(f"--stack-outputs {pair!r}: write it as STACK=FILE")
        try:
            read = json.loads(Path(file).read_text())
        except (OSError, ValueError) as error:
            raise _usage_error(f"--stack-outputs {pair!r}: {error}") from None
        if not isinstance(read, dict):
            raise _usage_error(f"--stack-outputs {pair!r}: {file} holds no JSON object")
        outputs[stack] = read
    return outputs


def _print_outputs(outputs: dict[str, Any], out: Path) -> None:
    """The stack outputs as synth's mocks computed them (a deployment's URLs are these)."""
    if not outputs:
        return
    console.print("outputs (as the mocks compute them):", highlight=False)
    width = max(len(key) for key in outputs)
    for key, value in sorted(outputs.items()):
        shown = value if isinstance(value, str) else json.dumps(value)
        console.print(f"  {key:<{width}}  {shown}", highlight=False, markup=False)
    console.print(
        f"(all of them in {out}/outputs.json; Helm releases are listed in resources.json "
        "with their chart and values, not rendered)",
        highlight=False,
    )


class NewTarget(enum.StrEnum):
    """Where a new project's dev stack runs."""

    kind = "kind"
    kubernetes = "kubernetes"
    aws = "aws"


@app.command(short_help="Start a project in a new folder.")
def new(
    folder: Annotated[Path, typer.Argument(help="Folder of the new project (created if missing).")],
    target: Annotated[
        NewTarget, typer.Option("--target", "-t", help="Where the dev stack runs.")
    ] = NewTarget.kind,
    name: Annotated[
        str | None, typer.Option("--name", help="Pulumi project name; the folder's name.")
    ] = None,
) -> None:
    """Start a project: Pulumi.yaml, a config-only __main__.py, Pulumi.dev.yaml with a small
    working spec, requirements.txt, tests/test_stack.py (offline, with mlops_iac.testing),
    .gitignore and .github/workflows/stack.yml (CI/CD). Nothing is overwritten: exit 2 when
    a file exists."""
    from mlops_iac.templates import STACK, ProjectExistsError, new_project

    try:
        written = new_project(folder, target=target.value, name=name)
    except ProjectExistsError as error:
        raise _usage_error(str(error)) from None
    except OSError as error:
        raise _usage_error(f"cannot write {folder}: {error}") from None
    listed = ", ".join(path.relative_to(folder).as_posix() for path in written)
    console.print(f"created {folder} (target {target.value}): {listed}", highlight=False)
    console.print("next:", highlight=False)
    for command, what in (
        (f"cd {folder}", ""),
        (f"mlops-iac synth . --stack {STACK}", "every resource and manifest, offline, in out/"),
        ("pytest", "the stack's tests, offline"),
        (f"mlops-iac doctor --stack {STACK}", "what a deployment needs here"),
        (f"mlops-iac up {STACK}", f"deploy it ({target.value})"),
    ):
        line = f"  {command:<36}# {what}" if what else f"  {command}"
        console.print(line, highlight=False)


image_app = typer.Typer(
    help="The workloads' runtime image: its build context.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(image_app, name="image")


@image_app.command("context", short_help="Write the build context for docker build.")
def image_context(
    folder: Annotated[
        Path, typer.Argument(help="Folder to write (new, empty, or written here before).")
    ] = Path("runtime-image"),
) -> None:
    """Write the runtime image's Docker build context (its Dockerfile, pinned requirements
    and this installed mlops_iac package) for `docker build` and a registry of your own.
    `up local` and AWS targets do this themselves."""
    from mlops_iac import runtime_image, versions

    try:
        context = runtime_image.write_context(folder)
    except runtime_image.ContextError as error:
        raise _usage_error(str(error)) from None
    tag = runtime_image.source_tag()
    console.print(f"wrote the runtime image's build context to {folder} (tag {tag})")
    console.print("build it and push it where your nodes pull from, then set `runtime_image`:")
    console.print(f"  docker build -t <registry>/mlops-iac-runtime:{tag} {context}")
    console.print(f"  docker push <registry>/mlops-iac-runtime:{tag}")
    console.print(
        f"(kind: docker build -t {versions.RUNTIME_IMAGE} {context} && kind load docker-image "
        f"{versions.RUNTIME_IMAGE} --name <cluster>)"
    )


def _kubernetes_minor(requested: str | None) -> str:
    """The Kubernetes version to validate against, or exit 2 naming the supported minors."""
    from kubernetes_validate.utils import all_versions, major_minor

    from mlops_iac.validate import DEFAULT_KUBERNETES_VERSION, SUPPORTED_KUBERNETES_VERSIONS

    if requested is None:
        return DEFAULT_KUBERNETES_VERSION
    supported = ", ".join(SUPPORTED_KUBERNETES_VERSIONS)
    text = requested.strip().removeprefix("v")
    if not re.fullmatch(r"[0-9]+\.[0-9]+(\.[0-9]+)?", text):
        raise _usage_error(
            f"--kubernetes-version {requested!r} is not a Kubernetes version such as 1.35; "
            f"the stacks are checked against {supported}"
        )
    minor = major_minor(text)
    known = list(dict.fromkeys(major_minor(version) for version in all_versions()))
    if minor not in known:
        raise _usage_error(
            f"Kubernetes {minor} is not supported: the stacks are checked against {supported} "
            f"(the installed kubernetes-validate has schemas for {known[0]} to {known[-1]})"
        )
    if minor not in SUPPORTED_KUBERNETES_VERSIONS:
        errors.print(
            f"note: the stacks are checked against {supported}; {minor} has schemas but no "
            "stack is tested on it",
            highlight=False,
        )
    return minor


@app.command(short_help="Validate synthesized manifests against Kubernetes schemas.")
def validate(
    directory: Annotated[Path, typer.Argument(help="A synth output folder or a folder of YAML.")],
    kubernetes_version: Annotated[
        str | None, typer.Option(help="Kubernetes minor to validate against, e.g. 1.35.")
    ] = None,
) -> None:
    """Validate manifests: built-in kinds strictly against Kubernetes' OpenAPI, CRs against CRDs."""
    from mlops_iac.validate import validate_directory

    version = _kubernetes_minor(kubernetes_version)
    if not directory.is_dir():
        errors.print(f"{directory}: not a folder", highlight=False)
        raise typer.Exit(1)
    count, failures = validate_directory(directory, version)
    for failure in failures:
        errors.print(str(failure), highlight=False, markup=False)
    if count == 0:
        errors.print(f"{directory}: no manifests found", highlight=False)
        raise typer.Exit(1)
    console.print(f"{count} manifests, {len(failures)} failures", highlight=False)
    if failures:
        raise typer.Exit(1)


@app.command(short_help="Run the safety rules on synthesized manifests.")
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


@app.command("policy-pack", short_help="Write the safety rules as a CrossGuard policy pack.")
def policy_pack(
    folder: Annotated[
        Path, typer.Argument(help="Folder to write (new, empty, or written here before).")
    ] = Path("policy-pack"),
    install: Annotated[
        bool, typer.Option(help="Create the pack's venv (pulumi-policy) as `pulumi install` would.")
    ] = True,
) -> None:
    """Write `check`'s rules as a Pulumi CrossGuard policy pack for
    `pulumi preview --policy-pack FOLDER` (and `pulumi up`): they then check every Kubernetes
    workload of the stack, yours included. Enforcement is mandatory; configure levels and
    exceptions with `--policy-pack-config` (docs/policy.md)."""
    import subprocess

    from mlops_iac import policy_pack as pack

    try:
        written = pack.write_pack(folder)
    except pack.FolderError as error:
        raise _usage_error(str(error)) from None
    console.print(f"wrote the policy pack to {folder}")
    if install:
        try:
            if pack.install(written):
                console.print(f"created its venv ({folder}/{pack.VENV}: pulumi-policy)")
        except (OSError, subprocess.CalledProcessError) as error:
            errors.print(f"creating the pack's venv failed: {error}", highlight=False)
            raise typer.Exit(1) from None
    console.print(f"run: pulumi preview --policy-pack {written}")


@app.command(short_help="Show which prerequisites of a deployment are here.")
def doctor(
    stack: Annotated[
        str | None,
        typer.Option("--stack", "-s", help="Check only what this stack's target needs."),
    ] = None,
    program_dir: DirOption = Path("."),
) -> None:
    """Show which prerequisites of a real deployment are present, with install hints.

    With --stack, only what that stack's target needs; exit 1 when any of it is missing.
    Without, every target's needs; exit 1 when no target has all it needs. For kind, a
    Pulumi CLI or kind missing from PATH is no blocker: `up` downloads pinned ones."""
    from mlops_iac.doctor import blocks, checks_by_target

    targets = [_load_spec(program_dir, stack).target.kind] if stack else None
    grouped = checks_by_target(targets)
    width = max(len(check.name) for checks in grouped.values() for check in checks)
    for target, checks in grouped.items():
        title = f"stack {stack!r}: target {target}" if stack else f"target {target}"
        console.print(f"[bold]{title}[/]", highlight=False)
        for check in checks:
            if check.ok:
                status, detail = "[green]ok      [/]", check.detail
            elif blocks(target, check):
                status, detail = "[red]missing [/]", f"{check.detail}: {check.hint}"
            else:
                status = "[yellow]download[/]"
                detail = f"{check.detail}: `mlops-iac up` downloads a pinned one (or {check.hint})"
            # Printed whole (soft wrap): an install link must stay one clickable line.
            line = f"  {status}  {escape(check.name.ljust(width))}  {escape(detail)}"
            console.print(line, highlight=False)
    missing = {t: [c.name for c in checks if blocks(t, c)] for t, checks in grouped.items()}
    ready = [target for target, names in missing.items() if not names]
    not_ready = [f"{t} (missing {', '.join(names)})" for t, names in missing.items() if names]
    if stack:
        summary = f"stack {stack!r} is " + ("ready" if ready else f"not ready: {not_ready[0]}")
    else:
        summary = f"ready: {', '.join(ready) or 'no target'}"
        summary += f"; not ready: {'; '.join(not_ready)}" if not_ready else ""
    console.print(summary, highlight=False)
    if not ready:
        raise typer.Exit(1)


@app.command(short_help="Print where the stack runs: kind, kubernetes or aws.")
def target(stack: StackOption = "local", program_dir: DirOption = Path(".")) -> None:
    """Print the stack's target kind (`kind`, `kubernetes` or `aws`) and nothing else, for
    scripts and CI (the project's workflow chooses its deployment jobs by it)."""
    print(_load_spec(program_dir, stack).target.kind)


def _load_spec(program_dir: Path, stack: str) -> StackSpec:
    """The stack's spec from `Pulumi.<stack>.yaml`, or exit 2 with the spec's errors."""
    from mlops_iac.program import PulumiProject

    try:
        project = PulumiProject.load(program_dir)
        config, _ = project.config(stack)
        return StackSpec.from_config(config, stack=stack, project=project.name)
    except SpecError as error:
        raise _fail_spec(error) from None


def _deploy(operation: str, stack: str, program_dir: Path) -> None:
    from mlops_iac.deploy import run_operation
    from mlops_iac.doctor import missing_for_target

    spec = _load_spec(program_dir, stack)
    target = spec.target.kind
    missing = missing_for_target(target)
    if missing:
        errors.print(
            f"[bold red]cannot {operation} stack {stack!r}[/]: prerequisites for a {target} "
            "target are missing (`mlops-iac doctor` lists them all). Offline, "
            f"`mlops-iac synth {program_dir} --stack {stack}` renders the stack instead.",
            highlight=False,
        )
        for check in missing:
            line = f"  {check.name}: {check.detail}: {check.hint}"
            errors.print(line, highlight=False, markup=False)
        raise typer.Exit(EXIT_MISSING_PREREQUISITES)
    result = run_operation(
        operation, program_dir, stack, on_output=lambda line: console.print(line, end="")
    )
    if operation == "up":
        outputs = {key: out.value for key, out in result.outputs.items() if not out.secret}
        from mlops_iac.local.flow import print_next_steps

        print_next_steps(console, spec, stack, outputs, program_dir)


def _stack_name(positional: str | None, flag: str | None) -> str:
    """The stack of a deploy command: positional or `--stack` (as synth and train take it),
    `local` when neither is given; exit 2 when both are given and differ."""
    if positional and flag and positional != flag:
        raise _usage_error(f"two stacks given: {positional!r} and --stack {flag!r}; give one")
    return positional or flag or "local"


def _local_context(spec: StackSpec, stack: str, program_dir: Path) -> Any:
    from mlops_iac.local.flow import Context

    return Context(spec=spec, program_dir=program_dir, stack=stack, console=console)


def _local_deployer(stack: str, program_dir: Path) -> Any:
    from mlops_iac.deploy import automation_deployer

    return automation_deployer(program_dir, stack, lambda line: console.print(line, end=""))


@app.command(short_help="Deploy the stack (a kind target: the whole local flow).")
def up(
    stack_name: StackArgument = None,
    program_dir: DirOption = Path("."),
    stack_flag: StackFlag = None,
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
    expect_no_changes: Annotated[
        bool,
        typer.Option(
            "--expect-no-changes",
            help="kind target: fail (exit 1) when the preview after `up` still plans changes.",
        ),
    ] = False,
) -> None:
    """Deploy the stack. A kind target gets the whole local flow: prerequisites, the kind
    cluster, the runtime image, `pulumi up` (Automation API, local file state), URLs."""
    stack = _stack_name(stack_name, stack_flag)
    spec = _load_spec(program_dir, stack)
    if spec.target.kind != "kind":
        _deploy("up", stack, program_dir)
        return
    from mlops_iac.local.flow import up_local

    code = up_local(
        _local_context(spec, stack, program_dir),
        _local_deployer(stack, program_dir),
        install=install,
        build=build,
        expect_no_changes=expect_no_changes,
    )
    raise typer.Exit(code)


@app.command(short_help="Tear the stack down, keeping its data.")
def down(
    stack_name: StackArgument = None,
    program_dir: DirOption = Path("."),
    stack_flag: StackFlag = None,
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
    stack = _stack_name(stack_name, stack_flag)
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
        _local_context(spec, stack, program_dir),
        _local_deployer(stack, program_dir),
        delete_data=delete_data,
        delete_cluster=delete_cluster,
    )
    raise typer.Exit(code)


@app.command(short_help="Show what `up` would change.")
def preview(
    stack_name: StackArgument = None,
    program_dir: DirOption = Path("."),
    stack_flag: StackFlag = None,
) -> None:
    """Show what `up` would change."""
    _deploy("preview", _stack_name(stack_name, stack_flag), program_dir)


@app.command(short_help="Delete the stack's resources.")
def destroy(
    stack_name: StackArgument = None,
    program_dir: DirOption = Path("."),
    stack_flag: StackFlag = None,
) -> None:
    """Delete the stack's resources (protected data resources make it refuse)."""
    _deploy("destroy", _stack_name(stack_name, stack_flag), program_dir)


@app.command(short_help="Run a training job now, in the cluster or --local.")
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
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
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


class RolloutAction(enum.StrEnum):
    """What `mlops-iac rollout` does."""

    status = "status"
    promote = "promote"
    abort = "abort"
    retry = "retry"


@app.command(short_help="Show or steer an endpoint's automatic rollout.")
def rollout(
    action: Annotated[
        RolloutAction,
        typer.Argument(
            help="`status`; `promote` (past the current pause or step); `abort` (every "
            "request back to the stable version); `retry` (an aborted rollout again)."
        ),
    ],
    endpoint: Annotated[str, typer.Argument(help="Endpoint name (`serving[].name`).")],
    stack: StackOption = "local",
    program_dir: DirOption = Path("."),
    full: Annotated[
        bool,
        typer.Option("--full", help="With promote: straight to 100%, skipping steps and analysis."),
    ] = False,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Show or steer the Argo Rollouts rollout of an endpoint with `rollout`."""
    from mlops_iac.rollout_cli import run

    spec = _load_spec(program_dir, stack)
    code = run(
        spec,
        action.value,
        endpoint,
        full=full,
        context=context,
        kubeconfig=kubeconfig,
        console=console,
    )
    raise typer.Exit(code)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
