"""The AWS platform under mocks: the same stack as on kind, the cluster and its node groups,
the network, protection by profile, and bad input."""

from __future__ import annotations

import copy
import ipaddress
import re
import subprocess
import sys
from typing import Any

import pytest
from aws_stacks import AWS_SPEC, REPO, synth_spec
from hypothesis import given
from hypothesis import strategies as st

from mlops_iac import versions
from mlops_iac.platforms.aws.sizing import subnet_plan
from mlops_iac.spec import SpecError
from mlops_iac.testing.mocks import is_secret
from mlops_iac.validate import validate_manifest

DATA_SERVICE_WORKLOADS = {
    ("StatefulSet", "shop-postgres"),
    ("StatefulSet", "shop-s3"),
    ("StatefulSet", "shop-redis"),
}
"""What kind runs in the cluster and AWS runs as managed services."""


def everything(target: dict[str, Any]) -> dict[str, Any]:
    """A stack with every component, on the given target."""
    return {
        **AWS_SPEC,
        "target": target,
        "routing": {"mode": "gateway", "gateway_class": "eg", "domain": "shop.example.com"},
        "registry": {"ingress": {"host": "mlflow.shop.example.com"}},
        "serving": [
            {"name": "churn", "model": "models:/churn@champion", "feature_server": True},
        ],
        "training": {
            "quota": {"cpu": "8", "memory": "32Gi"},
            "jobs": [
                {
                    "name": "churn",
                    "features": {"service": "churn", "entities": "s3://datasets/entities.parquet"},
                    "estimator": "sklearn.linear_model.LogisticRegression",
                    "metric": "roc_auc",
                    "target": "churned",
                }
            ],
        },
        "feature_store": {"repo": str(REPO / "examples" / "feature-store" / "features")},
        "monitoring": {"drift": {"endpoint": "churn", "retrain_job": "churn"}},
    }


@pytest.fixture(scope="module")
def both() -> tuple[Any, Any]:
    kind = synth_spec(everything({"kind": "kind", "cluster": "shop"}))
    aws = synth_spec(everything(AWS_SPEC["target"]))
    return kind, aws


def workloads(result: Any) -> set[tuple[str, str]]:
    """(kind, name) of every workload; the Feast apply Job's content hash is left out (its
    feature_store.yaml differs: Redis over TLS on AWS)."""
    kinds = {"Deployment", "StatefulSet", "Job", "CronJob", "DaemonSet"}
    return {
        (m["kind"], re.sub(r"^(shop-feast-apply)-[0-9a-f]{10}$", r"\1", m["metadata"]["name"]))
        for m in result.manifests
        if m["kind"] in kinds
    }


def components(result: Any) -> set[str]:
    """The stack's components: every `mlops:index:` resource outside the platform."""
    return {
        r.name
        for r in result.resources
        if r.type.startswith("mlops:index:") and "Platform" not in r.urn.split("::")[2]
    }


def test_the_same_spec_gives_the_same_components_and_workloads_on_kind_and_aws(both):
    kind, aws = both

    assert components(kind) == components(aws)
    assert len(components(aws)) == 6  # stack, registry, endpoint, features, training, monitoring
    kind_only = workloads(kind) - workloads(aws)
    bucket_jobs = {w for w in kind_only if w[0] == "Job" and w[1].startswith("shop-s3-bucket-")}
    assert kind_only - bucket_jobs == DATA_SERVICE_WORKLOADS
    assert len(bucket_jobs) == 4
    assert workloads(aws) - workloads(kind) == set()


def test_only_the_platform_s_data_services_differ(both):
    kind, aws = both
    platform_types = {r.type for r in aws.resources if r.type.startswith("mlops:")} - {
        r.type for r in kind.resources if r.type.startswith("mlops:")
    }

    assert platform_types == {
        "mlops:index:AwsPlatform",
        "mlops:aws:Network",
        "mlops:aws:EksCluster",
        "mlops:aws:RdsPostgres",
        "mlops:aws:S3Buckets",
        "mlops:aws:ElastiCacheRedis",
    }
    for kind_name in ("mlflow", "churn", "shop-feast"):
        kind_pod = kind.manifest("Deployment", kind_name)["spec"]["template"]["spec"]
        aws_pod = aws.manifest("Deployment", kind_name)["spec"]["template"]["spec"]
        assert [c["name"] for c in kind_pod["containers"]] == [
            c["name"] for c in aws_pod["containers"]
        ]
        built = aws_runtime_image(aws)
        assert [c["image"] for c in kind_pod["containers"]] == [
            versions.RUNTIME_IMAGE if c["image"] == built else c["image"]
            for c in aws_pod["containers"]
        ]


def aws_runtime_image(result: Any) -> str:
    (image,) = result.of_type("docker-build:index:Image")
    return str(image.outputs["ref"])


def test_the_runtime_image_is_built_pushed_to_ecr_and_run_by_digest(both):
    _, aws = both
    (image,) = aws.of_type("docker-build:index:Image")
    (repository,) = aws.of_type("aws:ecr/repository:Repository")
    url = repository.outputs["repositoryUrl"]
    runtime = {
        c["image"]
        for m in aws.manifests
        if m["kind"] in ("Deployment", "CronJob", "Job")
        for c in _containers(m)
        if "mlflow/mlflow" not in c["image"] and "postgres" not in c["image"]
    }

    assert image.inputs["push"] is True and image.inputs["buildOnPreview"] is False
    assert image.inputs["platforms"] == ["linux/amd64"]  # the node groups' architecture
    assert image.inputs["dockerfile"]["location"] == ".mlops-iac/runtime-image/Dockerfile"
    (tag,) = image.inputs["tags"]
    assert re.fullmatch(rf"{re.escape(url)}:{versions.RUNTIME_VERSION}-[0-9a-f]{{12}}", tag)
    assert is_secret(image.inputs["registries"])
    assert runtime == {aws_runtime_image(aws)}
    assert aws_runtime_image(aws).startswith(f"{url}@sha256:")


def _containers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = manifest["spec"]
    template = (
        spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    )
    pod = template["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_a_pushed_image_of_your_own_is_used_as_given():
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/runtime:1.2.3"
    result = synth_spec({**AWS_SPEC, "runtime_image": image})

    assert result.of_type("docker-build:index:Image") == []
    assert (
        result.manifest("Deployment", "churn")["spec"]["template"]["spec"]["containers"][0]["image"]
        == image
    )


def test_an_image_context_without_the_dockerfile_is_a_spec_error_before_anything_exists(
    tmp_path,
):
    target = {**AWS_SPEC["target"], "image_context": str(tmp_path)}

    with pytest.raises(SpecError, match=r"target\.image_context.*no Dockerfile in"):
        synth_spec({**AWS_SPEC, "target": target})


def test_uris_in_the_spec_name_the_real_buckets_on_aws(both):
    kind, aws = both
    real = {
        r.inputs["bucketPrefix"].removeprefix("shop-").rstrip("-"): r.outputs["bucket"]
        for r in aws.of_type("aws:s3/bucket:Bucket")
    }
    trainer = aws.manifest("CronJob", "churn")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    export = trainer["initContainers"][0]["command"]
    drift = aws.manifest("CronJob", "drift-churn")["spec"]["jobTemplate"]["spec"]["template"]
    kind_export = kind.manifest("CronJob", "churn")["spec"]["jobTemplate"]["spec"]["template"]

    assert f"--entities=s3://{real['datasets']}/entities.parquet" in export
    assert (
        "--entities=s3://datasets/entities.parquet"
        in kind_export["spec"]["initContainers"][0]["command"]
    )
    assert (
        f"--current=s3://{real['inference-logs']}/inference"
        in drift["spec"]["containers"][0]["command"]
    )
    registry = aws.manifest("Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]
    assert f"--artifacts-destination=s3://{real['mlflow-artifacts']}/" in registry["command"]


def test_database_clients_reach_rds_through_the_vpc_only(both):
    _, aws = both
    (instance,) = aws.of_type("aws:rds/instance:Instance")
    job = aws.manifest("Job", "shop-postgres-mlflow-init")["spec"]["template"]
    env = {e["name"]: e for e in job["spec"]["containers"][0]["env"]}
    egress = aws.manifest("NetworkPolicy", "shop-postgres-egress", "mlops")["spec"]

    assert env["PGHOST"]["value"] == instance.outputs["address"]
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "shop-postgres-admin"
    assert egress["podSelector"]["matchLabels"] == {
        "mlops-iac.dev/postgres-client": "shop-postgres"
    }
    assert egress["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": "10.42.0.0/16"}}],
            "ports": [{"protocol": "TCP", "port": 5432}],
        }
    ]
    assert job["metadata"]["labels"]["mlops-iac.dev/postgres-client"] == "shop-postgres"
    training = aws.manifest("NetworkPolicy", "shop-postgres-egress", "mlops-training")
    assert training["spec"] == egress


def test_the_feature_store_reads_elasticache_over_tls(both):
    kind, aws = both
    (group,) = aws.of_type("aws:elasticache/replicationGroup:ReplicationGroup")

    def feature_store_yaml(result: Any) -> str:
        (repo,) = [
            m
            for m in result.manifests_of("ConfigMap")
            if m["metadata"]["name"].startswith("shop-feast-repo-")
            and m["metadata"]["namespace"] == "mlops"
        ]
        return repo["data"]["feature_store.yaml"]

    assert ",ssl=true" in feature_store_yaml(aws)
    assert ",ssl=true" not in feature_store_yaml(kind)
    server = aws.manifest("Deployment", "shop-feast")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in server["env"]}
    assert env["FEAST_REDIS_HOST"]["value"] == group.outputs["primaryEndpointAddress"]


def test_the_drift_monitor_s_existing_service_account_gets_the_log_bucket(both):
    _, aws = both
    accounts = {
        (r.inputs["namespace"], r.inputs["serviceAccount"])
        for r in aws.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }

    assert ("mlops-training", "retrainer") in accounts
    assert ("mlops-training", "trainer") in accounts
    created = {m["metadata"]["name"] for m in aws.manifests_of("ServiceAccount")}
    assert {"trainer", "retrainer", "mlflow", "churn", "shop-feast"} <= created


def test_gpu_node_groups_use_the_nvidia_ami_a_taint_and_the_device_plugin(both):
    _, aws = both
    groups = {
        g.inputs["nodeGroupName"]: g.inputs for g in aws.of_type("aws:eks/nodeGroup:NodeGroup")
    }
    (plugin,) = [
        r
        for r in aws.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["name"] == "nvidia-device-plugin"
    ]

    assert groups["gpu"]["amiType"] == "AL2023_x86_64_NVIDIA"
    assert groups["gpu"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
    ]
    assert groups["gpu"]["labels"]["nvidia.com/gpu.present"] == "true"
    assert groups["gpu"]["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 0}
    assert groups["cpu"]["amiType"] == "AL2023_x86_64_STANDARD"
    assert groups["cpu"]["taints"] == []
    assert plugin.inputs["version"] == versions.NVIDIA_DEVICE_PLUGIN_VERSION
    assert plugin.inputs["repositoryOpts"]["repo"] == "https://nvidia.github.io/k8s-device-plugin"


def test_no_device_plugin_without_gpu_nodes():
    spec = copy.deepcopy(AWS_SPEC)
    spec["target"]["cluster"]["node_groups"] = spec["target"]["cluster"]["node_groups"][:1]
    result = synth_spec(spec)

    assert [r.inputs["name"] for r in result.of_type("kubernetes:helm.sh/v3:Release")] == [
        "cluster-autoscaler"
    ]


def test_a_gpu_training_job_needs_a_gpu_node_group():
    spec = copy.deepcopy(everything(AWS_SPEC["target"]))
    spec["target"]["cluster"]["node_groups"] = spec["target"]["cluster"]["node_groups"][:1]
    spec["training"]["quota"]["gpu"] = 1
    spec["training"]["jobs"][0]["gpu"] = 1

    with pytest.raises(SpecError, match="node group with `gpu: true`"):
        synth_spec(spec)


def test_the_addons_enforce_network_policies_and_give_pods_identities(both):
    _, aws = both
    addons = {a.inputs["addonName"]: a.inputs for a in aws.of_type("aws:eks/addon:Addon")}

    assert set(addons) == {
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
    }
    assert addons["vpc-cni"]["configurationValues"] == '{"enableNetworkPolicy": "true"}'
    (ebs,) = addons["aws-ebs-csi-driver"]["podIdentityAssociations"]
    assert ebs["serviceAccount"] == "ebs-csi-controller-sa"


def test_the_gateway_is_envoy_behind_a_network_load_balancer(both):
    _, aws = both
    proxy = aws.manifest("EnvoyProxy", "aws-nlb")["spec"]["provider"]["kubernetes"]["envoyService"]
    gateway_class = aws.manifest("GatewayClass", "eg")

    assert proxy["type"] == "LoadBalancer"
    assert proxy["annotations"] == {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    assert gateway_class["spec"]["parametersRef"]["name"] == "aws-nlb"
    assert aws.manifest("Gateway", "mlops")["spec"]["gatewayClassName"] == "eg"


def test_an_internal_load_balancer_stays_in_the_vpc():
    spec = everything({**AWS_SPEC["target"], "load_balancer": "internal"})
    result = synth_spec(spec)
    proxy = result.manifest("EnvoyProxy", "aws-nlb-internal")["spec"]["provider"]["kubernetes"]

    assert (
        proxy["envoyService"]["annotations"][
            "service.beta.kubernetes.io/aws-load-balancer-internal"
        ]
        == "true"
    )


def test_a_new_vpc_has_private_and_public_subnets_in_each_zone_and_an_s3_endpoint(both):
    _, aws = both
    subnets = [s.inputs for s in aws.of_type("aws:ec2/subnet:Subnet")]
    private = [s for s in subnets if "kubernetes.io/role/internal-elb" in s["tags"]]
    public = [s for s in subnets if "kubernetes.io/role/elb" in s["tags"]]
    (endpoint,) = aws.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    (cluster,) = aws.of_type("aws:eks/cluster:Cluster")

    assert sorted(s["availabilityZone"] for s in private) == [
        "eu-west-1a",
        "eu-west-1b",
        "eu-west-1c",
    ]
    assert len(public) == 3 and all(s["mapPublicIpOnLaunch"] is False for s in public)
    assert endpoint.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"
    assert len(endpoint.inputs["routeTableIds"]) == 3
    (rds_subnets,) = aws.of_type("aws:rds/subnetGroup:SubnetGroup")
    node_subnets = {g.inputs["subnetIds"][0] for g in aws.of_type("aws:eks/nodeGroup:NodeGroup")}
    cluster_subnets = cluster.inputs["vpcConfig"]["subnetIds"]
    assert len(cluster_subnets) == 3 and all(i.startswith("subnet-") for i in cluster_subnets)
    assert rds_subnets.inputs["subnetIds"] == cluster_subnets
    assert node_subnets <= set(cluster_subnets)
    assert len(aws.of_type("aws:ec2/natGateway:NatGateway")) == 1  # local profile: one


def test_an_existing_vpc_is_used_as_given():
    target = {
        **AWS_SPEC["target"],
        "network": {
            "vpc_id": "vpc-0123456789abcdef0",
            "private_subnet_ids": ["subnet-0a1b2c3d4e5f60718", "subnet-0a1b2c3d4e5f60719"],
            "public_subnet_ids": ["subnet-0a1b2c3d4e5f60720"],
            "vpc_cidr": "172.20.0.0/16",
        },
    }
    result = synth_spec({**AWS_SPEC, "target": target})
    (cluster,) = result.of_type("aws:eks/cluster:Cluster")
    (group,) = result.of_type("aws:rds/subnetGroup:SubnetGroup") or [None]

    assert result.of_type("aws:ec2/vpc:Vpc") == [] and result.of_type("aws:ec2/subnet:Subnet") == []
    assert cluster.inputs["vpcConfig"]["subnetIds"] == target["network"]["private_subnet_ids"]
    assert (
        group is not None and group.inputs["subnetIds"] == target["network"]["private_subnet_ids"]
    )
    egress = result.manifest("NetworkPolicy", "shop-postgres-egress", "mlops")["spec"]
    assert egress["egress"][0]["to"] == [{"ipBlock": {"cidr": "172.20.0.0/16"}}]


@pytest.mark.parametrize(
    ("profile", "protection", "protect", "retain", "deletion_protection", "final_snapshot"),
    [
        ("local", None, False, True, False, True),
        ("production", None, True, False, True, True),
        ("production", "none", False, False, False, False),
    ],
)
def test_data_is_protected_by_profile_and_deletion_needs_an_explicit_switch(
    profile, protection, protect, retain, deletion_protection, final_snapshot
):
    spec = {**AWS_SPEC, "profile": profile}
    if protection:
        spec["data_protection"] = protection
    result = synth_spec(spec)
    (instance,) = result.of_type("aws:rds/instance:Instance")
    (cluster,) = result.of_type("aws:eks/cluster:Cluster")
    guarded = [instance, cluster, *result.of_type("aws:s3/bucket:Bucket")]

    assert all(r.protect is protect and r.retain_on_delete is retain for r in guarded)
    assert instance.inputs["deletionProtection"] is deletion_protection
    assert cluster.inputs["deletionProtection"] is deletion_protection
    assert instance.inputs["skipFinalSnapshot"] is not final_snapshot
    assert ("finalSnapshotIdentifier" in instance.inputs) is final_snapshot


def test_a_missing_region_is_a_spec_error_naming_both_places():
    spec = copy.deepcopy(AWS_SPEC)
    del spec["target"]["region"]

    with pytest.raises(SpecError, match=r"target\.region.*aws:region"):
        synth_spec(spec)


def node_group(**fields: Any) -> dict[str, Any]:
    """A target change with one node group (m6i.large unless `fields` say otherwise)."""
    return {"cluster": {"node_groups": [{"name": "a", "instance_types": ["m6i.large"], **fields}]}}


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (node_group(gpu=True), "target.cluster.node_groups[0]", "without NVIDIA GPUs"),
        (node_group(instance_types=["large"]),
         "target.cluster.node_groups[0].instance_types", "not an EC2 instance type"),
        (node_group(min=3, max=2), "target.cluster.node_groups[0]", "max (2) must be at least"),
        ({"network": {"cidr": "10.0.0.0/8"}}, "target.network.cidr", "/16 to /20"),
        ({"network": {"vpc_id": "vpc-0123456789abcdef0"}}, "target.network", "private_subnet_ids"),
        ({"network": {"private_subnet_ids": ["subnet-0123456789abcdef0"]}},
         "target.network", "set vpc_id"),
        ({"redis": {"engine": "memcached"}}, "target.redis.engine", "valkey"),
        ({"load_balancer": "public"}, "target.load_balancer", "internet-facing"),
        ({"container_registry": False}, "target", "build_runtime_image pushes"),
    ],
)  # fmt: skip
def test_bad_aws_settings_name_the_field(change, path, message):
    from mlops_iac.spec import StackSpec

    with pytest.raises(SpecError) as error:
        StackSpec.load({**AWS_SPEC, "target": {**AWS_SPEC["target"], **change}})

    assert path in str(error.value) and message in str(error.value)


@given(
    prefix=st.integers(min_value=16, max_value=20),
    zones=st.integers(min_value=2, max_value=6),
    base=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_the_subnet_plan_is_disjoint_and_inside_the_vpc(prefix, zones, base):
    vpc = ipaddress.IPv4Network((base, prefix), strict=False)
    plan = subnet_plan(str(vpc), zones)
    subnets = [ipaddress.IPv4Network(s) for s in plan.public + plan.private]

    assert len(plan.public) == len(plan.private) == zones
    assert all(s.subnet_of(vpc) for s in subnets)
    assert all(not a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1 :])
    assert (
        min(s.num_addresses for s in map(ipaddress.IPv4Network, plan.private))
        >= vpc.num_addresses // 8
    )


def test_a_kind_only_program_never_imports_an_extra():
    """Neither `import mlops_iac` nor the CLI nor a kind stack's synth loads what the aws or
    workloads extras install (the core install runs them: tests/install)."""
    extras = ["pulumi_aws", "pulumi_docker_build", "mlflow", "sklearn", "pandas", "pyarrow"]
    program = (
        "import sys, mlops_iac\n"
        f"extras = {extras!r}\n"
        "assert not [m for m in extras if m in sys.modules], 'import mlops_iac'\n"
        "import mlops_iac.cli\n"
        "assert not [m for m in extras if m in sys.modules], 'import mlops_iac.cli'\n"
        "from mlops_iac.program import PulumiProject\n"
        "from mlops_iac.testing import synth\n"
        f"project = PulumiProject.load(__import__('pathlib').Path({str(REPO)!r}))\n"
        "config, secrets = project.config('local')\n"
        "result = synth(project.run, project=project.name, stack='local', config=config, "
        "secret_keys=secrets)\n"
        "assert result.resources\n"
        "print(sorted(m for m in extras if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_with_an_acm_certificate_the_nlb_ends_tls_and_urls_are_https():
    certificate = (
        "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    )
    spec = everything({**AWS_SPEC["target"], "certificate_arn": certificate})
    spec["routing"] = {**spec["routing"], "tls": True}
    result = synth_spec(spec)
    service = result.manifest("EnvoyProxy", "aws-nlb")["spec"]["provider"]["kubernetes"]
    annotations = service["envoyService"]["annotations"]
    listeners = result.manifest("Gateway", "mlops")["spec"]["listeners"]

    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == certificate
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "443"
    assert [(x["name"], x["protocol"], x["port"]) for x in listeners] == [
        ("http", "HTTP", 80),
        ("https", "HTTP", 443),
    ]
    assert result.outputs["registry_external_url"] == "https://mlflow.shop.example.com"
    # Port 80 serves only the redirect; the stack's routes attach to 443 alone.
    assert listeners[0]["allowedRoutes"]["namespaces"] == {
        "from": "Selector",
        "selector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}},
    }
    assert listeners[1]["allowedRoutes"]["namespaces"] == {"from": "Same"}
    redirect = result.manifest("HTTPRoute", "https-redirect", "envoy-gateway-system")
    assert redirect["spec"]["parentRefs"][0]["sectionName"] == "http"
    assert redirect["spec"]["rules"][0]["filters"] == [
        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}
    ]
    failures = [
        validate_manifest(m, "1.35") for m in (redirect, result.manifest("Gateway", "mlops"))
    ]
    assert failures == [None, None]


@pytest.mark.parametrize(
    ("certificate", "tls", "message"),
    [
        (None, True, "routing.tls on AWS needs target.certificate_arn"),
        ("arn:aws:acm:eu-west-1:123456789012:certificate/0a1b", False, "set routing.tls: true"),
    ],
)
def test_tls_and_the_certificate_come_together(certificate, tls, message):
    from mlops_iac.spec import StackSpec

    spec = everything({**AWS_SPEC["target"], "certificate_arn": certificate})
    spec["routing"] = {**spec["routing"], "tls": tls}

    with pytest.raises(SpecError, match=message):
        StackSpec.load(spec)
