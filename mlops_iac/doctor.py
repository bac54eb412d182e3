"""Which prerequisites of a real deployment are present, with install hints."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    """One prerequisite and whether it is met."""

    name: str
    ok: bool
    detail: str
    hint: str


@dataclass(frozen=True)
class Tool:
    """A command-line tool a deployment needs."""

    name: str
    version_args: tuple[str, ...]
    hint: str


TOOLS = {
    "pulumi": Tool(
        "pulumi",
        ("version",),
        "install the Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/",
    ),
    "kind": Tool(
        "kind",
        ("version",),
        "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    ),
    "kubectl": Tool(
        "kubectl",
        ("version", "--client=true"),
        "install kubectl: https://kubernetes.io/docs/tasks/tools/",
    ),
    "docker": Tool(
        "docker",
        ("--version",),
        "install Docker and start its engine: https://docs.docker.com/get-started/get-docker/",
    ),
}

TARGET_REQUIREMENTS = {
    "kind": ("pulumi", "docker", "kind", "kubectl"),
    "kubernetes": ("pulumi", "kubectl"),
    "aws": ("pulumi", "kubectl", "aws-credentials", "aws extra"),
}
"""What a deployment to each target needs (`docker` includes a running engine)."""
DOWNLOADED_BY_UP = {"kind": frozenset({"pulumi", "kind"})}
"""What `mlops-iac up` fetches itself for a target (pinned, SHA-256 checked, into
~/.cache/mlops-iac/tools) when PATH lacks it, unless `--no-install`."""

Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)


def check_tool(
    tool: Tool, which: Callable[[str], str | None] = shutil.which, run: Runner = _run
) -> Check:
    """Whether the tool is on PATH and answers its version command."""
    path = which(tool.name)
    if path is None:
        return Check(tool.name, False, "not found on PATH", tool.hint)
    try:
        result = run([path, *tool.version_args])
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check(tool.name, False, f"{path} does not run: {error}", tool.hint)
    first_line = (result.stdout or result.stderr).strip().splitlines()[:1]
    if result.returncode != 0:
        return Check(tool.name, False, f"{path}: {' '.join(first_line)}", tool.hint)
    return Check(tool.name, True, f"{path} {' '.join(first_line)}", "")


def check_docker_engine(
    which: Callable[[str], str | None] = shutil.which, run: Runner = _run
) -> Check:
    """Whether a Docker engine answers (the client alone is not enough for kind)."""
    hint = TOOLS["docker"].hint
    path = which("docker")
    if path is None:
        return Check("docker engine", False, "docker not found on PATH", hint)
    try:
        result = run([path, "info", "--format", "{{.ServerVersion}}"])
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check("docker engine", False, str(error), hint)
    if result.returncode != 0 or not result.stdout.strip():
        reason = (result.stderr or "no engine").strip().splitlines()[-1:]
        return Check("docker engine", False, f"not reachable: {' '.join(reason)}", hint)
    return Check("docker engine", True, f"server {result.stdout.strip()}", "")


def check_aws_credentials(environ: dict[str, str] | None = None, home: Path | None = None) -> Check:
    """Whether AWS credentials are configured (env vars, profile, or the shared files)."""
    env = os.environ if environ is None else environ
    hint = "configure AWS credentials: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html"
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return Check("aws-credentials", True, "from AWS_ACCESS_KEY_ID", "")
    if env.get("AWS_PROFILE"):
        return Check("aws-credentials", True, f"profile {env['AWS_PROFILE']}", "")
    credentials = (home or Path.home()) / ".aws" / "credentials"
    if credentials.is_file():
        return Check("aws-credentials", True, str(credentials), "")
    return Check("aws-credentials", False, "none found", hint)


def check_extra(extra: str) -> Check:
    """Whether the Python packages of an extra are installed (without importing them)."""
    from mlops_iac.extras import missing_modules

    missing = missing_modules(extra)
    name = f"{extra} extra"
    if missing:
        return Check(
            name, False, f"not installed: {', '.join(missing)}", f"pip install 'mlops-iac[{extra}]'"
        )
    return Check(name, True, "installed", "")


def run_checks(names: Iterable[str] | None = None) -> list[Check]:
    """Run the named checks (all when None), in order."""
    everything = [*TOOLS, "docker engine", "aws-credentials", "aws extra"]
    wanted = list(names) if names is not None else everything
    checks = []
    for name in wanted:
        if name in TOOLS:
            checks.append(check_tool(TOOLS[name]))
            if name == "docker":
                checks.append(check_docker_engine())
        elif name == "docker engine":
            if "docker" not in wanted:
                checks.append(check_docker_engine())
        elif name == "aws-credentials":
            checks.append(check_aws_credentials())
        elif name.endswith(" extra"):
            checks.append(check_extra(name.removesuffix(" extra")))
    return checks


def checks_by_target(
    targets: Iterable[str] | None = None,
    run: Callable[[Iterable[str]], list[Check]] = run_checks,
) -> dict[str, list[Check]]:
    """What each target (all when None) needs, each prerequisite checked once:
    `{"kind": [pulumi, docker, docker engine, kind, kubectl], ...}`."""
    chosen = list(targets) if targets is not None else list(TARGET_REQUIREMENTS)
    names = list(dict.fromkeys(n for t in chosen for n in TARGET_REQUIREMENTS[t]))
    results = {check.name: check for check in run(names)}
    grouped = {}
    for target in chosen:
        wanted = [
            name
            for requirement in TARGET_REQUIREMENTS[target]
            for name in (requirement, "docker engine" if requirement == "docker" else None)
            if name is not None
        ]
        grouped[target] = [results[name] for name in wanted if name in results]
    return grouped


def blocks(target: str, check: Check) -> bool:
    """Whether a failed check stops a deployment to `target` (what `up` downloads does not)."""
    return not check.ok and check.name not in DOWNLOADED_BY_UP.get(target, frozenset())


def missing_for_target(target_kind: str) -> list[Check]:
    """The failed checks among what `target_kind` needs."""
    return [check for check in run_checks(TARGET_REQUIREMENTS[target_kind]) if not check.ok]
