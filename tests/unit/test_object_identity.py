"""Two resources that declare one Kubernetes object fail synth (a cluster refuses the second
with AlreadyExists), and `synth` writes one file per object and counts what it wrote."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pulumi_kubernetes as k8s
import pytest

from mlops_iac.testing import synth
from mlops_iac.testing.synth import DuplicateObjectError, SynthResult

CONFIG_MAPS = """
import pulumi_kubernetes as k8s

for pulumi_name in ("first", "second"):
    k8s.core.v1.ConfigMap(
        pulumi_name, metadata={"name": "settings", "namespace": "mlops"}, data={"by": pulumi_name}
    )
"""


GATEWAYS = """
import pulumi_kubernetes as k8s

for pulumi_name, api_version in (
    ("envoy", "gateway.networking.k8s.io/v1"),
    ("istio", "networking.istio.io/v1"),
):
    k8s.apiextensions.CustomResource(
        pulumi_name,
        api_version=api_version,
        kind="Gateway",
        metadata={"name": "mlops", "namespace": "mlops"},
        spec={},
    )
"""


def two_config_maps(namespaces: tuple[str, str] = ("mlops", "mlops")) -> None:
    for pulumi_name, namespace in zip(("first", "second"), namespaces, strict=True):
        k8s.core.v1.ConfigMap(
            pulumi_name,
            metadata={"name": "settings", "namespace": namespace},
            data={"by": pulumi_name},
        )


def test_two_config_maps_with_one_name_and_namespace_fail_synth_naming_both_urns() -> None:
    with pytest.raises(DuplicateObjectError) as raised:
        synth(two_config_maps)

    message = str(raised.value)
    assert "ConfigMap mlops/settings" in message
    assert "urn:pulumi:test::mlops-iac::kubernetes:core/v1:ConfigMap::first" in message
    assert "urn:pulumi:test::mlops-iac::kubernetes:core/v1:ConfigMap::second" in message
    ((identity, urns),) = raised.value.duplicates
    assert (identity.group, identity.kind, identity.namespace, identity.name) == (
        "",
        "ConfigMap",
        "mlops",
        "settings",
    )
    assert len(urns) == 2


def test_one_name_in_two_namespaces_or_two_kinds_is_two_objects() -> None:
    assert len(synth(lambda: two_config_maps(("mlops", "mlops-training"))).manifests) == 2

    def config_map_and_secret() -> None:
        k8s.core.v1.ConfigMap("map", metadata={"name": "settings", "namespace": "mlops"})
        k8s.core.v1.Secret("secret", metadata={"name": "settings", "namespace": "mlops"})

    assert len(synth(config_map_and_secret).manifests) == 2


def test_a_cluster_scoped_object_has_no_namespace_in_its_identity() -> None:
    def two_cluster_roles() -> None:
        k8s.rbac.v1.ClusterRole("one", metadata={"name": "reader"})
        k8s.rbac.v1.ClusterRole("two", metadata={"name": "reader", "namespace": "mlops"})

    with pytest.raises(
        DuplicateObjectError,
        match=re.escape("ClusterRole.rbac.authorization.k8s.io reader (cluster-scoped)"),
    ):
        synth(two_cluster_roles)


def test_two_versions_of_one_group_and_kind_are_one_object() -> None:
    def two_autoscalers() -> None:
        for pulumi_name, module in (("v1", k8s.autoscaling.v1), ("v2", k8s.autoscaling.v2)):
            module.HorizontalPodAutoscaler(
                pulumi_name,
                metadata={"name": "churn", "namespace": "mlops"},
                spec={
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
                    "minReplicas": 1,
                    "maxReplicas": 2,
                },
            )

    with pytest.raises(
        DuplicateObjectError, match=re.escape("HorizontalPodAutoscaler.autoscaling mlops/churn")
    ):
        synth(two_autoscalers)


def test_helm_releases_and_other_non_objects_do_not_count() -> None:
    def release_beside_a_config_map() -> None:
        k8s.helm.v3.Release(
            "release", name="settings", namespace="mlops", chart="x", version="1.0.0"
        )
        k8s.core.v1.ConfigMap("map", metadata={"name": "settings", "namespace": "mlops"})

    result = synth(release_beside_a_config_map)
    assert [m["kind"] for m in result.manifests] == ["ConfigMap"]


def test_write_gives_each_object_its_own_file_and_returns_how_many(tmp_path: Path) -> None:
    result: SynthResult = synth(lambda: exec(GATEWAYS, {}))
    written = result.write(tmp_path)

    files = sorted(p.name for p in (tmp_path / "manifests").iterdir())
    assert written == len(files) == len(result.manifests) == 2
    assert files == [
        "mlops.Gateway.mlops.gateway.networking.k8s.io.yaml",
        "mlops.Gateway.mlops.networking.istio.io.yaml",
    ]


def _project(tmp_path: Path, program: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: dup\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config: {}\n")
    (project / "__main__.py").write_text(program)
    return project


def _cli_synth(project: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_iac.cli", "synth", str(project), "-s", "dev", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_synth_cli_refuses_duplicate_objects_naming_both_urns(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _cli_synth(_project(tmp_path, CONFIG_MAPS), out)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "ConfigMap mlops/settings" in result.stderr
    assert "kubernetes:core/v1:ConfigMap::first" in result.stderr
    assert "kubernetes:core/v1:ConfigMap::second" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (out / "manifests").exists()


def test_the_synth_cli_counts_the_manifest_files_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _cli_synth(_project(tmp_path, GATEWAYS), out)

    assert result.returncode == 0, result.stderr
    assert len(list((out / "manifests").iterdir())) == 2
    assert " and 2 Kubernetes manifests into " in result.stdout
