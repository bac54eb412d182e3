"""Kueue in a synthesized stack: its release limits the webhooks to the training namespace,
and everything that creates Jobs there (the trainer's CronJobs, the drift monitors') is
created after Kueue serves them."""

from __future__ import annotations

import json

import pytest

from mlops_iac.spec import StackSpec
from mlops_iac.testing import SynthResult, synth

SPEC = {
    "name": "shop",
    "target": {"kind": "kind"},
    "routing": {"mode": "gateway", "gateway_class": "eg"},
    "serving": [{"name": "churn", "model": "models:/churn@champion"}],
    "training": {
        "kueue": True,
        "jobs": [{"name": "churn", "dataset": "s3://datasets/churn.parquet"}],
    },
    "monitoring": {"drift": {"endpoint": "churn", "retrain_job": "churn"}},
}


@pytest.fixture(scope="module")
def stack() -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack

    spec = StackSpec.load(SPEC)
    return synth(lambda: MLOpsStack("shop", spec).export(), stack="shop")


def kueue_release(stack: SynthResult):
    (release,) = [
        r for r in stack.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "kueue"
    ]
    return release


def test_the_release_limits_kueue_to_the_training_namespace(stack):
    values = kueue_release(stack).inputs["values"]
    config = json.loads(values["managerConfig"]["controllerManagerConfigYaml"])

    assert config["managedJobsNamespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "mlops-training"}
    }
    assert config["integrations"] == {"frameworks": ["batch/job"]}


def test_every_job_creator_in_the_training_namespace_waits_for_kueue(stack):
    release = kueue_release(stack)
    (local_queue,) = [
        r
        for r in stack.of_type("kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue")
        if r.inputs["metadata"]["namespace"] == "mlops-training"
    ]
    creators = [
        r
        for r in stack.of_type("kubernetes:batch/v1:CronJob")
        if r.inputs["metadata"]["namespace"] == "mlops-training"
    ]

    assert sorted(r.inputs["metadata"]["name"] for r in creators) == ["churn", "drift-churn"]
    for cronjob in creators:
        assert {release.urn, local_queue.urn} <= set(cronjob.depends_on), cronjob.name
