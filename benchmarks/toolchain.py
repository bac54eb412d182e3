"""The real Pulumi toolchain on the control plane: cold build time of each binary (as
tools/controlplane/build.sh recorded it), `pulumi up` and `pulumi preview` wall time of the
repo's local stack on an empty control plane, and `pulumi preview` of a 50-endpoint stack
against a flat program declaring the same objects (same types, names, inputs; no components,
no spec), as a ratio in one run. Prints one JSON document.

    python benchmarks/toolchain.py [--endpoints 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FLAT_PROGRAM = '''"""The same objects as the stack, flat: one provider, one resource per object."""
import json
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

resources = json.loads((Path(__file__).parent / "resources.json").read_text())
provider = k8s.Provider("flat", context=None)
for item in resources:
    if item["type"].startswith("random:"):
        random.RandomPassword(item["name"], length=int(item["inputs"].get("length", 32)))
        continue
    pulumi.CustomResource(
        item["type"], item["name"], item["inputs"], opts=pulumi.ResourceOptions(provider=provider)
    )
'''


def build_seconds(bin_dir: Path) -> dict[str, int]:
    """Each binary's build time, from the `build-seconds-<group>` files build.sh writes."""
    times = {}
    for record in sorted(bin_dir.glob("build-seconds-*")):
        for line in record.read_text().splitlines():
            name, seconds = line.split()
            times[name] = int(seconds)
    return times


def spec_config(endpoints: int) -> dict[str, Any]:
    """The local stack's config with `endpoints` endpoints, targeted at the control plane."""
    import yaml

    config = yaml.safe_load((REPO / "Pulumi.local.yaml").read_text())["config"]
    config["mlops:target"] = {"kind": "kubernetes", "install_gateway": True}
    if endpoints:
        config["mlops:serving"] = [
            {"name": f"model-{i}", "model": f"models:/model-{i}@champion"} for i in range(endpoints)
        ]
    return dict(config)


def project(folder: Path, main: str, config: dict[str, Any]) -> Path:
    """A Pulumi project folder running `main`, with stack `bench` configured by `config`."""
    import yaml

    folder.mkdir(parents=True)
    (folder / "Pulumi.yaml").write_text(
        f"name: bench-{folder.name}\nruntime:\n  name: python\n  options:\n"
        f"    toolchain: pip\nmain: {main}\n"
    )
    (folder / "Pulumi.bench.yaml").write_text(yaml.safe_dump({"config": config}))
    return folder


def timed(env: dict[str, str], cwd: Path, *args: str) -> float:
    """Wall time of one `pulumi` command (which must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(
        ["pulumi", *args, "--stack", "bench", "--non-interactive"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pulumi {' '.join(args)} failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoints", type=int, default=50)
    args = parser.parse_args()

    from mlops_iac.dev.controlplane import ControlPlane, find_binaries, stop
    from mlops_iac.testing import synth_project

    bin_dir = find_binaries()
    report: dict[str, Any] = {"build_seconds": build_seconds(bin_dir)}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        plane = ControlPlane(root / "plane", bin_dir)
        plane.start(crds=False)
        try:
            env = {**os.environ, **plane.env()}
            env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
            env["PULUMI_PYTHON_CMD"] = sys.executable
            env["MLOPS_IAC_CHARTS"] = os.environ.get(
                "MLOPS_IAC_TIER_CHARTS", str(REPO.parent / "shared" / "vendor" / "charts")
            )
            local = project(root / "local", str(REPO / "stacks"), spec_config(0))
            subprocess.run(
                ["pulumi", "stack", "init", "bench", "--non-interactive"],
                cwd=local, env=env, check=True, capture_output=True,
            )  # fmt: skip
            report["local_up_seconds"] = round(
                timed(env, local, "up", "--yes", "--skip-preview"), 1
            )
            report["local_preview_seconds"] = round(timed(env, local, "preview"), 1)

            many = spec_config(args.endpoints)
            ours = project(root / "ours", str(REPO / "stacks"), many)
            flat = project(root / "flat", "__main__.py", {})
            os.environ["MLOPS_IAC_CHARTS"] = env["MLOPS_IAC_CHARTS"]  # the same charts, flat
            declared = synth_project(ours, "bench")
            (flat / "resources.json").write_text(
                json.dumps(
                    [
                        {"type": r.type, "name": r.name, "inputs": r.inputs}
                        for r in declared.resources
                        if r.custom and not r.type.startswith("pulumi:providers:")
                    ]
                )
            )
            (flat / "__main__.py").write_text(FLAT_PROGRAM)
            for folder in (ours, flat):
                subprocess.run(
                    ["pulumi", "stack", "init", "bench", "--non-interactive"],
                    cwd=folder, env=env, check=True, capture_output=True,
                )  # fmt: skip
            # Alternate the two programs so drift in the machine's load hits both alike.
            runs: dict[str, list[float]] = {"ours": [], "flat": []}
            for _ in range(2):
                runs["ours"].append(timed(env, ours, "preview"))
                runs["flat"].append(timed(env, flat, "preview"))
            best = {name: min(times) for name, times in runs.items()}
            report["preview"] = {
                "endpoints": args.endpoints,
                "resources": len(declared.resources),
                "ours_seconds": round(best["ours"], 1),
                "flat_seconds": round(best["flat"], 1),
                "ratio": round(best["ours"] / best["flat"], 2),
            }
        finally:
            stop(root / "plane")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
