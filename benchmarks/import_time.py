"""Import cost on this machine, each in a fresh interpreter (bytecode compiled first): wall
time of `import mlops_iac`, of `import mlops_iac.spec`, and of a kind-only synth of the
repo's local stack, and whether any of them imported `pulumi_aws`. Prints one JSON document.

    python benchmarks/import_time.py [--runs 5]
"""

from __future__ import annotations

import argparse
import compileall
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBES = {
    "import mlops_iac": "import mlops_iac",
    "import mlops_iac.spec": "import mlops_iac.spec",
    "import mlops_iac.components.stack": "import mlops_iac.components.stack",
    "synth local (kind)": (
        "from mlops_iac.program import PulumiProject\n"
        "from mlops_iac.testing import synth\n"
        f"p = PulumiProject.load(__import__('pathlib').Path({str(REPO)!r}))\n"
        "c, s = p.config('local')\n"
        "synth(p.run, project=p.name, stack='local', config=c, secret_keys=s)\n"
    ),
}
TIMER = """
import sys, time
start = time.perf_counter()
exec(compile({code!r}, "<probe>", "exec"))
elapsed = time.perf_counter() - start
print(elapsed, int("pulumi_aws" in sys.modules))
"""


def measure(code: str) -> tuple[float, bool]:
    done = subprocess.run(
        [sys.executable, "-c", TIMER.format(code=code)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    elapsed, aws = done.stdout.split()[-2:]
    return float(elapsed), aws == "1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    compileall.compile_dir(REPO / "mlops_iac", quiet=1)
    report = {}
    for name, code in PROBES.items():
        results = [measure(code) for _ in range(args.runs)]
        times = sorted(t for t, _ in results)
        report[name] = {
            "median_s": round(statistics.median(times), 3),
            "min_s": round(times[0], 3),
            "imports_pulumi_aws": any(aws for _, aws in results),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
