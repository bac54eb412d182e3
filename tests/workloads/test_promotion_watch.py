"""The promotion watcher: its pure decision, then the real thing against a real MLflow server
on 127.0.0.1 (versions of a small sklearn model, aliases moved here) and a fake Kubernetes API
(an http.server on 127.0.0.1 serving one Deployment and one Rollout whose status the tests
set), reached through a kubeconfig file as the watcher is run outside a cluster."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from k8s_recorder import JsonHandler

from mlops_iac.components.rollout_specs import MODEL_VERSION_ANNOTATION
from mlops_iac.testing.local_servers import (
    LOOPBACK,
    MlflowServer,
    free_port,
    stop_process_group,
    venv_environ,
    wait_for_http,
)
from mlops_iac.workloads.promotion_watch import (
    FIELD_MANAGER,
    Decision,
    Memory,
    RolloutStatus,
    Watcher,
    WatchMetrics,
    decide,
    kubernetes_apis,
    main,
    outcome_tag,
    parse_config,
    recorded_outcome,
)

NAMESPACE = "mlops"
ENDPOINT = "churn"
TAG = f"mlops-iac.rollout.{NAMESPACE}.{ENDPOINT}"
ABORT_MESSAGE = (
    'RolloutAborted: Rollout aborted update to revision 3: Metric "error-ratio" assessed '
    "Failed due to failed (2) > failureLimit (1)"
)

# --- the decision, pure ---------------------------------------------------------------------

HEALTHY = RolloutStatus(phase="Healthy", stable_rs="h2", current_pod_hash="h2")
STALE_HEALTHY = RolloutStatus(
    phase="Healthy", stable_rs="h1", current_pod_hash="h1", observed=False
)
PROGRESSING = RolloutStatus(phase="Progressing", stable_rs="h1", current_pod_hash="h2")
PAUSED = RolloutStatus(phase="Paused", stable_rs="h1", current_pod_hash="h2")
ABORTED = RolloutStatus(
    phase="Degraded", abort=True, message="aborted", stable_rs="h2", current_pod_hash="h3"
)
DEGRADED = RolloutStatus(phase="Degraded", stable_rs="h1", current_pod_hash="h2")

CASES = {
    # name: (resolved, annotation, rollout, memory) -> (patch, record, state, memory after)
    "no model yet": ((None, None, None, Memory()), (None, None, "waiting", Memory())),
    "first version": (("1", None, None, Memory()), ("1", None, "progressing", Memory("1"))),
    "first version, the Rollout already runs alias-following pods": (
        ("1", None, HEALTHY, Memory()),
        ("1", None, "progressing", Memory("1")),
    ),
    "same version, rolling": (
        ("2", "2", PROGRESSING, Memory("2")),
        (None, None, "progressing", Memory("2")),
    ),
    "same version, paused at a step": (
        ("2", "2", PAUSED, Memory("2")),
        (None, None, "progressing", Memory("2")),
    ),
    "same version, degraded without abort": (
        ("2", "2", DEGRADED, Memory("2")),
        (None, None, "progressing", Memory("2")),
    ),
    "alias moved": (
        ("3", "2", HEALTHY, Memory("2", "serving")),
        ("3", None, "progressing", Memory("3")),
    ),
    "alias moved back to the stable version after a rollback": (
        ("2", "3", ABORTED, Memory("3", "rolled_back")),
        ("2", None, "progressing", Memory("2")),
    ),
    "status still of the previous template": (
        ("2", "2", STALE_HEALTHY, Memory("2")),
        (None, None, "progressing", Memory("2")),
    ),
    "healthy: recorded": (
        ("2", "2", HEALTHY, Memory("2")),
        (None, "serving", "healthy", Memory("2", "serving")),
    ),
    "healthy: recorded once": (
        ("2", "2", HEALTHY, Memory("2", "serving")),
        (None, None, "healthy", Memory("2", "serving")),
    ),
    "aborted: recorded": (
        ("3", "3", ABORTED, Memory("3")),
        (None, "rolled_back", "aborted", Memory("3", "rolled_back")),
    ),
    "aborted: recorded once, and no new rollout": (
        ("3", "3", ABORTED, Memory("3", "rolled_back")),
        (None, None, "aborted", Memory("3", "rolled_back")),
    ),
    "retried after the rollback, then healthy": (
        ("3", "3", HEALTHY, Memory("3", "rolled_back")),
        (None, "serving", "healthy", Memory("3", "serving")),
    ),
    "alias gone: the pinned version is still followed": (
        (None, "2", HEALTHY, Memory("2")),
        (None, "serving", "healthy", Memory("2", "serving")),
    ),
    "a version the watcher did not roll: nothing recorded": (
        (None, "2", HEALTHY, Memory("1", "serving")),
        (None, None, "healthy", Memory("2")),
    ),
    "no Rollout": (("2", "2", None, Memory("2")), (None, None, "progressing", Memory("2"))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_decide(case: str) -> None:
    (resolved, annotation, rollout, memory), (patch, record, state, after) = CASES[case]

    decision = decide(resolved, annotation, rollout, memory)

    assert (decision.patch, decision.record, decision.state, decision.memory) == (
        patch,
        record,
        state,
        after,
    )
    assert decision.pinned == (patch or annotation)


def test_a_recorded_decision_applied_again_records_nothing() -> None:
    memory = Memory()
    states = []
    for resolved, annotation, rollout in [
        ("1", None, None),
        ("1", "1", STALE_HEALTHY),
        ("1", "1", PROGRESSING),
        ("1", "1", HEALTHY),
        ("1", "1", HEALTHY),
        ("1", "1", HEALTHY),
    ]:
        decision: Decision = decide(resolved, annotation, rollout, memory)
        memory = decision.memory
        states.append((decision.patch, decision.record, decision.state))
    assert states == [
        ("1", None, "progressing"),
        (None, None, "progressing"),
        (None, None, "progressing"),
        (None, "serving", "healthy"),
        (None, None, "healthy"),
        (None, None, "healthy"),
    ]


def test_rollout_status_compares_the_observed_workload_generation() -> None:
    rollout = {
        "status": {
            "phase": "Healthy",
            "stableRS": "abc",
            "currentPodHash": "abc",
            "workloadObservedGeneration": "4",
        }
    }
    assert RolloutStatus.from_object(rollout, 4).observed
    assert RolloutStatus.from_object(rollout, 4).stable
    assert not RolloutStatus.from_object(rollout, 5).observed
    assert RolloutStatus.from_object({"status": {"phase": "Healthy"}}, 5).observed
    empty = RolloutStatus.from_object({}, 1)
    assert (empty.phase, empty.abort, empty.stable) == (None, False, False)
    aborted = RolloutStatus.from_object({"status": {"abort": True, "message": "why"}}, None)
    assert (aborted.abort, aborted.message) == (True, "why")


def test_tags_round_trip() -> None:
    assert recorded_outcome(outcome_tag("serving", "T")) == "serving"
    assert outcome_tag("rolled_back", "T", "bad") == "rolled back T: bad"
    assert outcome_tag("rolled_back", "T") == "rolled back T"
    assert recorded_outcome("rolled back T: bad") == "rolled_back"
    assert recorded_outcome("started T") is None
    assert recorded_outcome(None) is None


def endpoint_entry(model_uri: str = "models:/churn@champion", **overrides: str) -> dict[str, str]:
    entry = {
        "endpoint": ENDPOINT,
        "namespace": NAMESPACE,
        "deployment": ENDPOINT,
        "rollout": ENDPOINT,
        "model_uri": model_uri,
    }
    return {**entry, **overrides}


def test_config() -> None:
    config = parse_config({"endpoints": [endpoint_entry()], "poll_seconds": 5})
    assert config.poll_seconds == 5
    (endpoint,) = config.endpoints
    assert endpoint.tag_key == TAG
    assert endpoint.ref.alias == "champion"
    assert parse_config({"endpoints": [endpoint_entry()]}).poll_seconds == 30


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"endpoints": []}, "non-empty list"),
        ({"endpoints": [endpoint_entry()], "poll_seconds": 0}, "poll_seconds"),
        ({"endpoints": [endpoint_entry()], "pol_seconds": 5}, "unknown config keys"),
        ({"endpoints": [{"endpoint": "churn"}]}, "missing keys"),
        ({"endpoints": [endpoint_entry(model_uri="models:/churn")]}, "not a registry model"),
        ({"endpoints": [endpoint_entry(rollout="")]}, "rollout must be a non-empty string"),
        ({"endpoints": [endpoint_entry(), endpoint_entry()]}, "listed twice"),
    ],
)
def test_invalid_configs_say_why(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_config(data)


# --- against a real registry and a fake Kubernetes API --------------------------------------


class FakeCluster:
    """One Deployment (the pod template) and one Rollout, as the Kubernetes API serves them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deployment: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": ENDPOINT, "namespace": NAMESPACE, "generation": 1},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": ENDPOINT}},
                "template": {
                    "metadata": {"labels": {"app": ENDPOINT}, "annotations": {"other": "kept"}},
                    "spec": {"containers": [{"name": "server", "image": "mlops-iac/runtime"}]},
                },
            },
        }
        self.rollout_status: dict[str, Any] = {}
        self.patches: list[dict[str, Any]] = []
        """Each PATCH: its `body`, `content_type` and `query`."""

    @property
    def generation(self) -> int:
        return int(self.deployment["metadata"]["generation"])

    @property
    def annotation(self) -> str | None:
        annotations = self.deployment["spec"]["template"]["metadata"].get("annotations", {})
        return annotations.get(MODEL_VERSION_ANNOTATION)

    def set_rollout(self, phase: str, stable: str, current: str, **more: Any) -> None:
        """The controller's status, having seen the Deployment's current generation."""
        self.rollout_status = {
            "phase": phase,
            "stableRS": stable,
            "currentPodHash": current,
            "workloadObservedGeneration": str(self.generation),
            **more,
        }

    def rollout(self) -> dict[str, Any]:
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": ENDPOINT, "namespace": NAMESPACE, "generation": 1},
            "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment"}},
            "status": self.rollout_status,
        }

    def patch(self, body: dict[str, Any], content_type: str, query: str) -> dict[str, Any]:
        self.patches.append({"body": body, "content_type": content_type, "query": query})
        before = json.dumps(self.deployment["spec"], sort_keys=True)
        merge(self.deployment, body)
        if json.dumps(self.deployment["spec"], sort_keys=True) != before:
            self.deployment["metadata"]["generation"] += 1
        return self.deployment


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 JSON merge patch, in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value


def handler_for(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    deployment_path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{ENDPOINT}"
    rollout_path = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/rollouts/{ENDPOINT}"

    class Handler(JsonHandler):
        def not_found(self) -> None:
            self.reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            with cluster.lock:
                if path == deployment_path:
                    self.reply(200, cluster.deployment)
                elif path == rollout_path:
                    self.reply(200, cluster.rollout())
                else:
                    self.not_found()

        def do_PATCH(self) -> None:
            parts = urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if parts.path != deployment_path:
                self.not_found()
                return
            with cluster.lock:
                self.reply(200, cluster.patch(body, self.headers["Content-Type"], parts.query))

    return Handler


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig (JSON is YAML) for the API at `server`: plain http, a dummy token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "fake", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        "current-context": "fake",
    }
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    """The fake cluster and a kubeconfig file pointing at it."""
    state = FakeCluster()
    server = ThreadingHTTPServer((LOOPBACK, 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", f"http://{LOOPBACK}:{server.server_address[1]}"
    )
    try:
        yield state, kubeconfig
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def model_name() -> str:
    return f"churn-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def register(tracking: Any, model_name: str) -> Callable[[], str]:
    """Registers a new version of a small sklearn model; returns its version."""
    import mlflow
    import numpy as np
    import sklearn
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit(np.array([[0.0], [1.0]]), np.array([0, 1]))

    def new_version() -> str:
        mlflow.set_experiment(f"promotion-watch-{model_name}")
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=model_name,
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
        return str(info.registered_model_version)

    return new_version


@pytest.fixture
def config_file(tmp_path: Path, model_name: str) -> Path:
    path = tmp_path / "promotion-watch.json"
    entry = endpoint_entry(f"models:/{model_name}@champion")
    path.write_text(json.dumps({"endpoints": [entry], "poll_seconds": 0.5}))
    return path


def tag(tracking: Any, name: str, version: str) -> str | None:
    value = tracking.get_model_version(name, version).tags.get(TAG)
    return None if value is None else str(value)


@pytest.mark.workload
def test_once_rolls_out_each_alias_move_and_records_how_it_went(
    tracking: Any,
    register: Callable[[], str],
    model_name: str,
    cluster: tuple[FakeCluster, Path],
    config_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every `--once` is a restarted watcher: what it did is re-derived each time."""
    fake, kubeconfig = cluster
    caplog.set_level(logging.INFO, logger="mlops_iac.promotion_watch")

    def watch_once() -> int:
        return main(["--once", "--config", str(config_file), "--kubeconfig", str(kubeconfig)])

    # No model yet: nothing to do, and that is no error.
    assert watch_once() == 0
    assert fake.patches == []
    assert "nothing to roll out yet" in caplog.text

    # The first champion: pinned.
    assert register() == "1"
    tracking.set_registered_model_alias(model_name, "champion", "1")
    assert watch_once() == 0
    (first,) = fake.patches
    assert first["body"] == {
        "spec": {"template": {"metadata": {"annotations": {MODEL_VERSION_ANNOTATION: "1"}}}}
    }
    assert first["content_type"] == "application/merge-patch+json"
    assert parse_qs(first["query"])["fieldManager"] == [FIELD_MANAGER]
    assert fake.annotation == "1"
    assert fake.deployment["spec"]["template"]["metadata"]["annotations"]["other"] == "kept"
    assert (tag(tracking, model_name, "1") or "").startswith("started ")
    assert f"{ENDPOINT}: rolling out version 1 (was none)" in caplog.text

    fake.set_rollout("Healthy", "h1", "h1")
    assert watch_once() == 0
    serving_1 = tag(tracking, model_name, "1") or ""
    assert serving_1.startswith("serving since ")

    # The alias moves: v2 is rolled out and recorded as started.
    assert register() == "2"
    tracking.set_registered_model_alias(model_name, "champion", "2")
    assert watch_once() == 0
    assert [p["body"]["spec"]["template"]["metadata"]["annotations"] for p in fake.patches] == [
        {MODEL_VERSION_ANNOTATION: "1"},
        {MODEL_VERSION_ANNOTATION: "2"},
    ]
    started_2 = tag(tracking, model_name, "2") or ""
    assert started_2.startswith("started ")
    assert f"{ENDPOINT}: rolling out version 2 (was 1)" in caplog.text
    assert tag(tracking, model_name, "1") == serving_1

    # The controller has not seen the new template yet: its Healthy is v1's.
    assert fake.rollout_status["workloadObservedGeneration"] != str(fake.generation)
    assert watch_once() == 0
    fake.set_rollout("Paused", "h1", "h2", currentStepIndex=1)
    assert watch_once() == 0
    assert tag(tracking, model_name, "2") == started_2

    fake.set_rollout("Healthy", "h2", "h2")
    assert watch_once() == 0
    assert (tag(tracking, model_name, "2") or "").startswith("serving since ")
    assert len(fake.patches) == 2

    # v3 fails its analysis and is rolled back: recorded, and nothing more happens.
    assert register() == "3"
    tracking.set_registered_model_alias(model_name, "champion", "3")
    assert watch_once() == 0
    assert fake.annotation == "3"
    fake.set_rollout("Degraded", "h2", "h3", abort=True, message=ABORT_MESSAGE)
    assert watch_once() == 0
    rolled_back = tag(tracking, model_name, "3") or ""
    assert rolled_back.startswith("rolled back ")
    assert rolled_back.endswith(f": {ABORT_MESSAGE}")
    patches = len(fake.patches)
    time.sleep(1.1)  # a second record would carry another time
    assert watch_once() == 0
    assert watch_once() == 0
    assert len(fake.patches) == patches
    assert tag(tracking, model_name, "3") == rolled_back
    assert caplog.text.count("version 3 was rolled back") == 1

    # Moving the alias back to the version the stable pods serve rolls it out again.
    tracking.set_registered_model_alias(model_name, "champion", "2")
    assert watch_once() == 0
    assert fake.annotation == "2"
    assert len(fake.patches) == patches + 1
    assert (tag(tracking, model_name, "2") or "").startswith("started ")
    fake.set_rollout("Healthy", "h2", "h2")
    assert watch_once() == 0
    assert (tag(tracking, model_name, "2") or "").startswith("serving since ")
    assert tag(tracking, model_name, "3") == rolled_back


@pytest.mark.workload
def test_a_running_watcher_records_once_and_exposes_its_state(
    tracking: Any,
    register: Callable[[], str],
    model_name: str,
    cluster: tuple[FakeCluster, Path],
    config_file: Path,
) -> None:
    from mlops_iac.workloads.promotion_watch import load_config

    fake, kubeconfig = cluster
    apps, custom = kubernetes_apis(str(kubeconfig))
    metrics = WatchMetrics()
    watcher = Watcher(load_config(config_file), tracking, apps, custom, metrics)
    labels = {"endpoint": ENDPOINT, "namespace": NAMESPACE}

    def value(name: str, **more: str) -> float | None:
        return metrics.registry.get_sample_value(name, {**labels, **more})

    def state() -> list[str]:
        states = ["progressing", "healthy", "aborted", "waiting"]
        return [s for s in states if value("mlops_rollout_state", state=s) == 1]

    assert watcher.poll()
    assert state() == ["waiting"]
    assert value("mlops_rollout_model_version") is None

    version = register()
    tracking.set_registered_model_alias(model_name, "champion", version)
    assert watcher.poll()
    assert (fake.annotation, state()) == (version, ["progressing"])
    assert value("mlops_rollout_model_version") == int(version)
    assert watcher.memory(ENDPOINT) == Memory(version)

    fake.set_rollout("Healthy", "h1", "h1")
    for _ in range(3):
        assert watcher.poll()
    assert state() == ["healthy"]
    assert value("mlops_rollout_total", outcome="promoted") == 1
    assert watcher.memory(ENDPOINT) == Memory(version, "serving")

    bad = register()
    tracking.set_registered_model_alias(model_name, "champion", bad)
    assert watcher.poll()
    fake.set_rollout("Degraded", "h1", "h2", abort=True, message=ABORT_MESSAGE)
    for _ in range(3):
        assert watcher.poll()
    assert state() == ["aborted"]
    assert value("mlops_rollout_model_version") == int(bad)
    assert value("mlops_rollout_total", outcome="rolled_back") == 1
    assert value("mlops_rollout_total", outcome="promoted") == 1
    assert len(fake.patches) == 2


@pytest.mark.workload
def test_an_unreachable_registry_or_api_fails_the_poll_without_patching(
    tracking: Any,
    register: Callable[[], str],
    model_name: str,
    cluster: tuple[FakeCluster, Path],
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, kubeconfig = cluster
    tracking.set_registered_model_alias(model_name, "champion", register())
    nowhere = f"http://{LOOPBACK}:{free_port()}"

    with monkeypatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", nowhere)
        assert main(["--once", "--config", str(config_file), "--kubeconfig", str(kubeconfig)]) == 1
    assert "does not answer" in caplog.text
    assert fake.patches == []

    elsewhere = write_kubeconfig(tmp_path / "elsewhere", nowhere)
    assert main(["--once", "--config", str(config_file), "--kubeconfig", str(elsewhere)]) == 1
    assert "the Kubernetes API does not answer" in caplog.text

    assert main(["--once", "--config", str(tmp_path / "missing.json")]) == 2


@pytest.mark.workload
def test_a_foreign_annotation_is_replaced_and_missing_objects_are_reported(
    tracking: Any,
    register: Callable[[], str],
    model_name: str,
    cluster: tuple[FakeCluster, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, kubeconfig = cluster
    caplog.set_level(logging.INFO, logger="mlops_iac.promotion_watch")
    tracking.set_registered_model_alias(model_name, "champion", register())
    fake.deployment["spec"]["template"]["metadata"]["annotations"][MODEL_VERSION_ANNOTATION] = (
        "latest"
    )

    def watch_once(**overrides: str) -> int:
        entry = endpoint_entry(f"models:/{model_name}@champion", **overrides)
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"endpoints": [entry]}))
        return main(["--once", "--config", str(config), "--kubeconfig", str(kubeconfig)])

    # No Rollout to read: the version is still pinned, with a warning.
    assert watch_once(rollout="missing") == 0
    assert fake.annotation == "1"
    assert f"rollout {NAMESPACE}/missing not found" in caplog.text
    assert "rolling out version 1 (was latest)" in caplog.text

    assert watch_once(deployment="missing") == 1
    assert f"reading deployment {NAMESPACE}/missing" in caplog.text
    assert len(fake.patches) == 1


@pytest.mark.workload
def test_the_loop_serves_metrics_and_ends_on_sigterm(
    mlflow_server: MlflowServer,
    tracking: Any,
    register: Callable[[], str],
    model_name: str,
    cluster: tuple[FakeCluster, Path],
    config_file: Path,
    tmp_path: Path,
) -> None:
    fake, kubeconfig = cluster
    tracking.set_registered_model_alias(model_name, "champion", register())
    port = free_port()
    log = tmp_path / "watch.log"
    command = [
        sys.executable, "-m", "mlops_iac.workloads.promotion_watch",
        "--config", str(config_file), "--metrics-port", str(port),
    ]  # fmt: skip
    env = venv_environ(MLFLOW_TRACKING_URI=mlflow_server.url, KUBECONFIG=str(kubeconfig))
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
        try:
            url = f"http://{LOOPBACK}:{port}/metrics"
            wait_for_http(url, 60, process)
            deadline = time.monotonic() + 30
            while fake.annotation is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert fake.annotation == "1", log.read_text()
            expected = (
                f'mlops_rollout_model_version{{endpoint="{ENDPOINT}",namespace="{NAMESPACE}"}} 1.0'
            )
            deadline = time.monotonic() + 10
            while True:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    exposed = answer.read().decode()
                if expected in exposed or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert expected in exposed
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            if process.poll() is None:
                stop_process_group(process)
    assert "rolling out version 1 (was none)" in log.read_text()
    assert len(fake.patches) == 1
