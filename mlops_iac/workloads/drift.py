"""The drift monitor: compare what an endpoint received with what its champion was trained on,
report it, and past the threshold start the training job once.

One run: load the reference (the champion's training features, which the trainer logs as
`reference/train_features.parquet`, or a given dataset URI), load the endpoint's sampled
inference records of the last `window` hours (:mod:`mlops_iac.workloads.inference_log`),
compute per-feature PSI and Kolmogorov-Smirnov (numpy/scipy), log an HTML report with plots
and the scores to MLflow, push the scores to a Prometheus Pushgateway, and when the chosen
score passes the threshold create a Job from the training job's CronJob (not while a run is
active, and not within the cool-down after the last run). Prints one JSON line.

    python -m mlops_iac.workloads.drift --endpoint churn --model-name churn \\
        --current s3://inference-logs/inference --method psi --threshold 0.2 \\
        --retrain-job churn --namespace mlops-training --pushgateway http://...:9091
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import html
import io
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from kubernetes.client import BatchV1Api
    from prometheus_client import CollectorRegistry

Method = Literal["psi", "ks"]
REFERENCE_ARTIFACT = "reference/train_features.parquet"
"""Where the trainer logs a sample of the champion's training features."""
EPSILON = 1e-4
"""Floor for bin proportions, so an empty bin does not make PSI infinite."""
BINS = 10

log = logging.getLogger("mlops_iac.drift")


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift scores."""

    feature: str
    psi: float
    ks_statistic: float | None
    """None for a categorical feature."""
    ks_pvalue: float | None
    score: float
    """The chosen method's score (PSI, or the KS statistic)."""
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """The outcome of one run; printed as one JSON line."""

    endpoint: str
    method: str
    threshold: float
    samples: int
    reference_rows: int
    score: float
    drifted: bool
    features: list[FeatureDrift] = field(default_factory=list)
    retrain: str = "not needed"
    mlflow_run_id: str | None = None


def psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    """Population stability index of a numeric feature, on the reference's quantile bins."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    if len(edges) < 3:  # a constant reference: one bin, compare by value instead
        return categorical_psi(pd.Series(reference), pd.Series(current))
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    return _psi(expected, actual)


def categorical_psi(reference: pd.Series, current: pd.Series) -> float:
    """Population stability index over the categories both samples have."""
    categories = sorted(set(reference.astype(str)) | set(current.astype(str)))
    expected = reference.astype(str).value_counts(normalize=True).reindex(categories, fill_value=0)
    actual = current.astype(str).value_counts(normalize=True).reindex(categories, fill_value=0)
    return _psi(expected.to_numpy(), actual.to_numpy())


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(expected, EPSILON, None)
    actual = np.clip(actual, EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def compare(
    reference: pd.DataFrame, current: pd.DataFrame, method: Method, threshold: float
) -> list[FeatureDrift]:
    """Per-feature drift for the features both tables have (the reference's order)."""
    from scipy.stats import ks_2samp

    results = []
    for feature in [c for c in reference.columns if c in current.columns]:
        ref, cur = reference[feature].dropna(), current[feature].dropna()
        if ref.empty or cur.empty:
            continue
        numeric = pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur)
        if numeric:
            ref_values, cur_values = ref.to_numpy(float), cur.to_numpy(float)
            stability = psi(ref_values, cur_values)
            test = ks_2samp(ref_values, cur_values)
            statistic, pvalue = float(test.statistic), float(test.pvalue)
        else:
            stability, statistic, pvalue = categorical_psi(ref, cur), None, None
        score = stability if method == "psi" or statistic is None else statistic
        results.append(
            FeatureDrift(feature, stability, statistic, pvalue, score, score > threshold)
        )
    return results


def load_reference(model_name: str, alias: str, uri: str | None, target: str | None) -> Any:
    """The reference table: `uri` (minus the `target` column), or the training features the
    champion's run logged."""
    if uri is not None:
        from mlops_iac.workloads.datasets import load_dataset

        frame = load_dataset(uri).frame
        return frame.drop(columns=[target]) if target and target in frame else frame
    import mlflow

    version = mlflow.MlflowClient().get_model_version_by_alias(model_name, alias)
    with tempfile.TemporaryDirectory() as scratch:
        path = mlflow.artifacts.download_artifacts(
            run_id=version.run_id, artifact_path=REFERENCE_ARTIFACT, dst_path=scratch
        )
        return pd.read_parquet(path)


def plot_png(features: list[FeatureDrift], reference: pd.DataFrame, current: pd.DataFrame) -> bytes:
    """One histogram per feature, reference against current, worst drift first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(features, key=lambda f: f.score, reverse=True)[:12]
    columns = 3
    rows = max(1, -(-len(ordered) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_visible(False)
    for axis, drift in zip(axes.flat, ordered, strict=False):
        axis.set_visible(True)
        ref, cur = reference[drift.feature].dropna(), current[drift.feature].dropna()
        if pd.api.types.is_numeric_dtype(ref):
            bins = np.histogram_bin_edges(np.concatenate([ref, cur]).astype(float), 20)
            axis.hist(ref, bins=bins, density=True, alpha=0.5, label="reference (training)")
            axis.hist(cur, bins=bins, density=True, alpha=0.5, label="current (live)")
        else:
            shares = pd.DataFrame(
                {
                    "reference": ref.astype(str).value_counts(normalize=True),
                    "current": cur.astype(str).value_counts(normalize=True),
                }
            ).fillna(0)
            shares.plot.bar(ax=axis)
        flag = "DRIFT " if drift.drifted else ""
        axis.set_title(f"{flag}{drift.feature}: score {drift.score:.3f}", fontsize=9)
        axis.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def report_html(result: DriftResult, png: bytes) -> str:
    """A self-contained HTML report: verdict, per-feature table, the plots inline."""
    rows = "".join(
        f"<tr><td>{html.escape(f.feature)}</td><td>{f.psi:.4f}</td>"
        f"<td>{'' if f.ks_statistic is None else f'{f.ks_statistic:.4f}'}</td>"
        f"<td>{'' if f.ks_pvalue is None else f'{f.ks_pvalue:.3g}'}</td>"
        f"<td>{'yes' if f.drifted else 'no'}</td></tr>"
        for f in sorted(result.features, key=lambda f: f.score, reverse=True)
    )
    verdict = "drift detected" if result.drifted else "no drift"
    image = base64.b64encode(png).decode()
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Drift report: {html.escape(result.endpoint)}</title></head><body>"
        f"<h1>Drift report: {html.escape(result.endpoint)} — {verdict}</h1>"
        f"<p>Method {result.method}, threshold {result.threshold}, max score "
        f"{result.score:.4f}; {result.samples} live rows against {result.reference_rows} "
        f"training rows. Retraining: {html.escape(result.retrain)}.</p>"
        "<table border='1' cellpadding='4'><tr><th>feature</th><th>PSI</th>"
        f"<th>KS statistic</th><th>KS p-value</th><th>drifted</th></tr>{rows}</table>"
        f"<img alt='feature distributions' src='data:image/png;base64,{image}'>"
        "</body></html>"
    )


def metrics(result: DriftResult, now: datetime) -> CollectorRegistry:
    """The scores as Prometheus gauges (pushed to the Pushgateway)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    score = Gauge(
        "mlops_drift_score",
        "Drift score of a feature: PSI, or the KS statistic",
        ["endpoint", "feature", "method"],
        registry=registry,
    )
    for drift in result.features:
        score.labels(result.endpoint, drift.feature, "psi").set(drift.psi)
        if drift.ks_statistic is not None:
            score.labels(result.endpoint, drift.feature, "ks").set(drift.ks_statistic)
    gauges = {
        "mlops_drift_max_score": ("Largest drift score of the chosen method", result.score),
        "mlops_drift_detected": ("1 when a feature passed the threshold", int(result.drifted)),
        "mlops_drift_threshold": ("The configured threshold", result.threshold),
        "mlops_drift_samples": ("Live rows compared", result.samples),
        "mlops_drift_last_run_timestamp_seconds": ("When the monitor ran", now.timestamp()),
    }
    for name, (description, value) in gauges.items():
        Gauge(name, description, ["endpoint"], registry=registry).labels(result.endpoint).set(value)
    return registry


def maybe_retrain(
    batch: BatchV1Api, namespace: str, job: str, cooldown: timedelta, now: datetime
) -> str:
    """Start a run of `job` unless one is active or the last started within `cooldown`."""
    from mlops_iac.runs import RunError, active_runs, last_run_time, list_runs, start_run

    runs = list_runs(batch, namespace, job)
    running = active_runs(runs)
    if running:
        return f"skipped: {job} is running ({', '.join(running)})"
    last = last_run_time(runs)
    if last is not None and now - last < cooldown:
        return f"skipped: cool-down until {(last + cooldown).isoformat()}"
    try:
        return f"started {start_run(batch, namespace, job, now=now)}"
    except RunError as error:
        return f"skipped: {error}"


@dataclass(frozen=True)
class DriftConfig:
    """Command-line settings of one run."""

    endpoint: str
    model_name: str
    current: str
    alias: str = "champion"
    reference: str | None = None
    target: str | None = None
    method: Method = "psi"
    threshold: float = 0.2
    window_hours: float = 24
    min_samples: int = 50
    retrain_job: str | None = None
    namespace: str | None = None
    cooldown_minutes: int = 360
    pushgateway: str | None = None


def run(config: DriftConfig, batch: BatchV1Api | None = None) -> DriftResult:
    """One monitoring run (see the module docstring); `batch` defaults to the in-cluster
    Kubernetes API, built only when retraining is due."""
    from mlops_iac.workloads.inference_log import read_records, records_frame

    now = datetime.now(UTC)
    reference = load_reference(config.model_name, config.alias, config.reference, config.target)
    since = now - timedelta(hours=config.window_hours)
    current = records_frame(read_records(config.current, config.endpoint, since))
    features = compare(reference, current, config.method, config.threshold) if len(current) else []
    enough = len(current) >= config.min_samples
    score = max((f.score for f in features), default=0.0)
    result = DriftResult(
        endpoint=config.endpoint,
        method=config.method,
        threshold=config.threshold,
        samples=len(current),
        reference_rows=len(reference),
        score=score,
        drifted=enough and any(f.drifted for f in features),
        features=features,
        retrain="not needed" if enough else f"too few samples (< {config.min_samples})",
    )
    if result.drifted and config.retrain_job and config.namespace:
        result = dataclasses.replace(
            result,
            retrain=maybe_retrain(
                batch or _in_cluster_batch(),
                config.namespace,
                config.retrain_job,
                timedelta(minutes=config.cooldown_minutes),
                now,
            ),
        )
    result = dataclasses.replace(result, mlflow_run_id=_log_to_mlflow(result, reference, current))
    if config.pushgateway:
        from prometheus_client import push_to_gateway

        push_to_gateway(
            config.pushgateway,
            job="mlops_drift",
            grouping_key={"endpoint": config.endpoint},
            registry=metrics(result, now),
        )
    return result


def _log_to_mlflow(result: DriftResult, reference: pd.DataFrame, current: pd.DataFrame) -> str:
    import mlflow

    mlflow.set_experiment(f"drift-{result.endpoint}")
    with mlflow.start_run(run_name=f"drift-{result.endpoint}") as active:
        mlflow.log_params(
            {"endpoint": result.endpoint, "method": result.method, "threshold": result.threshold}
        )
        mlflow.log_metrics(
            {"max_score": result.score, "samples": result.samples, "drifted": result.drifted}
        )
        for drift in result.features:
            mlflow.log_metric(f"psi_{drift.feature}", drift.psi)
        mlflow.set_tag("mlops.retrain", result.retrain)
        png = plot_png(result.features, reference, current) if result.features else b""
        mlflow.log_text(report_html(result, png), "drift_report.html")
        if png:
            with tempfile.TemporaryDirectory() as scratch:
                path = Path(scratch) / "drift.png"
                path.write_bytes(png)
                mlflow.log_artifact(str(path))
        return str(active.info.run_id)


def _in_cluster_batch() -> BatchV1Api:
    from kubernetes import client, config

    config.load_incluster_config()
    return client.BatchV1Api()


def parse_args(argv: Sequence[str] | None = None) -> DriftConfig:
    """Flags, one per :class:`DriftConfig` field."""
    parser = argparse.ArgumentParser(
        prog="python -m mlops_iac.workloads.drift", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--current", required=True, help="s3://bucket/prefix or a folder")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--reference", help="a dataset URI instead of the champion's")
    parser.add_argument("--target", help="label column to drop from --reference")
    parser.add_argument("--method", choices=["psi", "ks"], default="psi")
    parser.add_argument("--threshold", type=float, default=0.2)
    parser.add_argument("--window-hours", type=float, default=24)
    parser.add_argument("--min-samples", type=int, default=50)
    parser.add_argument("--retrain-job")
    parser.add_argument("--namespace", help="namespace of the training job")
    parser.add_argument("--cooldown-minutes", type=int, default=360)
    parser.add_argument("--pushgateway", help="host:port of a Prometheus Pushgateway")
    return DriftConfig(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run once and print the result as one JSON line; exit 0, or 1 on failure."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = parse_args(argv)
    try:
        result = run(config)
    except Exception as error:  # reference, logs, MLflow, the API: the Job needs the reason
        log.exception("drift monitoring of %s failed", config.endpoint)
        print(json.dumps({"endpoint": config.endpoint, "error": str(error)}))
        return 1
    print(json.dumps(asdict(result), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
