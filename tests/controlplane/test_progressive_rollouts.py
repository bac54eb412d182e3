"""An endpoint's automatic rollout for real on the control plane: the stack deployed by the
real Pulumi CLI, the Argo Rollouts controller (v1.10.2, built from its Go module) with the
Gateway API plugin (v0.15.0, built from ../shared/vendor), the promotion watcher as a process
following a real MLflow registry, kwok running the pods.

The tests run in file order on one stack: a first `up`, a model trained and promoted by the
stack's own trainer that the watcher pins and the controller walks through the steps on the
HTTPRoute's weights (with a `pulumi up` in the middle), Pulumi and the controller leaving
each other's fields alone, a version whose analysis fails and is rolled back, the alias
moved back, and `destroy`. Each step of the loop is printed with its version (`-s`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo import PrometheusStandIn
from polling import wait_until
from toolchain import REPO, TierStack

from mlops_iac.components.rollout_specs import MODEL_VERSION_ANNOTATION
from mlops_iac.dev.controlplane import ControlPlane, stop
from mlops_iac.dev.rollouts import rollouts_controller, spawn
from mlops_iac.testing.local_servers import MlflowServer, free_port, stop_process_group

pytestmark = pytest.mark.controlplane

NAMESPACE = "rollouts"
ENDPOINT = "churn"
MODEL = "churn"
STEPS = [{"weight": 20, "pause_seconds": 5}, {"weight": 60, "pause_seconds": None}]
"""The last step holds until someone promotes the rollout (`mlops-iac rollout promote`)."""
TAG = f"mlops-iac.rollout.{NAMESPACE}.{ENDPOINT}"


@dataclass
class Loop:
    """The deployed stack and what runs beside it."""

    stack: TierStack
    plane: ControlPlane
    prometheus: PrometheusStandIn
    registry: Any
    """An MlflowClient of the registry the watcher follows."""
    watcher_log: Path
    weights_seen: list[tuple[int, int]] = field(default_factory=list)

    def rollout(self) -> dict[str, Any]:
        found: dict[str, Any] = self.plane.get("rollout", ENDPOINT, "-n", NAMESPACE)
        return found

    def route_weights(self) -> tuple[int, int]:
        route = self.plane.get("httproute", ENDPOINT, "-n", NAMESPACE)
        refs = {r["name"]: r.get("weight", 1) for r in route["spec"]["rules"][0]["backendRefs"]}
        return refs[ENDPOINT], refs[f"{ENDPOINT}-canary"]

    def pinned_version(self) -> str | None:
        deployment = self.plane.get("deployment", ENDPOINT, "-n", NAMESPACE)
        annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
        return annotations.get(MODEL_VERSION_ANNOTATION)

    def recorded(self, version: str, outcome: str, timeout: float = 60) -> str:
        """The watcher's tag on `version` once it records `outcome` (or what it says then)."""

        def tag() -> str:
            return str(self.registry.get_model_version(MODEL, version).tags.get(TAG, ""))

        wait_until(lambda: tag().startswith(outcome), timeout)
        return tag()

    def replicas_of(self, pod_hash: str) -> int:
        """Pods the ReplicaSet of one revision wants."""
        found = self.plane.get("replicaset", f"{ENDPOINT}-{pod_hash}", "-n", NAMESPACE)
        return int(found["spec"].get("replicas", 0))

    def cli(self, action: str) -> list[str]:
        """`mlops-iac rollout ACTION` arguments for the endpoint of this stack."""
        kubeconfig = str(self.plane.kubeconfig)
        return ["rollout", action, ENDPOINT, "--stack", self.stack.name, "--kubeconfig", kubeconfig]

    def promote(self, version: str) -> None:
        self.registry.set_registered_model_alias(MODEL, "champion", version)

    def train(self) -> Any:
        """A run of the stack's trainer (mlops_iac.workloads.train) on a small public
        dataset: it registers a version and, past its champion gate, moves `champion`."""
        from mlops_iac.workloads.train import TrainConfig, train

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", self.registry.tracking_uri)
            return train(TrainConfig(model_name=MODEL, params={"n_estimators": 10}), self.registry)

    def register(self) -> str:
        """A new version of the model (its files are never fetched: kwok runs the pods)."""
        created = self.registry.create_model_version(MODEL, source="s3://models/churn")
        return str(created.version)

    def watch_until(self, done: Any, timeout: float = 180) -> dict[str, Any]:
        """Poll the Rollout (and the route's weights, recorded) until `done(rollout)`."""
        deadline = time.monotonic() + timeout
        while True:
            rollout = self.rollout()
            weights = self.route_weights()
            if not self.weights_seen or self.weights_seen[-1] != weights:
                self.weights_seen.append(weights)
            if done(rollout):
                return rollout
            if time.monotonic() > deadline:
                log = self.watcher_log.read_text(errors="replace")[-2000:]
                raise AssertionError(f"rollout not done: {rollout.get('status')}\n{log}")
            time.sleep(0.5)


def _at(rollout: dict[str, Any], step: int) -> bool:
    return rollout.get("status", {}).get("currentStepIndex") == step


def _healthy_on(rollout: dict[str, Any], pod_hash: str | None = None) -> bool:
    status = rollout.get("status", {})
    settled = status.get("phase") == "Healthy" and status.get("stableRS")
    on_hash = pod_hash is None or status.get("stableRS") == pod_hash
    return bool(settled and on_hash and status.get("stableRS") == status.get("currentPodHash"))


@pytest.fixture(scope="module")
def loop(
    controlplane_bin: Path,
    tmp_path_factory: pytest.TempPathFactory,
    mlflow_server: MlflowServer,
) -> Iterator[Loop]:
    """A control plane of its own (Gateway API CRDs installed), the controller, a stand-in
    Prometheus answering 0 (no errors), and the stack with one rolled endpoint after `up`."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("rollouts-plane")
    plane = ControlPlane(root, controlplane_bin)
    plane.start()
    registry = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    registry.create_registered_model(MODEL)
    prometheus = PrometheusStandIn()
    try:
        with prometheus.serving(), rollouts_controller(plane, root / "argo"):
            config = {
                "mlops:name": "rollouts",
                "mlops:namespace": NAMESPACE,
                "mlops:target": {
                    "kind": "kubernetes",
                    "preinstalled": ["gateway-api", "argo-rollouts"],
                },
                "mlops:serving": [
                    {
                        "name": ENDPOINT,
                        "model": f"models:/{MODEL}@champion",
                        "replicas": 2,
                        "rollout": {
                            "steps": STEPS,
                            "analysis": {
                                "prometheus_url": prometheus.url,
                                "interval_seconds": 5,
                                "failure_limit": 0,
                            },
                            "poll_seconds": 5,
                        },
                    }
                ],
            }
            stack = TierStack(
                plane, "controlplane-rollouts", REPO / "Pulumi.controlplane-rollouts.yaml", config
            )
            stack.write_config()
            stack.pulumi("stack", "init", stack.name)
            written = yaml.safe_load(stack.config_file.read_text())
            stack.config_extra = {k: v for k, v in written.items() if k != "config"}
            try:
                stack.up()
                with _watcher(plane, mlflow_server, root) as watcher_log:
                    yield Loop(stack, plane, prometheus, registry, watcher_log)
            finally:
                stack.remove()
    finally:
        stop(root)


@contextmanager
def _watcher(plane: ControlPlane, registry: MlflowServer, root: Path) -> Iterator[Path]:
    """The promotion watcher as a process, with the config the stack gave its Deployment
    (read back from the cluster), the registry's URL in its environment and the admin's
    kubeconfig in place of its in-cluster ServiceAccount."""
    config_map = plane.get("configmap", "promotion-watcher", "-n", NAMESPACE)
    config = root / "promotion-watch.json"
    config.write_text(config_map["data"]["promotion-watch.json"])
    log_path = root / "promotion-watcher.log"
    process = spawn(
        [
            sys.executable, "-m", "mlops_iac.workloads.promotion_watch",
            "--config", str(config),
            "--kubeconfig", str(plane.kubeconfig),
            "--metrics-port", str(free_port()),
        ],
        log_path,
        env={"MLFLOW_TRACKING_URI": registry.url},
    )  # fmt: skip
    try:
        yield log_path
    finally:
        stop_process_group(process)


def test_a_first_up_runs_the_pods_from_the_rollout_without_steps(loop: Loop) -> None:
    rollout = loop.watch_until(_healthy_on)
    deployment = loop.plane.get("deployment", ENDPOINT, "-n", NAMESPACE)
    stable_hash = rollout["status"]["stableRS"]
    stable = loop.plane.get("service", ENDPOINT, "-n", NAMESPACE)
    canary = loop.plane.get("service", f"{ENDPOINT}-canary", "-n", NAMESPACE)

    assert deployment["spec"]["replicas"] == 0
    assert rollout["status"]["availableReplicas"] == 2
    assert stable["spec"]["selector"]["rollouts-pod-template-hash"] == stable_hash
    assert canary["spec"]["selector"]["rollouts-pod-template-hash"] == stable_hash
    assert loop.route_weights() == (100, 0)
    assert loop.pinned_version() is None  # no model yet: nothing pinned


def test_the_stack_previews_clean_after_the_controller_wrote_its_fields(loop: Loop) -> None:
    loop.stack.pulumi("preview", "--expect-no-changes", "--diff")
    loop.stack.pulumi("refresh", "--yes", "--skip-preview")
    loop.stack.pulumi("preview", "--expect-no-changes", "--diff")


def test_a_promotion_walks_every_replica_through_the_steps_to_the_new_version(
    loop: Loop,
) -> None:
    before = loop.rollout()["status"]["stableRS"]
    trained = loop.train()  # the stack's trainer: its champion gate moves the alias
    assert trained.promoted, trained
    version = trained.version
    started = time.monotonic()
    print(f"[train] v{version}: champion ({trained.metric} {trained.score:.4f})")

    wait_until(lambda: loop.pinned_version() == version, timeout=60)
    print(f"[watch] v{version} pinned on the template after {time.monotonic() - started:.1f} s")
    moving = loop.watch_until(lambda r: r["status"].get("currentPodHash") != before)
    new_hash = moving["status"]["currentPodHash"]
    loop.weights_seen.clear()
    held = loop.watch_until(lambda r: r["status"].get("phase") == "Paused" and _at(r, 3))
    assert loop.route_weights() == (40, 60)
    status = loop.stack.mlops_iac(*loop.cli("status"))
    assert "new revision's share of requests: 60%" in status, status
    assert f"model version pinned on the template: {version}" in status, status
    assert held["status"]["stableRS"] == before
    # a `pulumi up` during the rollout that updates the endpoint's route (a new host) is no
    # field conflict (the plugin owns the rules then) and keeps the rollout where it is: its
    # weights, its step, the pinned version
    endpoint = loop.stack.config["mlops:serving"][0]
    loop.stack.set("mlops:serving", [{**endpoint, "ingress": {"host": "churn.example.test"}}])
    loop.stack.up()
    route = loop.plane.get("httproute", ENDPOINT, "-n", NAMESPACE)
    assert route["spec"]["hostnames"] == ["churn.example.test"]
    assert loop.route_weights() == (40, 60)
    assert _at(loop.rollout(), 3) and loop.pinned_version() == version
    loop.stack.mlops_iac(*loop.cli("promote"))
    done = loop.watch_until(lambda r: _healthy_on(r, new_hash))
    elapsed = time.monotonic() - started
    print(
        f"[rollout] v{version} on every replica {elapsed:.1f} s after its promotion (steps "
        f"{loop.weights_seen}, one manual promote)"
    )

    canary_weights = [canary for _, canary in loop.weights_seen]
    assert [w for w in canary_weights if w in (20, 60)] == [20, 60], loop.weights_seen
    assert loop.weights_seen[-1] == (100, 0)
    assert all(stable + canary == 100 for stable, canary in loop.weights_seen)
    assert done["status"]["updatedReplicas"] == 2
    # the previous revision's pods get no request and go after scaleDownDelaySeconds (30 s)
    assert wait_until(lambda: loop.replicas_of(before) == 0, timeout=120)
    # the analysis asked about the new revision's own pods
    assert any(f'rollouts_pod_template_hash="{new_hash}"' in q for q in loop.prometheus.queries)
    # and compared its client errors with the revision that was stable then
    assert any(f'rollouts_pod_template_hash="{before}"' in q for q in loop.prometheus.queries)
    tag = loop.recorded(version, "serving since")
    assert tag.startswith("serving since"), tag


def test_pulumi_leaves_what_the_rollout_wrote_and_an_update_starts_no_rollout(
    loop: Loop,
) -> None:
    current = loop.rollout()["status"]["currentPodHash"]
    loop.stack.pulumi("preview", "--expect-no-changes", "--diff")

    endpoint = loop.stack.config["mlops:serving"][0]
    loop.stack.set("mlops:serving", [{**endpoint, "replicas": 3}])
    loop.stack.up()

    rollout = loop.watch_until(lambda r: r["status"].get("availableReplicas") == 3, timeout=90)
    assert rollout["status"]["currentPodHash"] == current  # a scale, not a new revision
    assert loop.pinned_version() is not None
    assert loop.route_weights() == (100, 0)
    loop.stack.pulumi("preview", "--expect-no-changes", "--diff")


def test_a_version_that_fails_its_analysis_is_rolled_back(loop: Loop) -> None:
    stable = loop.rollout()["status"]["stableRS"]
    loop.prometheus.value = 0.5  # half the new version's requests fail
    version = loop.register()
    loop.promote(version)

    wait_until(lambda: loop.pinned_version() == version, timeout=60)
    aborted = loop.watch_until(lambda r: r["status"].get("abort") is True)

    assert aborted["status"]["stableRS"] == stable
    wait_until(lambda: loop.route_weights() == (100, 0), timeout=60)
    assert loop.route_weights() == (100, 0)
    tag = loop.recorded(version, "rolled back")
    assert tag.startswith("rolled back"), tag
    loop.stack.pulumi("preview", "--expect-no-changes", "--diff")


def test_moving_the_alias_back_returns_to_the_stable_version_at_once(loop: Loop) -> None:
    loop.prometheus.value = 0.0
    stable = loop.rollout()["status"]["stableRS"]
    previous = str(int(loop.pinned_version() or "2") - 1)
    loop.promote(previous)

    wait_until(lambda: loop.pinned_version() == previous, timeout=60)
    rollout = loop.watch_until(lambda r: _healthy_on(r, stable) and not r["status"].get("abort"))

    assert rollout["status"]["stableRS"] == stable
    assert loop.route_weights() == (100, 0)


def test_destroy_removes_the_rollout_and_what_it_made(loop: Loop) -> None:
    loop.stack.pulumi("destroy", "--yes", "--skip-preview")

    def left(kind: str) -> list[Any]:
        endpoint = f"mlops-iac.dev/endpoint={ENDPOINT}"
        found = loop.plane.kubectl("get", kind, "-n", NAMESPACE, "-l", endpoint, "-o", "json")
        return list(json.loads(found)["items"])

    # the Rollout's ReplicaSets and pods go with it (garbage collection by owner); the data
    # services' StatefulSets stay (retained, local profile)
    for kind in ("rollouts", "analysistemplates", "replicasets", "pods"):
        assert wait_until(lambda kind=kind: not left(kind), timeout=60), kind
