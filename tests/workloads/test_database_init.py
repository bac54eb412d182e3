"""The database-creation Job as synthesized (kind and AWS), run for real: its own command
and env against Debian's PostgreSQL, as an admin that is not a superuser (RDS's master
user: CREATEROLE and CREATEDB only), twice, with no password on any command line."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pod_local import argv_shims, container_env

from mlops_iac.spec import StackSpec
from mlops_iac.testing import SynthResult, synth
from mlops_iac.testing.data_servers import (
    PostgresServer,
    ServerUnavailable,
    postgres_bindir,
    postgres_server,
)

pytestmark = pytest.mark.workload

KIND_SPEC: dict[str, Any] = {"name": "shop", "target": {"kind": "kind"}}
AWS_SPEC: dict[str, Any] = {
    "name": "shop",
    "target": {
        "kind": "aws",
        "region": "eu-west-1",
        "cluster": {
            "node_groups": [{"name": "cpu", "instance_types": ["m6i.large"], "min": 2, "max": 3}]
        },
    },
}
SPECS = {"kind": KIND_SPEC, "aws": AWS_SPEC}


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (under CI, .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module", params=sorted(SPECS))
def stack(request: pytest.FixtureRequest) -> SynthResult:
    if request.param == "aws":
        pytest.importorskip("pulumi_aws", reason="the AWS platform needs the `aws` extra")
    from mlops_iac.components.stack import MLOpsStack

    spec = StackSpec.load(SPECS[request.param])
    return synth(lambda: MLOpsStack("shop", spec), stack="shop")


def init_job(result: SynthResult, database: str = "mlflow") -> dict[str, Any]:
    (job,) = [
        m
        for m in result.manifests_of("Job")
        if m["metadata"]["name"].endswith(f"-postgres-{database}-init")
    ]
    return job


def job_env(result: SynthResult, job: dict[str, Any]) -> dict[str, str]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container_env(result, job["metadata"]["namespace"], container)


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A fresh server per test (the superuser is the helper's own, not the Job's)."""
    try:
        with postgres_server("scratch") as postgres:
            yield postgres
    except ServerUnavailable as error:
        unavailable(str(error))


def sql(server: PostgresServer, query: str, *, user: str | None = None, password: str | None = None,
        database: str = "postgres") -> str:  # fmt: skip
    result = subprocess.run(
        [str(postgres_bindir() / "psql"), "-h", server.host, "-p", str(server.port),
         "-U", user or server.user, "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", query],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PGPASSWORD": password or server.password},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def owner_of(server: PostgresServer, database: str) -> str:
    return sql(
        server, f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{database}'"
    )


def make_rds_like_admin(server: PostgresServer, user: str, password: str) -> None:
    """The admin RDS gives: may create roles and databases, is no superuser."""
    sql(server, f"CREATE ROLE {user} LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '{password}'")


@pytest.fixture
def shims(tmp_path: Path) -> tuple[Path, Path]:
    """`psql` and `pg_isready` that log their command lines (see `argv_shims`)."""
    log = tmp_path / "argv.log"
    tools = {tool: str(postgres_bindir() / tool) for tool in ("psql", "pg_isready")}
    return argv_shims(tmp_path / "bin", log, tools), log


def run_job(
    job: dict[str, Any], env: dict[str, str], server: PostgresServer, shims: Path
) -> subprocess.CompletedProcess[str]:
    """The container's command with its env; only the server's address changes."""
    (container,) = job["spec"]["template"]["spec"]["containers"]
    environ = {
        "PATH": f"{shims}:{os.environ['PATH']}",
        **env,
        "PGHOST": server.host,
        "PGPORT": str(server.port),
    }
    return subprocess.run(
        container["command"], env=environ, capture_output=True, text=True, timeout=120
    )


def test_the_job_creates_the_database_owned_by_its_role_as_a_non_superuser_admin(
    stack, server, shims
):
    job = init_job(stack)
    env = job_env(stack, job)
    make_rds_like_admin(server, env["PGUSER"], env["PGPASSWORD"])
    database, role = env["DB_NAME"], env["DB_USER"]

    first = run_job(job, env, server, shims[0])

    assert first.returncode == 0, first.stderr
    assert owner_of(server, database) == role
    assert sql(server, f"SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = '{role}'") == (
        "t|f"
    )
    assert sql(server, "SELECT current_user", user=role, password=env["DB_PASSWORD"],
               database=database) == role  # fmt: skip

    again = run_job(job, env, server, shims[0])

    assert again.returncode == 0, again.stderr
    assert owner_of(server, database) == role


def test_a_rerun_after_a_password_rotation_sets_the_new_password(stack, server, shims):
    job = init_job(stack)
    env = job_env(stack, job)
    make_rds_like_admin(server, env["PGUSER"], env["PGPASSWORD"])
    assert run_job(job, env, server, shims[0]).returncode == 0
    rotated = {**env, "DB_PASSWORD": secrets.token_hex(16)}

    result = run_job(job, rotated, server, shims[0])

    assert result.returncode == 0, result.stderr
    role, database = env["DB_USER"], env["DB_NAME"]
    assert sql(server, "SELECT current_user", user=role, password=rotated["DB_PASSWORD"],
               database=database) == role  # fmt: skip


def test_no_password_reaches_a_command_line(stack, server, shims):
    job = init_job(stack)
    env = job_env(stack, job)
    make_rds_like_admin(server, env["PGUSER"], env["PGPASSWORD"])

    result = run_job(job, env, server, shims[0])

    argv = shims[1].read_text()
    assert "psql" in argv
    (container,) = job["spec"]["template"]["spec"]["containers"]
    for name in ("PGPASSWORD", "DB_PASSWORD"):
        assert env[name] not in argv, f"{name}'s value is on a command line"
        assert env[name] not in " ".join(container["command"])
    assert result.returncode == 0, result.stderr
