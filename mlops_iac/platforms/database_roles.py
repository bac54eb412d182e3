"""One database and its own role per component on a PostgreSQL server the platform owns
(in the cluster, or RDS): a generated password in a Secret and an idempotent Job that
creates both with the server's admin account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_iac import versions
from mlops_iac.k8s import pods
from mlops_iac.platforms.base import DatabaseConnection, SecretKeyRef
from mlops_iac.spec import ResourceRequirements

# Creates the role and the database when missing and (re)sets the role's password, so a
# re-run after a password rotation converges. psql variables keep every value quoted.
#
# The admin need not be a superuser (RDS's master user is not: it has CREATEROLE and
# CREATEDB). `CREATE DATABASE ... OWNER r` and `ALTER DATABASE ... OWNER TO r` then
# require the admin to be able to act as `r`: a member of `r` before PostgreSQL 16, one
# allowed to `SET ROLE r` from 16 on (a CREATEROLE user gets only ADMIN OPTION on the
# roles it creates). So the admin grants `r` to itself first (`WITH SET TRUE` on 16+,
# syntax older servers lack; re-granting only prints a notice). The values come from the
# environment through `\getenv` (psql 15+; the image's psql is 17), never from psql's
# command line, where every process on the node could read them.
DATABASE_INIT_SQL = """\
\\getenv role DB_USER
\\getenv db DB_NAME
\\getenv password DB_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')\\gexec
ALTER ROLE :"role" WITH LOGIN PASSWORD :'password';
SELECT format('GRANT %I TO %I', :'role', current_user)
  || CASE WHEN current_setting('server_version_num')::int >= 160000
          THEN ' WITH SET TRUE' ELSE '' END\\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\\gexec
ALTER DATABASE :"db" OWNER TO :"role";
"""

DATABASE_INIT_SCRIPT = (
    ': "${DB_USER:?}" "${DB_NAME:?}" "${DB_PASSWORD:?}" "${PGPASSWORD:?}"\n'
    'until pg_isready -h "$PGHOST" -p "$PGPORT"; do sleep 2; done\n'
    "psql -v ON_ERROR_STOP=1 <<'SQL'\n" + DATABASE_INIT_SQL + "SQL\n"
)
"""The Job's `bash -ec` script: every value (the admin's password in `PGPASSWORD`, the
role's in `DB_PASSWORD`) stays in the environment."""

ADMIN_PASSWORD_KEY = "POSTGRES_PASSWORD"
"""Key of the admin password in the admin Secret."""


@dataclass(frozen=True)
class ServerAdmin:
    """How the platform reaches a PostgreSQL server as its admin."""

    k8s_name: str
    """`<stack>-postgres`: prefixes the Secrets and Jobs made for its databases."""
    namespace: str
    host: pulumi.Input[str]
    port: int
    admin_secret: pulumi.Input[str]
    """Secret (in `namespace`) holding the admin password under `POSTGRES_PASSWORD`."""
    admin_user: str
    client_labels: dict[str, str]
    """Pod labels that open the network path to the server."""
    stateful: pulumi.ResourceOptions
    """`protect` / `retain_on_delete` for the role's password and credentials Secret."""


def create_database(
    name: str,
    *,
    database: str,
    server: ServerAdmin,
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource],
) -> tuple[DatabaseConnection, random.RandomPassword]:
    """Database `database` owned by a role of the same name: its password, a credentials
    Secret `<server>-<database>-credentials` and the Job `<server>-<database>-init` that
    creates them (after `after`). Pulumi names start with `name`."""
    k8s_name = f"{server.k8s_name}-{database}"
    labels = pods.labels("postgresql", "database-init", k8s_name)
    keep = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent), server.stateful)
    password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=keep)
    secret = k8s.core.v1.Secret(
        f"{name}-credentials",
        metadata={
            "name": f"{k8s_name}-credentials",
            "namespace": server.namespace,
            "labels": labels,
        },
        type="Opaque",
        string_data={"username": database, "password": password.result},
        opts=keep,
    )
    job = k8s.batch.v1.Job(
        f"{name}-init",
        metadata={"name": f"{k8s_name}-init", "namespace": server.namespace, "labels": labels},
        spec={
            "backoffLimit": 6,
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": {**labels, **server.client_labels}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": pods.pod_security_context(versions.POSTGRES_UID),
                    "containers": [
                        {
                            "name": "create-database",
                            "image": versions.POSTGRES_IMAGE,
                            "command": ["bash", "-ec", DATABASE_INIT_SCRIPT],
                            "env": [
                                pods.env_value("PGHOST", server.host),
                                pods.env_value("PGPORT", str(server.port)),
                                pods.env_value("PGUSER", server.admin_user),
                                pods.env_secret(
                                    "PGPASSWORD", server.admin_secret, ADMIN_PASSWORD_KEY
                                ),
                                pods.env_value("DB_NAME", database),
                                pods.env_value("DB_USER", database),
                                pods.env_secret("DB_PASSWORD", secret.metadata.name, "password"),
                            ],
                            "resources": ResourceRequirements(
                                cpu="50m", memory="64Mi", memory_limit="128Mi"
                            ).to_kubernetes(),
                            "securityContext": pods.container_security_context(),
                        }
                    ],
                },
            },
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
    )
    connection = DatabaseConnection(
        host=server.host,
        port=server.port,
        database=database,
        username=database,
        password=SecretKeyRef(secret.metadata.name, "password"),
        client_labels=dict(server.client_labels),
        ready=[job],
    )
    return connection, password
