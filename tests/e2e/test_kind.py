"""End to end on a real kind cluster: `mlops-iac up`, train, serve, predict, monitor, an
idempotent second `up`, `down`. Marked `kind`: the default `pytest` run leaves it out
(`pytest -m kind` runs it), and it skips, saying why, where Docker or kind are missing.

It uses its own stack, `e2e` (cluster `mlops-e2e`), written next to the repo's program, so
a developer's `local` stack is left alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.kind

REPO = Path(__file__).resolve().parents[2]
STACK = "e2e"
CLUSTER = "mlops-e2e"
ENDPOINT = {
    "name": "demo",
    "model": "models:/demo@champion",
    "ingress": {"host": "demo.localtest.me"},
}


def docker_engine_runs() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0


def cli(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_iac.cli", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def write_stack(serving: list[dict[str, Any]]) -> None:
    config = yaml.safe_load((REPO / "Pulumi.local.yaml").read_text())["config"]
    config["mlops:name"] = STACK
    config["mlops:target"] = {"kind": "kind", "cluster": CLUSTER}
    config["mlops:serving"] = serving
    (REPO / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))


def http(url: str, body: dict[str, Any] | None = None, timeout: float = 600) -> Any:
    """GET/POST through the kind port mapping, retrying until the route answers."""
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return json.loads(text) if text.startswith(("{", "[")) else text
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(5)


@pytest.fixture(scope="module")
def deployed() -> Iterator[None]:
    if not docker_engine_runs():
        pytest.skip("no running Docker engine here: kind needs one (run on a machine with Docker)")
    write_stack([])
    try:
        first = cli("up", STACK)
        assert first.returncode == 0, first.stdout + first.stderr
        yield
    finally:
        cli("down", STACK, "--delete-data", "--delete-cluster")
        (REPO / f"Pulumi.{STACK}.yaml").unlink(missing_ok=True)


def test_the_registry_answers_through_the_gateway(deployed):
    assert http("http://mlflow.localtest.me/health") == "OK"


def test_train_then_serve_then_predict(deployed):
    trained = cli("train", "demo", "--stack", STACK)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert '"promoted": true' in trained.stdout

    write_stack([ENDPOINT])
    served = cli("up", STACK, "--no-build")
    assert served.returncode == 0, served.stdout + served.stderr
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).head(3)
    inputs = [
        {"name": c, "shape": [len(frame)], "datatype": "FP64", "data": frame[c].tolist()}
        for c in frame.columns
    ]
    body = {"parameters": {"content_type": "pd"}, "inputs": inputs}
    answer = http("http://demo.localtest.me/v2/models/demo/infer", body)
    assert answer["model_name"] == "demo"
    assert len(answer["outputs"][0]["data"]) == 3


def test_prometheus_scrapes_the_registry(deployed):
    raw = subprocess.run(
        ["kubectl", "--context", f"kind-{CLUSTER}", "get", "--raw",
         "/api/v1/namespaces/mlops-monitoring/services/monitoring-kube-prometheus-prometheus:9090"
         "/proxy/api/v1/targets"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    targets = json.loads(raw.stdout)["data"]["activeTargets"]
    assert any(t["labels"].get("service") == "mlflow" and t["health"] == "up" for t in targets)


def test_a_second_up_changes_nothing(deployed):
    again = cli("up", STACK, "--no-build")

    assert again.returncode == 0, again.stdout + again.stderr
    assert "a second preview plans no changes" in again.stdout
