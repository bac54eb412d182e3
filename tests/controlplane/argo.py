"""Argo Rollouts on the control plane: its CRDs and its controller (built from the Go module
by tools/controlplane/build.sh) as a process with the Gateway API traffic-router plugin (built
from ../shared/vendor), configured as the Helm chart configures it in a cluster; and a
stand-in for the Prometheus query API the analysis asks."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

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
def rollouts_controller(plane: ControlPlane, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Install the CRDs, then run the controller against `plane` until the block ends. It
    downloads (copies) the plugin into `workdir/plugin-bin` and runs it with KUBECONFIG."""
    plane.kubectl("apply", "--server-side", "-f", str(plane.bin_dir / "argo-rollouts-crds.yaml"))
    plane.kubectl("wait", "--for=condition=Established", "crd", "rollouts.argoproj.io")
    plane.kubectl("create", "namespace", CONTROLLER_NAMESPACE)
    config = plugin_config(plane.bin_dir / "gatewayapi-plugin")
    plane.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(config))
    workdir.mkdir(parents=True, exist_ok=True)
    healthz = free_port()
    process = spawn(
        [
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


@dataclass
class PrometheusStandIn:
    """Answers Prometheus' instant-query API (`/api/v1/query`, POST form or GET) with one
    sample of `value` for every query, and records each query. The control-plane tier runs
    no containers, so nothing here exports metrics: what the analysis sends, and what it
    does with an answer, is what this tier checks (the queries are evaluated by a real
    Prometheus against real model servers in tests/workloads/test_rollout_analysis.py)."""

    value: float = 0.0
    queries: list[str] = field(default_factory=list)
    url: str = ""

    @contextmanager
    def serving(self) -> Iterator[PrometheusStandIn]:
        """Serve on a free loopback port (`url`) until the block ends."""
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(self.path.partition("?")[2])

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(length).decode())

            def _answer(self, form: str) -> None:
                query = parse_qs(form).get("query", [""])[0]
                stand_in.queries.append(query)
                sample = {"metric": {}, "value": [time.time(), repr(float(stand_in.value))]}
                body = json.dumps(
                    {"status": "success", "data": {"resultType": "vector", "result": [sample]}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
