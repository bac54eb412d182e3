"""The trainer: fit a scikit-learn estimator, log it to MLflow, promote it only through a gate.

One run does, in order: load the dataset (:mod:`mlops_iac.workloads.datasets`), split a
holdout with a fixed seed, fit the estimator named by import path, score the holdout with a
scikit-learn scorer, log params, metrics, signature, input example and the dataset to MLflow,
register a new model version with alias ``challenger``, then move alias ``champion`` to it
only if (1) the score reaches ``min_metric`` and (2) it beats the current champion scored on
the same holdout.

Run as ``python -m mlops_iac.workloads.train --model-name churn --dataset s3://b/churn.parquet
--target churned``; it prints one JSON line with the decision and exits with one of the
``EXIT_*`` codes below, so a Job can tell "failed" from "trained but not promoted".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError

from mlops_iac.spec.training import TrainerSettings
from mlops_iac.workloads.estimators import resolve_estimator
from mlops_iac.workloads.exit_codes import (
    EXIT_FAILED,
    EXIT_INVALID_CONFIG,
    EXIT_NOT_PROMOTED,
    EXIT_PROMOTED,
)

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from mlops_iac.workloads.datasets import Dataset

PUSHGATEWAY_ENV = "PUSHGATEWAY_URL"
"""When set (host:port), the run's outcome is pushed there as Prometheus metrics."""
CHAMPION = "champion"
CHALLENGER = "challenger"
METRIC_TAG = "mlops.holdout_metric"
SCORE_TAG = "mlops.holdout_score"
DIGEST_TAG = "mlops.dataset_digest"

log = logging.getLogger("mlops_iac.trainer")


class TrainConfig(TrainerSettings):
    """What to train and how to judge it: the training job spec's trainer settings, plus
    the names that the job spec derives (`model_name`, `experiment`)."""

    model_name: str = Field(
        min_length=1,
        max_length=256,
        description="Registered model name in MLflow (and the experiment unless `experiment`).",
    )
    dataset: str = Field(
        default="sklearn://breast_cancer",
        description="Dataset URI: `sklearn://NAME`, a local CSV/Parquet path, `file://` or "
        "`s3://`.",
    )
    experiment: str | None = Field(
        default=None, description="MLflow experiment; defaults to `model_name`."
    )


@dataclass(frozen=True)
class TrainResult:
    """The outcome of one run; printed as one JSON line."""

    model_name: str
    version: str
    run_id: str
    metric: str
    score: float
    champion_version: str | None
    champion_score: float | None
    promoted: bool
    reason: str

    def to_json(self) -> str:
        """One line of JSON with every field."""
        return json.dumps(asdict(self), sort_keys=True)


def train(config: TrainConfig, client: MlflowClient | None = None) -> TrainResult:
    """Run the whole loop once against the tracking server in MLFLOW_TRACKING_URI."""
    import mlflow
    from sklearn.metrics import get_scorer

    from mlops_iac.workloads.datasets import load_dataset

    client = client or mlflow.MlflowClient()
    dataset = load_dataset(config.dataset)
    features, labels = _split_columns(dataset.frame, config.target, config.dataset)
    x_train, x_holdout, y_train, y_holdout = _holdout_split(features, labels, config)
    scorer = get_scorer(config.metric)

    mlflow.set_experiment(config.experiment or config.model_name)
    with mlflow.start_run() as run:
        mlflow.log_params({**config.params, "estimator": config.estimator})
        mlflow.log_params({"holdout_fraction": config.holdout_fraction, "seed": config.seed})
        model = _fit(config, x_train, y_train)
        score = float(scorer(model, x_holdout, y_holdout))
        mlflow.log_metric(f"holdout_{config.metric}", score)
        mlflow.log_input(_mlflow_dataset(dataset, config.target), context="training")
        mlflow.set_tag(DIGEST_TAG, dataset.digest)
        version = _log_and_register(model, config, x_train)

    tags = {METRIC_TAG: config.metric, SCORE_TAG: repr(score), DIGEST_TAG: dataset.digest}
    for key, value in tags.items():
        client.set_model_version_tag(config.model_name, version, key, value)
    client.set_registered_model_alias(config.model_name, CHALLENGER, version)

    champion_version, champion_score = _score_champion(client, config, scorer, x_holdout, y_holdout)
    promoted, reason = _gate(config, score, champion_version, champion_score)
    if promoted:
        client.set_registered_model_alias(config.model_name, CHAMPION, version)
    client.set_model_version_tag(config.model_name, version, "mlops.promoted", str(promoted))
    return TrainResult(
        model_name=config.model_name,
        version=version,
        run_id=run.info.run_id,
        metric=config.metric,
        score=score,
        champion_version=champion_version,
        champion_score=champion_score,
        promoted=promoted,
        reason=reason,
    )


def _split_columns(frame: pd.DataFrame, target: str, uri: str) -> tuple[pd.DataFrame, pd.Series]:
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise ValueError(f"target column {target!r} is not in dataset {uri!r}; columns: {columns}")
    return frame.drop(columns=[target]), frame[target]


def _holdout_split(
    features: pd.DataFrame, labels: pd.Series, config: TrainConfig
) -> tuple[Any, Any, Any, Any]:
    from sklearn.base import is_classifier
    from sklearn.model_selection import train_test_split

    classifier = is_classifier(resolve_estimator(config.estimator)())
    stratify = labels if classifier and labels.value_counts().min() >= 2 else None
    return tuple(
        train_test_split(
            features,
            labels,
            test_size=config.holdout_fraction,
            random_state=config.seed,
            stratify=stratify,
        )
    )


def _mlflow_dataset(dataset: Dataset, target: str) -> Any:
    """The dataset as MLflow records it; bundled ones have no source MLflow can resolve."""
    import mlflow

    source = None if dataset.source.startswith("sklearn://") else dataset.source
    name = dataset.source.rstrip("/").rsplit("/", 1)[-1]
    return mlflow.data.from_pandas(
        dataset.frame, source=source, targets=target, name=name, digest=dataset.digest[:16]
    )


def _fit(config: TrainConfig, x_train: Any, y_train: Any) -> Any:
    estimator_class = resolve_estimator(config.estimator)
    params = dict(config.params)
    if "random_state" in estimator_class().get_params() and "random_state" not in params:
        params["random_state"] = config.seed
    return estimator_class(**params).fit(x_train, y_train)


def _log_and_register(model: Any, config: TrainConfig, x_train: pd.DataFrame) -> str:
    import mlflow
    import pandas
    import sklearn
    import skops.io
    from mlflow.models import infer_signature

    example = x_train.head(5)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        # MLflow saves with skops, which refuses to load types it does not know (e.g. the
        # trees of a forest) unless the model lists them; this model was built right here.
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        # Inferred requirements would pick up whatever the trainer's environment holds.
        pip_requirements=[
            f"mlflow=={mlflow.__version__}",
            f"scikit-learn=={sklearn.__version__}",
            f"pandas=={pandas.__version__}",
        ],
        registered_model_name=config.model_name,
    )
    _log_reference(x_train, config.seed)
    if info.registered_model_version is None:
        raise RuntimeError(f"MLflow did not register a version of {config.model_name!r}")
    return str(info.registered_model_version)


def _log_reference(x_train: pd.DataFrame, seed: int, rows: int = 5000) -> None:
    """A sample of the training features, as the drift monitor's reference for this version."""
    import tempfile

    import mlflow

    sample = x_train.sample(min(rows, len(x_train)), random_state=seed)
    with tempfile.TemporaryDirectory() as scratch:
        path = f"{scratch}/train_features.parquet"
        sample.to_parquet(path, index=False)
        mlflow.log_artifact(path, artifact_path="reference")


def _score_champion(
    client: MlflowClient, config: TrainConfig, scorer: Any, x_holdout: Any, y_holdout: Any
) -> tuple[str | None, float | None]:
    """The current champion's version and its score on this run's holdout.

    If the champion cannot be scored here (another flavor, other features), its recorded
    holdout score of the same metric stands in, and failing that it does not count.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        champion = client.get_model_version_by_alias(config.model_name, CHAMPION)
    except MlflowException:
        return None, None
    try:
        with _registry_models_trusted():
            model = mlflow.sklearn.load_model(f"models:/{config.model_name}@{CHAMPION}")
        return champion.version, float(scorer(model, x_holdout, y_holdout))
    except Exception as error:  # the champion may be anything a user registered
        log.warning("champion v%s cannot be scored on this holdout: %s", champion.version, error)
    if champion.tags.get(METRIC_TAG) == config.metric and SCORE_TAG in champion.tags:
        return champion.version, float(champion.tags[SCORE_TAG])
    return champion.version, None


@contextmanager
def _registry_models_trusted() -> Iterator[None]:
    """Let MLflow deserialize a model while inside this block.

    MLflow 3.17 refuses to load any scikit-learn model (skops included) unless
    MLFLOW_ALLOW_PICKLE_DESERIALIZATION is true. The trainer loads only the champion of the
    stack's own registry, which trainers like this one wrote.
    """
    variable = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
    previous = os.environ.get(variable)
    os.environ[variable] = "true"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[variable]
        else:
            os.environ[variable] = previous


def _gate(
    config: TrainConfig, score: float, champion_version: str | None, champion_score: float | None
) -> tuple[bool, str]:
    metric = config.metric
    if config.min_metric is not None and score < config.min_metric:
        return False, f"{metric} {score:.4f} is below min_metric {config.min_metric:.4f}"
    if champion_version is None:
        return True, f"first champion ({metric} {score:.4f})"
    if champion_score is None:
        return True, f"champion v{champion_version} has no comparable {metric}; replaced"
    if score > champion_score:
        return True, (
            f"{metric} {score:.4f} beats champion v{champion_version} ({champion_score:.4f})"
        )
    return False, (
        f"{metric} {score:.4f} does not beat champion v{champion_version} ({champion_score:.4f})"
    )


def push_metrics(result: TrainResult, gateway: str) -> None:
    """The run's outcome as Prometheus gauges on the Pushgateway (for the training
    dashboard); a Pushgateway that is down costs a warning, not the run."""
    import time

    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    registry = CollectorRegistry()
    model = result.model_name
    values = {
        "mlops_training_last_run_timestamp_seconds": ("When the run finished", time.time()),
        "mlops_training_promoted": ("1 when the run became champion", int(result.promoted)),
        "mlops_training_version": ("Registered version of the run", float(result.version)),
    }
    for name, (description, value) in values.items():
        Gauge(name, description, ["model"], registry=registry).labels(model).set(value)
    score = Gauge(
        "mlops_training_holdout_score", "Holdout score", ["model", "metric"], registry=registry
    )
    score.labels(model, result.metric).set(result.score)
    try:
        push_to_gateway(
            gateway, job="mlops_training", grouping_key={"model": model}, registry=registry
        )
    except OSError as error:
        log.warning("could not push metrics to %s: %s", gateway, error)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags; each maps to a :class:`TrainConfig` field."""
    parser = argparse.ArgumentParser(
        prog="python -m mlops_iac.workloads.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--dataset")
    parser.add_argument("--target")
    parser.add_argument("--estimator")
    parser.add_argument(
        "--params", type=json.loads, help='estimator params as JSON, e.g. {"n_estimators": 200}'
    )
    parser.add_argument("--metric")
    parser.add_argument("--min-metric", type=float)
    parser.add_argument("--holdout-fraction", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--experiment")
    parser.add_argument("--tracking-uri", help="defaults to MLFLOW_TRACKING_URI")
    parser.add_argument(
        "--succeed-when-not-promoted",
        action="store_true",
        help=f"exit {EXIT_PROMOTED} instead of {EXIT_NOT_PROMOTED} when the gate keeps the "
        "champion (in a Kubernetes Job a non-zero exit is a failure that is retried)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Train once; print the result as one JSON line; return an ``EXIT_*`` code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    options = ("tracking_uri", "succeed_when_not_promoted")
    fields = {k: v for k, v in vars(args).items() if v is not None and k not in options}
    try:
        config = TrainConfig.model_validate(fields)
    except ValidationError as error:
        for issue in error.errors():
            field = ".".join(str(part) for part in issue["loc"])
            print(f"invalid {field}: {issue['msg']}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    if args.tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    try:
        result = train(config)
    except Exception as error:
        log.exception("training %s failed", config.model_name)
        print(json.dumps({"model_name": config.model_name, "error": str(error)}))
        return EXIT_FAILED
    print(result.to_json(), flush=True)
    if os.environ.get(PUSHGATEWAY_ENV):
        push_metrics(result, os.environ[PUSHGATEWAY_ENV])
    if result.promoted or args.succeed_when_not_promoted:
        return EXIT_PROMOTED
    return EXIT_NOT_PROMOTED


if __name__ == "__main__":
    sys.exit(main())
