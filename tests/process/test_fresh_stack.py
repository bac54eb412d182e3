"""The process tier: each reference stack's every container, run as its own process with its
manifest's command, args, env, volumes and user, on a fresh stack (a new Postgres, an empty
object store, no registered model, no feature data), then the loop on it: train, promote,
serve, log inference, detect drift, retrain. Every container's peak memory and every
emptyDir's peak use are held against the limits its manifest declares; the table is in
`.process-tier/<stack>.md`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from mlops_iac.components.rollout_specs import MODEL_VERSION_ANNOTATION
from mlops_iac.testing.local_servers import LOOPBACK, free_port

from delivery import Delivery
from load import SteadyLoad
from proxy import Forwarder
from tier import REPO, REPORTS, Deployed

pytestmark = pytest.mark.process

UP_TIMEOUT = 900
JOB_TIMEOUT = 900


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@pytest.mark.timeout(UP_TIMEOUT + 300)
def test_a_fresh_stack_comes_up_on_empty_stores(deployed: Deployed) -> None:
    """Every workload `pulumi up` waits for is ready (long-running) or complete (Jobs) on a
    cluster where every store is new and nothing is registered."""
    deployed.stack.up(timeout=UP_TIMEOUT)


def s3_client(deployed: Deployed) -> Any:
    import boto3

    secret = next(
        o
        for o in deployed.objects
        if o["kind"] == "Secret"
        and o["metadata"]["name"].endswith("-s3-credentials")
        and o["metadata"]["namespace"] == "mlops"
    )
    values = deployed.stack.cluster.data("Secret", "mlops", secret["metadata"]["name"])
    service = next(
        (ns, name) for (ns, name) in deployed.stack.cluster.service_ips if name.endswith("-s3")
    )
    return boto3.client(
        "s3",
        endpoint_url=f"http://{deployed.stack.cluster.service_ips[service]}:8333",
        aws_access_key_id=values["AWS_ACCESS_KEY_ID"].decode(),
        aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"].decode(),
        region_name="us-east-1",
    )


def port_forward(deployed: Deployed, namespace: str, service: str, port: int) -> str:
    """`kubectl port-forward svc/<service>` for the test: a local URL to the Service."""
    local = free_port()
    target = (deployed.stack.cluster.service_ips[(namespace, service)], port)
    deployed.stack.forwarders.append(Forwarder((LOOPBACK, local), target))
    return f"http://{LOOPBACK}:{local}"


def mlflow_client(deployed: Deployed) -> Any:
    """A client as a user's laptop has one: through a port-forward to the Service."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=port_forward(deployed, "mlops", "mlflow", 5000))


def seed_churn_data(deployed: Deployed, **label_rule: Any) -> None:
    """What a user of examples/churn does before its first training, with the example's own
    script (examples/churn/seed_data.py), through the object store's Service; `label_rule`
    (its `min_support_calls`, `min_monthly_charges`) for labels that changed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "seed_data", REPO / "examples" / "churn" / "seed_data.py"
    )
    assert spec and spec.loader
    seed_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed_data)
    seed_data.seed(s3_client(deployed), customers=400, days=3, **label_rule)


def infer_body(rows: list[dict[str, int | float]]) -> bytes:
    """An Open Inference Protocol request for `rows`, typed as the churn model's signature
    (Feast's Int64 and Float32 features: long and float)."""
    inputs = [
        {
            "name": column,
            "shape": [len(rows)],
            "datatype": "INT64" if isinstance(rows[0][column], int) else "FP32",
            "data": [row[column] for row in rows],
        }
        for column in rows[0]
    ]
    return json.dumps({"inputs": inputs}).encode()


def drifted_rows() -> list[dict[str, int | float]]:
    """Live traffic whose monthly charges went up: what the drift monitor must notice."""
    return [
        {"tenure_months": 10 + i % 60, "monthly_charges": 90.0 + i % 30, "support_calls_30d": i % 5}
        for i in range(3000)
    ]


def every_replica_on(delivery: Delivery, version: str) -> bool:
    """The endpoint's rollout is done and each of its pods serves `version`: the Rollout is
    Healthy on the revision that pins it, the route sends nothing to the canary, and no other
    pod of the endpoint is left (terminating ones excepted: they get no new requests)."""
    rollout = delivery.rollout("mlops", "churn")
    status = rollout.get("status") or {}
    pods = delivery.api.get(
        "pods",
        "-n",
        "mlops",
        "-l",
        "app.kubernetes.io/instance=churn,app.kubernetes.io/name=model-server",
    )["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return bool(
        status.get("phase") == "Healthy"
        and status.get("stableRS") == status.get("currentPodHash")
        and delivery.weights("mlops", "churn").get("churn-canary") == 0
        and live
        and all(
            (p["metadata"].get("annotations") or {}).get(MODEL_VERSION_ANNOTATION) == version
            for p in live
        )
    )


def rolled_back(delivery: Delivery) -> bool:
    """The rollout was aborted and the route sends nothing to the new pods."""
    status = delivery.rollout("mlops", "churn").get("status") or {}
    return bool(status.get("abort")) and delivery.weights("mlops", "churn")["churn-canary"] == 0


def rolled_out(delivery: Delivery, version: str, since: float, timeout: float) -> float:
    """Seconds from `since` (a monotonic time) until every replica serves `version`."""
    return follow(
        delivery,
        f"v{version} on every replica",
        lambda: every_replica_on(delivery, version),
        since,
        timeout,
    )


def follow(
    delivery: Delivery, what: str, done: Callable[[], bool], since: float, timeout: float
) -> float:
    """Seconds from `since` (a monotonic time) until `done()`; the Rollout's phase, step and
    the route's weights are printed as they change."""
    seen: tuple[Any, ...] = ()
    deadline = since + timeout
    while time.monotonic() < deadline:
        if done():
            return time.monotonic() - since
        status = delivery.rollout("mlops", "churn").get("status") or {}
        now = (
            status.get("phase"),
            status.get("currentStepIndex"),
            delivery.weights("mlops", "churn"),
        )
        if now != seen:
            print(
                f"  +{time.monotonic() - since:6.1f} s  rollout {now[0]}, "
                f"step {now[1]}, weights {now[2]}"
            )
            seen = now
        time.sleep(1)
    raise AssertionError(f"not within {timeout:.0f} s: {what} ({seen})")


def rolled_back_tag(client: Any, version: str) -> str | None:
    """The promotion watcher's record on churn `version`, once it says `rolled back`."""
    record = client.get_model_version("churn", version).tags.get("mlops-iac.rollout.mlops.churn")
    return record if record and record.startswith("rolled back") else None


def register_regression(deployed: Deployed, base: str) -> str:
    """Register version `base` of churn behind a regression that raises on customers with
    over 65 months of tenure (one request in six of the load), as the next version."""
    import mlflow

    from mlops_iac.testing.regressions import raising_model

    base_uri = f"models:/churn/{base}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", port_forward(deployed, "mlops", "mlflow", 5000))
        patch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
        # As docs/registry.md tells a user outside the cluster: MLflow's presigned transfers
        # name the object store's in-cluster address (without these, the download of the
        # base model's MLmodel retried for minutes here).
        patch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")
        patch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "false")
        signature = mlflow.models.get_model_info(base_uri).signature
        with mlflow.start_run():
            logged = mlflow.pyfunc.log_model(
                name="model",
                python_model=raising_model(
                    mlflow.sklearn.load_model(base_uri), "tenure_months", above=65
                ),
                signature=signature,
                pip_requirements=[f"mlflow=={mlflow.__version__}"],
                registered_model_name="churn",
            )
    return str(logged.registered_model_version)


def analysis_results(delivery: Delivery) -> dict[str, dict[str, list[str]]]:
    """Each AnalysisRun of the endpoint: its phase, and per metric the values it measured."""
    runs = delivery.api.get("analysisruns.argoproj.io", "-n", "mlops")["items"]
    return {
        f"{run['metadata']['name']} ({(run.get('status') or {}).get('phase')})": {
            result["name"]: [m.get("value", "") for m in result.get("measurements") or []]
            for result in (run.get("status") or {}).get("metricResults") or []
        }
        for run in runs
    }


def save_dashboard(deployed: Deployed, delivery: Delivery, start: float, end: float) -> None:
    """The serving dashboard's panels as its queries answer on this tier's Prometheus over
    [start, end] (wall-clock seconds), for tools/render_rollout_dashboard.py: panels whose
    series this tier scrapes (the endpoint's pods; the promotion watcher's pod is not in the
    API server, so nothing discovers it)."""
    import urllib.parse
    import urllib.request

    assert delivery.prometheus_url, "examples/churn's rollout has an analysis"
    config_map = next(
        o
        for o in deployed.objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-dashboard-serving")
    )
    dashboard = json.loads(config_map["data"]["serving.json"])
    step = 5
    # Grafana's $__rate_interval: max(step + scrape interval, 4 scrape intervals), the scrape
    # interval being the endpoint ServiceMonitor's (kube-prometheus-stack's datasource too).
    monitor = next(
        o
        for o in deployed.objects
        if o["kind"] == "ServiceMonitor" and o["metadata"]["name"] == "churn-metrics"
    )
    scrape = int(monitor["spec"]["endpoints"][0]["interval"].removesuffix("s"))
    rate_interval = f"{max(step + scrape, 4 * scrape)}s"
    panels = []
    for panel in dashboard["panels"]:
        series = []
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", rate_interval)
            form = {"query": expr, "start": start, "end": end, "step": step}
            url = f"{delivery.prometheus_url}/api/v1/query_range?{urllib.parse.urlencode(form)}"
            with urllib.request.urlopen(url, timeout=30) as answer:
                result = json.loads(answer.read())["data"]["result"]
            for item in result:
                legend = target["legendFormat"]
                for key, value in item["metric"].items():
                    legend = legend.replace(f"{{{{{key}}}}}", value)
                points = [(float(t) - start, float(v)) for t, v in item["values"]]
                series.append({"legend": legend, "points": points})
        panels.append({"title": panel["title"], "unit": panel["fieldConfig"]["defaults"]["unit"],
                       "series": series})  # fmt: skip
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / f"{deployed.name}-serving-dashboard.json").write_text(json.dumps(panels))


@pytest.mark.timeout(4 * JOB_TIMEOUT)
def test_the_loop_runs_on_the_fresh_stack(deployed: Deployed) -> None:
    """train -> promote -> serve -> log inference -> detect drift -> retrain, each step by
    the stack's own containers; for an endpoint with a rollout, -> rolled out to every
    replica, under a steady load that must see no failed request."""
    stack = deployed.stack
    client = mlflow_client(deployed)
    if deployed.name == "local":
        stack.run_cronjob("mlops-training", "demo", JOB_TIMEOUT)
        assert client.get_model_version_by_alias("demo", "champion").version == "1"
        seed_churn_data(deployed)
        stack.run_cronjob("mlops", "local-feast-materialize", JOB_TIMEOUT)
        return

    delivery = deployed.delivery
    assert delivery is not None, "examples/churn rolls its endpoint out"
    seed_churn_data(deployed)
    stack.run_cronjob("mlops", "dev-feast-materialize", JOB_TIMEOUT)
    stack.run_cronjob("mlops-training", "churn", JOB_TIMEOUT)
    trained = time.monotonic()
    assert client.get_model_version_by_alias("churn", "champion").version == "1"
    print("\ntrained: v1 is champion; the endpoint's pods were waiting for it")

    wait_until(
        "the endpoint's Service has a ready pod (its init container waited for the champion)",
        lambda: stack.endpoints.ready("mlops", "churn"),
        timeout=600,
    )
    bodies = [infer_body(rows[i : i + 10]) for rows in [drifted_rows()] for i in range(0, 3000, 10)]
    load = SteadyLoad(delivery.gateway.url, "churn.localtest.me", "/v2/models/churn/infer", bodies)
    load.start()
    load_started = time.time()
    try:
        seconds = rolled_out(delivery, "1", since=trained, timeout=900)
        print(f"v1 on every replica {seconds:.1f} s after the training job ended")
        first_rollout = load.elapsed()

        s3 = s3_client(deployed)
        wait_until(
            "the inference logger flushed logged requests to s3://inference-logs/inference",
            lambda: s3.list_objects_v2(Bucket="inference-logs", Prefix="inference").get("KeyCount"),
            timeout=180,
        )
        stack.run_cronjob("mlops-training", "drift-churn", JOB_TIMEOUT)
        (retrain,) = wait_until(
            "the drift monitor started the retraining job through the API",
            lambda: deployed.created_jobs("mlops-training"),
            timeout=30,
        )
        print(f"drift detected: the monitor created job {retrain['metadata']['name']}")
        # The labels changed too (price-sensitive customers leave sooner): what the champion,
        # perfect on the old labels, no longer predicts, so the retrained model beats it.
        seed_churn_data(deployed, min_support_calls=2, min_monthly_charges=60.0)
        stack.run_job(retrain, JOB_TIMEOUT)
        retrained = time.monotonic()
        assert len(client.search_model_versions("name='churn'")) == 2
        v2 = client.get_model_version("churn", "2")
        assert v2.tags.get("mlops.promoted") == "True", v2.tags
        print(f"retrained on the new labels: v2 registered and promoted ({v2.tags})")
        seconds = rolled_out(delivery, "2", since=retrained, timeout=900)
        print(f"v2 on every replica {seconds:.1f} s after the retraining job ended")

        bad = register_regression(deployed, base="2")
        client.set_registered_model_alias("churn", "champion", bad)
        promoted, bad_from = time.monotonic(), load.elapsed()
        print(f"v{bad} (v2 behind a regression on long tenures) made champion by hand")
        seconds = follow(
            delivery, f"v{bad} rolled back", lambda: rolled_back(delivery), promoted, 600
        )
        bad_until = load.elapsed() + 2  # requests already routed when the weights changed
        print(f"v{bad} rolled back {seconds:.1f} s after its promotion")
        outcome = wait_until(
            f"the promotion watcher recorded the rollback on v{bad}",
            lambda: rolled_back_tag(client, bad),
            timeout=120,
        )
        print(f"v{bad} tagged: {outcome}")
        time.sleep(10)  # traffic after the rollback: the stable pods only
    finally:
        load.stop()
    save_dashboard(deployed, delivery, load_started, time.time())
    before, during = load.failures(until=bad_from), load.failures(bad_from, bad_until)
    after = load.failures(since=bad_until)
    print(
        f"steady load through the gateway: {len(load.answers)} requests at {load.rate:g}/s; "
        f"failed: {len(before)} before v{bad}, {len(during)} of "
        f"{sum(load.versions(bad_from, bad_until).values())} while v{bad} was tried, "
        f"{len(after)} after its rollback; answered by version {dict(load.versions())}; "
        f"after the first rollout: {dict(load.versions(since=first_rollout))}"
    )
    assert all(a.status == 500 and "out of range" in a.error for a in during), during[:5]
    analyses = analysis_results(delivery)
    for run, metrics in analyses.items():
        print(f"analysis {run}: {metrics}")
    measured = [
        value
        for metrics in analyses.values()
        for value in metrics.get("error-ratio", [])
        if value not in ("", "[]", "[NaN]")
    ]
    assert measured, "no analysis ever saw the new revision's requests in Prometheus"
    assert any(run.endswith("(Failed)") for run in analyses), f"v{bad} passed its analysis"
    assert not before and not after, (before + after)[:10]
    assert not delivery.node.errors, delivery.node.errors[:5]


def test_no_container_goes_past_its_memory_limit(deployed: Deployed) -> None:
    over = [
        f"{r.pod} {r.name}: peak {r.peak_bytes >> 20} MiB, limit {r.memory_limit >> 20} MiB"
        for r in deployed.stack.sampler.containers
        if r.memory_limit is not None and r.peak_bytes > r.memory_limit
    ]
    unmeasured = [
        f"{r.pod} {r.name}" for r in deployed.stack.sampler.containers if not r.peak_bytes
    ]
    assert not unmeasured, f"never measured: {unmeasured}"
    assert not over, "\n".join(over)


def test_no_pod_writes_past_an_emptydir_size_limit(deployed: Deployed) -> None:
    over = [
        f"{d.pod} {d.name}: peak {d.peak_bytes >> 20} MiB, sizeLimit {d.size_limit >> 20} MiB"
        for d in deployed.stack.sampler.empty_dirs
        if d.size_limit is not None and d.peak_bytes > d.size_limit
    ]
    assert not over, "\n".join(over)


def test_every_container_of_the_stack_ran(deployed: Deployed) -> None:
    """Coverage: each container of each pod template started at least once."""
    from cluster import workloads

    ran = {(r.workload, r.name) for r in deployed.stack.sampler.containers if r.logs}
    missing = [
        f"{w.key} {c['name']}"
        for w in workloads(deployed.objects)
        for c in w.template["spec"].get("initContainers", []) + w.template["spec"]["containers"]
        if (w.key, c["name"]) not in ran
    ]
    assert not missing, f"never started: {missing}"
