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
PASSWORD_KEY = "REDIS_PASSWORD"


def server_command() -> list[str]:
    """`redis-server` with the password from the environment (`$(VAR)` is expanded by the
    kubelet, so the password is not in the pod spec) and append-only persistence."""
    return [
        "redis-server",
        "--port",
        str(PORT),
        "--requirepass",
        f"$({PASSWORD_KEY})",
        "--appendonly",
        "yes",
        "--dir",
        DATA_DIR,
        "--protected-mode",
        "no",
    ]


def ping_probe(period: int, failures: int) -> dict[str, Any]:
    """`redis-cli ping` with the password from the environment."""
    script = f'redis-cli -a "${PASSWORD_KEY}" --no-auth-warning ping | grep -q PONG'
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
            "env": [password_ref.env(PASSWORD_KEY)],
            "ports": [{"name": "redis", "containerPort": PORT}],
            "resources": resources.to_kubernetes(),
            "securityContext": pods.container_security_context(),
            "readinessProbe": ping_probe(period=5, failures=3),
            "livenessProbe": ping_probe(period=15, failures=6),
            "volumeMounts": [{"name": "data", "mountPath": DATA_DIR}],
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
                volumes=[],
                storage=storage,
                storage_class=storage_class,
            ),
            opts=keep,
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
