"""`mlops-iac dev controlplane up | env | down` as a user runs them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_iac.dev.controlplane import BIN_ENV
from mlops_iac.testing.local_servers import live_members

pytestmark = pytest.mark.controlplane


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_iac.cli", "dev", "controlplane", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def exports(output: str) -> dict[str, str]:
    pairs = [shlex.split(line.removeprefix("export "))[0] for line in output.splitlines()]
    return dict(pair.split("=", 1) for pair in pairs)


def test_up_prints_a_working_environment_and_down_stops_everything(
    controlplane_bin: Path, tmp_path: Path
):
    env = {**os.environ, BIN_ENV: str(controlplane_bin)}
    root = tmp_path / "plane"

    started = cli("up", "--root", str(root), "--no-build", env=env)
    try:
        assert started.returncode == 0, started.stderr
        variables = exports(started.stdout)
        assert variables["PULUMI_BACKEND_URL"] == f"file://{root.resolve()}/pulumi-state"
        nodes = subprocess.run(
            ["kubectl", "get", "nodes", "-o", "name"],
            capture_output=True,
            text=True,
            env={**os.environ, **variables},
            check=True,
        )
        assert nodes.stdout.strip() == "node/kwok-node-0"
        again = cli("env", "--root", str(root), env=env)
        assert exports(again.stdout)["KUBECONFIG"] == variables["KUBECONFIG"]
        pgid = int((root / "state.json").read_text().split('"pgid": ')[1].split(",")[0])
    finally:
        stopped = cli("down", "--root", str(root), env=env)

    assert stopped.returncode == 0
    assert not root.exists()
    assert live_members(pgid) == []
    assert cli("env", "--root", str(root), env=env).returncode == 1
