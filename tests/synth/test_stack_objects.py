"""The repository's stacks (local, examples/churn, aws-dev) under mocks: each Kubernetes
object declared once, and no secret in the registry's argv."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from mlops_iac.testing import SynthResult, synth_project
from mlops_iac.testing.manifests import object_identity

REPO = Path(__file__).resolve().parents[2]
STACKS = {
    "local": (REPO, "local"),
    "churn": (REPO / "examples" / "churn", "dev"),
    "aws-dev": (REPO, "aws-dev"),
}
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_synthesized: dict[str, SynthResult] = {}


def synthesized(stack: str) -> SynthResult:
    """Each stack synthesized once per module (synth raises on duplicate objects)."""
    if stack not in _synthesized:
        _synthesized[stack] = synth_project(*STACKS[stack])
    return _synthesized[stack]


@pytest.mark.parametrize("stack", ["local", "churn"])
def test_each_kubernetes_object_is_declared_once(stack: str) -> None:
    result = synthesized(stack)

    identities = Counter(object_identity(manifest) for manifest in result.manifests)
    assert [str(identity) for identity, count in identities.items() if count > 1] == []
    assert len(identities) == len(result.manifests) > 50


def test_the_trainer_and_the_drift_monitor_each_get_their_own_registry_policies() -> None:
    churn = synthesized("churn")

    for client, app in (("trainer", "trainer"), ("drift-monitor", "drift-monitor")):
        name = f"mlflow-from-mlops-training-{client}"
        ingress = churn.manifest("NetworkPolicy", f"{name}-ingress", "mlops")["spec"]
        egress = churn.manifest("NetworkPolicy", f"{name}-egress", "mlops-training")["spec"]
        (rule,) = ingress["ingress"]
        (peer,) = rule["from"]
        assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == app
        assert egress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == app


@pytest.mark.parametrize("stack", ["local", "churn", "aws-dev"])
def test_no_registry_container_argument_references_a_secret_env_var(stack: str) -> None:
    pod = synthesized(stack).manifest("Deployment", "mlflow")["spec"]["template"]["spec"]

    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        env = container.get("env", [])
        secret_vars = {e["name"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}
        argv = [*container.get("command", []), *container.get("args", [])]
        referenced = {name for arg in argv for name in REFERENCE.findall(arg)}
        assert not referenced & secret_vars, (container["name"], argv)
        assert not any("PASSWORD" in arg.upper() for arg in argv), (container["name"], argv)
        assert {e["name"]: e.get("value") for e in env}["MLFLOW_BACKEND_STORE_URI"]
