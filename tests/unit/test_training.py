"""TrainingCluster under recording mocks: what the training namespace and its jobs are."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_iac import versions
from mlops_iac.components.training_jobs import trainer_args
from mlops_iac.spec import StackSpec
from mlops_iac.testing import SynthResult, synth
from mlops_iac.validate import validate_manifest

CHURN = {
    "name": "churn",
    "dataset": "s3://datasets/churn.parquet",
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 200},
    "target": "churned",
    "metric": "roc_auc",
    "min_metric": 0.75,
    "schedule": "0 3 * * *",
    "resources": {"cpu": "2", "memory": "4Gi"},
}
VISION = {
    "name": "vision",
    "image": "ghcr.io/acme/vision:1.2",
    "command": ["python", "train.py", "--epochs=3"],
    "gpu": 1,
    "node_selector": {"node.kubernetes.io/instance-type": "g5.xlarge"},
}
TRAINING = {
    "quota": {"cpu": "8", "memory": "32Gi", "gpu": 2},
    "jobs": [CHURN, VISION],
    "distributed": {"ray": False},
}


def synth_training(training: dict[str, Any], **fields: Any) -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack

    spec = StackSpec.load(
        {"name": "demo", "target": {"kind": "kind"}, "training": training, **fields}
    )
    return synth(lambda: MLOpsStack("demo", spec).export(), stack="demo")


@pytest.fixture(scope="module")
def stack() -> SynthResult:
    return synth_training(TRAINING)


def cronjob(result: SynthResult, name: str) -> dict[str, Any]:
    return result.manifest("CronJob", name, "mlops-training")["spec"]


def trainer(result: SynthResult, name: str) -> dict[str, Any]:
    pod = cronjob(result, name)["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return {"pod": pod, "container": container}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_every_object_validates_against_the_kubernetes_and_kueue_schemas():
    result = synth_training({**TRAINING, "kueue": True})

    failures = [(m["kind"], validate_manifest(m, "1.37")) for m in result.manifests]
    assert [f for f in failures if f[1]] == []


def test_the_namespace_is_restricted_and_denies_traffic_by_default(stack):
    namespace = stack.manifest("Namespace", "mlops-training")
    policies = {m["metadata"]["name"]: m["spec"] for m in stack.manifests_of("NetworkPolicy")}

    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert stack.manifest("NetworkPolicy", "default-deny", "mlops-training")["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    assert "mlflow-from-mlops-training-trainer-egress" in policies


def test_quota_and_limit_range_come_from_the_spec_and_the_profile(stack):
    quota = stack.manifest("ResourceQuota", "training", "mlops-training")["spec"]["hard"]
    (limits,) = stack.manifest("LimitRange", "training", "mlops-training")["spec"]["limits"]

    assert quota == {
        "requests.cpu": "8",
        "limits.cpu": "8",
        "requests.memory": "32Gi",
        "limits.memory": "32Gi",
        "requests.nvidia.com/gpu": "2",
    }
    assert limits == {
        "type": "Container",
        "defaultRequest": {"cpu": "500m", "memory": "1Gi"},
        "default": {"cpu": "2", "memory": "2Gi"},
        "max": {"cpu": "8", "memory": "32Gi"},
    }


def test_a_scheduled_job_runs_on_its_schedule_never_twice_at_once(stack):
    spec = cronjob(stack, "churn")
    job = spec["jobTemplate"]["spec"]

    assert (spec["schedule"], spec["timeZone"], spec["suspend"]) == ("0 3 * * *", "Etc/UTC", False)
    assert spec["concurrencyPolicy"] == "Forbid"
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    assert spec["startingDeadlineSeconds"] == 600
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (2, 7200)
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_a_job_without_schedule_is_a_suspended_cronjob_run_only_on_demand(stack):
    manifest = stack.manifest("CronJob", "vision", "mlops-training")

    assert manifest["spec"]["suspend"] is True
    assert manifest["metadata"]["annotations"] == {"mlops-iac.dev/on-demand-only": "true"}


def test_the_trainer_logs_to_the_registry_and_reads_data_with_the_copied_credentials(stack):
    container = trainer(stack, "churn")["container"]
    env = env_of(container)

    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc.cluster.local:5000"
    assert env["AWS_ENDPOINT_URL_S3"] == "http://demo-s3.mlops.svc.cluster.local:8333"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key] == {"secretKeyRef": {"name": "demo-s3-credentials", "key": key}}
    assert container["image"] == versions.RUNTIME_IMAGE


def test_the_training_namespace_gets_the_same_keys_as_the_object_store():
    result = synth_training(TRAINING)
    revealed = {
        (m["metadata"]["namespace"], m["metadata"]["name"]): m
        for m in result.revealed_manifests()
        if m["kind"] == "Secret"
    }
    store = revealed[("mlops", "demo-s3-credentials")]["stringData"]
    copy = revealed[("mlops-training", "demo-s3-credentials")]["stringData"]

    assert copy == {key: store[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    masked = result.manifest("Secret", "demo-s3-credentials", "mlops-training")
    assert set(masked["stringData"].values()) == {"[secret]"}


def test_the_trainer_command_carries_every_setting_of_the_job(stack):
    from mlops_iac.workloads.train import TrainConfig, parse_args

    command = trainer(stack, "churn")["container"]["command"]
    assert command[:3] == ["python", "-m", "mlops_iac.workloads.train"]
    assert command[-1] == "--succeed-when-not-promoted"

    args = vars(parse_args(command[3:]))
    fields = {k: v for k, v in args.items() if v is not None and k != "tracking_uri"}
    fields.pop("succeed_when_not_promoted")
    config = TrainConfig.model_validate(fields)
    job = StackSpec.load(
        {"name": "demo", "target": {"kind": "kind"}, "training": TRAINING}
    ).training.job("churn")  # type: ignore[union-attr]
    assert config.model_dump(exclude={"model_name", "experiment"}) == job.model_dump(
        include=set(config.model_dump()) - {"model_name", "experiment"}
    )
    assert config.model_name == "churn"


def test_an_invalid_config_fails_the_job_at_once_and_evictions_are_not_failures(stack):
    rules = cronjob(stack, "churn")["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]

    assert {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    } in rules
    assert {
        "action": "FailJob",
        "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [2]},
    } in rules


def test_a_custom_job_runs_its_own_image_and_command_with_gpus(stack):
    parts = trainer(stack, "vision")
    container, pod = parts["container"], parts["pod"]
    rules = cronjob(stack, "vision")["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]

    assert container["image"] == "ghcr.io/acme/vision:1.2"
    assert container["command"] == ["python", "train.py", "--epochs=3"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "g5.xlarge"}
    assert [rule["action"] for rule in rules] == ["Ignore"]
    assert "MLFLOW_TRACKING_URI" in env_of(container)


def test_a_cpu_job_gets_no_gpu_and_no_gpu_toleration(stack):
    parts = trainer(stack, "churn")

    assert "nvidia.com/gpu" not in parts["container"]["resources"]["limits"]
    assert "tolerations" not in parts["pod"]


def test_training_pods_are_restricted_and_have_no_api_token(stack):
    pod = trainer(stack, "churn")["pod"]

    assert pod["serviceAccountName"] == "trainer"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    account = stack.manifest("ServiceAccount", "trainer", "mlops-training")
    assert account["automountServiceAccountToken"] is False


def test_the_retrainer_may_start_runs_and_nothing_else(stack):
    role = stack.manifest("Role", "retrainer", "mlops-training")
    binding = stack.manifest("RoleBinding", "retrainer", "mlops-training")

    assert role["rules"] == [
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list"]},
    ]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "retrainer", "namespace": "mlops-training"}
    ]
    assert binding["roleRef"]["name"] == "retrainer"
    assert [m["metadata"]["name"] for m in stack.manifests_of("Role")] == ["retrainer"]


def test_only_trainer_pods_of_the_training_namespace_reach_the_registry_and_the_store(stack):
    registry = stack.manifest(
        "NetworkPolicy", "mlflow-from-mlops-training-trainer-ingress", "mlops"
    )
    store = stack.manifest("NetworkPolicy", "demo-s3-from-mlops-training-ingress", "mlops")
    egress = stack.manifest(
        "NetworkPolicy", "mlflow-from-mlops-training-trainer-egress", "mlops-training"
    )
    training_ns = {"matchLabels": {"kubernetes.io/metadata.name": "mlops-training"}}

    (rule,) = registry["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5000}]
    assert rule["from"] == [
        {
            "namespaceSelector": training_ns,
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "trainer",
                    "app.kubernetes.io/instance": "demo",
                }
            },
        }
    ]
    assert store["spec"]["ingress"][0]["from"][0]["namespaceSelector"] == training_ns
    assert store["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8333}]
    assert egress["spec"]["egress"][0]["to"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "mlops"}
    }
    labels = cronjob(stack, "churn")["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["mlops-iac.dev/s3-client"] == "demo-s3"


def test_each_data_bucket_is_created_once_on_the_object_store(stack):
    jobs = sorted(m["metadata"]["name"] for m in stack.manifests_of("Job"))

    assert jobs == [
        "demo-postgres-mlflow-init",
        "demo-s3-bucket-datasets",
        "demo-s3-bucket-mlflow-artifacts",
    ]


def test_a_dataset_in_another_bucket_gets_that_bucket_too():
    job = {**CHURN, "dataset": "s3://raw-events/churn.parquet"}
    result = synth_training({"jobs": [job]})

    assert {m["metadata"]["name"] for m in result.manifests_of("Job")} >= {
        "demo-s3-bucket-datasets",
        "demo-s3-bucket-raw-events",
    }


def test_outputs_name_the_namespace_and_the_jobs(stack):
    assert stack.outputs["training_namespace"] == "mlops-training"
    assert stack.outputs["training_jobs"] == ["churn", "vision"]


def test_the_stack_runtime_image_tag_is_configurable():
    result = synth_training({"jobs": [CHURN]}, runtime_image="registry.local/runtime:2.0.0")

    assert trainer(result, "churn")["container"]["image"] == "registry.local/runtime:2.0.0"


def test_with_kueue_jobs_are_queued_and_the_cluster_queue_holds_the_quota():
    result = synth_training({**TRAINING, "kueue": True})
    queue = result.manifest("ClusterQueue", "demo-training")["spec"]
    local = result.manifest("LocalQueue", "training", "mlops-training")["spec"]
    (release,) = [
        r for r in result.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "kueue"
    ]

    assert queue["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "mlops-training"}
    }
    (group,) = queue["resourceGroups"]
    assert group["flavors"] == [
        {
            "name": "demo-training",
            "resources": [
                {"name": "cpu", "nominalQuota": "8"},
                {"name": "memory", "nominalQuota": "32Gi"},
                {"name": "nvidia.com/gpu", "nominalQuota": "2"},
            ],
        }
    ]
    assert local == {"clusterQueue": "demo-training"}
    template = cronjob(result, "churn")["jobTemplate"]
    assert template["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "training"
    assert (release.inputs["chart"], release.inputs["version"]) == (
        versions.KUEUE_CHART,
        versions.KUEUE_VERSION,
    )
    resources = release.inputs["values"]["controllerManager"]["manager"]["resources"]
    assert resources["requests"] == {"cpu": "100m", "memory": "256Mi"}
    cronjob_urn = result.resource("demo-training-job-churn").depends_on
    assert release.urn in cronjob_urn


def test_without_kueue_there_is_no_queue_label_and_no_helm_release(stack):
    template = cronjob(stack, "churn")["jobTemplate"]

    assert "kueue.x-k8s.io/queue-name" not in template["metadata"]["labels"]
    assert [r.inputs["name"] for r in stack.of_type("kubernetes:helm.sh/v3:Release")] == [
        "envoy-gateway"
    ]


def test_the_local_trainer_gets_the_same_flags_as_the_job(stack):
    job = StackSpec.load(
        {"name": "demo", "target": {"kind": "kind"}, "training": TRAINING}
    ).training.job("churn")  # type: ignore[union-attr]
    command = trainer(stack, "churn")["container"]["command"]

    assert command[3:-1] == trainer_args(job)
