"""The repo's own local stack, as `mlops-iac synth` renders it, applied to a real
kube-apiserver: the API server accepts every object (schema, defaulting, Pod Security
`restricted` admission on the namespace) and the controllers plus kwok bring it up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until

from mlops_iac.dev.controlplane import ControlPlane
from mlops_iac.program import PulumiProject
from mlops_iac.testing import SynthResult, synth

pytestmark = pytest.mark.controlplane

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_stack(control_plane: ControlPlane) -> SynthResult:
    """The local stack's config, targeted at the control plane's kubeconfig."""
    project = PulumiProject.load(REPO)
    config, secret_keys = project.config("local")
    config["mlops:target"] = {
        "kind": "kubernetes",
        "kubeconfig": str(control_plane.kubeconfig),
        # this control plane starts with the CRDs of mlops_iac/schemas/crd-manifests
        "preinstalled": ["gateway-api", "prometheus-operator"],
    }
    return synth(
        project.run, project=project.name, stack="local", config=config, secret_keys=secret_keys
    )


@pytest.fixture(scope="module")
def applied(control_plane: ControlPlane, local_stack: SynthResult) -> list[dict[str, Any]]:
    manifests = sorted(local_stack.revealed_manifests(), key=lambda m: m["kind"] != "Namespace")
    control_plane.kubectl(
        "apply", "--server-side", "--field-manager=mlops-iac-test", "-f", "-",
        stdin=yaml.safe_dump_all(manifests),
    )  # fmt: skip
    return manifests


def live(plane: ControlPlane, manifest: dict[str, Any]) -> dict[str, Any]:
    meta = manifest["metadata"]
    kind = f"{manifest['kind'].lower()}.{manifest['apiVersion'].split('/')[0]}"
    if "/" not in manifest["apiVersion"]:
        kind = manifest["kind"].lower()
    args = [kind, meta["name"]]
    if meta.get("namespace"):
        args += ["-n", meta["namespace"]]
    result: dict[str, Any] = plane.get(*args)
    return result


def identity(manifest: dict[str, Any]) -> tuple[str, str, str]:
    meta = manifest["metadata"]
    return manifest["kind"], meta.get("namespace", ""), meta["name"]


def test_every_synthesized_object_exists_with_its_spec(control_plane, applied):
    assert len(applied) >= 20
    for manifest in applied:
        obj = live(control_plane, manifest)
        assert obj["metadata"]["labels"] == {
            **obj["metadata"]["labels"],
            **manifest["metadata"].get("labels", {}),
        }
        if manifest["kind"] in ("Deployment", "StatefulSet"):
            wanted = manifest["spec"]["template"]["spec"]["containers"]
            got = obj["spec"]["template"]["spec"]["containers"]
            assert [c["image"] for c in got] == [c["image"] for c in wanted]
            assert [c.get("args", c.get("command")) for c in got] == [
                c.get("args", c.get("command")) for c in wanted
            ]
            assert obj["spec"]["replicas"] == manifest["spec"].get("replicas", 1)
        if manifest["kind"] == "Service":
            assert obj["spec"]["ports"][0]["port"] == manifest["spec"]["ports"][0]["port"]
            assert obj["spec"]["clusterIP"].startswith("10.96.")
        if manifest["kind"] == "NetworkPolicy":
            assert obj["spec"]["podSelector"] == manifest["spec"]["podSelector"]


def test_the_namespace_enforces_restricted_pod_security(control_plane, applied):
    namespace = control_plane.get("namespace", "mlops")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged-probe", "namespace": "mlops"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.37", "securityContext": {}}]},
    }
    with pytest.raises(Exception, match="violates PodSecurity"):
        control_plane.kubectl(
            "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(privileged)
        )


def test_pods_pass_admission_and_become_ready(control_plane, applied):
    def ready_workloads() -> bool:
        deployment = control_plane.get("deployment", "mlflow", "-n", "mlops")
        statefulsets = control_plane.get("statefulsets", "-n", "mlops")["items"]
        return deployment["status"].get("availableReplicas") == 1 and all(
            s["status"].get("readyReplicas") == 1 for s in statefulsets
        )

    assert wait_until(ready_workloads), control_plane.kubectl("get", "pods,pvc", "-n", "mlops")
    pods = control_plane.get("pods", "-n", "mlops")["items"]
    for pod in pods:
        security = pod["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["seccompProfile"]["type"] == "RuntimeDefault"


def test_data_volumes_are_bound_claims(control_plane, applied):
    def bound() -> list[str]:
        claims = control_plane.get("pvc", "-n", "mlops")["items"]
        phases = [c["status"].get("phase") for c in claims]
        return phases if phases and all(p == "Bound" for p in phases) else []

    assert len(wait_until(bound)) == 3  # Postgres, the object store, Redis


def test_setup_jobs_run_to_completion(control_plane, applied):
    def complete() -> list[str]:
        jobs = control_plane.get("jobs", "-n", "mlops")["items"]
        done = [j["metadata"]["name"] for j in jobs if j["status"].get("succeeded") == 1]
        return done if len(done) == len(jobs) else []

    done = sorted(wait_until(complete))
    apply_jobs = [name for name in done if name.startswith("local-feast-apply-")]
    assert [name for name in done if name not in apply_jobs] == [
        "local-postgres-feast-init",
        "local-postgres-mlflow-init",
        "local-s3-bucket-datasets",
        "local-s3-bucket-feast-offline",
        "local-s3-bucket-mlflow-artifacts",
    ]
    assert len(apply_jobs) == 1


def test_changing_one_value_changes_only_what_it_should(control_plane, applied):
    """Scaling MLflow to 2 replicas re-applies the whole stack: only the Deployment's spec
    changes (and a PodDisruptionBudget appears); no stateful object is replaced."""
    servers = ("postgres", "s3", "redis")
    stateful = [("statefulset", f"local-{name}", "mlops") for name in servers]
    stateful += [("pvc", f"data-local-{name}-0", "mlops") for name in servers]
    stateful += [
        ("secret", m["metadata"]["name"], m["metadata"]["namespace"])
        for m in applied
        if m["kind"] == "Secret"
    ]
    before = {key: control_plane.get(key[0], key[1], "-n", key[2]) for key in stateful}
    generations = {
        identity(m): live(control_plane, m)["metadata"].get("generation") for m in applied
    }

    project = PulumiProject.load(REPO)
    config, _ = project.config("local")
    config["mlops:target"] = {
        "kind": "kubernetes",
        "kubeconfig": str(control_plane.kubeconfig),
        # this control plane starts with the CRDs of mlops_iac/schemas/crd-manifests
        "preinstalled": ["gateway-api", "prometheus-operator"],
    }
    config["mlops:registry"] = {**config["mlops:registry"], "replicas": 2}
    scaled = synth(project.run, project=project.name, stack="local", config=config)
    manifests = scaled.revealed_manifests()
    control_plane.kubectl(
        "apply", "--server-side", "--field-manager=mlops-iac-test", "-f", "-",
        stdin=yaml.safe_dump_all(manifests),
    )  # fmt: skip

    changed = {
        identity(m)
        for m in manifests
        if identity(m) in generations
        and live(control_plane, m)["metadata"].get("generation") != generations[identity(m)]
    }
    added = {identity(m) for m in manifests} - generations.keys()
    assert changed == {("Deployment", "mlops", "mlflow")}
    assert added == {("PodDisruptionBudget", "mlops", "mlflow")}
    for key, old in before.items():
        now = control_plane.get(key[0], key[1], "-n", key[2])
        assert now["metadata"]["uid"] == old["metadata"]["uid"], key
    assert control_plane.get("deployment", "mlflow", "-n", "mlops")["spec"]["replicas"] == 2


def test_a_stack_with_serving_endpoints_and_a_canary_comes_up(control_plane):
    """Endpoints (the builtin server with its init container, a canary, an HPA) on the real
    API server."""
    from mlops_iac import MLOpsStack, StackSpec

    spec = StackSpec.load(
        {
            "name": "srv",
            "namespace": "serving-test",
            "target": {
                "kind": "kubernetes",
                "kubeconfig": str(control_plane.kubeconfig),
                # this control plane starts with the CRDs of mlops_iac/schemas/crd-manifests
                "preinstalled": ["gateway-api", "prometheus-operator"],
            },
            "serving": [
                {
                    "name": "churn",
                    "model": "models:/churn@champion",
                    "autoscaling": {"min": 2, "max": 4},
                    "canary": {"model": "models:/churn@challenger", "weight": 20},
                    "service_monitor": True,
                },
                {"name": "fraud", "model": "models:/fraud/3", "runtime": "mlflow"},
            ],
        }
    )
    result = synth(lambda: MLOpsStack("srv", spec), stack="srv")
    manifests = sorted(result.revealed_manifests(), key=lambda m: m["kind"] != "Namespace")
    control_plane.kubectl(
        "apply", "--server-side", "--field-manager=mlops-iac-test", "-f", "-",
        stdin=yaml.safe_dump_all(manifests),
    )  # fmt: skip

    def available() -> dict[str, int]:
        deployments = control_plane.get("deployments", "-n", "serving-test")["items"]
        return {d["metadata"]["name"]: d["status"].get("availableReplicas", 0) for d in deployments}

    wanted = {"churn": 2, "churn-challenger": 1, "fraud": 1, "mlflow": 1}
    assert wait_until(lambda: available() == wanted) or available() == wanted
    route = control_plane.get("httproute", "churn", "-n", "serving-test")
    weights = [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]]
    assert weights == [80, 20]
    monitor = control_plane.get("servicemonitor", "churn", "-n", "serving-test")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    hpa = control_plane.get("hpa", "churn", "-n", "serving-test")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)


def train_command(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_iac.cli", "train", "demo", "--stack", "local",
         "--dir", str(REPO), "--kubeconfig", str(plane.kubeconfig), "--context",
         "controlplane", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_training_namespace_holds_its_quota_and_an_on_demand_cronjob(control_plane, applied):
    quota = control_plane.get("resourcequota", "training", "-n", "mlops-training")
    cronjob = control_plane.get("cronjob", "demo", "-n", "mlops-training")

    assert quota["spec"]["hard"]["requests.cpu"] == "4"
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "0"
    assert cronjob["spec"]["suspend"] is True
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_train_starts_a_run_from_the_cronjob_template_that_passes_admission(control_plane, applied):
    """The Job `mlops-iac train` creates is the CronJob's template; its pod passes Pod
    Security `restricted` and the namespace's ResourceQuota (kwok then runs it)."""
    started = train_command(control_plane, "--no-wait")

    assert started.returncode == 0, started.stderr
    run = started.stdout.strip().rsplit("/", 1)[-1]
    assert run.startswith("demo-run-")
    job = control_plane.get("job", run, "-n", "mlops-training")
    cronjob = control_plane.get("cronjob", "demo", "-n", "mlops-training")
    template = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job["spec"]["template"]["spec"]["containers"] == template["containers"]
    assert job["metadata"]["ownerReferences"][0]["uid"] == cronjob["metadata"]["uid"]
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"

    def pods() -> list[dict[str, Any]]:
        found = control_plane.get("pods", "-n", "mlops-training", "-l", f"job-name={run}")
        return list(found["items"])

    (pod,) = wait_until(pods)
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}


def test_train_refuses_a_second_run_while_one_is_active(control_plane, applied):
    holding = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "demo-held",
            "namespace": "mlops-training",
            "labels": {"mlops-iac.dev/training-job": "demo"},
        },
        "spec": {
            "suspend": True,
            "template": control_plane.get("cronjob", "demo", "-n", "mlops-training")["spec"][
                "jobTemplate"
            ]["spec"]["template"],
        },
    }
    control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(holding))
    try:
        refused = train_command(control_plane, "--no-wait")
    finally:
        control_plane.kubectl("delete", "job", "demo-held", "-n", "mlops-training")

    assert refused.returncode == 1
    assert "training job 'demo' is already running: " in refused.stderr
    assert "demo-held" in refused.stderr


def test_train_names_a_missing_job_and_an_unreachable_cluster(control_plane, applied, tmp_path):
    missing = subprocess.run(
        [sys.executable, "-m", "mlops_iac.cli", "train", "nope", "--stack", "local",
         "--dir", str(REPO), "--kubeconfig", str(control_plane.kubeconfig)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    nowhere = subprocess.run(
        [sys.executable, "-m", "mlops_iac.cli", "train", "demo", "--stack", "local",
         "--dir", str(REPO), "--kubeconfig", str(tmp_path / "absent")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert missing.returncode == 2
    assert "no training job 'nope'; jobs: demo" in missing.stderr
    assert nowhere.returncode == 2
    assert "cannot reach the stack's cluster" in nowhere.stderr
