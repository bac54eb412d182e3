"""PostgreSQL in the cluster: a StatefulSet on the official image, one role per database."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_iac import versions
from mlops_iac.k8s import pods
from mlops_iac.platforms import database_roles
from mlops_iac.platforms.base import ClientNamespace, DatabaseConnection, SecretKeyRef

from . import single_node

PORT = 5432
DATA_DIR = "/var/lib/postgresql/data"


class InClusterPostgres(pulumi.ComponentResource):
    """A single-instance PostgreSQL server with a generated superuser password.

    Components get their own database and role through `database()`; the superuser
    password never leaves its Secret.
    """

    host: str
    """In-cluster DNS name of the server."""

    def __init__(
        self,
        name: str,
        settings: single_node.ServerSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:Postgres", name, None, opts)
        k8s_name, namespace = settings.k8s_name, settings.namespace
        storage, storage_class = settings.storage, settings.storage_class
        resources, stateful = settings.resources, settings.stateful
        self._name = name
        self._k8s_name = k8s_name
        self._namespace = namespace
        self._stateful = stateful
        self._databases: dict[str, tuple[DatabaseConnection, random.RandomPassword]] = {}
        self.host = f"{k8s_name}.{namespace}.svc.cluster.local"
        self.client_labels = {"mlops-iac.dev/postgres-client": k8s_name}
        labels = pods.labels("postgresql", "database", k8s_name, versions.POSTGRES_VERSION)
        match = self._match = pods.selector("postgresql", k8s_name)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions.merge(child, stateful)

        admin_password = random.RandomPassword(
            f"{name}-admin-password", length=32, special=False, opts=keep
        )
        self.admin_secret = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata={"name": f"{k8s_name}-admin", "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={"POSTGRES_PASSWORD": admin_password.result},
            opts=keep,
        )
        self.service = single_node.service(
            f"{name}-service",
            settings=settings,
            labels=labels,
            match=match,
            port_name="postgres",
            port=PORT,
            opts=child,
        )
        container = {
            "name": "postgres",
            "image": versions.POSTGRES_IMAGE,
            "ports": [{"name": "postgres", "containerPort": PORT}],
            "env": [
                pods.env_secret(
                    "POSTGRES_PASSWORD", self.admin_secret.metadata.name, "POSTGRES_PASSWORD"
                ),
                pods.env_value("PGDATA", f"{DATA_DIR}/pgdata"),
            ],
            "resources": resources.to_kubernetes(),
            "securityContext": pods.container_security_context(),
            "readinessProbe": pods.exec_probe(
                ["pg_isready", "-h", "127.0.0.1", "-U", "postgres"], period=5
            ),
            "livenessProbe": pods.exec_probe(
                ["pg_isready", "-h", "127.0.0.1", "-U", "postgres"], period=15, failures=6
            ),
            "startupProbe": pods.exec_probe(
                ["pg_isready", "-h", "127.0.0.1", "-U", "postgres"], period=5, failures=60
            ),
            "volumeMounts": [
                {"name": "data", "mountPath": DATA_DIR},
                {"name": "run", "mountPath": "/var/run/postgresql"},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": k8s_name, "namespace": namespace, "labels": labels},
            spec=single_node.statefulset_spec(
                k8s_name=k8s_name,
                labels=labels,
                match=match,
                uid=versions.POSTGRES_UID,
                container=container,
                volumes=[pods.scratch_volume("run", "16Mi"), pods.scratch_volume("tmp")],
                storage=storage,
                storage_class=storage_class,
            ),
            opts=single_node.statefulset_options(keep),
        )
        single_node.client_network_policies(
            name,
            k8s_name=k8s_name,
            namespace=namespace,
            labels=labels,
            match=match,
            client_labels=self.client_labels,
            port=PORT,
            opts=child,
        )
        self.register_outputs({"host": self.host, "admin_secret": self.admin_secret.metadata.name})

    def database(self, database: str, client: ClientNamespace | None = None) -> DatabaseConnection:
        """A database named `database` owned by a role of the same name, created by a Job
        (once per name); with `client`, for pods of that namespace (a copy of the role's
        credentials there and a network path to the server)."""
        if database not in self._databases:
            self._databases[database] = self._create_database(database)
        connection, password = self._databases[database]
        if client is None:
            return connection
        secret = single_node.grant_client_namespace(
            f"{self._name}-{database}-client-{client.name}",
            client=client,
            secret_name=f"{self._k8s_name}-{database}-credentials",
            string_data={"username": database, "password": password.result},
            labels=pods.labels("postgresql", "database-client", self._k8s_name),
            server_namespace=self._namespace,
            server_labels=self._match,
            client_labels=self.client_labels,
            port=PORT,
            parent=self,
        )
        return dataclasses.replace(
            connection, password=SecretKeyRef(secret.metadata.name, "password")
        )

    def _create_database(self, database: str) -> tuple[DatabaseConnection, random.RandomPassword]:
        return database_roles.create_database(
            f"{self._name}-{database}",
            database=database,
            server=database_roles.ServerAdmin(
                k8s_name=self._k8s_name,
                namespace=self._namespace,
                host=self.host,
                port=PORT,
                admin_secret=self.admin_secret.metadata.name,
                admin_user="postgres",
                client_labels=self.client_labels,
                stateful=self._stateful,
            ),
            parent=self,
            after=[self.statefulset],
        )
