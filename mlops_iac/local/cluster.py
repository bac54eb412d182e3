"""The kind cluster of the local stack, from the config the project ships."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.local.process import Runner, run_checked

GATEWAY_NODE_PORTS = {"http": 30080, "https": 30443}
"""NodePorts of the Gateway's Envoy Service, mapped to the host's 80/443 by the config."""


def shipped_config() -> dict[str, Any]:
    """`mlops_iac/local/kind-cluster.yaml`."""
    text = resources.files("mlops_iac.local").joinpath("kind-cluster.yaml").read_text()
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def cluster_config(name: str, workers: int = 0) -> dict[str, Any]:
    """The shipped config for cluster `name`, with `workers` extra worker nodes."""
    config = shipped_config()
    config["name"] = name
    image = config["nodes"][0]["image"]
    config["nodes"] += [{"role": "worker", "image": image} for _ in range(workers)]
    return config


def existing_clusters(kind: Path, runner: Runner) -> list[str]:
    """`kind get clusters`."""
    listed = run_checked(runner, [str(kind), "get", "clusters"])
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


def ensure_cluster(kind: Path, name: str, workers: int, state_dir: Path, runner: Runner) -> bool:
    """Create cluster `name` unless it exists; True when it was created now."""
    if name in existing_clusters(kind, runner):
        return False
    state_dir.mkdir(parents=True, exist_ok=True)
    config_path = state_dir / f"kind-{name}.yaml"
    config_path.write_text(yaml.safe_dump(cluster_config(name, workers), sort_keys=False))
    run_checked(
        runner,
        [str(kind), "create", "cluster", "--name", name, "--config", str(config_path),
         "--wait", "180s"],
        timeout=1200,
    )  # fmt: skip
    return True


def delete_cluster(kind: Path, name: str, runner: Runner) -> bool:
    """Delete cluster `name` if it exists; True when it did."""
    if name not in existing_clusters(kind, runner):
        return False
    run_checked(runner, [str(kind), "delete", "cluster", "--name", name], timeout=600)
    return True
