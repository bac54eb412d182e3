"""Serving throughput on this machine: one registered scikit-learn model, served by every
candidate runtime and by none (the floor), each driven by the same load from a separate
process. Prints one JSON document.

    python benchmarks/serving.py [--requests 2000] [--only mlserver,kserve_mlflow] [--offline]

The model: a RandomForest (100 trees) registered in a real `mlflow server`, fetched as the
stack's init container fetches it. Candidates (benchmarks/serving_candidates.py), each in its
own pinned venv: MLServer 1.7.1's MLflow runtime with adaptive batching (the default before) and
without; `mlflow models serve` with workers = cores; KServe 0.21's Python model server, with
the bare estimator and with the MLflow pyfunc, over V1 and V2 (OIP); BentoML 1.4.40 with adaptive
batching; and the builtin runtime (mlops_iac.workloads.model_server, the default: pyfunc, OIP
v2, adaptive batching, Prometheus metrics, in the runtime venv), which the rule in `verdict`
called for: no maintained candidate came within 1.5x of the floor at concurrency 8, 1 row.
The floor: the pyfunc's in-process `predict` on the batch a server would form at each load,
as requests/s per core. Loads: concurrency 1, 8 and 32, 1 and 100 rows per request; per load
requests/s, p50/p99, failed requests and the server's resident memory after it. With network,
each candidate's latest release and date from PyPI (`--offline` skips). Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgen import drive  # noqa: E402  (benchmarks/ is the script's folder)
from serving_candidates import Candidate, Context, Protocol, candidates  # noqa: E402
from serving_report import KEY_LOAD, LOADS, key, markdown_table  # noqa: E402

from mlops_iac.components.serving_runtime import MODELS_DIR, fetch_model_command  # noqa: E402
from mlops_iac.testing.local_servers import (  # noqa: E402
    LOOPBACK,
    free_port,
    mlflow_server,
    pinned_venv,
    stop_process_group,
    venv_environ,
    wait_for_http,
)

MAINTAINED_DAYS = 183
"""Maintained: a release in the last six months."""
FLOOR_SHARE = 0.6
"""Goal: the default serves at least this share of the floor at KEY_LOAD."""
OWN_RUNTIME_FACTOR = 1.5
"""Build our own runtime only if no maintained candidate is within this factor of the floor."""
PACKAGES = ("mlserver", "mlserver-mlflow", "kserve", "bentoml", "mlflow", "scikit-learn",
            "pandas", "numpy", "fastapi", "starlette", "uvicorn", "prometheus-client",
            "httptools", "uvloop")  # fmt: skip


def tree_memory(root: int) -> dict[str, Any]:
    """RSS and PSS (shared pages split between the processes that map them) of `root` and
    every process below it, summed, in MB (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree.update(children)
        frontier = children
    rss = pss = 0
    for pid in tree:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return {"rss_mb": round(rss / 1024), "pss_mb": round(pss / 1024), "processes": len(tree)}


@contextmanager
def serving(command: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[Any]:
    """Start the server on a free port, wait for `health`; yields (port, process)."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
        try:
            wait_for_http(f"http://{LOOPBACK}:{port}{health}", 300, process)
            yield port, process
        finally:
            stop_process_group(process)


def check_answer(port: int, protocol: Protocol, body: bytes, rows: int) -> None:
    """One request, before the load: the server answers `rows` predictions."""
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{port}{protocol.path}", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        got = protocol.predictions(json.load(response))
    if got != rows:
        raise RuntimeError(f"{protocol.path}: {got} predictions for {rows} rows")


def run_loads(port: int, pid: int, protocol: Protocol, frame: Any, requests: int) -> dict[str, Any]:
    results = {}
    for concurrency, rows in LOADS:
        body = protocol.encode(frame.head(rows))
        check_answer(port, protocol, body, rows)
        drive(port, protocol.path, body, min(100, requests), concurrency)  # warm-up
        result = drive(port, protocol.path, body, requests, concurrency)
        results[key(concurrency, rows)] = result | tree_memory(pid)
    return results


def rows_of(frame: Any, count: int) -> Any:
    import pandas as pd

    return pd.concat([frame] * (count // len(frame) + 1), ignore_index=True).head(count)


def seconds_per_predict(predict: Any, batch: Any, budget_s: float) -> float:
    """The median time of `predict(batch)`, over `budget_s` seconds (at least 5 calls)."""
    predict(batch)
    timings: list[float] = []
    while sum(timings) < budget_s or len(timings) < 5:
        start = time.perf_counter()
        predict(batch)
        timings.append(time.perf_counter() - start)
    return sorted(timings)[len(timings) // 2]


def floor(predict: Any, frame: Any, budget_s: float) -> dict[str, Any]:
    """Requests/s per core if each request is `rows` rows and the server joined `concurrency`
    of them into one predict: concurrency / (seconds per predict of concurrency x rows rows)."""
    results = {}
    for concurrency, rows in LOADS:
        seconds = seconds_per_predict(predict, rows_of(frame, concurrency * rows), budget_s)
        results[key(concurrency, rows)] = {
            "batch_rows": concurrency * rows,
            "predict_ms_p50": round(seconds * 1000, 2),
            "rps_per_core": round(concurrency / seconds, 1),
        }
    return results


def venv_versions(bin_dir: Path) -> dict[str, Any]:
    listed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    versions = {
        p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(listed.stdout)
    }
    check = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "check"], capture_output=True, text=True
    )
    return {
        "python": subprocess.run(
            [str(bin_dir / "python"), "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, check=True,
        ).stdout.strip(),
        **{name: versions[name] for name in PACKAGES if name in versions},
        "pip_check": check.stdout.strip() or check.stderr.strip(),
    }  # fmt: skip


def pypi_release(package: str, pinned: str | None, today: datetime.date) -> dict[str, Any]:
    """The latest release of `package` and its date (its first file's upload), and the date
    of the `pinned` one, from the PyPI JSON API."""
    url = f"https://pypi.org/pypi/{package}/json"
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            data = json.load(response)
    except OSError as error:
        return {"error": f"{url}: {error}"}

    def date(version: str) -> str | None:
        files = data["releases"].get(version) or []
        stamps = sorted(f["upload_time_iso_8601"] for f in files)
        return stamps[0][:10] if stamps else None

    latest = data["info"]["version"]
    released = date(latest)
    age = (today - datetime.date.fromisoformat(released)).days if released else None
    return {
        "latest": latest,
        "latest_date": released,
        "days_since_latest": age,
        "maintained": age is not None and age <= MAINTAINED_DAYS,
        "benchmarked": pinned,
        "benchmarked_date": date(pinned) if pinned else None,
    }


def run_candidate(
    candidate: Candidate, bin_dir: Path, ctx: Context, frame: Any, requests: int
) -> dict[str, dict[str, Any]]:
    command, env, health = candidate.launch(ctx, bin_dir)
    rows: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    log = ctx.tmp / f"{candidate.name}.log"
    with serving(command, env, health, log) as (port, process):
        ready_s = round(time.monotonic() - started, 1)
        idle = tree_memory(process.pid)
        for protocol in candidate.protocols:
            name = candidate.name
            if len(candidate.protocols) > 1:
                name += "_" + protocol.name.split()[-1].lower()
            print(f"{name}: loads", file=sys.stderr, flush=True)
            rows[name] = {
                "candidate": candidate.name,
                "runtime": candidate.runtime,
                "protocol": protocol.name,
                "path": protocol.path,
                "oip_v2": protocol.oip_v2,
                "packages": list(candidate.packages),
                "settings": candidate.settings,
                "command": [
                    c.replace(str(REPO) + "/", "").replace(str(ctx.tmp), "$TMP") for c in command
                ],
                "venv": candidate.venv,
                "seconds_to_ready": ready_s,
                "memory_idle": idle,
                "loads": run_loads(port, process.pid, protocol, frame, requests),
            }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--only", default="", help="comma-separated candidate names (default: every one)"
    )
    parser.add_argument("--offline", action="store_true", help="skip PyPI release dates")
    parser.add_argument(
        "--table",
        type=Path,
        metavar="REPORT",
        help="print docs/benchmarks.md's Serving table from a report this printed, and stop",
    )
    args = parser.parse_args()
    if args.table is not None:
        print(markdown_table(json.loads(args.table.read_text())))
        return
    # MLflow 3.17's telemetry thread sets and pops os.environ while requests iterates it
    # (KeyError '_MLFLOW_TELEMETRY_SESSION_ID' mid-training); off here and in every server.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

    import mlflow
    from mlflow import MlflowClient
    from sklearn.datasets import load_breast_cancer

    from mlops_iac.workloads.train import TrainConfig, train

    cpus = os.cpu_count() or 1
    chosen = [c for c in candidates(cpus) if not args.only or c.name in args.only.split(",")]
    today = datetime.datetime.now(datetime.UTC).date()
    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    report: dict[str, Any] = {
        "date": today.isoformat(),
        "command": " ".join(["python", "benchmarks/serving.py", *sys.argv[1:]]),
        "requests_per_load": args.requests,
        "cpus": cpus,
        "machine": f"{platform.machine()}, {platform.platform(terse=True)}",
        "loadgen": "benchmarks/loadgen.py, keep-alive http.client threads, one process",
    }
    with tempfile.TemporaryDirectory() as tmp, mlflow_server(Path(tmp) / "mlflow") as server:
        os.environ["MLFLOW_TRACKING_URI"] = server.url
        os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
        with contextlib.redirect_stdout(sys.stderr):  # MLflow prints run links
            trained = train(
                TrainConfig(model_name="bench", params={"n_estimators": 100}),
                MlflowClient(server.url),
            )
        model_uri = "models:/bench@champion"
        report["model"] = {
            "estimator": "RandomForestClassifier(100), n_jobs=None",
            "version": trained.version,
            "features": frame.shape[1],
        }
        env = venv_environ(
            MLFLOW_TRACKING_URI=server.url, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true"
        )
        models = Path(tmp) / "models"
        fetch = [p.replace(MODELS_DIR, str(models)) for p in fetch_model_command(model_uri, "-")]
        subprocess.run(fetch, env=env, check=True, stdout=subprocess.DEVNULL)
        estimator = mlflow.sklearn.load_model(str(models / "model"))
        ctx = Context(model_uri, models / "model", env, Path(tmp), cpus)

        pyfunc = mlflow.pyfunc.load_model(str(models / "model"))
        budget = max(1.0, args.requests / 1000)
        report["floor"] = {
            "definition": "requests/s per core if each request is `rows` rows and the server "
            "joined `concurrency` requests into one predict: concurrency / seconds per "
            "in-process predict of concurrency x rows rows (p50). One core: the forest "
            "predicts single-threaded (n_jobs=None).",
            "cores": 1,
            "pyfunc": floor(pyfunc.predict, frame, budget),
            "estimator": floor(estimator.predict, frame, budget),
        }
        del estimator

        results: dict[str, Any] = {}
        venvs: dict[str, Any] = {}
        for candidate in chosen:
            print(f"{candidate.name}: starting", file=sys.stderr, flush=True)
            bin_dir = pinned_venv(candidate.requirements, candidate.venv)
            if candidate.venv not in venvs:
                venvs[candidate.venv] = {
                    "requirements": str(candidate.requirements.relative_to(REPO)),
                    **venv_versions(bin_dir),
                }
            # The floor again just before, on this noisy machine: how much it drifted.
            adjacent = round(8 / seconds_per_predict(pyfunc.predict, frame.head(8), budget), 1)
            for name, row in run_candidate(candidate, bin_dir, ctx, frame, args.requests).items():
                results[name] = row | {f"floor_{KEY_LOAD}_just_before": adjacent}
        report["venvs"] = venvs
        report["candidates"] = results

    report["maintenance"] = {}
    if not args.offline:
        for package in sorted({p for c in chosen for p in c.packages}):
            venv = next(c.venv for c in chosen if package in c.packages)
            pinned = venvs[venv].get(package)
            report["maintenance"][package] = pypi_release(package, pinned, today)
    report |= verdict(report)
    sys.stdout.flush()
    print(json.dumps(report, indent=2))


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """Ratios to the floor at KEY_LOAD, the goal checks against MLServer (the default until
    this benchmark chose the builtin server), whether a runtime of our own is called for (by
    the third-party candidates alone), and the winner by the rule."""
    floor_rps = report["floor"]["pyfunc"][KEY_LOAD]["rps_per_core"]
    rows = report["candidates"]
    maintenance = report["maintenance"]
    default = rows.get("mlserver", {}).get("loads", {}).get(KEY_LOAD)
    table = {}
    for name, row in rows.items():
        load = row["loads"][KEY_LOAD]
        known = [maintenance.get(p, {}).get("maintained") for p in row["packages"]]
        maintained = None if None in known else all(known)
        table[name] = {
            "rps": load["rps"],
            "ratio_to_floor": round(load["rps"] / floor_rps, 2),
            "ratio_to_floor_just_before": round(
                load["rps"] / row[f"floor_{KEY_LOAD}_just_before"], 2
            ),
            "p99_ms": load["p99_ms"],
            "failed_all_loads": sum(lo["failed"] for lo in row["loads"].values()),
            "rss_mb_max": max(lo["rss_mb"] for lo in row["loads"].values()),
            "pss_mb_max": max(lo["pss_mb"] for lo in row["loads"].values()),
            "oip_v2": row["oip_v2"],
            "maintained": maintained,
            f"meets_{FLOOR_SHARE}_of_floor": load["rps"] >= FLOOR_SHARE * floor_rps,
            "beats_default_rps": None if default is None else load["rps"] >= default["rps"],
            "p99_no_worse_than_default": (
                None if default is None else load["p99_ms"] <= default["p99_ms"]
            ),
        }
    threshold = round(floor_rps / OWN_RUNTIME_FACTOR, 1)
    within = [
        n
        for n, t in table.items()
        if not n.startswith("builtin") and t["maintained"] and t["rps"] >= threshold
    ]
    eligible = {n: t for n, t in table.items() if t["maintained"] and t["oip_v2"]}
    winner = max(eligible, key=lambda n: eligible[n]["rps"]) if eligible else None
    return {
        "ratio_to_floor": {n: t["ratio_to_floor"] for n, t in table.items()},
        f"at_{KEY_LOAD}": {"floor_rps_per_core": floor_rps, "candidates": table},
        "own_runtime": {
            "rule": f"build one only if no maintained candidate reaches floor/"
            f"{OWN_RUNTIME_FACTOR} at {KEY_LOAD}",
            "threshold_rps": threshold,
            "maintained_candidates_reaching_it": within,
            "build": not within if maintenance else None,
        },
        "winner": {
            "rule": f"maintained (release in the last {MAINTAINED_DAYS} days), speaks OIP v2, "
            f"best requests/s at {KEY_LOAD}",
            "name": winner,
            "rps": eligible[winner]["rps"] if winner else None,
        },
    }


if __name__ == "__main__":
    main()
