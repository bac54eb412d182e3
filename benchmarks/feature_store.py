"""Online-read latency of the FeatureStore on this machine: the synthesized apply Job,
materialization and feature server (`feast serve`, 1 worker as the profiles set it) run
against local PostgreSQL (registry) and Redis (online store), like
tests/workloads/test_feature_store_local.py. Prints one JSON document.

    python benchmarks/feature_store.py [--reads 1000]

Loads, each over one keep-alive connection: 1 entity per request, 10 entities per request,
and 1 entity at concurrency 4. Not a test: numbers only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgen import drive  # noqa: E402  (benchmarks/ is the script's folder)

from mlops_iac import runtime_image  # noqa: E402
from mlops_iac.components.stack import MLOpsStack  # noqa: E402
from mlops_iac.spec import StackSpec  # noqa: E402
from mlops_iac.testing import synth  # noqa: E402
from mlops_iac.testing.data_servers import postgres_server, redis_server  # noqa: E402
from mlops_iac.testing.feast_local import (  # noqa: E402
    FeastManifests,
    feast_env,
    feature_server,
    localize,
    run,
)
from mlops_iac.testing.local_servers import pinned_venv  # noqa: E402

EXAMPLE = REPO / "examples" / "feature-store"
CUSTOMERS = 100


def body(customers: list[int]) -> bytes:
    return json.dumps({"feature_service": "churn", "entities": {"customer_id": customers}}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=1000)
    args = parser.parse_args()

    spec = StackSpec.load(
        {
            "name": "bench",
            "target": {"kind": "kind"},
            "feature_store": {"repo": str(EXAMPLE / "features")},
        }
    )
    manifests = FeastManifests.of(synth(lambda: MLOpsStack("bench", spec), stack="bench"))
    feast_bin = pinned_venv(runtime_image.REQUIREMENTS["feast"], "feast")
    loader = importlib.util.spec_from_file_location("generate_data", EXAMPLE / "generate_data.py")
    assert loader and loader.loader
    generate = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(generate)

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with postgres_server() as postgres, redis_server(root / "redis") as redis:
            repo = manifests.write_repo(root / "repo")
            generate.write(root / "data", customers=CUSTOMERS, days=3)
            env = {**os.environ, **feast_env(postgres, redis, root / "data")}
            run(localize(manifests.apply, repo, feast_bin), env)
            run(localize(manifests.materialize, repo, feast_bin), env)
            serve = localize(manifests.serve, repo, feast_bin)
            with feature_server(serve, env, root / "serve.log") as url:
                port = int(url.rsplit(":", 1)[1])
                path = "/get-online-features"
                drive(port, path, body([1001]), 100, 1)  # warm-up
                ten = body(list(range(1001, 1011)))
                report = {
                    "feast": "0.67.0",
                    "registry": "postgresql (sql registry)",
                    "online_store": "redis-server (local)",
                    "reads": args.reads,
                    "c1_entities1": drive(port, path, body([1001]), args.reads, 1),
                    "c1_entities10": drive(port, path, ten, args.reads, 1),
                    "c4_entities1": drive(port, path, body([1042]), args.reads, 4),
                }
    single, batch = report["c1_entities1"], report["c1_entities10"]
    report["p50_ratio_10_vs_1_entities"] = round(batch["p50_ms"] / single["p50_ms"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
