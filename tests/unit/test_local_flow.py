"""`mlops-iac up local` / `down local` step by step, with every external command recorded at
the process boundary and downloads served from local files."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from mlops_iac import versions
from mlops_iac.local import cluster, flow, tools
from mlops_iac.local.process import Completed, LineSink, subprocess_runner
from mlops_iac.spec import StackSpec

SPEC = StackSpec.load({"name": "local", "target": {"kind": "kind", "cluster": "mlops"}})


class Recorder:
    """Answers commands from a script of (prefix -> Completed) and records every call."""

    def __init__(self, answers: dict[tuple[str, ...], Completed] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(
        self,
        args: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 900,
        on_line: LineSink | None = None,
    ) -> Completed:
        call = [Path(args[0]).name, *args[1:]]
        self.calls.append(call)
        for prefix, answer in self.answers.items():
            if tuple(call[: len(prefix)]) == prefix:
                if on_line is not None:  # as the real runner streams: both outputs, merged
                    for line in (answer.stdout + answer.stderr).splitlines():
                        on_line(line)
                    return Completed(answer.returncode, answer.stdout + answer.stderr, "")
                return answer
        return Completed(0, "", "")


class FakeDeploy:
    def __init__(self, preview_changes: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[str, Path | None]] = []
        self.preview_changes = preview_changes or {}

    def __call__(self, operation: str, pulumi_root: Path | None) -> dict[str, Any]:
        self.calls.append((operation, pulumi_root))
        outputs = {"registry_external_url": "http://mlflow.localtest.me", "namespace": "mlops"}
        changes = self.preview_changes if operation == "preview" else {"create": 80}
        return {"changes": changes, "outputs": outputs if operation == "up" else {}}


def context(tmp_path: Path, runner: Recorder, on_path: set[str], **kwargs: Any) -> flow.Context:
    bin_dir = tmp_path / "bin"
    return flow.Context(
        spec=kwargs.pop("spec", SPEC),
        program_dir=kwargs.pop("program_dir", tmp_path),
        runner=runner,
        which=lambda name: str(bin_dir / name) if name in on_path else None,
        cache=tmp_path / "cache",
        console=Console(file=io.StringIO(), width=200),
        **kwargs,
    )


def output(ctx: flow.Context) -> str:
    assert isinstance(ctx.console.file, io.StringIO)
    return ctx.console.file.getvalue()


def test_without_docker_up_stops_at_once_with_where_to_get_it(tmp_path):
    runner, deploy = Recorder(), FakeDeploy()
    ctx = context(tmp_path, runner, on_path=set())

    assert flow.up_local(ctx, deploy) == 3
    assert "Docker is not installed" in output(ctx)
    assert flow.DOCKER_INSTALL in output(ctx)
    assert runner.calls == [] and deploy.calls == []


def test_a_stopped_docker_engine_is_named(tmp_path):
    runner = Recorder({("docker", "info"): Completed(1, "", "Cannot connect to the Docker daemon")})
    ctx = context(tmp_path, runner, on_path={"docker", "kind", "pulumi"})

    assert flow.up_local(ctx, FakeDeploy()) == 3
    assert "does not answer (Cannot connect to the Docker daemon)" in output(ctx)


def test_no_install_refuses_to_download_a_missing_tool(tmp_path):
    ctx = context(tmp_path, Recorder(), on_path={"docker", "pulumi"})

    assert flow.up_local(ctx, FakeDeploy(), install=False) == 3
    assert "kind is not on PATH and --no-install forbids downloading it" in output(ctx)


def test_up_runs_each_step_with_these_exact_commands(tmp_path):
    repo = tmp_path / "project"  # a project of the user's, not this checkout
    repo.mkdir()
    runner, deploy = Recorder(), FakeDeploy()
    ctx = context(tmp_path, runner, on_path={"docker", "kind", "pulumi"}, program_dir=repo)

    assert flow.up_local(ctx, deploy) == 0

    config = str(repo.resolve() / ".pulumi-state" / "kind-mlops.yaml")
    image_context = repo.resolve() / ".mlops-iac" / "runtime-image"
    assert runner.calls == [
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        ["kind", "get", "clusters"],
        ["kind", "create", "cluster", "--name", "mlops", "--config", config, "--wait", "180s"],
        ["docker", "build", "-t", versions.RUNTIME_IMAGE, str(image_context)],
        ["kind", "load", "docker-image", versions.RUNTIME_IMAGE, "--name", "mlops"],
    ]  # fmt: skip
    assert (image_context / "Dockerfile").is_file()
    assert (image_context / "mlops_iac" / "workloads" / "train.py").is_file()
    assert [op for op, _ in deploy.calls] == ["up", "preview"]
    assert deploy.calls[0][1] == tmp_path  # bin/pulumi's root
    assert "http://mlflow.localtest.me" in output(ctx)
    assert "a second preview plans no changes" in output(ctx)
    assert yaml.safe_load(Path(config).read_text())["nodes"][0]["image"] == versions.KIND_NODE_IMAGE


def test_a_second_up_reuses_the_cluster_and_no_build_skips_the_image(tmp_path):
    runner = Recorder({("kind", "get", "clusters"): Completed(0, "other\nmlops\n")})
    ctx = context(tmp_path, runner, on_path={"docker", "kind", "pulumi"})

    assert flow.up_local(ctx, FakeDeploy(), build=False) == 0
    assert runner.calls == [
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        ["kind", "get", "clusters"],
    ]
    assert re.search(r"✓ kind cluster 'mlops': reused \(\d+ s\)", output(ctx))


def test_changes_left_after_up_are_reported(tmp_path):
    ctx = context(tmp_path, Recorder(), on_path={"docker", "kind", "pulumi"})

    assert flow.up_local(ctx, FakeDeploy({"update": 1}), build=False) == 0
    assert "a second preview still plans changes: {'update': 1}" in output(ctx)


def test_a_failing_command_fails_up_with_its_error(tmp_path):
    runner = Recorder(
        {("kind", "create"): Completed(1, "", "ERROR: failed to create cluster: port 80 is in use")}
    )
    ctx = context(tmp_path, runner, on_path={"docker", "kind", "pulumi"})

    assert flow.up_local(ctx, FakeDeploy()) == 1
    assert "port 80 is in use" in output(ctx)
    assert "up local failed" in output(ctx)


def test_a_failed_long_step_shows_its_last_20_lines_and_keeps_the_whole_output(tmp_path):
    build_output = "".join(f"#{n} step {n}\n" for n in range(1, 41)) + "ERROR: pip failed\n"
    runner = Recorder({("docker", "build"): Completed(1, build_output, "")})
    ctx = context(tmp_path, runner, on_path={"docker", "kind", "pulumi"}, stack="dev")

    assert flow.up_local(ctx, FakeDeploy()) == 1

    shown = output(ctx)
    assert "up dev failed" in shown
    assert "ERROR: pip failed" in shown and "#22 step 22" in shown
    assert "#21 step 21" not in shown  # only the last 20 lines
    log = tmp_path / ".mlops-iac" / "logs" / "build.log"
    assert f"the whole output: {log}" in shown
    assert "#1 step 1\n" in log.read_text()
    assert log.read_text().startswith("$ ")  # the command line, then all it printed


def test_each_long_step_says_when_it_is_done_and_how_long_it_took(tmp_path):
    ctx = context(tmp_path, Recorder(), on_path={"docker", "kind", "pulumi"})

    assert flow.up_local(ctx, FakeDeploy()) == 0

    shown = output(ctx)
    loading = f"loading {versions.RUNTIME_IMAGE} into the kind nodes"
    for step in ("kind cluster 'mlops': created", loading):
        assert re.search(rf"✓ {re.escape(step)} \(\d+ s\)", shown), step
    assert (tmp_path / ".mlops-iac" / "logs" / "kind-create.log").is_file()


def test_up_ends_with_this_stack_s_own_next_commands(tmp_path):
    spec = StackSpec.load(
        {
            "name": "fraud",
            "target": {"kind": "kind", "cluster": "mlops"},
            "training": {"jobs": [{"name": "fraud", "dataset": "sklearn://breast_cancer"}]},
        }
    )
    ctx = context(tmp_path, Recorder(), on_path={"docker", "kind", "pulumi"}, spec=spec)

    assert flow.up_local(ctx, FakeDeploy(), build=False) == 0

    shown = " ".join(output(ctx).split())
    assert "mlops-iac train fraud --stack fraud" in shown
    assert "mlops-iac down fraud" in shown
    assert "demo" not in shown


def test_down_without_docker_stops_before_downloading_or_writing_anything(tmp_path):
    downloads: list[str] = []
    ctx = context(
        tmp_path,
        Recorder(),
        on_path=set(),
        program_dir=tmp_path / "project",
        download=lambda url, destination: downloads.append(url),
    )
    (tmp_path / "project").mkdir()

    assert flow.down_local(ctx, FakeDeploy()) == 3
    assert "nothing to tear down" in output(ctx)
    assert downloads == []
    assert list((tmp_path / "project").iterdir()) == []
    assert not (tmp_path / "cache").exists()


def test_down_keeps_data_unless_asked_and_can_delete_the_cluster(tmp_path):
    runner = Recorder({("kind", "get", "clusters"): Completed(0, "mlops\n")})
    deploy = FakeDeploy()
    ctx = context(tmp_path, runner, on_path={"docker", "kind", "pulumi", "kubectl"})

    assert flow.down_local(ctx, deploy) == 0
    assert [op for op, _ in deploy.calls] == ["down"]
    assert "data resources were kept" in output(ctx)

    assert flow.down_local(ctx, deploy, delete_data=True, delete_cluster=True) == 0
    assert [op for op, _ in deploy.calls[1:]] == ["unprotect", "destroy"]
    assert runner.calls[-1] == ["kind", "delete", "cluster", "--name", "mlops"]


def test_down_with_delete_data_removes_the_namespaces_when_the_cluster_stays(tmp_path):
    runner = Recorder()
    ctx = context(tmp_path, runner, on_path={"docker", "kind", "pulumi", "kubectl"})

    assert flow.down_local(ctx, FakeDeploy(), delete_data=True) == 0
    assert runner.calls == [
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        ["kubectl", "--context", "kind-mlops", "delete", "namespace", "--ignore-not-found",
         "mlops", "mlops-training"],
    ]  # fmt: skip


def served(content: bytes, tmp_path: Path) -> tuple[tools.Downloader, Path]:
    source = tmp_path / "served"
    source.write_bytes(content)

    def download(url: str, destination: Path) -> None:
        destination.write_bytes(source.read_bytes())

    return download, source


def test_a_download_is_installed_only_when_its_checksum_matches(tmp_path):
    content = b"#!/bin/sh\necho kind v0.33.0\n"
    download, _ = served(content, tmp_path)
    good = tools.PinnedTool("kind", "v0", {"linux-amd64": "http://x/kind"},
                            {"linux-amd64": hashlib.sha256(content).hexdigest()})  # fmt: skip
    bad = tools.PinnedTool(
        "kind", "v1", {"linux-amd64": "http://x/kind"}, {"linux-amd64": "0" * 64}
    )

    installed = tools.ensure_tool(good, install=True, which=lambda _: None, download=download,
                                  cache=tmp_path / "cache", key="linux-amd64")  # fmt: skip
    with pytest.raises(tools.ToolError, match="does not match its pinned SHA-256") as caught:
        tools.ensure_tool(bad, install=True, which=lambda _: None, download=download,
                          cache=tmp_path / "cache", key="linux-amd64")  # fmt: skip

    assert installed.read_bytes() == content and os.access(installed, os.X_OK)
    assert "nothing was installed" in str(caught.value)
    assert not bad.cached(tmp_path / "cache").exists()


def test_the_pulumi_tarball_unpacks_the_cli_and_its_language_hosts(tmp_path):
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name in ("pulumi/pulumi", "pulumi/pulumi-language-python"):
            data = f"#!/bin/sh\necho {name}\n".encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    content = archive.getvalue()
    download, _ = served(content, tmp_path)
    digest = {"linux-amd64": hashlib.sha256(content).hexdigest()}
    tool = tools.PinnedTool(
        "pulumi", "3", {"linux-amd64": "http://x/p.tgz"}, digest, archive_dir="pulumi"
    )

    binary = tools.ensure_tool(tool, install=True, which=lambda _: None, download=download,
                               cache=tmp_path / "cache", key="linux-amd64")  # fmt: skip

    assert binary == tmp_path / "cache" / "pulumi-3" / "bin" / "pulumi"
    assert sorted(p.name for p in binary.parent.iterdir()) == ["pulumi", "pulumi-language-python"]
    assert flow.pulumi_root(binary) == tmp_path / "cache" / "pulumi-3"
    assert flow.pulumi_root(Path("/opt/pulumi/pulumi")) is None  # on PATH, not in a bin/


def test_pins_cover_linux_and_say_what_to_do_elsewhere(tmp_path):
    assert tools.KIND.urls["linux-amd64"] == "https://kind.sigs.k8s.io/dl/v0.33.0/kind-linux-amd64"
    assert len(tools.PULUMI.sha256["linux-amd64"]) == 64

    with pytest.raises(
        tools.ToolError, match=r"no pinned kind v0\.33\.0 download for darwin-arm64"
    ):
        tools.ensure_tool(tools.KIND, install=True, which=lambda _: None,
                          cache=tmp_path, key="darwin-arm64")  # fmt: skip


KIND_CLUSTER_FIELDS = {"kind", "apiVersion", "name", "nodes", "networking", "featureGates",
                       "runtimeConfig", "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902",
                       "containerdConfigPatches"}  # fmt: skip
KIND_NODE_FIELDS = {"role", "image", "labels", "extraMounts", "extraPortMappings", "gpus",
                    "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902"}  # fmt: skip
PORT_MAPPING_FIELDS = {"containerPort", "hostPort", "listenAddress", "protocol"}


def test_the_shipped_kind_config_uses_only_kinds_v1alpha4_fields():
    config = cluster.shipped_config()

    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    assert set(config) <= KIND_CLUSTER_FIELDS
    for node in config["nodes"]:
        assert set(node) <= KIND_NODE_FIELDS
        assert node["role"] in ("control-plane", "worker")
        for mapping in node.get("extraPortMappings", []):
            assert set(mapping) <= PORT_MAPPING_FIELDS
            assert mapping["protocol"] in ("TCP", "UDP", "SCTP")
    assert config["nodes"][0]["image"] == versions.KIND_NODE_IMAGE
    http = config["nodes"][0]["extraPortMappings"][0]
    assert (http["containerPort"], http["hostPort"]) == (cluster.GATEWAY_NODE_PORTS["http"], 80)


def test_workers_are_added_with_the_same_pinned_image():
    config = cluster.cluster_config("dev", workers=2)

    assert config["name"] == "dev"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in config["nodes"]} == {versions.KIND_NODE_IMAGE}


KIND_ACTION_INPUTS = {"version", "config", "kubeconfig", "node_image", "cluster_name", "wait",
                      "verbosity", "kubectl_version", "registry", "registry_image",
                      "registry_name", "registry_port", "registry_enable_delete",
                      "install_only", "ignore_failed_clean"}  # fmt: skip
"""helm/kind-action's action.yml inputs."""
PULUMI_ACTION_INPUTS = {"command", "stack-name", "pulumi-version", "pulumi-version-file",
                        "work-dir", "cloud-url", "secrets-provider", "config-map", "refresh",
                        "upsert", "remove", "expect-no-changes", "color"}  # fmt: skip
"""The pulumi/actions inputs this project may use (a subset of its action.yml)."""


def test_the_e2e_workflow_uses_real_action_inputs_and_the_pinned_versions():
    workflow = yaml.safe_load(
        (Path(__file__).parents[2] / ".github/workflows/e2e-kind.yml").read_text()
    )
    steps = {step.get("uses", step.get("name")): step for step in workflow["jobs"]["e2e"]["steps"]}

    kind_step = steps["helm/kind-action@v1.15.1"]
    pulumi_step = steps["pulumi/actions@v7"]
    assert set(kind_step["with"]) <= KIND_ACTION_INPUTS
    assert kind_step["with"]["version"] == versions.KIND_VERSION
    assert set(pulumi_step["with"]) <= PULUMI_ACTION_INPUTS
    assert pulumi_step["with"]["pulumi-version"] == versions.PULUMI_CLI_VERSION
    assert steps["End-to-end tests"]["run"] == "pytest -m kind tests/e2e -v"


def test_the_real_runner_streams_both_outputs_line_by_line_as_they_come():
    seen: list[str] = []

    done = subprocess_runner(
        ["sh", "-c", "echo one; echo two >&2; read x; echo got $x; exit 3"],
        input="three\n",
        on_line=seen.append,
    )

    assert seen == ["one", "two", "got three"]
    assert (done.returncode, done.stdout) == (3, "one\ntwo\ngot three\n")


def test_the_streaming_runner_kills_a_command_at_its_timeout_and_says_so():
    done = subprocess_runner(["sleep", "30"], timeout=0.3, on_line=lambda line: None)

    assert done.returncode < 0
    assert "(killed after 0.3 s)" in done.stdout


def test_expect_no_changes_fails_up_when_a_second_preview_still_plans_some(tmp_path):
    ctx = context(tmp_path, Recorder(), on_path={"docker", "kind", "pulumi"})

    assert flow.up_local(ctx, FakeDeploy({"update": 1}), build=False, expect_no_changes=True) == 1
    assert flow.up_local(ctx, FakeDeploy(), build=False, expect_no_changes=True) == 0
