"""Export a training table from a Feast feature service.

The entity rows (join keys, `event_timestamp`, the label) are joined point-in-time with the
service's features from the offline store; the result, the feature columns and the label,
is written as Parquet for the trainer. Runs in the Feast venv (`/opt/feast` in the runtime
image: Feast needs pandas<3, the trainer's venv is past it), as a training pod's init
container:

    /opt/feast/bin/python -m mlops_iac.workloads.feature_export --repo /feast/repo \\
        --service churn --entities s3://datasets/labels.parquet --target churned \\
        --out /features/training.parquet
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any


def read_entities(uri: str) -> Any:
    """The entity rows: a local Parquet file or `s3://` through s3fs, with the object
    store's endpoint from AWS_ENDPOINT_URL_S3 (or MLOPS_FEAST_S3_ENDPOINT)."""
    import pandas as pd

    options = None
    if uri.startswith("s3://"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get(
            "MLOPS_FEAST_S3_ENDPOINT"
        )
        options = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return pd.read_parquet(uri, storage_options=options)


def export(repo: str, service: str, entities_uri: str, target: str, out: str) -> int:
    """Write the joined table to `out`; returns its number of rows."""
    from feast import FeatureStore

    entities = read_entities(entities_uri)
    missing = {target, "event_timestamp"} - set(entities.columns)
    if missing:
        raise ValueError(f"entities {entities_uri!r} lack columns {sorted(missing)}")
    store = FeatureStore(repo_path=repo)
    joined = store.get_historical_features(
        entity_df=entities, features=store.get_feature_service(service)
    ).to_df()
    features = [column for column in joined.columns if column not in entities.columns]
    joined[[*features, target]].to_parquet(out, index=False)
    return len(joined)


def main(argv: Sequence[str] | None = None) -> int:
    """Export once; exit 0, or 1 with the reason on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="the feature repo folder")
    parser.add_argument("--service", required=True, help="the feature service")
    parser.add_argument("--entities", required=True, help="Parquet: keys, event_timestamp, label")
    parser.add_argument("--target", required=True, help="the label column")
    parser.add_argument("--out", required=True, help="Parquet file to write")
    args = parser.parse_args(argv)
    try:
        rows = export(args.repo, args.service, args.entities, args.target, args.out)
    except Exception as error:  # Feast and pandas raise many kinds; the Job needs the reason
        print(f"feature export failed: {error}", file=sys.stderr)
        return 1
    print(f"exported {rows} rows of feature service {args.service!r} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
