"""What the process tier runs and how it reports back: the reference stacks, the check
that this machine can run them, and a deployed stack's handle."""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_iac.dev.controlplane import ControlPlane, ControlPlaneError, find_binaries
from mlops_iac.testing.synth import synth_project

from cluster import FreshStack, workloads
from delivery import Delivery, has_rollouts
from delivery import unavailable as delivery_unavailable
from images import MissingStandIn, stand_in

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / ".process-tier"
STACKS = {"local": (REPO, "local"), "churn": (REPO / "examples" / "churn", "dev")}
"""The reference stacks: the repo's own project and the whole-loop example."""


@functools.cache
def stack_objects(name: str) -> list[dict[str, Any]]:
    """A reference stack's objects, with real secret values (synthesized once a session)."""
    return synth_project(*STACKS[name]).revealed_manifests()


def unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (a mount namespace and a user per container)"
    for tool in ("unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            return f"needs {tool} (util-linux)"
    try:
        bin_dir = find_binaries()
        for name in STACKS:
            if has_rollouts(stack_objects(name)) and (missing := delivery_unavailable(bin_dir)):
                return missing
            for workload in workloads(stack_objects(name)):
                for container in (
                    workload.template["spec"].get("initContainers", [])
                    + workload.template["spec"]["containers"]
                ):
                    stand_in(container["image"])
    except (ControlPlaneError, MissingStandIn) as error:
        return str(error)
    return None


@dataclass
class Deployed:
    """One reference stack on this node."""

    name: str
    objects: list[dict[str, Any]]
    stack: FreshStack
    api: ControlPlane
    delivery: Delivery | None = None
    """The stack's progressive delivery, when it has Rollouts."""

    def created_jobs(self, namespace: str) -> list[dict[str, Any]]:
        """Jobs in `namespace` the stack's own programs created through the API (not the
        CronJob controller's scheduled runs, which carry their scheduled time)."""
        items = self.api.get("jobs", "-n", namespace)["items"]
        scheduled = "batch.kubernetes.io/cronjob-scheduled-timestamp"
        return [job for job in items if scheduled not in (job["metadata"].get("annotations") or {})]
