"""The CI/CD workflow a new project gets (`.github/workflows/stack.yml`, from the template):
valid for GitHub Actions (actionlint), made of actions and inputs that exist at the versions
it names, one deployment path per target and event, and every step that can run here run
here, in order, on a project `mlops-iac new` made."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from mlops_iac import versions
from mlops_iac.cli import app
from mlops_iac.templates import TARGETS, TEMPLATE_DIR

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = TEMPLATE_DIR / ".github" / "workflows" / "stack.yml"
ACTIONS: dict[str, set[str]] = {
    # Each action's inputs, from its action.yml at that tag (read 2026-12-02 in mirrors of
    # the repositories; the tags exist there).
    "actions/checkout@v6": {
        "repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user",
        "persist-credentials", "path", "clean", "filter", "sparse-checkout",
        "sparse-checkout-cone-mode", "fetch-depth", "fetch-tags", "show-progress", "lfs",
        "submodules", "set-safe-directory", "github-server-url",
    },
    "actions/setup-python@v7": {
        "python-version", "python-version-file", "cache", "architecture", "check-latest",
        "token", "cache-dependency-path", "update-environment", "allow-prereleases",
        "freethreaded", "pip-version",
    },
    "helm/kind-action@v1": {
        "version", "config", "kubeconfig", "node_image", "cluster_name", "wait", "verbosity",
        "kubectl_version", "registry", "registry_image", "registry_name", "registry_port",
        "registry_enable_delete", "install_only", "ignore_failed_clean", "cloud_provider",
    },
    "pulumi/actions@v7": {
        "command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir",
        "comment-on-pr", "comment-on-pr-number", "comment-on-summary", "github-token",
        "cloud-url", "secrets-provider", "parallel", "message", "config-map",
        "expect-no-changes", "diff", "replace", "exclude", "exclude-dependents", "target",
        "target-dependents", "refresh", "upsert", "remove", "edit-pr-comment", "color",
        "exclude-protected", "plan", "suppress-outputs", "suppress-progress",
        "always-include-summary", "continue-on-error", "log-verbosity", "log-flow", "debug",
    },
    "aws-actions/configure-aws-credentials@v6": {
        "aws-region", "role-to-assume", "aws-access-key-id", "aws-secret-access-key",
        "aws-session-token", "web-identity-token-file", "role-chaining", "audience",
        "http-proxy", "no-proxy", "mask-aws-account-id", "role-duration-seconds",
        "role-external-id", "role-session-name", "role-skip-session-tagging",
        "inline-session-policy", "managed-session-policies", "output-credentials",
        "output-env-credentials", "unset-current-credentials", "disable-retry",
        "retry-max-attempts", "special-characters-workaround", "use-existing-credentials",
        "allowed-account-ids",
    },
}  # fmt: skip
RUNS_HERE = ("checks", "model")
"""The jobs whose steps need no cloud, cluster or secret: all run by this test."""


def workflow() -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1).
    data: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True)
    return data


def steps(job: str) -> list[dict[str, Any]]:
    return list(workflow()["jobs"][job]["steps"])


def actionlint() -> str | None:
    script = REPO / "tools" / "controlplane" / "build.sh"
    env = {**os.environ, "MLOPS_IAC_BUILD_DRY_RUN": "1"}
    done = subprocess.run(
        ["bash", str(script), "actionlint"], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        return None
    found = Path(done.stdout.strip().splitlines()[-1]) / "actionlint"
    return str(found) if found.is_file() else None


def test_the_workflows_pass_actionlint() -> None:
    binary = actionlint()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint is not built under CI: tools/controlplane/build.sh actionlint")
        pytest.skip("actionlint is not built: run tools/controlplane/build.sh actionlint")

    done = subprocess.run(
        [binary, "-no-color", str(WORKFLOW), str(REPO / ".github" / "workflows" / "e2e-kind.yml")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_every_action_is_one_we_checked_and_gets_only_inputs_it_declares() -> None:
    for name, job in workflow()["jobs"].items():
        for step in job["steps"]:
            if "uses" not in step:
                continue
            assert step["uses"] in ACTIONS, f"{name}: {step['uses']} is not a checked action"
            unknown = set(step.get("with", {})) - ACTIONS[step["uses"]]
            assert not unknown, f"{name}: {step['uses']} has no inputs {sorted(unknown)}"


def test_the_tools_it_installs_are_the_versions_up_local_pins() -> None:
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            given = step.get("with", {})
            if step.get("uses", "").startswith("pulumi/actions@"):
                assert given["pulumi-version"] == versions.PULUMI_CLI_VERSION
            if step.get("uses", "").startswith("helm/kind-action@"):
                assert given["version"] == versions.KIND_VERSION


def _runs(condition: str | None, target: str, event: str) -> bool:
    """Evaluate a job's `if:` as GitHub would for this target and event (the expressions the
    workflow uses: `==`, `!=`, `&&`, `||` on these two values)."""
    if condition is None:
        return True
    python = (
        condition.replace("&&", " and ")
        .replace("||", " or ")
        .replace("needs.checks.outputs.target", repr(target))
        .replace("github.event_name", repr(event))
    )
    assert re.fullmatch(r"[\s'a-z_!=()]+", python), (
        f"an expression this test cannot read: {condition}"
    )
    return bool(eval(python, {"__builtins__": {}}))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("event", ["pull_request", "push"])
def test_each_target_gets_one_deployment_path_per_event(target: str, event: str) -> None:
    jobs = workflow()["jobs"]
    deploying = {
        name
        for name, job in jobs.items()
        if name not in RUNS_HERE and _runs(job.get("if"), target, event)
    }

    if target == "kind":
        assert deploying == {"kind"}
    else:
        assert deploying == ({"preview"} if event == "pull_request" else {"deploy"})
    for name in deploying:
        needed = set(jobs[name]["needs"])
        assert "checks" in needed  # nothing deploys what the offline checks refused
        if event == "push":
            assert "model" in needed  # nor before the model passed its gate


def test_a_pull_request_preview_comments_the_diff_and_main_checks_a_second_preview() -> None:
    preview = [s for s in steps("preview") if s.get("uses", "").startswith("pulumi/actions@")]
    deploy = [s for s in steps("deploy") if s.get("uses", "").startswith("pulumi/actions@")]

    assert [s["with"]["command"] for s in preview] == ["preview"]
    assert preview[0]["with"]["comment-on-pr"] is True
    assert [s["with"]["command"] for s in deploy] == ["up", "preview"]
    assert deploy[1]["with"]["expect-no-changes"] is True
    kind = [s.get("run", "") for s in steps("kind")]
    assert any("--expect-no-changes" in run for run in kind)
    assert "down" in kind[-1] and steps("kind")[-1]["if"] == "always()"


@pytest.mark.parametrize("target", TARGETS)
def test_the_target_step_prints_what_the_deployment_jobs_choose_by(
    target: str, tmp_path: Path
) -> None:
    project = tmp_path / "stack"
    assert CliRunner().invoke(app, ["new", str(project), "--target", target]).exit_code == 0

    printed = CliRunner().invoke(app, ["target", "--stack", "dev", "--dir", str(project)])

    assert printed.exit_code == 0, printed.output
    assert printed.output == f"{target}\n"


@pytest.mark.workload
def test_every_step_of_the_checks_and_model_jobs_runs_here_on_a_new_project(
    tmp_path: Path,
) -> None:
    """The `run:` steps in order, as the runner runs them (bash, the workflow's env, the
    job's outputs file), in a project `mlops-iac new` made; `pip install` steps are what this
    venv already holds (the dev set)."""
    project = tmp_path / "fraud-stack"
    assert CliRunner().invoke(app, ["new", str(project)]).exit_code == 0
    env = {
        **os.environ,
        **workflow()["env"],
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "GITHUB_OUTPUT": str(tmp_path / "github-output"),
    }
    (tmp_path / "runner-temp").mkdir()
    ran = []
    for job in RUNS_HERE:
        for step in steps(job):
            command = step.get("run")
            if command is None or command.startswith("pip install"):
                continue
            done = subprocess.run(
                ["bash", "-e", "-c", command],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, f"{job}: {step['name']}: {done.stdout}{done.stderr}"
            ran.append(step["name"])

    assert len(ran) == 6, ran
    assert (tmp_path / "github-output").read_text() == "kind=kind\n"
