"""What a stack asks the cluster for: the summed CPU and memory requests (and limits) of its
long-running pods, from the synthesized manifests, plus the Helm-installed monitoring parts
as their values set them. Jobs and CronJobs (they come and go) are listed apart. Prints one
JSON document.

    python benchmarks/footprint.py [--stack local] [--with-endpoint]

`--with-endpoint` adds one MLServer endpoint with a drift monitor to the stack, the full
loop. Helm charts' own sidecars (e.g. Grafana's dashboard sidecar, the operator's config
reloader) are not in the chart values and are not counted.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlops_iac.components.monitoring_values import component_resources  # noqa: E402
from mlops_iac.program import PulumiProject  # noqa: E402
from mlops_iac.spec import StackSpec, config_fields, quantity_value  # noqa: E402
from mlops_iac.testing import synth  # noqa: E402

LONG_RUNNING = {"Deployment", "StatefulSet"}
ENDPOINT = {"name": "demo", "model": "models:/demo@champion"}
DRIFT = {"endpoint": "demo", "retrain_job": "demo"}


def pod_totals(pod: dict[str, Any], replicas: int) -> dict[str, Decimal]:
    totals = {key: Decimal(0) for key in ("cpu", "memory", "cpu_limit", "memory_limit")}
    for container in pod.get("containers", []):
        resources = container.get("resources", {})
        for kind, suffix in (("requests", ""), ("limits", "_limit")):
            for resource in ("cpu", "memory"):
                value = resources.get(kind, {}).get(resource)
                if value is not None:
                    totals[resource + suffix] += quantity_value(str(value)) * replicas
    return totals


def add(total: dict[str, Decimal], part: dict[str, Decimal]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, Decimal(0)) + value


def shown(totals: dict[str, Decimal]) -> dict[str, str]:
    return {
        "cpu": f"{totals['cpu'] * 1000:.0f}m",
        "memory": f"{totals['memory'] / 2**20:.0f}Mi",
        "cpu_limit": f"{totals['cpu_limit'] * 1000:.0f}m",
        "memory_limit": f"{totals['memory_limit'] / 2**20:.0f}Mi",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="local")
    parser.add_argument("--with-endpoint", action="store_true")
    args = parser.parse_args()
    project = PulumiProject.load(REPO)
    config, secret_keys = project.config(args.stack)
    if args.with_endpoint:
        config["mlops:serving"] = [ENDPOINT]
        config["mlops:monitoring"] = {**config.get("mlops:monitoring", {}), "drift": DRIFT}
    result = synth(
        project.run, project=project.name, stack=args.stack, config=config, secret_keys=secret_keys
    )
    workloads: dict[str, dict[str, str]] = {}
    total: dict[str, Decimal] = {}
    for manifest in result.manifests:
        if manifest["kind"] not in LONG_RUNNING:
            continue
        spec = manifest["spec"]
        part = pod_totals(spec["template"]["spec"], int(spec.get("replicas", 1)))
        workloads[f"{manifest['kind']}/{manifest['metadata']['name']}"] = shown(part)
        add(total, part)
    data = config_fields(config)
    data.setdefault("name", args.stack)
    spec_ = StackSpec.load(data, path_prefix="mlops:")
    if spec_.monitoring is not None:
        for component, requirements in component_resources(spec_).items():
            part = pod_totals({"containers": [{"resources": requirements.to_kubernetes()}]}, 1)
            workloads[f"helm/{component}"] = shown(part)
            add(total, part)
    scheduled = sorted(
        f"{m['kind']}/{m['metadata']['name']}"
        for m in result.manifests
        if m["kind"] in {"Job", "CronJob"}
    )
    print(
        json.dumps(
            {
                "stack": args.stack,
                "profile": spec_.profile,
                "total": shown(total),
                "workloads": workloads,
                "jobs_not_counted": scheduled,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
