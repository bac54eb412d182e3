"""The in-cluster Redis as synthesized, run for real on Debian's redis-server: its own
command (the kubelet's `$(VAR)` expansion applied) and env, its mounts as local folders,
its probes; the password reaches no command line, the probes authenticate."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pod_local import argv_shims, container_env, kubelet_expand, localize, mounted_folders

from mlops_iac.platforms.kubernetes import redis
from mlops_iac.spec import StackSpec
from mlops_iac.testing import SynthResult, synth
from mlops_iac.testing.local_servers import free_port, stop_process_group

pytestmark = pytest.mark.workload

EXAMPLE_REPO = Path(__file__).resolve().parents[2] / "examples" / "feature-store" / "features"


@pytest.fixture(scope="module")
def stack() -> SynthResult:
    from mlops_iac.components.stack import MLOpsStack

    spec = StackSpec.load(
        {"name": "shop", "target": {"kind": "kind"}, "feature_store": {"repo": str(EXAMPLE_REPO)}}
    )
    return synth(lambda: MLOpsStack("shop", spec), stack="shop")


def redis_container(stack: SynthResult) -> dict[str, Any]:
    statefulset = stack.manifest("StatefulSet", "shop-redis")
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def binaries() -> dict[str, str]:
    tools = {name: shutil.which(name) for name in ("redis-server", "redis-cli")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (Debian package redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (under CI, .ci/run installs it)")
        pytest.skip(reason)
    return {name: str(path) for name, path in tools.items()}


class Running:
    """The container's process and what a test needs to talk to it."""

    def __init__(self, container: dict[str, Any], env: dict[str, str], root: Path) -> None:
        self.port = free_port()
        self.argv_log = root / "argv.log"
        shims = argv_shims(root / "bin", self.argv_log, binaries())
        self.places = {
            **mounted_folders(container, root / "volumes"),
            str(redis.PORT): str(self.port),
        }
        self.env = {**env, "PATH": f"{shims}:{os.environ['PATH']}"}
        self.container = container
        parts = [*container.get("command", []), *container.get("args", [])]
        self.command = [kubelet_expand(part, env) for part in localize(parts, self.places)]
        self.log = root / "redis.log"

    def probe(self, name: str, env: dict[str, str] | None = None) -> int:
        command = localize(self.container[name]["exec"]["command"], self.places)
        environ = {**self.env, **(env or {})}
        return subprocess.run(command, env=environ, capture_output=True, timeout=30).returncode

    def cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args],
            env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return (result.stdout + result.stderr).strip()


@pytest.fixture
def running(
    stack: SynthResult, tmp_path: Path
) -> Iterator[tuple[Running, subprocess.Popen[bytes]]]:
    container = redis_container(stack)
    env = container_env(stack, "mlops", container)
    server = Running(container, env, tmp_path)
    with open(server.log, "wb") as log:
        process = subprocess.Popen(
            server.command, env=server.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            auth = {"REDISCLI_AUTH": env[redis.PASSWORD_KEY]}
            while server.cli("ping", env=auth) != "PONG":
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis did not become ready:\n{server.log.read_text()}")
                time.sleep(0.2)
            yield server, process
        finally:
            stop_process_group(process)


def password(stack: SynthResult) -> str:
    return container_env(stack, "mlops", redis_container(stack))[redis.PASSWORD_KEY]


def test_the_password_is_on_no_command_line(stack, running):
    server, process = running
    secret = password(stack)

    cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
    assert "redis-server" in cmdline
    assert secret not in cmdline
    logged = server.argv_log.read_text()
    assert "redis-server" in logged and "redis-cli" in logged  # the server and the probe
    assert secret not in logged


def test_the_server_requires_the_password_and_keeps_an_append_only_file(stack, running):
    server, _ = running

    assert "NOAUTH" in server.cli("ping", env={"REDISCLI_AUTH": ""})
    auth = {"REDISCLI_AUTH": password(stack)}
    assert server.cli("ping", env=auth) == "PONG"
    assert server.cli("config", "get", "appendonly", env=auth).split() == ["appendonly", "yes"]
    data_dir = server.places[redis.DATA_DIR]
    assert server.cli("config", "get", "dir", env=auth).split() == ["dir", data_dir]


def test_the_probes_fail_with_a_wrong_password(running):
    server, _ = running

    assert server.probe("livenessProbe") == 0
    wrong = {name: "wrong" for name in server.env if "PASSWORD" in name or "AUTH" in name}
    assert server.probe("livenessProbe", wrong) != 0
    assert server.probe("readinessProbe", wrong) != 0


def test_written_configuration_is_readable_by_its_owner_only(running):
    server, _ = running

    files = [p for folder in server.places.values() if Path(folder).is_dir()
             for p in Path(folder).glob("*.conf")]  # fmt: skip
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
