"""The production AWS stack under Pulumi mocks, with the public API and mlops_iac.testing
only: no AWS account, no AWS call."""

from pathlib import Path

import pytest

pytest.importorskip("pulumi_aws", reason="needs the `aws` extra: pip install 'mlops-iac[aws]'")

from mlops_iac.testing import synth_project

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def prod():
    return synth_project(HERE, "prod")


def test_every_data_store_is_protected_from_deletion(prod):
    stores = [
        *prod.of_type("aws:rds/instance:Instance"),
        *prod.of_type("aws:s3/bucket:Bucket"),
        *prod.of_type("aws:eks/cluster:Cluster"),
    ]

    assert len(stores) == 5  # RDS, the artifact, dataset and inference-log buckets, EKS
    assert all(store.protect for store in stores)
    (rds,) = prod.of_type("aws:rds/instance:Instance")
    assert rds.inputs["deletionProtection"] is True and rds.inputs["multiAz"] is True


def test_the_training_job_reads_the_real_dataset_bucket_as_its_own_identity(prod):
    (datasets,) = [
        b
        for b in prod.of_type("aws:s3/bucket:Bucket")
        if b.inputs["bucketPrefix"] == "churn-datasets-"
    ]
    job = prod.manifest("CronJob", "churn")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (trainer,) = job["containers"]

    assert f"--dataset=s3://{datasets.outputs['bucket']}/churn.parquet" in trainer["command"]
    assert job["serviceAccountName"] == "trainer"
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & {e["name"] for e in trainer["env"]}


def test_the_canary_and_the_api_endpoint_are_restricted_as_configured(prod):
    route = prod.manifest("HTTPRoute", "churn")["spec"]["rules"][0]["backendRefs"]
    (cluster,) = prod.of_type("aws:eks/cluster:Cluster")

    assert [(b["name"], b["weight"]) for b in route] == [("churn", 90), ("churn-challenger", 10)]
    assert cluster.inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_gpu_nodes_are_spot_and_tainted(prod):
    groups = {
        g.inputs["nodeGroupName"]: g.inputs for g in prod.of_type("aws:eks/nodeGroup:NodeGroup")
    }

    assert groups["gpu"]["capacityType"] == "SPOT"
    assert groups["gpu"]["taints"][0]["key"] == "nvidia.com/gpu"
    assert groups["cpu"]["instanceTypes"] == ["m6i.xlarge", "m6a.xlarge"]


def test_the_workloads_run_the_image_the_stack_builds_and_pushes(prod):
    (image,) = prod.of_type("docker-build:index:Image")
    trainer = prod.manifest("CronJob", "churn")["spec"]["jobTemplate"]["spec"]["template"]

    # The build context the installed package writes, relative to the program's folder.
    assert image.inputs["context"]["location"] == ".mlops-iac/runtime-image"
    assert trainer["spec"]["containers"][0]["image"] == image.outputs["ref"]


def test_cluster_autoscaler_scales_the_groups_and_the_gpu_group_from_zero(prod):
    (autoscaler,) = [
        r
        for r in prod.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["name"] == "cluster-autoscaler"
    ]
    template = {
        t.inputs["tag"]["key"]: t.inputs["tag"]["value"]
        for t in prod.of_type("aws:autoscaling/tag:Tag")
    }

    assert autoscaler.inputs["values"]["autoDiscovery"]["clusterName"] == "churn-prod"
    assert template["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] == (
        "true:NoSchedule"
    )
    assert template["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "1"
