"""FeatureStore under recording mocks, and the feature repo checks that run before it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_iac import versions
from mlops_iac.spec import SpecError, StackSpec
from mlops_iac.testing import SynthResult, synth
from mlops_iac.validate import validate_manifest

EXAMPLE_REPO = Path(__file__).resolve().parents[2] / "examples" / "feature-store" / "features"


def synth_store(repo: Path | str, **store: Any) -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack

    stack_fields = store.pop("stack_fields", {})
    spec = StackSpec.load(
        {
            "name": "shop",
            "target": {"kind": "kind"},
            "feature_store": {"repo": str(repo), **store},
            **stack_fields,
        }
    )
    return synth(lambda: MLOpsStack("shop", spec).export(), stack="shop")


@pytest.fixture(scope="module")
def stack() -> SynthResult:
    return synth_store(
        EXAMPLE_REPO,
        server={
            "replicas": 2,
            "service_monitor": True,
            "ingress": {"host": "features.example.com"},
        },
        materialize={"schedule": "*/30 * * * *"},
        stack_fields={"target": {"kind": "kind", "preinstalled": ["prometheus-operator"]}},
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "features"
    shutil.copytree(EXAMPLE_REPO, target)
    return target


def named(result: SynthResult, kind: str, prefix: str) -> dict[str, Any]:
    (manifest,) = [m for m in result.manifests_of(kind) if m["metadata"]["name"].startswith(prefix)]
    return manifest


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    pod = spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    (only,) = pod["spec"]["containers"]
    return dict(only)


def test_every_object_validates(stack):
    assert [
        (m["kind"], validate_manifest(m, "1.37"))
        for m in stack.manifests
        if validate_manifest(m, "1.37")
    ] == []


def test_the_generated_feature_store_yaml_reads_every_address_from_the_environment(stack):
    configmap = named(stack, "ConfigMap", "shop-feast-repo-")
    config = yaml.safe_load(configmap["data"]["feature_store.yaml"])

    assert config == {
        "project": "shop",
        "provider": "local",
        "registry": {
            "registry_type": "sql",
            "path": "postgresql+psycopg://${FEAST_DB_USER}:${FEAST_DB_PASSWORD}"
            "@${FEAST_DB_HOST}:${FEAST_DB_PORT}/${FEAST_DB_NAME}",
            "cache_ttl_seconds": 60,
        },
        "online_store": {
            "type": "redis",
            "connection_string": "${FEAST_REDIS_HOST}:${FEAST_REDIS_PORT},"
            "password=${FEAST_REDIS_PASSWORD}",
        },
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }
    assert configmap["immutable"] is True
    assert configmap["data"]["customers.py"] == (EXAMPLE_REPO / "customers.py").read_text()


def test_the_pods_get_passwords_from_secrets_and_addresses_as_values(stack):
    env = {e["name"]: e for e in container(named(stack, "Deployment", "shop-feast"))["env"]}

    assert env["FEAST_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "shop-postgres-feast-credentials",
        "key": "password",
    }
    assert env["FEAST_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "shop-redis-credentials",
        "key": "REDIS_PASSWORD",
    }
    assert env["FEAST_DB_HOST"]["value"] == "shop-postgres.mlops.svc.cluster.local"
    assert env["FEAST_REDIS_HOST"]["value"] == "shop-redis.mlops.svc.cluster.local"
    assert env["MLOPS_FEAST_DATA"]["value"] == "s3://feast-offline"
    assert env["MLOPS_FEAST_S3_ENDPOINT"]["value"] == "http://shop-s3.mlops.svc.cluster.local:8333"
    assert (
        env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "shop-s3-credentials"
    )


def test_the_apply_job_and_repo_are_named_by_the_repo_content(repo):
    first = synth_store(repo)
    same = synth_store(repo)
    (repo / "customers.py").write_text((repo / "customers.py").read_text() + "\n# changed\n")
    changed = synth_store(repo)

    def names(result: SynthResult) -> tuple[str, str]:
        return (
            named(result, "Job", "shop-feast-apply-")["metadata"]["name"],
            named(result, "ConfigMap", "shop-feast-repo-")["metadata"]["name"],
        )

    assert names(first) == names(same)
    assert names(changed)[0] != names(first)[0]
    assert names(changed)[0].removeprefix("shop-feast-apply-") == names(changed)[1].removeprefix(
        "shop-feast-repo-"
    )
    # Same Pulumi resource, new Kubernetes name: Pulumi replaces the Job, so it runs again.
    assert (
        first.resource("shop-feature-store-apply").urn
        == changed.resource("shop-feature-store-apply").urn
    )
    server = named(changed, "Deployment", "shop-feast")["spec"]["template"]["spec"]
    assert server["volumes"][0]["configMap"]["name"] == names(changed)[1]


def test_apply_runs_once_the_data_services_exist(stack):
    apply_job = stack.resource("shop-feature-store-apply")
    depends = {urn.rsplit("::", 1)[1] for urn in apply_job.depends_on}

    assert {"shop-feature-store-repo", "shop-platform-redis-statefulset"} <= depends
    assert {"shop-platform-postgres-feast-init", "shop-platform-s3-bucket-feast-offline"} <= depends
    # A new stack's offline store is empty: apply must not read it (tests/process proves
    # that apply completes on a fresh stack).
    assert container(named(stack, "Job", "shop-feast-apply-"))["command"] == [
        versions.FEAST_BIN, "-c", "/feast/repo", "apply", "--skip-source-validation",
    ]  # fmt: skip


def test_materialization_runs_incrementally_on_its_schedule_never_twice_at_once(stack):
    cronjob = named(stack, "CronJob", "shop-feast-materialize")["spec"]

    assert (cronjob["schedule"], cronjob["concurrencyPolicy"]) == ("*/30 * * * *", "Forbid")
    assert cronjob["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 1800
    command = container(named(stack, "CronJob", "shop-feast-materialize"))["command"]
    assert command[:2] == ["sh", "-c"]
    assert f"exec {versions.FEAST_BIN} -c /feast/repo materialize-incremental" in command[2]
    assert '"$(date -u +%Y-%m-%dT%H:%M:%S)"' in command[2]


def test_the_feature_server_is_probed_sized_and_spread(stack):
    deployment = named(stack, "Deployment", "shop-feast")
    server = container(deployment)

    assert deployment["spec"]["replicas"] == 2
    assert server["command"][-1] == "--metrics"
    assert "--host=0.0.0.0" in server["command"]
    assert server["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert server["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert server["resources"] == {
        "requests": {"cpu": "100m", "memory": "384Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert {p["containerPort"] for p in server["ports"]} == {6566, 8000}
    assert named(stack, "PodDisruptionBudget", "shop-feast")["spec"]["minAvailable"] == 1
    assert named(stack, "ServiceMonitor", "shop-feast")["spec"]["endpoints"][0]["port"] == "metrics"
    assert stack.outputs["feature_server_url"] == "http://shop-feast.mlops.svc.cluster.local:6566"
    assert stack.outputs["feature_server_external_url"] == "http://features.example.com"


def test_redis_keeps_its_data_and_its_password_out_of_the_manifest(stack):
    redis = stack.resource("shop-platform-redis-statefulset")
    spec = named(stack, "StatefulSet", "shop-redis")["spec"]
    (server,) = spec["template"]["spec"]["containers"]

    assert redis.retain_on_delete is True
    assert server["command"][-1].endswith("exec redis-server /run/redis/redis.conf\n")
    assert "$(" not in " ".join(server["command"])  # nothing the kubelet expands into argv
    assert server["image"] == versions.REDIS_IMAGE
    assert spec["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert set(named(stack, "Secret", "shop-redis-credentials")["stringData"].values()) == {
        "[secret]"
    }


def test_only_feast_pods_reach_redis(stack):
    ingress = named(stack, "NetworkPolicy", "shop-redis-allow-ingress")["spec"]
    server_labels = named(stack, "Deployment", "shop-feast")["spec"]["template"]["metadata"]

    assert ingress["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"mlops-iac.dev/redis-client": "shop-redis"}}}
    ]
    assert server_labels["labels"]["mlops-iac.dev/redis-client"] == "shop-redis"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "no feature repo folder at"),
        ("empty", "no Feast objects in"),
        ("syntax", "broken.py line 1: invalid Python"),
        ("too_large", "more than a ConfigMap holds (1048576 bytes)"),
        ("bad_name", "cannot be a ConfigMap key"),
    ],
)
def test_a_bad_repo_is_a_spec_error_naming_the_field_before_anything_exists(repo, change, message):
    if change == "missing":
        shutil.rmtree(repo)
    elif change == "empty":
        (repo / "customers.py").write_text("import os\nprint(os.getcwd())\n")
    elif change == "syntax":
        (repo / "broken.py").write_text("def (:\n")
    elif change == "too_large":
        (repo / "big.py").write_text("# " + "x" * (1024 * 1024) + "\n")
    else:
        (repo / "my features.py").write_text("x = 1\n")

    with pytest.raises(SpecError) as caught:
        synth_store(repo)

    assert caught.value.paths == ["feature_store.repo"]
    assert message in str(caught.value)


def test_feastignore_leaves_files_out_of_the_configmap(repo):
    (repo / "scratch").mkdir()
    (repo / "scratch" / "notes.py").write_text("x = 1\n")
    (repo / ".feastignore").write_text("scratch/\n")

    data = named(synth_store(repo), "ConfigMap", "shop-feast-repo-")["data"]

    assert "scratch__notes.py" not in data
    assert ".feastignore" in data


def test_files_in_subfolders_are_mounted_where_they_were(repo):
    (repo / "views").mkdir()
    (repo / "views" / "extra.py").write_text("y = 2\n")

    result = synth_store(repo)
    items = named(result, "Deployment", "shop-feast")["spec"]["template"]["spec"]["volumes"][0]

    assert {"key": "views__extra.py", "path": "views/extra.py"} in items["configMap"]["items"]


@pytest.mark.parametrize(
    ("store", "path", "message"),
    [
        ({"online_store": "dynamodb"}, "feature_store.online_store", "Input should be 'redis'"),
        ({"offline_store": "bigquery"}, "feature_store.offline_store", "Input should be 'file'"),
        (
            {"materialize": {"schedule": "every hour"}},
            "feature_store.materialize.schedule",
            "5 fields",
        ),
        ({"project": "my-project"}, "feature_store.project", "should match pattern"),
        (
            {"server": {"replicas": 0}},
            "feature_store.server.replicas",
            "greater than or equal to 1",
        ),
    ],
)
def test_invalid_store_settings_name_the_field(store, path, message):
    with pytest.raises(SpecError) as caught:
        StackSpec.load(
            {"name": "shop", "target": {"kind": "kind"}, "feature_store": {"repo": "f", **store}}
        )

    assert caught.value.paths == [path]
    assert message in str(caught.value)


@pytest.fixture(scope="module")
def with_consumers() -> SynthResult:
    return synth_store(
        EXAMPLE_REPO,
        stack_fields={
            "serving": [
                {"name": "churn", "model": "models:/churn@champion", "feature_server": True}
            ],
            "training": {
                "jobs": [
                    {
                        "name": "churn",
                        "features": {
                            "service": "churn",
                            "entities": "s3://datasets/labels.parquet",
                        },
                        "target": "churned",
                    }
                ]
            },
        },
    )


def test_an_endpoint_can_be_given_the_feature_server(with_consumers):
    deployment = with_consumers.manifest("Deployment", "churn")
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    egress = with_consumers.manifest("NetworkPolicy", "churn-allow-feature-server")["spec"]

    assert {
        "name": "FEATURE_SERVER_URL",
        "value": "http://shop-feast.mlops.svc.cluster.local:6566",
    } in server["env"]
    assert egress["egress"][0]["ports"] == [{"protocol": "TCP", "port": 6566}]
    assert (
        egress["egress"][0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        == "feast"
    )


def test_a_training_job_exports_its_feature_service_before_training(with_consumers):
    pod = with_consumers.manifest("CronJob", "churn", "mlops-training")["spec"]["jobTemplate"][
        "spec"
    ]["template"]
    (export,) = pod["spec"]["initContainers"]
    (trainer,) = pod["spec"]["containers"]
    env = {e["name"]: e for e in export["env"]}

    assert export["command"] == [
        "/opt/feast/bin/python", "-m", "mlops_iac.workloads.feature_export",
        "--repo=/feast/repo", "--service=churn", "--entities=s3://datasets/labels.parquet",
        "--target=churned", "--out=/features/training.parquet",
    ]  # fmt: skip
    assert "--dataset=/features/training.parquet" in trainer["command"]
    assert {"name": "features", "mountPath": "/features"} in trainer["volumeMounts"]
    assert (
        env["FEAST_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        == "shop-postgres-feast-credentials"
    )
    assert pod["metadata"]["labels"]["mlops-iac.dev/postgres-client"] == "shop-postgres"
    (repo_volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "feast-repo"]
    copy = with_consumers.manifest("ConfigMap", repo_volume["configMap"]["name"], "mlops-training")
    original = with_consumers.manifest("ConfigMap", repo_volume["configMap"]["name"], "mlops")
    assert copy["data"] == original["data"]


def test_the_training_namespace_gets_its_own_copy_of_the_registry_credentials(with_consumers):
    revealed = {
        (m["metadata"]["namespace"], m["metadata"]["name"]): m["stringData"]
        for m in with_consumers.revealed_manifests()
        if m["kind"] == "Secret"
    }
    name = "shop-postgres-feast-credentials"
    policy = with_consumers.manifest("NetworkPolicy", "shop-postgres-from-mlops-training-ingress")

    assert revealed[("mlops-training", name)] == revealed[("mlops", name)]
    assert policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_consumers_of_the_feature_store_need_one():
    serving = [{"name": "churn", "model": "models:/churn@champion", "feature_server": True}]
    training = {
        "jobs": [{"name": "x", "features": {"service": "s", "entities": "s3://d/e.parquet"}}]
    }

    with pytest.raises(SpecError, match="set feature_server, which needs `feature_store`"):
        StackSpec.load({"name": "shop", "target": {"kind": "kind"}, "serving": serving})
    with pytest.raises(SpecError, match="read `features`, which needs `feature_store`"):
        StackSpec.load({"name": "shop", "target": {"kind": "kind"}, "training": training})
