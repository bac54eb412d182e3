"""What the AWS platform creates is secure by default: checked on the synthesized
resources of the repo's aws-dev stack (production profile), not on the code."""

from __future__ import annotations

from typing import Any

from mlops_iac.platforms.aws import policies
from mlops_iac.testing import generated_secrets, secret_leaks
from mlops_iac.testing.mocks import is_secret

WRITE_ACTION_PREFIXES = (
    "Put",
    "Delete",
    "Create",
    "Update",
    "Attach",
    "Detach",
    "Modify",
    "Set",
    "Terminate",
)


def inputs_of(result: Any, token: str) -> list[dict[str, Any]]:
    return [r.inputs for r in result.of_type(token)]


def unwrap(value: Any) -> Any:
    return value["value"] if is_secret(value) else value


def test_rds_is_encrypted_private_protected_and_backed_up(aws_dev):
    (instance,) = aws_dev.of_type("aws:rds/instance:Instance")
    args = instance.inputs

    assert args["storageEncrypted"] is True
    assert args["publiclyAccessible"] is False
    assert args["deletionProtection"] is True
    assert args["skipFinalSnapshot"] is False
    assert args["finalSnapshotIdentifier"] == "mlops-aws-dev-postgres-final"
    assert args["backupRetentionPeriod"] == 14
    assert args["multiAz"] is True
    assert args["engine"] == "postgres" and args["engineVersion"] == "17.7"
    assert is_secret(args["password"])
    assert instance.protect is True


def test_rds_enforces_tls(aws_dev):
    (group,) = inputs_of(aws_dev, "aws:rds/parameterGroup:ParameterGroup")

    assert group["family"] == "postgres17"
    assert {"name": "rds.force_ssl", "value": "1"} in group["parameters"]


def test_every_bucket_is_private_encrypted_versioned_and_tls_only(aws_dev):
    buckets = aws_dev.of_type("aws:s3/bucket:Bucket")
    names = {b.outputs["bucket"] for b in buckets}
    assert len(names) == 4

    blocks = {
        i["bucket"]: i
        for i in inputs_of(aws_dev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    }
    encryption = {
        i["bucket"]: i
        for i in inputs_of(
            aws_dev,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        )
    }
    versioning = {
        i["bucket"]: i for i in inputs_of(aws_dev, "aws:s3/bucketVersioning:BucketVersioning")
    }
    policies_by_bucket = {
        i["bucket"]: i for i in inputs_of(aws_dev, "aws:s3/bucketPolicy:BucketPolicy")
    }
    lifecycle = {
        i["bucket"]: i
        for i in inputs_of(
            aws_dev, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        )
    }
    for bucket in buckets:
        name = bucket.outputs["bucket"]
        assert bucket.protect is True and bucket.inputs["forceDestroy"] is False
        block = blocks[name]
        assert [
            block[k]
            for k in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        ] == [True] * 4
        (rule,) = encryption[name]["rules"]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert versioning[name]["versioningConfiguration"]["status"] == "Enabled"
        (deny,) = policies.statements(policies_by_bucket[name]["policy"])
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]
        (expiry,) = lifecycle[name]["rules"]
        assert expiry["noncurrentVersionExpiration"]["noncurrentDays"] == 90


def test_no_iam_policy_grants_writes_on_every_resource(aws_dev):
    documents = [unwrap(i["policy"]) for i in inputs_of(aws_dev, "aws:iam/rolePolicy:RolePolicy")]
    bucket_documents = [d for d in documents if "s3:GetObject" in d]
    assert len(bucket_documents) == 4  # registry, feature store, endpoint logger, trainer
    assert len(documents) == 5  # and the node autoscaler's

    for document in documents:
        for statement in policies.statements(document):
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            writes = [a for a in actions if a.split(":")[1].startswith(WRITE_ACTION_PREFIXES)]
            assert "*" not in resources or not writes, statement
            if document in bucket_documents:
                assert all(r.startswith("arn:aws:s3:::mlops-") for r in resources), statement
            elif writes:  # the autoscaler resizes only this cluster's EKS-tagged groups
                assert all(r.startswith("arn:aws:autoscaling:eu-west-1:") for r in resources)
                assert statement["Condition"]["StringEquals"], statement


def test_no_managed_full_access_policy_is_attached(aws_dev):
    attached = [
        i["policyArn"]
        for i in inputs_of(aws_dev, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    ]

    assert attached and not [arn for arn in attached if "FullAccess" in arn]
    assert set(attached) <= {
        *policies.CLUSTER_POLICIES,
        *policies.NODE_POLICIES,
        policies.EBS_CSI_POLICY,
    }


def test_each_workload_identity_reaches_only_its_own_buckets(aws_dev):
    associations = {
        (i["namespace"], i["serviceAccount"]): i["roleArn"]
        for i in inputs_of(aws_dev, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    role_of = {r.outputs["arn"]: r.outputs["name"] for r in aws_dev.of_type("aws:iam/role:Role")}
    policy_of = {
        i["role"]: unwrap(i["policy"]) for i in inputs_of(aws_dev, "aws:iam/rolePolicy:RolePolicy")
    }

    def buckets_of(account: tuple[str, str]) -> set[str]:
        document = policy_of[role_of[associations[account]]]
        listed = policies.statements(document)[0]["Resource"]
        return {arn.removeprefix("arn:aws:s3:::").rsplit("-", 1)[0] for arn in listed}

    assert set(associations) == {
        ("mlops", "mlflow"),
        ("mlops", "mlops-feast"),
        ("mlops", "churn"),
        ("mlops-training", "trainer"),
        ("kube-system", "cluster-autoscaler"),  # no bucket (tests/aws/test_aws_autoscaling.py)
    }
    assert buckets_of(("mlops", "mlflow")) == {"mlops-mlflow-artifacts"}
    assert buckets_of(("mlops", "mlops-feast")) == {"mlops-feast-offline"}
    assert buckets_of(("mlops", "churn")) == {"mlops-inference-logs"}
    assert buckets_of(("mlops-training", "trainer")) == {"mlops-datasets"}  # no feature reads


def test_pods_of_a_workload_run_as_its_identity(aws_dev):
    registry = aws_dev.manifest("Deployment", "mlflow")["spec"]["template"]["spec"]
    endpoint = aws_dev.manifest("Deployment", "churn")["spec"]["template"]["spec"]

    assert registry["serviceAccountName"] == "mlflow"
    assert registry["automountServiceAccountToken"] is False  # Pod Identity has its own token
    assert endpoint["serviceAccountName"] == "churn"
    env = {e["name"] for c in registry["containers"] for e in c["env"]}
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    (association,) = [
        a
        for a in aws_dev.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"] == "mlflow"
    ]
    deployment = aws_dev.resource("mlops-registry-deployment")
    assert association.urn in deployment.depends_on  # injected at pod creation only
    bound = {s["name"] for b in aws_dev.manifests_of("RoleBinding") for s in b["subjects"]}
    assert "mlflow" not in bound and "churn" not in bound  # no cluster rights


def test_no_security_group_admits_the_internet(aws_dev):
    rules = inputs_of(aws_dev, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    groups = inputs_of(aws_dev, "aws:ec2/securityGroup:SecurityGroup")

    assert {(r["fromPort"], r["toPort"]) for r in rules} == {(5432, 5432), (6379, 6379)}
    for rule in rules:
        assert "cidrIpv4" not in rule and rule["referencedSecurityGroupId"].startswith("sg-")
    assert all(not g.get("ingress") for g in groups)


def test_elasticache_encrypts_and_authenticates(aws_dev):
    (group,) = aws_dev.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    args = group.inputs

    assert args["transitEncryptionEnabled"] is True
    assert args["atRestEncryptionEnabled"] is True
    assert is_secret(args["authToken"])
    assert args["engine"] == "valkey" and args["engineVersion"] == "8.2"
    assert args["numCacheClusters"] == 2 and args["automaticFailoverEnabled"] is True
    assert group.protect is True


def test_the_cluster_is_protected_logged_and_encrypts_secrets(aws_dev):
    (cluster,) = aws_dev.of_type("aws:eks/cluster:Cluster")
    args = cluster.inputs

    assert cluster.protect is True and args["deletionProtection"] is True
    assert args["version"] == "1.35"
    assert args["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert args["encryptionConfig"]["resources"] == ["secrets"]
    assert args["vpcConfig"]["endpointPrivateAccess"] is True
    assert args["accessConfig"]["authenticationMode"] == "API"


def test_secrets_are_pulumi_secrets_and_never_plain_in_manifests_or_outputs(aws_dev):
    secrets = generated_secrets(aws_dev)

    assert len(secrets) >= 5  # RDS admin, two roles, the Redis token, Grafana
    assert secret_leaks(aws_dev, secrets) == []
    assert "kubeconfig" in aws_dev.secret_outputs
