"""The `secret-argv` rule of `mlops-iac check`: no secret on a container's command line
(what the kubelet expands from `$(NAME)` in command and args, literal secret options and
URLs with passwords, in commands, probes and hooks); the reference stacks pass it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.policy import check, variable_references
from mlops_iac.testing import SynthResult, synth_project

REPO = Path(__file__).resolve().parents[2]
STACKS = {"local": (REPO, "local"), "churn": (REPO / "examples" / "churn", "dev")}


def deployment(containers: list[dict[str, Any]]) -> dict[str, Any]:
    base = {
        "image": "docker.io/library/redis:8.10.2-trixie",
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "planted", "namespace": "mlops"},
        "spec": {"template": {"spec": {"containers": [{**base, **c} for c in containers]}}},
    }


def secret_argv(manifest: dict[str, Any]) -> list[str]:
    findings, _ = check([manifest])
    return [f.message for f in findings if f.rule == "secret-argv"]


def from_secret(name: str, secret: str = "creds") -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}}


def test_a_reference_to_a_variable_from_a_secret_is_found():
    """What the in-cluster Redis did before: `--requirepass $(REDIS_PASSWORD)`; and the
    name need not look secret when the value comes from a Secret."""
    manifest = deployment(
        [
            {
                "name": "redis",
                "command": ["redis-server", "--requirepass", "$(REDIS_PASSWORD)"],
                "args": ["--user=$(LOGIN)"],
                "env": [from_secret("REDIS_PASSWORD"), from_secret("LOGIN", "other")],
            }
        ]
    )

    assert secret_argv(manifest) == [
        "container redis puts $(REDIS_PASSWORD) (from Secret creds) on its command line: "
        "pass it in the environment or a file",
        "container redis puts $(LOGIN) (from Secret other) on its command line: "
        "pass it in the environment or a file",
    ]


def test_a_reference_by_a_secret_looking_name_is_found_wherever_the_value_comes_from():
    """MLflow's `--backend-store-uri=...$(MLFLOW_DB_PASSWORD)@...` before the registry fix."""
    uri = "postgresql+psycopg2://$(MLFLOW_DB_USER):$(MLFLOW_DB_PASSWORD)@db:5432/mlflow"
    manifest = deployment(
        [{"name": "mlflow", "command": ["mlflow", "server", f"--backend-store-uri={uri}"]}]
    )

    assert secret_argv(manifest) == [
        "container mlflow puts $(MLFLOW_DB_PASSWORD) (a secret's name) on its command line: "
        "pass it in the environment or a file"
    ]


def test_literal_secrets_in_commands_probes_and_hooks_are_found():
    probe = {"exec": {"command": ["redis-cli", "--pass", "x", "--auth=hunter2", "ping"]}}
    manifest = deployment(
        [
            {
                "name": "app",
                "command": ["sh", "-c", "exec app --api-key abc123 --db postgresql://u:pw@h/db"],
                "livenessProbe": probe,
                "lifecycle": {"preStop": {"exec": {"command": ["stop", "--token=t0k3n"]}}},
            }
        ]
    )

    assert secret_argv(manifest) == [
        "container app has option --api-key with a value in its command",
        "container app has a URL with a password in its command",
        "container app has option --pass with a value in its livenessProbe",
        "container app has option --auth with a value in its livenessProbe",
        "container app has option --token with a value in its lifecycle.preStop",
    ]


def test_what_is_not_a_secret_on_the_command_line_passes():
    manifest = deployment(
        [
            {
                "name": "app",
                "command": [
                    "sh",
                    "-c",
                    'exec app --at="$(date -u +%H)" --token-file=/run/token $$(DB_PASSWORD)',
                ],
                "args": ["--port=$(PORT)", "--user=$(DB_USER)", "--no-auth-warning"],
                "env": [{"name": "PORT", "value": "80"}, {"name": "DB_USER", "value": "u"}],
                "readinessProbe": {"exec": {"command": ["sh", "-c", "redis-cli ping"]}},
            }
        ]
    )

    assert secret_argv(manifest) == []


def test_variable_references_follow_the_kubelet():
    assert variable_references("$(A) $$(B) $(C.d-e) $(not a name) $(") == ["A", "C.d-e"]


@pytest.fixture(scope="module", params=["local", "churn", "aws-dev"])
def reference_stack(request: pytest.FixtureRequest) -> SynthResult:
    if request.param == "aws-dev":
        pytest.importorskip("pulumi_aws", reason="the AWS platform needs the `aws` extra")
        return synth_project(REPO, "aws-dev")
    folder, stack = STACKS[request.param]
    return synth_project(folder, stack)


def test_the_reference_stacks_put_no_secret_on_a_command_line(reference_stack):
    findings, _ = check(reference_stack.manifests)

    assert [str(f) for f in findings if f.rule == "secret-argv"] == []


def test_the_rule_finds_the_old_redis_command_in_a_reference_stack(reference_stack):
    """The rule sees a planted violation among a real stack's manifests."""
    manifests = copy.deepcopy(reference_stack.manifests)
    workload = next(m for m in manifests if m["kind"] == "Deployment")
    container = workload["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("env", []).append(from_secret("PLANTED"))
    container["args"] = [*container.get("args", []), "--password=$(PLANTED)"]

    findings, _ = check(manifests)

    assert [(f.rule, f.name) for f in findings] == [("secret-argv", workload["metadata"]["name"])]
