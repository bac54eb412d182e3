"""The components from another language, for real: the built CLI and YAML language host
(github.com/pulumi/pulumi-yaml, tools/controlplane/build.sh) read the package's schema from
`components/` (the CLI runs its Python provider), add it to a YAML project with
`pulumi package add`, and `pulumi up` examples/yaml-consumer against the control plane: the
objects it creates are the ones the Python API declares for the same arguments.

The package's copy gets its `venv` made first, with this checkout's core install (its
requirements.txt names mlops-iac on PyPI, which this checkout is not; and only the core, so
the CLI does not go looking for the AWS plugins, which it cannot download here). The only
change to the repo's files: the example's target is this cluster (`kind: kubernetes`, the ambient
KUBECONFIG; the registry's with the Envoy Gateway its route needs) instead of a kind
cluster. The tests run in file order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until
from toolchain import REPO, TierStack, not_converged

from mlops_iac.dev.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

TARGETS = {
    "registry": {"kind": "kubernetes", "installGateway": True},  # its route needs a Gateway
    "churn": {"kind": "kubernetes"},
}


@pytest.fixture(scope="module")
def workspace(controlplane_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a copy of components/ (with its venv) and of examples/yaml-consumer
    without its `packages:` (the test adds the package)."""
    if not (controlplane_bin / "pulumi-language-yaml").is_file():
        message = "pulumi-language-yaml is not built: run tools/controlplane/build.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("yaml")
    package = root / "components"
    shutil.copytree(REPO / "components", package, ignore=shutil.ignore_patterns("venv"))
    venv = (
        package
        / yaml.safe_load((package / "PulumiPlugin.yaml").read_text())["runtime"]["options"][
            "virtualenv"
        ]
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "-c", str(REPO / "tools" / "controlplane" / "constraints.txt"), "-e", str(REPO)],
        check=True, timeout=900,
    )  # fmt: skip
    program = yaml.safe_load((REPO / "examples" / "yaml-consumer" / "Pulumi.yaml").read_text())
    program.pop("packages")  # the test adds it with `pulumi package add`
    for name, resource in program["resources"].items():
        resource["properties"]["stack"]["target"] = TARGETS[name]
    (root / "consumer").mkdir()
    (root / "consumer" / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def consumer(empty_plane: ControlPlane, workspace: Path) -> TierStack:
    return TierStack(
        empty_plane, "dev", workspace / "consumer" / "Pulumi.dev.yaml", {},
        directory=workspace / "consumer",
    )  # fmt: skip


def test_the_cli_reads_the_committed_schema_from_the_package(consumer, workspace) -> None:
    output = consumer.run(
        [
            str(consumer.plane.bin_dir / "pulumi"),
            "package",
            "get-schema",
            str(workspace / "components"),
        ]
    )
    schema = json.loads(output[output.index("{") : output.rindex("}") + 1])

    committed = json.loads((REPO / "components" / "schema.json").read_text())
    # The CLI's schema model has no description on an `items` or `additionalProperties`
    # type: it drops those (the property's own description stays); all else is the same.
    assert schema["resources"] == without_nested_type_descriptions(committed["resources"])
    assert schema["types"] == without_nested_type_descriptions(committed["types"])


def without_nested_type_descriptions(value: Any, nested: bool = False) -> Any:
    if isinstance(value, dict):
        return {
            key: without_nested_type_descriptions(item, key in ("items", "additionalProperties"))
            for key, item in value.items()
            if not (nested and key == "description")
        }
    if isinstance(value, list):
        return [without_nested_type_descriptions(item) for item in value]
    return value


def test_package_add_puts_the_package_in_the_yaml_project(consumer, workspace) -> None:
    package = workspace / "components"

    consumer.run([str(consumer.plane.bin_dir / "pulumi"), "package", "add", str(package)])

    program = yaml.safe_load((workspace / "consumer" / "Pulumi.yaml").read_text())
    assert program["packages"]["mlops"] in (str(package), "../components")


def k8s_objects(resources: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    found = set()
    for resource in resources:
        kind = resource["type"].rsplit(":", 1)[-1]
        if not resource["type"].startswith("kubernetes:") or resource.get("custom") is False:
            continue
        metadata = (resource.get("outputs") or {}).get("metadata") or {}
        if "name" in metadata:
            found.add((kind, metadata.get("namespace", ""), metadata["name"]))
    return found


def python_objects(program: dict[str, Any]) -> set[tuple[str, str, str]]:
    """What the provider host builds in Python from the YAML resources' properties."""
    from mlops_iac.multilang.schema import provider
    from mlops_iac.testing import synth

    host = provider()

    def declare() -> None:
        for name, resource in program["resources"].items():
            host.construct(name, resource["type"], resource["properties"], None)

    result = synth(declare, stack="dev")
    return {
        (m["kind"], m["metadata"].get("namespace", ""), m["metadata"]["name"])
        for m in result.manifests
    }


def test_yaml_up_creates_what_the_python_api_declares(consumer, workspace) -> None:
    consumer.pulumi("stack", "init", "dev")

    consumer.up()

    program = yaml.safe_load((workspace / "consumer" / "Pulumi.yaml").read_text())
    created = k8s_objects(consumer.resources())
    declared = python_objects(program)
    assert created == declared
    assert {kind for kind, _, _ in created} >= {"Deployment", "StatefulSet", "Service"}
    outputs = json.loads(consumer.pulumi("stack", "output", "--json"))
    assert outputs["trackingUri"] == "http://mlflow.mlops.svc.cluster.local:5000"
    assert outputs["churnUrl"] == "http://churn.serving.svc.cluster.local:8080"
    wait_until(lambda: not not_converged(consumer.plane), timeout=180)
