"""ServingEndpoint under recording mocks, and the serving part of the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_iac import versions
from mlops_iac.spec import SpecError
from mlops_iac.testing import SynthResult

CHURN = {
    "name": "churn",
    "model": "models:/churn@champion",
    "replicas": 2,
    "autoscaling": {"min": 2, "max": 10, "target_cpu": 70},
    "canary": {"model": "models:/churn@challenger", "weight": 10},
}


def serving_stack(make_spec: Any, synth_stack: Any, *endpoints: dict[str, Any]) -> SynthResult:
    """A kind stack with these endpoints, on a cluster that already serves the KServe and
    Prometheus Operator APIs (which some endpoints' options need)."""
    target = {"kind": "kind", "preinstalled": ["kserve", "prometheus-operator"]}
    result: SynthResult = synth_stack(make_spec(target=target, serving=list(endpoints)))
    return result


@pytest.fixture(scope="module")
def churn() -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack
    from mlops_iac.spec import StackSpec
    from mlops_iac.testing import synth

    spec = StackSpec.load(
        {"name": "demo", "target": {"kind": "kind", "cluster": "mlops"}, "serving": [CHURN]}
    )
    return synth(lambda: MLOpsStack("demo", spec).export(), stack="demo")


def pod_spec(result: SynthResult, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = result.manifest("Deployment", name)["spec"]["template"]["spec"]
    return spec


def test_the_hpa_scales_the_stable_deployment_within_the_spec(churn):
    hpa = churn.manifest("HorizontalPodAutoscaler", "churn")["spec"]

    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "churn"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 70,
    }
    assert "replicas" not in churn.manifest("Deployment", "churn")["spec"]


def test_the_pdb_keeps_all_but_one_of_the_minimum_replicas(churn):
    pdb = churn.manifest("PodDisruptionBudget", "churn")["spec"]

    assert pdb["minAvailable"] == 1
    assert (
        pdb["selector"]["matchLabels"]
        == churn.manifest("Deployment", "churn")["spec"]["selector"]["matchLabels"]
    )


def test_rollouts_never_drop_below_the_desired_replicas(churn):
    for name in ("churn", "churn-challenger"):
        strategy = churn.manifest("Deployment", name)["spec"]["strategy"]
        assert strategy["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container["env"]}


def test_the_builtin_server_serves_the_model_an_init_container_fetched_from_the_registry(
    churn,
):
    spec = pod_spec(churn, "churn")
    (fetch,) = spec["initContainers"]
    (server,) = spec["containers"]

    assert fetch["command"][:7] == [
        "python", "-m", "mlops_iac.workloads.model_fetch",
        "--model-uri", "models:/churn@champion",
        "--dst", "/models/model",
    ]  # fmt: skip
    assert env_of(fetch)["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc.cluster.local:5000"
    assert server["image"] == fetch["image"] == versions.RUNTIME_IMAGE
    assert server["command"] == [
        "python", "-m", "mlops_iac.workloads.model_server",
        "--host", "0.0.0.0", "--port", "8080", "--metrics-port", "8082", "--workers", "1",
    ]  # fmt: skip
    env = env_of(server)
    assert (env["MODEL_NAME"], env["MODEL_DIR"]) == ("churn", "/models/model")
    assert (env["MAX_BATCH_SIZE"], env["MAX_BATCH_TIME"]) == ("32", "0.005")
    assert {"name": "metrics", "containerPort": 8082} in server["ports"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in server["volumeMounts"]
    challenger = pod_spec(churn, "churn-challenger")["initContainers"][0]
    assert model_uri_of(challenger) == "models:/churn@challenger"


def model_uri_of(container: dict[str, Any]) -> str:
    command: list[str] = container["command"]
    return command[command.index("--model-uri") + 1]


TRAINED = {"training": {"jobs": [{"name": "churn", "dataset": "s3://datasets/churn.parquet"}]}}


def test_the_init_container_waits_for_the_model_and_says_how_to_make_it(make_spec, synth_stack):
    result = synth_stack(make_spec(serving=[CHURN], **TRAINED))

    (fetch,) = pod_spec(result, "churn")["initContainers"]
    assert fetch["name"] == "fetch-model"
    assert fetch["command"] == [
        "python", "-m", "mlops_iac.workloads.model_fetch",
        "--model-uri", "models:/churn@champion",
        "--dst", "/models/model",
        "--hint", "train and promote it: mlops-iac train churn --stack test",
    ]  # fmt: skip
    assert {e["name"] for e in fetch["env"]} == {"MLFLOW_TRACKING_URI", "HOME"}
    assert all("value" in e for e in fetch["env"])
    (challenger,) = pod_spec(result, "churn-challenger")["initContainers"]
    assert model_uri_of(challenger) == "models:/churn@challenger"


def test_without_a_training_job_for_the_model_the_hint_says_to_register_it(make_spec, synth_stack):
    fraud = {"name": "fraud", "model": "models:/fraud@champion"}
    result = synth_stack(make_spec(serving=[fraud], **TRAINED))

    (fetch,) = pod_spec(result, "fraud")["initContainers"]
    hint = fetch["command"][fetch["command"].index("--hint") + 1]
    assert hint == (
        "no training job of stack test trains 'fraud': register a version of it in the "
        "registry and point alias 'champion' at it"
    )


WAIT_FOR = "pulumi.com/waitFor"


def test_up_waits_for_endpoint_pods_to_exist_not_to_be_ready_and_only_there(churn):
    awaited = {
        (m["kind"], m["metadata"]["name"]): m["metadata"]["annotations"][WAIT_FOR]
        for m in churn.manifests
        if WAIT_FOR in (m["metadata"].get("annotations") or {})
    }

    assert awaited == {
        ("Deployment", "churn"): "jsonpath={.status.updatedReplicas}",
        ("Deployment", "churn-challenger"): "jsonpath={.status.updatedReplicas}",
    }
    assert not [
        m["metadata"]["name"]
        for m in churn.manifests
        if "pulumi.com/skipAwait" in (m["metadata"].get("annotations") or {})
    ]
    for name in ("churn", "churn-challenger"):
        template = churn.manifest("Deployment", name)["spec"]["template"]["metadata"]
        assert WAIT_FOR not in template.get("annotations", {})


def test_the_builtin_probes_use_the_v2_health_paths_and_pods_are_restricted(churn):
    spec = pod_spec(churn, "churn")
    (container,) = spec["containers"]

    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    startup = container["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 300
    assert spec["securityContext"]["runAsNonRoot"] is True
    for each in [*spec["initContainers"], container]:
        assert each["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert each["securityContext"]["readOnlyRootFilesystem"] is True
        assert each["resources"]["limits"]["memory"]


def test_the_mlflow_runtime_runs_the_scoring_server(make_spec, synth_stack):
    result = serving_stack(make_spec, synth_stack, {**CHURN, "runtime": "mlflow", "workers": 2})
    spec = pod_spec(result, "churn")
    (container,) = spec["containers"]

    (wait,) = spec["initContainers"]
    assert wait["name"] == "wait-for-model"
    assert wait["command"][:5] == [
        "python", "-m", "mlops_iac.workloads.model_fetch", "--model-uri", "models:/churn@champion"
    ]  # fmt: skip
    assert "--dst" not in wait["command"]
    assert container["command"] == [
        "mlflow", "models", "serve",
        "--model-uri", "models:/churn@champion",
        "--env-manager", "local",
        "--host", "0.0.0.0",
        "--port", "8080",
        "--workers", "2",
    ]  # fmt: skip
    assert env_of(container)["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "true"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_the_route_splits_traffic_by_the_canary_weight(churn):
    route = churn.manifest("HTTPRoute", "churn")["spec"]

    assert route["hostnames"] == ["churn.localtest.me"]
    assert route["rules"][0]["backendRefs"] == [
        {"name": "churn", "port": 8080, "weight": 90},
        {"name": "churn-challenger", "port": 8080, "weight": 10},
    ]
    assert churn.outputs["serving_churn_external_url"] == "http://churn.localtest.me"
    assert churn.outputs["serving_churn_challenger_url"] == (
        "http://churn-challenger.mlops.svc.cluster.local:8080"
    )


def test_shadow_mode_mirrors_to_the_challenger_and_answers_from_stable(make_spec, synth_stack):
    shadow = {**CHURN, "canary": {"model": "models:/churn@challenger", "mode": "shadow"}}
    route = serving_stack(make_spec, synth_stack, shadow).manifest("HTTPRoute", "churn")["spec"]

    (rule,) = route["rules"]
    assert rule["backendRefs"] == [{"name": "churn", "port": 8080, "weight": 100}]
    assert rule["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {"backendRef": {"name": "churn-challenger", "port": 8080}},
        }
    ]


def test_changing_the_canary_weight_leaves_the_stable_deployment_alone(make_spec, synth_stack):
    ten = serving_stack(make_spec, synth_stack, CHURN)
    fifty = serving_stack(
        make_spec, synth_stack, {**CHURN, "canary": {**CHURN["canary"], "weight": 50}}
    )

    assert ten.manifest("Deployment", "churn") == fifty.manifest("Deployment", "churn")
    assert ten.manifest("HTTPRoute", "churn") != fifty.manifest("HTTPRoute", "churn")


def test_a_new_model_revision_rolls_the_model_servers_and_nothing_else(make_spec, synth_stack):
    before = serving_stack(make_spec, synth_stack, {**CHURN, "model_revision": "3"})
    after = serving_stack(make_spec, synth_stack, {**CHURN, "model_revision": "4"})

    changed = [
        (b["kind"], b["metadata"]["name"])
        for b, a in zip(before.manifests, after.manifests, strict=True)
        if a != b
    ]
    assert sorted(changed) == [("Deployment", "churn"), ("Deployment", "churn-challenger")]
    template = after.manifest("Deployment", "churn")["spec"]["template"]["metadata"]
    assert template["annotations"] == {"mlops-iac.dev/model-revision": "4"}


def test_endpoints_talk_only_to_the_registry_and_take_calls_from_the_namespace(churn):
    egress = churn.manifest("NetworkPolicy", "churn-allow-registry")["spec"]
    ingress = churn.manifest("NetworkPolicy", "churn-allow-ingress")["spec"]

    assert egress["podSelector"] == {"matchLabels": {"mlops-iac.dev/endpoint": "churn"}}
    assert egress["egress"][0]["to"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/instance": "mlflow",
                    "app.kubernetes.io/name": "mlflow",
                }
            }
        }
    ]
    assert egress["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5000}]
    peers = [p["namespaceSelector"]["matchLabels"] for p in ingress["ingress"][0]["from"]]
    assert {"kubernetes.io/metadata.name": "mlops"} in peers
    assert {"kubernetes.io/metadata.name": "envoy-gateway-system"} in peers


def test_mlserver_stays_a_runtime_choice_with_its_batching(make_spec, synth_stack):
    result = serving_stack(make_spec, synth_stack, {**CHURN, "runtime": "mlserver"})
    (server,) = pod_spec(result, "churn")["containers"]

    assert server["command"] == ["/opt/mlserver/bin/mlserver", "start", "/models"]
    env = env_of(server)
    assert env["MLSERVER_MODEL_NAME"] == "churn"
    assert env["MLSERVER_MODEL_URI"] == "/models/model"
    assert env["MLSERVER_MODEL_IMPLEMENTATION"] == "mlserver_mlflow.MLflowRuntime"
    assert (env["MLSERVER_MODEL_MAX_BATCH_SIZE"], env["MLSERVER_MODEL_MAX_BATCH_TIME"]) == (
        "8",
        "0.002",
    )
    assert env["MLSERVER_HTTP_PORT"] == "8080"
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert {"name": "metrics", "containerPort": 8082} in server["ports"]


@pytest.mark.parametrize("runtime", ["builtin", "mlserver"])
def test_a_service_monitor_scrapes_the_runtime_metrics(make_spec, synth_stack, runtime):
    result = serving_stack(
        make_spec, synth_stack, {**CHURN, "service_monitor": True, "runtime": runtime}
    )
    monitor = result.manifest("ServiceMonitor", "churn")
    service = result.manifest("Service", "churn")

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    assert {"name": "metrics", "port": 8082, "targetPort": "metrics"} in service["spec"]["ports"]


def test_without_canary_or_ingress_there_is_no_route(make_spec, synth_stack):
    plain = serving_stack(make_spec, synth_stack, {"name": "fraud", "model": "models:/fraud/3"})

    assert plain.manifests_of("HTTPRoute") == []
    assert plain.manifest("Deployment", "fraud")["spec"]["replicas"] == 1
    assert plain.manifests_of("PodDisruptionBudget") == []


def test_every_serving_child_is_parented_to_its_endpoint(churn):
    endpoint = churn.resource("demo-serving-churn")
    children = churn.children_of(endpoint.urn)

    assert len(children) >= 9
    assert all(c.name.startswith("demo-serving-churn") for c in children)
    assert all("mlops:index:ServingEndpoint$" in c.urn for c in children)


@pytest.mark.parametrize(
    ("serving", "extra", "path", "message"),
    [
        ([{**CHURN, "autoscaling": {"min": 5, "max": 2}}], {}, "serving[0].autoscaling",
         "max (2) must be at least min (5)"),
        ([{**CHURN, "canary": {"model": "models:/churn@c", "weight": 101}}], {},
         "serving[0].canary.weight", "less than or equal to 100"),
        ([{**CHURN, "canary": {"model": "models:/churn@c", "weight": -1}}], {},
         "serving[0].canary.weight", "greater than or equal to 0"),
        ([{**CHURN, "model": "runs:/abc/model"}], {}, "serving[0].model",
         "allowed: models:/NAME@ALIAS"),
        ([{**CHURN, "model": "models:/churn"}], {}, "serving[0].model", "models:/NAME/VERSION"),
        ([CHURN, CHURN], {}, "serving", "endpoint names must be unique; repeated: churn"),
        ([CHURN], {"routing": {"mode": "ingress"}}, "mlops", "needs routing.mode 'gateway'"),
        ([CHURN], {"registry": {"enabled": False}}, "mlops", "enable `registry`"),
        ([{**CHURN, "runtime": "torchserve"}], {}, "serving[0].runtime", "'mlflow'"),
        ([{**CHURN, "runtime": "mlflow", "service_monitor": True}], {}, "serving[0]",
         "service_monitor needs runtime 'builtin' or 'mlserver'"),
        ([{**CHURN, "runtime": "kserve"}], {}, "mlops",
         "endpoints churn with runtime 'kserve': that needs the kserve API and nothing "
         "installs it; add 'kserve' to target.preinstalled"),
        ([{**CHURN, "service_monitor": True}], {}, "mlops",
         "service_monitor of endpoints churn: that needs the prometheus-operator API"),
        ([{**CHURN, "ingress": {}}], {"routing": {"gateway_class": None}}, "mlops",
         "HTTPRoutes for endpoint churn attach to the Gateway 'mlops', which the stack does "
         "not create without routing.gateway_class"),
    ],
)  # fmt: skip
def test_serving_spec_errors_name_the_field(serving, extra, path, message):
    from mlops_iac.spec import StackSpec

    data = {"name": "demo", "target": {"kind": "kind", "cluster": "mlops"}, "serving": serving}
    with pytest.raises(SpecError) as caught:
        StackSpec.load({**data, **extra}, path_prefix="mlops:")

    text = str(caught.value)
    assert f"mlops:{path}" in text or (path == "mlops" and text.startswith("mlops"))
    assert message in text


def test_synth_and_validate_a_stack_with_two_endpoints_and_a_canary(tmp_path: Path):
    from typer.testing import CliRunner

    from mlops_iac.cli import app

    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        f"name: serving\nruntime: python\nmain: {Path(__file__).resolve().parents[2] / 'stacks'}\n"
    )
    (project / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  mlops:target: {kind: kind, cluster: mlops, preinstalled: [prometheus-operator]}\n"
        "  mlops:serving:\n"
        "    - {name: churn, model: 'models:/churn@champion', replicas: 2,\n"
        "       autoscaling: {min: 2, max: 10, target_cpu: 70},\n"
        "       canary: {model: 'models:/churn@challenger', weight: 10},\n"
        "       service_monitor: true}\n"
        "    - {name: fraud, model: 'models:/fraud/3', ingress: {}}\n"
    )
    runner = CliRunner()
    synthesized = runner.invoke(
        app, ["synth", str(project), "--stack", "dev", "--out", str(tmp_path / "out")]
    )
    assert synthesized.exit_code == 0, synthesized.output
    validated = runner.invoke(app, ["validate", str(tmp_path / "out")])
    assert validated.exit_code == 0, validated.output
    assert "0 failures" in validated.output
    assert len(list((tmp_path / "out" / "manifests").glob("*.HTTPRoute.*"))) == 2
    assert (
        len(list((tmp_path / "out" / "manifests").glob("*.ServiceMonitor.*"))) == 2
    )  # stable and challenger


def test_the_kserve_runtime_is_an_inference_service_in_standard_mode(
    make_spec, synth_stack, tmp_path: Path
):
    from mlops_iac.validate import validate_directory

    result = serving_stack(make_spec, synth_stack, {**CHURN, "runtime": "kserve"})
    service = result.manifest("InferenceService", "churn")
    predictor = service["spec"]["predictor"]

    assert service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 10)
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("cpu", 70)
    assert predictor["containers"][0]["name"] == "kserve-container"
    assert predictor["containers"][0]["command"][:3] == [
        "python", "-m", "mlops_iac.workloads.model_server"
    ]  # fmt: skip
    (fetch,) = predictor["initContainers"]
    assert fetch["command"][:5] == [
        "python", "-m", "mlops_iac.workloads.model_fetch", "--model-uri", "models:/churn@champion"
    ]  # fmt: skip
    assert WAIT_FOR not in service["metadata"]["annotations"]
    assert predictor["labels"]["mlops-iac.dev/endpoint"] == "churn"
    assert predictor["deploymentStrategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert not [m for m in result.manifests if m["kind"] in ("Deployment", "Service")
                and m["metadata"]["name"].startswith("churn")]  # fmt: skip
    assert result.manifest("PodDisruptionBudget", "churn")["spec"]["minAvailable"] == 1
    route = result.manifest("HTTPRoute", "churn")["spec"]
    assert route["rules"][0]["backendRefs"] == [
        {"name": "churn-predictor", "port": 80, "weight": 90},
        {"name": "churn-challenger-predictor", "port": 80, "weight": 10},
    ]
    assert result.outputs["serving_churn_url"] == (
        "http://churn-predictor.mlops.svc.cluster.local:80"
    )
    result.write(tmp_path / "out")
    count, failures = validate_directory(tmp_path / "out")
    assert failures == []
    assert count == len(result.manifests)
