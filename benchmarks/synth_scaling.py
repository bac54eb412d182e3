"""Synth cost as a stack grows: 1, 10, 50 and 200 serving endpoints with every other
component on, each size in a fresh process after one warm-up synth (imports are measured by
import_time.py). Reports wall time, peak RSS, cost per resource, and the floor: the same
resources (same types, names, inputs) registered by a raw program with no components and no
spec. Prints one JSON document.

    python benchmarks/synth_scaling.py [--sizes 1 10 50 200]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def spec_data(endpoints: int) -> dict[str, Any]:
    repo = REPO / "examples" / "feature-store" / "features"
    return {
        "name": "scale",
        "target": {"kind": "kind"},
        "routing": {"mode": "gateway", "gateway_class": "eg"},
        "feature_store": {"repo": str(repo)},
        "serving": [
            {"name": f"model-{i}", "model": f"models:/model-{i}@champion"} for i in range(endpoints)
        ],
        "training": {"jobs": [{"name": "churn", "dataset": "sklearn://breast_cancer"}]},
        "monitoring": {"drift": {"endpoint": "model-0", "retrain_job": "churn"}},
    }


def child(endpoints: int, mode: str) -> dict[str, Any]:
    """Run one synth in this process and measure it."""

    from mlops_iac.components.stack import MLOpsStack
    from mlops_iac.spec import StackSpec
    from mlops_iac.testing import synth

    # Warm up (imports of the pulumi_kubernetes modules used, scikit-learn's cached names),
    # so both modes time the synth itself.
    warm = StackSpec.load(spec_data(1))
    synth(lambda: MLOpsStack("scale", warm), stack="scale")
    spec = StackSpec.load(spec_data(endpoints))
    started = time.perf_counter()
    result = synth(lambda: MLOpsStack("scale", spec), stack="scale")
    elapsed = time.perf_counter() - started
    if mode == "raw":
        recorded = [
            (r.type, r.name, r.inputs)
            for r in result.resources
            if r.custom and not r.type.startswith("pulumi:providers:")
        ]

        def raw() -> None:
            for type_, name, inputs in recorded:
                declare(type_, name, inputs)

        started = time.perf_counter()
        result = synth(raw, stack="scale")
        elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 3),
        "resources": len(result.resources),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def declare(type_: str, name: str, inputs: dict[str, Any]) -> Any:
    """What a hand-written program would write for one recorded resource."""
    import importlib
    import re

    import pulumi_kubernetes as k8s
    import pulumi_random as random

    def snake(key: str) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()

    package, module, kind = type_.split(":")
    if package == "random":
        return getattr(random, kind)(name, **{snake(k): v for k, v in inputs.items()})
    group, version = module.rsplit("/", 1)
    args = {snake(k): v for k, v in inputs.items() if k not in ("apiVersion", "kind")}
    try:
        python_module = "helm" if group == "helm.sh" else group.split(".")[0]
        cls = getattr(importlib.import_module(f"pulumi_kubernetes.{python_module}.{version}"), kind)
    except (ImportError, AttributeError):
        return k8s.apiextensions.CustomResource(
            name, api_version=inputs["apiVersion"], kind=inputs["kind"], **args
        )
    return cls(name, **args)


def measure(endpoints: int, mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(endpoints), mode],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1])))
        return
    report = {}
    for size in args.sizes:
        ours, floor = measure(size, "mlops_iac"), measure(size, "raw")
        report[f"{size}_endpoints"] = {
            "mlops_iac": ours,
            "raw_floor": floor,
            "ms_per_resource": round(1000 * ours["seconds"] / ours["resources"], 2),
            "ratio_mlops_iac_to_raw": round(ours["seconds"] / floor["seconds"], 2),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
