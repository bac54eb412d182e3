"""A user's first hour, deployed for real: a project made by `mlops-iac new` in an empty
folder outside this checkout, brought up on an existing cluster (the control plane, reached
through the ambient KUBECONFIG as the template's comments say) by the documented commands,
`mlops-iac up dev` and `mlops-iac down dev`, with the real Pulumi CLI, language host and
providers. No file of the project is edited: what `new` writes must deploy as it is.

The tests run in file order on one stack.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from polling import wait_until
from toolchain import RETRY_SIGNS, TierStack, not_converged, uids

from mlops_iac.dev.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

DATA_KINDS = ("statefulsets", "persistentvolumeclaims", "secrets")


@pytest.fixture(scope="module")
def project(
    empty_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TierStack]:
    """`mlops-iac new fraud-stack --target kubernetes` in an empty folder, then `mlops-iac
    up dev` there, timed."""
    folder = tmp_path_factory.mktemp("first-hour") / "fraud-stack"
    maker = TierStack(empty_plane, "dev", folder / "Pulumi.dev.yaml", {}, directory=folder.parent)
    maker.mlops_iac("new", "fraud-stack", "--target", "kubernetes")
    stack = TierStack.of_project(empty_plane, folder, "dev")
    started = time.perf_counter()
    output = stack.mlops_iac("up", "dev")
    stack.log.append(f"mlops-iac up dev took {time.perf_counter() - started:.1f} s")
    retried = [line for line in output.splitlines() if any(s in line for s in RETRY_SIGNS)]
    assert retried == [], "creates were retried:\n" + "\n".join(retried[:20])
    stack.log.append(output)
    yield stack


def test_up_ends_with_this_project_s_own_next_commands(project: TierStack) -> None:
    said = " ".join(project.log[-1].split())

    assert "mlops-iac train demo --stack dev" in said
    assert "mlops-iac down dev" in said
    assert "-n mlops port-forward svc/mlflow 5000" in said  # no route: MLflow through kubectl


def test_the_new_project_deploys_as_written_and_converges(
    project: TierStack, empty_plane: ControlPlane
) -> None:
    kinds = {resource["type"] for resource in project.resources()}

    assert "kubernetes:apps/v1:StatefulSet" in kinds  # the registry's database
    assert "kubernetes:batch/v1:CronJob" in kinds  # the demo training job
    wait_until(lambda: not not_converged(empty_plane), timeout=180)
    assert not_converged(empty_plane) == []
    assert empty_plane.get("crd")["items"] == []


def test_a_second_preview_of_the_new_project_plans_no_change(project: TierStack) -> None:
    project.pulumi("preview", "--expect-no-changes", "--diff")


def test_mlops_iac_train_starts_the_demo_job_in_the_cluster(
    project: TierStack, empty_plane: ControlPlane
) -> None:
    project.mlops_iac("train", "demo", "--stack", "dev", "--no-wait")

    jobs = empty_plane.get("jobs", "-n", "mlops-training")["items"]
    assert any(job["metadata"]["name"].startswith("demo") for job in jobs), jobs


def test_down_keeps_the_data_and_a_second_up_finds_it(
    project: TierStack, empty_plane: ControlPlane
) -> None:
    before = uids(empty_plane, *DATA_KINDS)
    data = {key for key in before if "/mlops/" in key and "postgres" in key}
    assert data, before

    project.mlops_iac("down", "dev")
    kept = uids(empty_plane, *DATA_KINDS)
    project.mlops_iac("up", "dev")

    assert {key: kept[key] for key in data} == {key: before[key] for key in data}
    assert {key: uids(empty_plane, *DATA_KINDS)[key] for key in data} == {
        key: before[key] for key in data
    }
