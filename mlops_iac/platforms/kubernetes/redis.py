"""Redis in the cluster: one instance on the official image with a generated password and
append-only persistence on a volume (the online store can be rebuilt by materialization,
but a restart should not empty it)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_iac import versions
from mlops_iac.k8s import pods
from mlops_iac.platforms.base import RedisConnection, SecretKeyRef

from . import single_node

PORT = 6379
DATA_DIR = "/data"
CONFIG_DIR = "/run/redis"
"""A memory-backed emptyDir: the configuration file written at start, password included."""
PASSWORD_KEY = "REDIS_PASSWORD"
CLI_AUTH_ENV = "REDISCLI_AUTH"
"""Where `redis-cli` (the probes) reads the password: not `-a`, which is its argv."""


def server_command() -> list[str]:
    """A shell that writes `redis.conf` (append-only persistence, the password from the
    environment) into CONFIG_DIR, then execs `redis-server` on that file.

    The password must stay off every command line: `--requirepass $(VAR)` would have the
    kubelet expand it into the process's argv (readable by every process on the node and
    in the runtime's records). `echo` and `printf` are shell builtins, so writing the file
    starts no process with it either. The generated password is alphanumeric, so it needs
    no escaping inside the quoted `requirepass` value.
    """
    conf = f"{CONFIG_DIR}/redis.conf"
    script = (
        "umask 077\n"
        "{\n"
        "  echo 'bind 0.0.0.0'\n"
        f"  echo 'port {PORT}'\n"
        f"  echo 'dir {DATA_DIR}'\n"
        "  echo 'appendonly yes'\n"
        "  echo 'protected-mode no'\n"
        f'  printf \'requirepass "%s"\\n\' "${PASSWORD_KEY}"\n'
        f"}} > {conf}\n"
        f"exec redis-server {conf}\n"
    )
    return ["sh", "-ec", script]


def ping_probe(period: int, failures: int) -> dict[str, Any]:
    """`redis-cli ping`, authenticated by REDISCLI_AUTH from the environment."""
    script = f"redis-cli -h 127.0.0.1 -p {PORT} ping | grep -q PONG"
    return pods.exec_probe(["sh", "-c", script], period=period, failures=failures)


class InClusterRedis(pulumi.ComponentResource):
    """A single Redis server, reachable only from pods that carry its client label."""

    def __init__(
        self,
        name: str,
        settings: single_node.ServerSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:index:Redis", name, None, opts)
        k8s_name, namespace = settings.k8s_name, settings.namespace
        storage, storage_class = settings.storage, settings.storage_class
        resources, stateful = settings.resources, settings.stateful
        labels = pods.labels("redis", "online-store", k8s_name, versions.REDIS_VERSION)
        match = pods.selector("redis", k8s_name)
        client_labels = {"mlops-iac.dev/redis-client": k8s_name}
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions.merge(child, stateful)
        password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=keep)
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": f"{k8s_name}-credentials", "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={PASSWORD_KEY: password.result},
            opts=keep,
        )
        password_ref = SecretKeyRef(secret.metadata.name, PASSWORD_KEY)
        single_node.service(
            f"{name}-service",
            settings=settings,
            labels=labels,
            match=match,
            port_name="redis",
            port=PORT,
            opts=child,
        )
        container = {
            "name": "redis",
            "image": versions.REDIS_IMAGE,
            "command": server_command(),
            "env": [password_ref.env(PASSWORD_KEY), password_ref.env(CLI_AUTH_ENV)],
            "ports": [{"name": "redis", "containerPort": PORT}],
            "resources": resources.to_kubernetes(),
            "securityContext": pods.container_security_context(),
            "readinessProbe": ping_probe(period=5, failures=3),
            "livenessProbe": ping_probe(period=15, failures=6),
            "volumeMounts": [
                {"name": "data", "mountPath": DATA_DIR},
                {"name": "config", "mountPath": CONFIG_DIR},
            ],
        }
        statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": k8s_name, "namespace": namespace, "labels": labels},
            spec=single_node.statefulset_spec(
                k8s_name=k8s_name,
                labels=labels,
                match=match,
                uid=versions.REDIS_UID,
                container=container,
                volumes=[{"name": "config", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}],
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
            client_labels=client_labels,
            port=PORT,
            opts=child,
        )
        self.connection = RedisConnection(
            host=f"{k8s_name}.{namespace}.svc.cluster.local",
            port=PORT,
            password=password_ref,
            client_labels=client_labels,
            ready=[statefulset],
        )
        self.register_outputs({"host": self.connection.host})
