"""An endpoint's rollout analysis, judged for real: the AnalysisTemplate the stack synthesizes,
its queries asked of a real Prometheus scraping real model servers, its conditions evaluated
as Argo Rollouts evaluates them.

Real: the synthesized manifests (`synth`), an MLflow server with two registered versions of
one model (a GOOD one from the stack's trainer, and a BAD pyfunc that raises on rows with a
negative feature the GOOD one tolerates), the synthesized fetch-model init container pinned to
each version (MODEL_VERSION, as the promotion watcher's annotation sets it), the stack's own
model server (`builtin` runtime) run with the synthesized command and environment, Debian's
Prometheus scraping the servers every second, and the load (OIP v2 inference requests).

Rewritten or stood in: in-cluster names and ports become 127.0.0.1 and free ports, `/models`
a local folder; Prometheus' static targets carry the labels Kubernetes service discovery would
(`namespace`, `pod`, `service`, and the pod-template hash that the ServiceMonitor's
`podTargetLabels` copies, sanitized); the hashes are `stable-hash` and `canary-hash`, which
replace `{{args.canary-hash}}` as Argo Rollouts substitutes its argument; the condition is
evaluated by a Python evaluator of exactly the one shape the stack emits (any other shape
fails the test), the query sent as Argo's Prometheus provider sends it (POST /api/v1/query).

One rollout step per canary version, each with its own Prometheus: the stable replica serves
the GOOD version, the canary the version under test, and a paced load is split between them.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import subprocess
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prometheus_local import Prometheus, ScrapeTarget, prometheus

from mlops_iac.components.rollout_specs import (
    CANARY_HASH_ARG,
    MODEL_VERSION_ANNOTATION,
    POD_HASH_LABEL,
    STABLE_HASH_ARG,
    analysis_template_name,
    metrics_service_name,
)
from mlops_iac.testing import SynthResult
from mlops_iac.testing.local_servers import (
    LOOPBACK,
    MlflowServer,
    free_port,
    stop_process_group,
    venv_environ,
    wait_for_http,
)
from mlops_iac.testing.regressions import raising_model

pytestmark = pytest.mark.workload

ENDPOINT = "churn"
IN_CLUSTER_TRACKING = "http://mlflow.mlops.svc.cluster.local:5000"
ARGUMENT = f"{{{{args.{CANARY_HASH_ARG}}}}}"
STABLE_ARGUMENT = f"{{{{args.{STABLE_HASH_ARG}}}}}"
STABLE_HASH, CANARY_HASH = "stable-hash", "canary-hash"
POISONED_FEATURE = "mean radius"
"""The BAD version raises on a request with a negative value here; the GOOD one answers it."""
CONDITION = re.compile(
    r"len\(result\) == 0 \|\| isNaN\(result\[0\]\) \|\| "
    r"result\[0\] <= (?P<limit>[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)"
)
"""The only successCondition shape the stack emits (rollout_specs.analysis_template_spec)."""
REQUESTS = 300
"""Per step, alternately to the stable and the canary replica (a 50% step)."""
POISON_EVERY = 5
"""Every 5th request has one row with a negative POISONED_FEATURE: 20% of each replica's."""
ROWS_PER_REQUEST = 4
THREADS = 3
LOAD_SECONDS = 4.0
"""The load is paced over this long, so Prometheus scrapes it ~4 times (1 s interval)."""
LOAD_TIMEOUT = 60.0


# --- the condition, evaluated as Argo Rollouts would -----------------------------------------


def condition_limit(condition: str) -> float:
    """X in `len(result) == 0 || isNaN(result[0]) || result[0] <= X`; the test fails on any
    other condition, since this evaluator knows no other."""
    match = CONDITION.fullmatch(condition)
    if match is None:
        pytest.fail(f"the stack emits a successCondition this test cannot evaluate: {condition}")
    return float(match["limit"])


def succeeds(condition: str, result: list[float]) -> bool:
    """The condition's value for Argo's `result` (expr-lang's `||` short-circuits, as here)."""
    limit = condition_limit(condition)
    return len(result) == 0 or math.isnan(result[0]) or result[0] <= limit


@dataclass(frozen=True)
class Measurement:
    """One metric of the template, measured once over one revision's pods."""

    metric: str
    pod_hash: str
    result: list[float]
    limit: float
    passed: bool


def measure(
    prom: Prometheus, metrics: list[dict[str, Any]], pod_hash: str, label: str
) -> dict[str, Measurement]:
    """Every metric of the template, with the canary argument set to `pod_hash`; one printed
    line per metric."""
    measured = {}
    for metric in metrics:
        query = metric["provider"]["prometheus"]["query"]
        query = query.replace(ARGUMENT, pod_hash).replace(STABLE_ARGUMENT, STABLE_HASH)
        result = prom.query(query)
        condition = metric["successCondition"]
        passed = succeeds(condition, result)
        measured[metric["name"]] = Measurement(
            metric["name"], pod_hash, result, condition_limit(condition), passed
        )
        print(
            f"{label:<28} {metric['name']:<12} {pod_hash:<12} result={result!s:<24} "
            f"limit={condition_limit(condition):g} -> {'pass' if passed else 'FAIL'}"
        )
    return measured


def features() -> pd.DataFrame:
    """The trainer's dataset (`sklearn://breast_cancer`) without its target."""
    from sklearn.datasets import load_breast_cancer

    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    return frame.drop(columns=["target"])


# --- the model versions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Versions:
    name: str
    good: str
    bad: str


@pytest.fixture(scope="module")
def versions(mlflow_server: MlflowServer) -> Versions:
    """GOOD: the stack's trainer's model (the `champion`); BAD: the same estimator behind a
    pyfunc that raises on a negative POISONED_FEATURE, registered as the next version."""
    import mlflow
    import sklearn
    from mlflow import MlflowClient

    from mlops_iac.workloads.train import TrainConfig, train

    name = f"rolled-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        patch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
        good = train(
            TrainConfig(model_name=name, params={"n_estimators": 20}),
            MlflowClient(tracking_uri=mlflow_server.url),
        )
        assert good.promoted
        good_uri = f"models:/{name}/{good.version}"
        signature = mlflow.models.get_model_info(good_uri).signature
        assert POISONED_FEATURE in signature.inputs.input_names()
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=raising_model(
                    mlflow.sklearn.load_model(good_uri), POISONED_FEATURE, below=0
                ),
                signature=signature,
                input_example=features().head(3),
                pip_requirements=[
                    f"mlflow=={mlflow.__version__}",
                    f"scikit-learn=={sklearn.__version__}",
                ],
                registered_model_name=name,
            )
    return Versions(name, good.version, str(info.registered_model_version))


# --- the synthesized stack --------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(versions: Versions) -> SynthResult:
    from mlops_iac import MLOpsStack, StackSpec
    from mlops_iac.testing import synth

    spec = StackSpec.load(
        {
            "name": "demo",
            "target": {"kind": "kind", "cluster": "mlops"},
            "monitoring": {},
            "serving": [
                {"name": ENDPOINT, "model": f"models:/{versions.name}@champion", "rollout": {}}
            ],
        }
    )
    return synth(lambda: MLOpsStack("demo", spec), stack="demo")


@pytest.fixture(scope="module")
def analysis(stack: SynthResult) -> list[dict[str, Any]]:
    """The metrics of the endpoint's AnalysisTemplate."""
    template = stack.manifest("AnalysisTemplate", analysis_template_name(ENDPOINT))
    metrics: list[dict[str, Any]] = template["spec"]["metrics"]
    return metrics


@dataclass(frozen=True)
class ScrapedAs:
    """What the stack's ServiceMonitor makes of a pod: its series' namespace, and the target
    label the pod-template hash arrives in."""

    namespace: str
    service: str
    hash_label: str


@pytest.fixture(scope="module")
def scraped_as(stack: SynthResult) -> ScrapedAs:
    monitor = stack.manifest("ServiceMonitor", metrics_service_name(ENDPOINT))
    assert monitor["spec"]["podTargetLabels"] == [POD_HASH_LABEL]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    # Prometheus service discovery sanitizes label names: every invalid character becomes `_`
    hash_label = re.sub(r"[^a-zA-Z0-9_]", "_", POD_HASH_LABEL)
    # its relabeling names the endpoint (the Service's endpoint label) as `service`
    relabeled = {r["targetLabel"]: r["sourceLabels"] for r in endpoint.get("relabelings", [])}
    assert relabeled == {"service": ["__meta_kubernetes_service_label_mlops_iac_dev_endpoint"]}
    return ScrapedAs(monitor["metadata"]["namespace"], ENDPOINT, hash_label)


# --- the pods, run here -----------------------------------------------------------------------


def local_env(container: dict[str, Any], tracking_uri: str, pinned: str) -> dict[str, str]:
    """The container's environment: in-cluster registry rewritten, the downward-API version
    annotation resolved to `pinned` (what the promotion watcher writes), `/models` local."""
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        field = item["valueFrom"]["fieldRef"]["fieldPath"]
        assert field == f"metadata.annotations['{MODEL_VERSION_ANNOTATION}']", item
        env[item["name"]] = pinned
    if "MLFLOW_TRACKING_URI" in env:
        assert env["MLFLOW_TRACKING_URI"] == IN_CLUSTER_TRACKING
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


def fetch_models(
    stack: SynthResult, mlflow_server: MlflowServer, root: Path, versions: list[str]
) -> dict[str, Path]:
    """Each version downloaded by the synthesized fetch-model init container (run at once):
    the folder the server container mounts as `/models`, per version."""
    pod = stack.manifest("Deployment", ENDPOINT)["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    runs: dict[str, tuple[Path, subprocess.Popen[bytes]]] = {}
    with ExitStack() as logs:
        for version in versions:
            models = root / f"v{version}" / "models"
            command = list(fetch["command"])
            destination = command.index("--dst") + 1
            assert command[destination].startswith("/models/")
            command[destination] = command[destination].replace("/models", str(models), 1)
            env = venv_environ(**local_env(fetch, mlflow_server.url, pinned=version))
            log = logs.enter_context((root / f"fetch-v{version}.log").open("wb"))
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            runs[version] = models, process
        for version, (_, process) in runs.items():
            assert process.wait(timeout=180) == 0, f"fetching v{version}: see {root}"
    return {version: models for version, (models, _) in runs.items()}


@dataclass(frozen=True)
class Replica:
    """A model-server pod run here."""

    version: str
    port: int
    metrics_port: int

    @property
    def infer_path(self) -> str:
        return f"/v2/models/{ENDPOINT}/infer"

    @property
    def metrics_address(self) -> str:
        return f"{LOOPBACK}:{self.metrics_port}"

    def answered(self) -> float:
        """Requests the server has counted, from its own /metrics."""
        from prometheus_client.parser import text_string_to_metric_families

        url = f"http://{self.metrics_address}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            families = text_string_to_metric_families(response.read().decode())
        return sum(
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == "inference_requests_total"
        )


@pytest.fixture(scope="module")
def replicas(
    stack: SynthResult,
    versions: Versions,
    mlflow_server: MlflowServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Replica]]:
    """`stable` (GOOD), `good-canary` (GOOD, a second pod) and `bad-canary` (BAD), each the
    synthesized server container over its pinned version; started together."""
    root = tmp_path_factory.mktemp("pods")
    models = fetch_models(stack, mlflow_server, root, [versions.good, versions.bad])
    pod = stack.manifest("Deployment", ENDPOINT)["spec"]["template"]["spec"]
    server = next(c for c in pod["containers"] if c["name"] == "model-server")
    wanted = {"stable": versions.good, "good-canary": versions.good, "bad-canary": versions.bad}
    with ExitStack() as stack_of_processes:
        started = {}
        for role, version in wanted.items():
            replica = Replica(version, free_port(), free_port())
            command = list(server["command"])
            flags = {"--host": LOOPBACK, "--port": replica.port}
            for flag, value in {**flags, "--metrics-port": replica.metrics_port}.items():
                command[command.index(flag) + 1] = str(value)
            env = local_env(server, mlflow_server.url, pinned=version)
            assert env["MODEL_DIR"] == "/models/model"
            env["MODEL_DIR"] = str(models[version] / "model")
            log = stack_of_processes.enter_context((root / f"{role}.log").open("wb"))
            process = subprocess.Popen(
                command, env=venv_environ(**env), stdout=log, stderr=subprocess.STDOUT,
                process_group=0,
            )  # fmt: skip
            stack_of_processes.callback(stop_process_group, process)
            started[role] = replica, process
        for replica, process in started.values():
            ready = f"http://{LOOPBACK}:{replica.port}/v2/health/ready"
            wait_for_http(ready, timeout=180, process=process)
        yield {role: replica for role, (replica, _) in started.items()}


# --- the load ---------------------------------------------------------------------------------


def request_bodies() -> tuple[list[bytes], bytes]:
    """Clean OIP v2 requests of ROWS_PER_REQUEST rows each, and one with a poisoned row."""
    frame = features()

    def body(rows: Any) -> bytes:
        inputs = [
            {"name": str(c), "shape": [len(rows)], "datatype": "FP64", "data": rows[c].tolist()}
            for c in rows.columns
        ]
        return json.dumps({"inputs": inputs}).encode()

    clean = [
        body(frame.iloc[start : start + ROWS_PER_REQUEST])
        for start in range(0, 200, ROWS_PER_REQUEST)
    ]
    poisoned = frame.iloc[:ROWS_PER_REQUEST].copy()
    poisoned.loc[poisoned.index[1], POISONED_FEATURE] = -1.0
    return clean, body(poisoned)


def send_load(replicas: dict[str, Replica]) -> Counter[tuple[str, int]]:
    """REQUESTS inference requests, alternately to each replica, paced evenly over
    LOAD_SECONDS by THREADS threads (keep-alive connections); answers counted by (role,
    status). Stops at LOAD_TIMEOUT whatever is left."""
    clean, poisoned = request_bodies()
    roles = list(replicas)
    answered: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()
    start = time.monotonic()

    def worker(first: int) -> None:
        connections = {
            role: http.client.HTTPConnection(LOOPBACK, replica.port, timeout=30)
            for role, replica in replicas.items()
        }
        try:
            for number in range(first, REQUESTS, THREADS):
                due = start + number * LOAD_SECONDS / REQUESTS
                if time.monotonic() - start > LOAD_TIMEOUT:
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                role = roles[number % len(roles)]
                body = poisoned if number % POISON_EVERY == 0 else clean[number % len(clean)]
                connection = connections[role]
                connection.request(
                    "POST",
                    replicas[role].infer_path,
                    body,
                    {"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                response.read()
                with lock:
                    answered[role, response.status] += 1
        finally:
            for connection in connections.values():
                connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LOAD_TIMEOUT + 30)
    return answered


def reject(canary: Replica, count: int) -> Counter[tuple[str, int]]:
    """`count` requests without their first input, sent to the canary alone: it answers 400."""
    clean, _ = request_bodies()
    body = json.loads(clean[0])
    body["inputs"] = body["inputs"][1:]
    answered: Counter[tuple[str, int]] = Counter()
    connection = http.client.HTTPConnection(LOOPBACK, canary.port, timeout=30)
    try:
        for _ in range(count):
            headers = {"Content-Type": "application/json"}
            connection.request("POST", canary.infer_path, json.dumps(body).encode(), headers)
            response = connection.getresponse()
            response.read()
            answered["canary", response.status] += 1
    finally:
        connection.close()
    return answered


# --- one rollout step -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A rollout step's measurements: before any request, then after the load, over the
    canary's and the stable replica's hashes; and the answers the load got."""

    canary_version: str
    before: dict[str, Measurement]
    canary: dict[str, Measurement]
    stable: dict[str, Measurement]
    answered: Counter[tuple[str, int]]

    def error_share(self, role: str) -> float:
        """The true share of `role`'s answers that were 5xx."""
        total = sum(n for (r, _), n in self.answered.items() if r == role)
        errors = sum(n for (r, status), n in self.answered.items() if r == role and status >= 500)
        return errors / total


def rollout_step(
    label: str,
    stable: Replica,
    canary: Replica,
    analysis: list[dict[str, Any]],
    scraped_as: ScrapedAs,
    root: Path,
    rejected: int = 0,
) -> Step:
    """Prometheus over both replicas; the template measured before any request, then after a
    load split between them (and `rejected` requests the canary alone answers 400: what a
    version that rejects what clients send would do), once Prometheus holds every answer the
    servers counted."""
    pods = {STABLE_HASH: stable, CANARY_HASH: canary}
    targets = [
        ScrapeTarget(
            replica.metrics_address,
            {
                "namespace": scraped_as.namespace,
                "service": scraped_as.service,
                "pod": f"{ENDPOINT}-{pod_hash}-0",
                scraped_as.hash_label: pod_hash,
            },
        )
        for pod_hash, replica in pods.items()
    ]
    with prometheus(root, targets) as prom:
        prom.wait_for_targets_up(len(targets))
        before = measure(prom, analysis, CANARY_HASH, f"{label}: no requests yet")
        answered = send_load({"stable": stable, "canary": canary})
        answered.update(reject(canary, rejected))
        for pod_hash, replica in pods.items():
            selector = f'{{{scraped_as.hash_label}="{pod_hash}"}}'
            prom.wait_for_value(f"sum(inference_requests_total{selector})", replica.answered())
        after = measure(prom, analysis, CANARY_HASH, f"{label}: after the load")
        stable_after = measure(prom, analysis, STABLE_HASH, f"{label}: the stable pods")
    step = Step(canary.version, before, after, stable_after, answered)
    print(
        f"{label}: answers {dict(sorted(answered.items()))}; true 5xx share: canary "
        f"{step.error_share('canary'):.3f}, stable {step.error_share('stable'):.3f}"
    )
    return step


@pytest.fixture(scope="module")
def good_step(
    replicas: dict[str, Replica],
    analysis: list[dict[str, Any]],
    scraped_as: ScrapedAs,
    tmp_path_factory: pytest.TempPathFactory,
) -> Step:
    root = tmp_path_factory.mktemp("good-step")
    label = f"GOOD canary v{replicas['good-canary'].version}"
    return rollout_step(
        label, replicas["stable"], replicas["good-canary"], analysis, scraped_as, root
    )


@pytest.fixture(scope="module")
def bad_step(
    replicas: dict[str, Replica],
    analysis: list[dict[str, Any]],
    scraped_as: ScrapedAs,
    tmp_path_factory: pytest.TempPathFactory,
) -> Step:
    root = tmp_path_factory.mktemp("bad-step")
    label = f"BAD canary v{replicas['bad-canary'].version}"
    return rollout_step(
        label, replicas["stable"], replicas["bad-canary"], analysis, scraped_as, root
    )


@pytest.fixture(scope="module")
def rejecting_step(
    replicas: dict[str, Replica],
    analysis: list[dict[str, Any]],
    scraped_as: ScrapedAs,
    tmp_path_factory: pytest.TempPathFactory,
) -> Step:
    root = tmp_path_factory.mktemp("rejecting-step")
    label = f"REJECTING canary v{replicas['good-canary'].version}"
    return rollout_step(
        label,
        replicas["stable"],
        replicas["good-canary"],
        analysis,
        scraped_as,
        root,
        rejected=REQUESTS // 10,
    )


# --- the specification ------------------------------------------------------------------------


def test_the_template_measures_the_new_pods_with_conditions_of_one_known_shape(
    analysis, scraped_as
):
    assert [metric["name"] for metric in analysis] == [
        "error-ratio",
        "client-error-increase",
        "p99-latency",
    ]
    limits = {metric["name"]: condition_limit(metric["successCondition"]) for metric in analysis}
    # the alert rules' defaults
    assert limits == {"error-ratio": 0.01, "client-error-increase": 0.01, "p99-latency": 0.25}
    for metric in analysis:
        query = metric["provider"]["prometheus"]["query"]
        assert f'{scraped_as.hash_label}="{ARGUMENT}"' in query
        assert f'namespace="{scraped_as.namespace}"' in query


def test_a_canary_without_requests_yet_passes_every_metric(good_step, bad_step):
    for step in (good_step, bad_step):
        for measured in step.before.values():
            assert measured.passed
            # nothing to judge: no series (NaN from 0/0, or empty) or the `vector(0)` fallback
            nothing = measured.result in ([], [0.0]) or math.isnan(measured.result[0])
            assert nothing, measured
        assert math.isnan(step.before["error-ratio"].result[0])


def test_a_good_canary_passes_every_metric(good_step):
    assert good_step.error_share("canary") == 0
    for measured in good_step.canary.values():
        assert measured.passed, measured
    assert good_step.canary["error-ratio"].result == [0.0]
    (latency,) = good_step.canary["p99-latency"].result
    assert 0 < latency <= good_step.canary["p99-latency"].limit


def test_a_canary_that_raises_on_some_inputs_fails_the_error_ratio(bad_step):
    measured = bad_step.canary["error-ratio"]
    assert bad_step.error_share("canary") >= 1 / POISON_EVERY
    assert not measured.passed
    (ratio,) = measured.result
    assert measured.limit < ratio <= 1
    # rate() extrapolates both counters alike: the ratio is close to the share really failed
    assert ratio == pytest.approx(bad_step.error_share("canary"), abs=0.1)


def test_the_stable_pods_still_pass_while_the_canary_fails(bad_step):
    assert bad_step.error_share("stable") == 0
    for measured in bad_step.stable.values():
        assert measured.passed, measured
    assert bad_step.stable["error-ratio"].result == [0.0]


def test_a_canary_that_rejects_what_the_stable_accepts_fails_the_client_error_increase(
    rejecting_step,
):
    measured = rejecting_step.canary["client-error-increase"]
    rejected = rejecting_step.answered["canary", 400]
    answered = sum(n for (role, _), n in rejecting_step.answered.items() if role == "canary")

    assert rejected == REQUESTS // 10
    assert rejecting_step.canary["error-ratio"].passed  # 4xx are no 5xx
    assert not measured.passed
    (increase,) = measured.result
    assert increase == pytest.approx(rejected / answered, abs=0.1)
    # over the stable pods the same query compares them with themselves: no increase
    assert rejecting_step.stable["client-error-increase"].result == [0.0]
