"""The Kubernetes platform, for kind and any existing cluster."""

from .object_store import InClusterObjectStore
from .platform import KubernetesPlatform
from .postgres import InClusterPostgres

__all__ = ["InClusterObjectStore", "InClusterPostgres", "KubernetesPlatform"]
