"""The Argo Rollouts controller on a local control plane: its CRDs, and the controller built
by tools/controlplane/build.sh (group `argo-rollouts`) run as a process with the Gateway API
traffic-router plugin (group `rollouts-gatewayapi`), configured as the Helm chart configures
it in a cluster."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.components.rollout_specs import GATEWAY_PLUGIN
from mlops_iac.components.rollouts import CONTROLLER_NAMESPACE
from mlops_iac.dev.controlplane import ControlPlane
from mlops_iac.testing.local_servers import LOOPBACK, free_port, stop_process_group

CONFIG_MAP = "argo-rollouts-config"
"""The controller reads its plugins from this ConfigMap in its own namespace (POD_NAMESPACE),
once, at start (argo-rollouts v1.10.2 utils/defaults)."""


def plugin_config(plugin: Path) -> dict[str, Any]:
    """The ConfigMap the chart renders from `controller.trafficRouterPlugins`, naming a local
    copy of the plugin instead of its release download."""
    plugins = [{"name": GATEWAY_PLUGIN, "location": f"file://{plugin.resolve()}"}]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP, "namespace": CONTROLLER_NAMESPACE},
        "data": {"trafficRouterPlugins": yaml.safe_dump(plugins)},
    }


@contextmanager
def rollouts_controller(
    plane: ControlPlane, workdir: Path, *, wrapper: Sequence[str] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """Install the CRDs, then run the controller against `plane` until the block ends. It
    downloads (copies) the plugin into `workdir/plugin-bin` and runs it with KUBECONFIG.
    `wrapper` is a command the controller's own is appended to (e.g. one that gives it the
    cluster's host names)."""
    plane.kubectl("apply", "--server-side", "-f", str(plane.bin_dir / "argo-rollouts-crds.yaml"))
    plane.kubectl("wait", "--for=condition=Established", "crd", "rollouts.argoproj.io")
    plane.kubectl("create", "namespace", CONTROLLER_NAMESPACE)
    config = plugin_config(plane.bin_dir / "gatewayapi-plugin")
    plane.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(config))
    workdir.mkdir(parents=True, exist_ok=True)
    healthz = free_port()
    process = spawn(
        [
            *wrapper,
            str(plane.bin_dir / "rollouts-controller"),
            "--kubeconfig", str(plane.kubeconfig),
            "--leader-elect=false",
            "--healthzPort", str(healthz),
            "--metricsPort", str(free_port()),
            "--loglevel", "info",
        ],
        workdir / "rollouts-controller.log",
        env={**plane.env(), "POD_NAMESPACE": CONTROLLER_NAMESPACE},
        cwd=workdir,
    )  # fmt: skip
    try:
        _wait_healthy(f"http://{LOOPBACK}:{healthz}/healthz", process, workdir)
        yield process
    finally:
        stop_process_group(process)


def spawn(
    command: list[str], log: Path, *, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own (stop it with `stop_process_group`), with
    `env` over this process's environment and its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_healthy(url: str, process: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (workdir / "rollouts-controller.log").read_text(errors="replace")
            raise AssertionError(f"rollouts-controller exited: {log[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"rollouts-controller not healthy at {url} within 60 s")
