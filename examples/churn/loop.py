"""Run the churn loop's workloads for real on this machine and say what happens at each step.

    python loop.py [--workdir DIR]

1. data: the example feature data and churn labels (the cluster gets this table from the
   feature service through Feast; here it is joined with pandas)
2. train: the trainer registers v1 and the gate makes it champion
3. serve: `mlflow models serve` with the champion, behind the inference logger sidecar,
   both started with the commands this stack synthesizes for its endpoint
4. traffic: live requests, first like the training data, then with shifted inputs
5. drift: the drift monitor reads the logged requests and compares them with v1's
   training features
6. retrain: a new version trained on fresh data goes through the gate

Everything listens on 127.0.0.1 and stops at the end.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def say(step: str, text: str) -> None:
    print(f"[{step}] {text}", flush=True)


def churn_table(folder: Path, shift: float = 0.0) -> Path:
    """customer features (newest day) with a `churned` label, as Parquet."""
    import pandas as pd

    spec = importlib.util.spec_from_file_location(
        "gen", HERE.parent / "feature-store" / "generate_data.py"
    )
    assert spec and spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    frame = pd.read_parquet(generate.write(folder, customers=400, days=3))
    newest = frame.sort_values("event_timestamp").groupby("customer_id").tail(1)
    table = newest[["tenure_months", "monthly_charges", "support_calls_30d"]].copy()
    table["monthly_charges"] = table["monthly_charges"].astype("float64") + shift
    import numpy as np

    risky = (table["support_calls_30d"] >= 3) & (table["monthly_charges"] > 45 + shift)
    noise = np.random.default_rng(7).random(len(table)) < 0.05  # some churn is never explained
    table["churned"] = (risky ^ noise).astype(int)
    path = folder / "churn.parquet"
    table.to_parquet(path, index=False)
    return path


def synthesized_pod() -> dict[str, Any]:
    """The churn endpoint's pod as this example's stack synthesizes it (mlflow runtime)."""
    from mlops_iac.program import PulumiProject
    from mlops_iac.testing import synth

    project = PulumiProject.load(HERE)
    config, secret_keys = project.config("dev")
    config["mlops:serving"] = [
        {"name": "churn", "model": "models:/churn@champion", "runtime": "mlflow"}
    ]
    result = synth(
        project.run, project=project.name, stack="dev", config=config, secret_keys=secret_keys
    )
    pod: dict[str, Any] = result.manifest("Deployment", "churn")["spec"]["template"]["spec"]
    return pod


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="churn-loop-"))
    run_loop(workdir)


def run_loop(workdir: Path) -> dict[str, Any]:
    """The whole loop in `workdir`; what happened, step by step."""
    import os

    import pandas as pd

    from mlops_iac.testing.local_servers import (
        free_port,
        mlflow_server,
        stop_process_group,
        venv_environ,
        wait_for_http,
    )
    from mlops_iac.workloads.drift import DriftConfig, run
    from mlops_iac.workloads.train import TrainConfig, train

    outcome: dict[str, Any] = {}
    with mlflow_server(workdir / "mlflow") as server:
        os.environ["MLFLOW_TRACKING_URI"] = server.url
        data = churn_table(workdir / "data")
        say("data", f"{len(pd.read_parquet(data))} customers -> {data}")

        first = train(TrainConfig(model_name="churn", dataset=str(data), target="churned",
                                  params={"n_estimators": 30}, min_metric=0.75))  # fmt: skip
        say("train", f"v{first.version}: {first.reason}")
        outcome["first"] = first

        pod = synthesized_pod()
        containers = {c["name"]: c for c in pod["containers"]}
        server_port, logger_port = free_port(), free_port()
        command = list(containers["model-server"]["command"])
        command[command.index("--host") + 1] = "127.0.0.1"
        command[command.index("--port") + 1] = str(server_port)
        env = {e["name"]: e["value"] for e in containers["model-server"]["env"] if "value" in e}
        env["MLFLOW_TRACKING_URI"] = server.url
        logger = containers["inference-logger"]
        logger_env = {e["name"]: e["value"] for e in logger["env"] if "value" in e}
        logger_env["UPSTREAM"] = f"http://127.0.0.1:{server_port}"
        logger_env["LISTEN_PORT"] = str(logger_port)
        logger_env["LOG_LOCATION"] = str(workdir / "inference")
        logger_env["SAMPLE_RATE"] = "1"
        import subprocess

        processes = [
            subprocess.Popen(command, env=venv_environ(**env), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True),
            subprocess.Popen(logger["command"], env=venv_environ(**logger_env),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True),
        ]  # fmt: skip
        try:
            wait_for_http(f"http://127.0.0.1:{server_port}/health", 180, processes[0])
            wait_for_http(f"http://127.0.0.1:{logger_port}/health", 60, processes[1])
            say(
                "serve",
                f"champion v{first.version} on :{server_port}, inference logger on :{logger_port}",
            )
            live = pd.read_parquet(churn_table(workdir / "live", shift=35.0)).drop(
                columns=["churned"]
            )
            connection = http.client.HTTPConnection("127.0.0.1", logger_port, timeout=30)
            answered = 0
            for start in range(0, len(live), 4):
                body = {
                    "dataframe_split": live.iloc[start : start + 4].to_dict(
                        orient="split", index=False
                    )
                }
                connection.request(
                    "POST", "/invocations", json.dumps(body), {"Content-Type": "application/json"}
                )
                reply = connection.getresponse()
                answered += len(json.loads(reply.read())["predictions"])
            say("traffic", f"{answered} live predictions; monthly charges are up by 35 on average")
        finally:
            for process in processes:
                stop_process_group(process)

        logs = str(workdir / "inference")
        drift = run(DriftConfig(endpoint="churn", model_name="churn", current=logs, threshold=0.2))
        worst = max(drift.features, key=lambda f: f.score)
        verdict = "drift: the CronJob `churn` would be started" if drift.drifted else "no drift"
        say(
            "drift",
            f"{drift.samples} live rows; worst {worst.feature} PSI {worst.psi:.2f} -> {verdict}",
        )
        outcome["drift"] = drift

        fresh = churn_table(workdir / "fresh", shift=35.0)
        second = train(TrainConfig(model_name="churn", dataset=str(fresh), target="churned",
                                   params={"n_estimators": 200}, min_metric=0.75))  # fmt: skip
        say("retrain", f"v{second.version}: {second.reason} -> "
                       f"{'new champion' if second.promoted else 'champion kept'}")  # fmt: skip
        outcome["second"] = second
    return outcome


if __name__ == "__main__":
    sys.exit(main())
