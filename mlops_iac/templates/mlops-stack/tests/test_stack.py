"""The stack's tests, offline: each synthesizes Pulumi.dev.yaml under Pulumi's mocks (no
cluster, cloud account or Pulumi CLI) and checks what `pulumi up` would create."""

from pathlib import Path
from typing import Any

import pytest

from mlops_iac.testing import SynthResult, generated_secrets, secret_leaks, synth_project

PROJECT = Path(__file__).resolve().parents[1]
POD_OWNERS = {"Deployment", "StatefulSet", "Job", "CronJob"}
DATA_HOLDERS = {
    "kubernetes:apps/v1:StatefulSet",  # PostgreSQL and the object store in the cluster
    "aws:rds/instance:Instance",
    "aws:s3/bucket:Bucket",
}


@pytest.fixture(scope="module")
def dev() -> SynthResult:
    return synth_project(PROJECT, "dev")


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def test_the_registry_is_mlflow_at_the_tracking_uri(dev: SynthResult) -> None:
    deployment = dev.manifest("Deployment", "mlflow")
    image = pod_spec(deployment)["containers"][0]["image"]
    assert "mlflow" in image
    assert dev.outputs["registry_tracking_uri"] == "http://mlflow.mlops.svc.cluster.local:5000"


def test_the_training_job_runs_on_demand_within_the_quota(dev: SynthResult) -> None:
    namespace = dev.outputs["training_namespace"]
    cronjob = dev.manifest("CronJob", "demo", namespace)
    assert cronjob["spec"]["suspend"] is True  # no schedule: `mlops-iac train demo` starts it
    quota = dev.manifest("ResourceQuota", "training", namespace)
    assert quota["spec"]["hard"]["limits.cpu"] == "4"
    assert dev.outputs["training_jobs"] == ["demo"]


def test_every_container_is_sized_and_runs_as_non_root(dev: SynthResult) -> None:
    pods = [m for m in dev.manifests if m["kind"] in POD_OWNERS]
    assert pods
    for manifest in pods:
        spec = pod_spec(manifest)
        assert spec["securityContext"]["runAsNonRoot"] is True, manifest["metadata"]["name"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[part]), container["name"]


def test_the_data_is_kept_when_the_stack_is_destroyed(dev: SynthResult) -> None:
    data = [r for r in dev.resources if r.type in DATA_HOLDERS]
    assert data
    for resource in data:
        assert resource.retain_on_delete or resource.protect, resource.name


def test_generated_passwords_appear_only_in_secrets(dev: SynthResult) -> None:
    secrets = generated_secrets(dev)
    assert secrets
    assert secret_leaks(dev, secrets) == []
