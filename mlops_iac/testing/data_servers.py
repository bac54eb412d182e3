"""Real data servers on 127.0.0.1 for tests: Redis and PostgreSQL from the machine's own
packages (Debian's `redis-server` and `postgresql`), each in a throwaway folder on a free
port, stopped with everything it started when the context exits.

When a binary is missing the context raises `ServerUnavailable` naming the package, so a
test can skip (or fail under CI) with that reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlops_iac.testing.local_servers import LOOPBACK, free_port, stop_process_group


class ServerUnavailable(RuntimeError):
    """The server's binaries are not installed here; the message says which package."""


@dataclass(frozen=True)
class RedisServer:
    """A running `redis-server` with a password."""

    host: str
    port: int
    password: str


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL server with one database and its owner."""

    host: str
    port: int
    database: str
    user: str
    password: str


def _redis_answers(port: int, password: str) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as conn:
            conn.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            reply = b""
            while b"PONG" not in reply and len(reply) < 256:
                chunk = conn.recv(64)
                if not chunk:
                    break
                reply += chunk
            return b"+PONG" in reply
    except OSError:
        return False


@contextmanager
def redis_server(root: Path, timeout: float = 20) -> Iterator[RedisServer]:
    """`redis-server` on a free loopback port, no persistence, a generated password."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable("redis-server is not installed (Debian package redis-server)")
    root.mkdir(parents=True, exist_ok=True)
    port, password = free_port(), secrets.token_hex(16)
    command = [
        binary, "--port", str(port), "--bind", LOOPBACK, "--requirepass", password,
        "--save", "", "--appendonly", "no", "--dir", str(root),
    ]  # fmt: skip
    with open(root / "redis.log", "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while not _redis_answers(port, password):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start; see {root / 'redis.log'}")
                time.sleep(0.1)
            yield RedisServer(LOOPBACK, port, password)
        finally:
            stop_process_group(process)


def postgres_bindir() -> Path:
    """The newest PostgreSQL server's `bin` folder (`/usr/lib/postgresql/<major>/bin`)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    if not candidates:
        raise ServerUnavailable("PostgreSQL is not installed (Debian package postgresql)")
    return candidates[-1].parent


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the `postgres` user the package creates."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server(database: str = "feast") -> Iterator[PostgresServer]:
    """A PostgreSQL cluster in a fresh folder under the system temp dir (the `postgres`
    user must reach it, which pytest's private tmp folders forbid) on a free loopback port,
    password auth, with `database` owned by a generated user; stopped and removed on exit."""
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="mlops-iac-postgres-"))
    try:
        yield from _run_postgres(bindir, root, database)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])} failed: {result.stdout}{result.stderr}")


def _run_postgres(bindir: Path, root: Path, database: str) -> Iterator[PostgresServer]:
    data, user, password = root / "data", "mlops", secrets.token_hex(16)
    password_file = root / "password"
    password_file.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(password_file, "postgres")
    _run(
        _as_server_user(
            [str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "scram-sha-256",
             f"--pwfile={password_file}", "--no-sync"]
        )
    )  # fmt: skip
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses={LOOPBACK} -c fsync=off"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "postgres.log")]
    _run(_as_server_user([*pg_ctl, "-o", options, "-w", "start"]))
    try:
        _run(
            [str(bindir / "createdb"), "-h", LOOPBACK, "-p", str(port), "-U", user, database],
            env={**os.environ, "PGPASSWORD": password},
        )
        yield PostgresServer(LOOPBACK, port, database, user, password)
    finally:
        subprocess.run(
            _as_server_user([*pg_ctl, "-m", "immediate", "-w", "stop"]),
            capture_output=True, timeout=60,
        )  # fmt: skip
