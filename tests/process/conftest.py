"""The process tier's fixtures: a stack synthesized from its Pulumi project, a real
kube-apiserver holding its objects (the pods' service-account tokens reach it), and the
stack's pods started on this node against empty stores; for a stack with Rollouts, its
progressive delivery too (delivery.py).

The tier needs root (each container gets its own mount namespace and user), util-linux's
`unshare` and `nsenter`, Debian's PostgreSQL and Redis (tools/test-servers.sh) and the
binaries of tools/controlplane/build.sh (the API server and weed). Without them it is
skipped, except under CI=true, where that is a failure."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_iac.dev.controlplane import ControlPlane, find_binaries, stop
from mlops_iac.testing.local_servers import LOOPBACK

from cluster import FreshStack
from delivery import has_rollouts, progressive_delivery
from kubelet import Cluster
from report import write
from tier import REPORTS, STACKS, Deployed, stack_objects, unavailable

API_KINDS = {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
             "ClusterRoleBinding", "CronJob", "ResourceQuota", "LimitRange"}  # fmt: skip


def suspended(item: dict[str, Any]) -> dict[str, Any]:
    if item["kind"] != "CronJob":
        return item
    return {**item, "spec": {**item["spec"], "suspend": True}}


@pytest.fixture(scope="session")
def process_tier_ready() -> None:
    reason = unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the process tier cannot run under CI: {reason}")
        pytest.skip(f"process tier: {reason}")


@pytest.fixture(scope="module", params=sorted(STACKS))
def deployed(request: pytest.FixtureRequest, process_tier_ready: None) -> Iterator[Deployed]:
    """A fresh stack: its objects in a real API server, its pods not yet started."""
    name = request.param
    objects = stack_objects(name)
    root = Path("/var/tmp") / f"process-tier-{uuid.uuid4().hex[:8]}"
    api = ControlPlane(root / "controlplane", find_binaries())
    api.start()
    try:
        # What the pods' own programs read or change through the API, and its RBAC (the
        # kubelet here runs the pods; nothing else needs to be in the API server).
        # CronJobs suspended: this node runs them when the tier says, not on their schedule.
        ordered = sorted(
            (suspended(o) for o in objects if o["kind"] in API_KINDS),
            key=lambda o: o["kind"] != "Namespace",
        )
        api.kubectl(
            "apply", "--server-side", "--field-manager=process-tier", "-f", "-",
            stdin=yaml.safe_dump_all(ordered),
        )  # fmt: skip
        assert api.endpoints
        cluster = Cluster(
            root=root,
            objects=objects,
            api_server=(LOOPBACK, api.endpoints.apiserver),
            api_ca=api.pki.cert("ca"),
            api_token=lambda ns, account: api.kubectl(
                "create", "token", account, "-n", ns, "--duration=2h"
            ).strip(),
        )
        stack = FreshStack(objects, root, cluster)
        try:
            with ExitStack() as running:
                delivery = None
                if has_rollouts(objects):
                    delivery = running.enter_context(
                        progressive_delivery(api, stack, objects, root / "delivery")
                    )
                yield Deployed(name, objects, stack, api, delivery)
        finally:
            stack.stop()
            write(REPORTS, name, stack.sampler.containers, stack.sampler.empty_dirs)
    finally:
        stop(api.root)
        if not os.environ.get("MLOPS_IAC_KEEP_PROCESS_TIER"):  # set it to read the pods' logs
            shutil.rmtree(root, ignore_errors=True)
