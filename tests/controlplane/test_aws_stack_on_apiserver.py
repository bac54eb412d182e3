"""The Kubernetes half of the AWS reference stack (aws-dev, production profile), as synth
renders it under the AWS mocks, applied to a real kube-apiserver: the objects only the AWS
platform makes — the gp3 StorageClass, Pod Identity ServiceAccounts with their pod fields,
egress policies to the VPC, database Jobs pointed at RDS — pass the API server's schemas
and Pod Security `restricted` admission, and the pods are scheduled. (EKS, RDS and the rest
exist only as mocks here; the Envoy Gateway release is not installed, so its EnvoyProxy is
left out.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until

from mlops_iac.dev.controlplane import ControlPlane
from mlops_iac.program import PulumiProject
from mlops_iac.testing import synth_project

pytestmark = pytest.mark.controlplane
pytest.importorskip("pulumi_aws", reason="the AWS platform needs the `aws` extra")

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "aws"
"""The stack's namespace here, apart from the local stack's `mlops` on the same server."""


@pytest.fixture(scope="module")
def applied(control_plane: ControlPlane) -> Iterator[list[dict[str, Any]]]:
    """The objects applied; removed afterwards, the default StorageClass first (it would
    become the class of other tests' volumes, which nothing here provisions)."""
    routing = PulumiProject.load(REPO).config("aws-dev")[0]["mlops:routing"]
    overrides = {
        "mlops:namespace": NAMESPACE,
        "mlops:routing": {**routing, "gateway_class": "eg-aws"},
    }
    result = synth_project(REPO, "aws-dev", overrides)
    manifests = [m for m in result.revealed_manifests() if m["kind"] != "EnvoyProxy"]
    manifests.sort(key=lambda m: m["kind"] != "Namespace")
    control_plane.kubectl(
        "apply", "--server-side", "--field-manager=mlops-iac-test", "-f", "-",
        stdin=yaml.safe_dump_all(manifests),
    )  # fmt: skip
    yield manifests
    control_plane.kubectl("delete", "storageclass", "gp3-encrypted", "--wait=false")
    namespaces = [m["metadata"]["name"] for m in manifests if m["kind"] == "Namespace"]
    control_plane.kubectl("delete", "namespace", *namespaces, "--wait=false")


def test_the_api_server_accepts_every_object(control_plane, applied):
    kinds = {m["kind"] for m in applied}

    assert {"StorageClass", "ServiceAccount", "NetworkPolicy", "Job", "CronJob"} <= kinds
    storage = control_plane.get("storageclass", "gp3-encrypted")
    assert storage["provisioner"] == "ebs.csi.aws.com"
    assert storage["parameters"] == {"type": "gp3", "encrypted": "true"}
    egress = control_plane.get("networkpolicy", "mlops-postgres-egress", "-n", NAMESPACE)
    assert egress["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.42.0.0/16"}}]


def test_workloads_with_an_identity_pass_restricted_admission_and_run(control_plane, applied):
    def available() -> dict[str, int]:
        deployments = control_plane.get("deployments", "-n", NAMESPACE)["items"]
        return {d["metadata"]["name"]: d["status"].get("availableReplicas", 0) for d in deployments}

    wanted = {"mlflow": 2, "churn": 2, "mlops-feast": 2}
    assert wait_until(lambda: available() == wanted) or available() == wanted
    pods = control_plane.get("pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=mlflow")
    for pod in pods["items"]:
        assert pod["spec"]["serviceAccountName"] == "mlflow"
        assert pod["spec"]["automountServiceAccountToken"] is False


def test_the_database_jobs_point_at_rds_and_complete(control_plane, applied):
    def complete() -> list[str]:
        jobs = control_plane.get("jobs", "-n", NAMESPACE)["items"]
        done = [j["metadata"]["name"] for j in jobs if j["status"].get("succeeded") == 1]
        return done if jobs and len(done) == len(jobs) else []

    done = wait_until(complete)
    assert "mlops-postgres-mlflow-init" in done and "mlops-postgres-feast-init" in done
    job = control_plane.get("job", "mlops-postgres-mlflow-init", "-n", NAMESPACE)
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PGHOST"]["value"].endswith(".eu-west-1.rds.amazonaws.com")
