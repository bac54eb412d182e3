"""Real servers on 127.0.0.1 for tests: an MLflow tracking server, an S3 API (moto) and
Prometheus (Debian's).

Each is a context manager that picks a free port, waits until the server answers, and on
exit stops it and every process it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for_http(
    url: str,
    timeout: float,
    process: subprocess.Popen[Any] | None = None,
    *,
    context: ssl.SSLContext | None = None,
    check: Callable[[], None] | None = None,
) -> None:
    """Poll `url` until it answers 200, or `timeout` seconds pass (TimeoutError).

    Stops early when `process` exits (RuntimeError) or `check` raises; `context` is the TLS
    context for an https URL.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        if check is not None:
            check()
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last_error = error
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s: {last_error}")


def venv_environ(**extra: str) -> dict[str, str]:
    """os.environ with this interpreter's bin first on PATH (MLflow execs `uvicorn` from PATH)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


def live_members(pgid: int) -> list[int]:
    """PIDs in process group `pgid` that still run (Linux `/proc`). Zombies do not count:
    once the process that started them has exited only init reaps them, and some sandboxes'
    init is slow to."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def kill_process_group(pgid: int, grace: float = 10) -> None:
    """SIGTERM every process of group `pgid`, then SIGKILL what still runs after `grace` s."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if live_members(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def stop_process_group(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """Stop the process group `process` leads (see kill_process_group) and reap `process`."""
    kill_process_group(process.pid)
    process.wait(timeout=timeout)


@dataclass(frozen=True)
class MlflowServer:
    """A running `mlflow server`."""

    url: str
    """Tracking URI, e.g. http://127.0.0.1:PORT."""
    root: Path
    """Folder with the SQLite database and the artifacts."""


@contextmanager
def mlflow_server(
    root: Path, timeout: float = 90, *, flags: Sequence[str] = ()
) -> Iterator[MlflowServer]:
    """Run MLflow with a SQLite backend and proxied local artifacts under `root`.

    As the registry's Deployment does, the backend store comes from
    `MLFLOW_BACKEND_STORE_URI` and the job runner is off
    (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false): 2 processes and ~0.5 GB instead of ~10 and
    ~2.4 GB. `flags` are more `mlflow server` options (the last of a repeated one wins), e.g.
    a synthesized Deployment's `--allowed-hosts` and `--cors-allowed-origins`. The server
    runs in its own session and the whole process group is stopped on exit, since SIGTERM
    to the parent alone orphans workers.
    """
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", LOOPBACK, "--port", str(port), "--workers", "1",
        *flags,
    ]  # fmt: skip
    log: IO[bytes]
    with open(root / "server.log", "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=venv_environ(
                MLFLOW_BACKEND_STORE_URI=f"sqlite:///{root / 'mlflow.db'}",
                MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
            ),
            start_new_session=True,
        )
        try:
            url = f"http://{LOOPBACK}:{port}"
            wait_for_http(f"{url}/health", timeout, process)
            yield MlflowServer(url=url, root=root)
        finally:
            stop_process_group(process)


@dataclass(frozen=True)
class S3Server:
    """A running S3 API (moto) and the credentials it accepts."""

    endpoint_url: str
    access_key_id: str = "testing"
    secret_access_key: str = "testing"
    region: str = "us-east-1"

    def put(self, bucket: str, key: str, body: bytes) -> str:
        """Store `body` at `s3://bucket/key` (creating the bucket if needed); the URI."""
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )
        if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        return f"s3://{bucket}/{key}"

    def environ(self) -> dict[str, str]:
        """The variables the trainer and boto3 read to reach this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
        }


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Run moto's S3-compatible server in a thread on a free loopback port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    try:
        yield S3Server(endpoint_url=f"http://{LOOPBACK}:{port}")
    finally:
        server.stop()


def prometheus_binary() -> str | None:
    """Prometheus' binary (Debian's package; tools/test-servers.sh installs it), or None."""
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None
    )


@contextmanager
def prometheus_server(
    root: Path,
    config: dict[str, Any],
    *,
    address: str = LOOPBACK,
    port: int | None = None,
    timeout: float = 60,
) -> Iterator[str]:
    """Prometheus with `config` (its configuration; JSON is YAML), its TSDB and log under
    `root`, on `address`:`port` (a free port by default); its URL. Stopped with its whole
    process group on exit."""
    binary = prometheus_binary()
    if binary is None:
        raise FileNotFoundError("prometheus is not installed (tools/test-servers.sh)")
    root.mkdir(parents=True, exist_ok=True)
    config_file = root / "prometheus.yml"
    config_file.write_text(json.dumps(config, indent=2))
    listen = f"{address}:{port or free_port()}"
    command = [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address={listen}",
        "--log.level=warn",
    ]
    with (root / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=root, process_group=0
        )
    try:
        url = f"http://{listen}"
        wait_for_http(f"{url}/-/ready", timeout, process)
        yield url
    finally:
        stop_process_group(process)


def pinned_venv(requirements: Path, name: str, cache: Path | None = None) -> Path:
    """A venv with exactly `requirements` installed, as the runtime image has it under
    `/opt/<name>` (MLServer and Feast each pin what the trainer's venv is past), created once
    per content of that file under `~/.cache/mlops-iac/<name>/`; returns its `bin` folder."""
    import hashlib

    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    root = (cache or Path.home() / ".cache" / "mlops-iac" / name) / digest
    ready = root / ".installed"
    if not ready.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True)
        subprocess.run(
            [str(root / "bin" / "pip"), "install", "--quiet", "-r", str(requirements)],
            check=True,
            timeout=1200,
        )
        ready.touch()
    return root / "bin"
