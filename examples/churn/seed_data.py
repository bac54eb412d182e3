"""Put the churn example's data on the stack's object store before its first training: the
customer features (`s3://feast-offline/customer_stats.parquet`, the feature view's source)
and the labelled entity rows the training job joins them to
(`s3://datasets/churn-labels.parquet`).

    kubectl -n mlops port-forward svc/dev-s3 8333 &
    export AWS_ACCESS_KEY_ID=$(kubectl -n mlops get secret dev-s3-credentials \\
        -o jsonpath='{.data.AWS_ACCESS_KEY_ID}' | base64 -d)
    export AWS_SECRET_ACCESS_KEY=$(kubectl -n mlops get secret dev-s3-credentials \\
        -o jsonpath='{.data.AWS_SECRET_ACCESS_KEY}' | base64 -d)
    python seed_data.py --endpoint-url http://127.0.0.1:8333

The labels are synthetic: a customer churned when they called support three times or more
and pay over 45 a month (what the model has to learn). Run it again with other thresholds
(`--min-support-calls 2 --min-monthly-charges 60`) for labels that changed, as after a price
rise (concept drift): a retraining then learns the new rule, and its model beats the
champion on the new labels. Needs boto3, pandas and pyarrow (the `workloads` extra).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FEATURE_BUCKET, LABEL_BUCKET = "feast-offline", "datasets"
LABELS_KEY = "churn-labels.parquet"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "generate_data", HERE.parent / "feature-store" / "generate_data.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed(
    s3: Any,
    customers: int = 400,
    days: int = 3,
    *,
    min_support_calls: int = 3,
    min_monthly_charges: float = 45.0,
) -> dict[str, str]:
    """Upload the features and the labels with the boto3 S3 client `s3`; the URIs written.
    A customer churned when they made at least `min_support_calls` support calls and pay
    over `min_monthly_charges`."""
    import pandas as pd

    generate = _generator()
    with tempfile.TemporaryDirectory() as scratch:
        features = generate.write(Path(scratch), customers=customers, days=days)
        s3.upload_file(str(features), FEATURE_BUCKET, features.name)
    ids = list(range(generate.FIRST_CUSTOMER, generate.FIRST_CUSTOMER + customers))
    newest = [generate.expected_features(customer, days - 1) for customer in ids]
    labels = pd.DataFrame(
        {
            "customer_id": ids,
            # After the newest feature rows (an hour old), so the point-in-time join sees them.
            "event_timestamp": [pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=30)] * len(ids),
            "churned": [
                int(
                    f["support_calls_30d"] >= min_support_calls
                    and f["monthly_charges"] > min_monthly_charges
                )
                for f in newest
            ],
        }
    )
    buffer = io.BytesIO()
    labels.to_parquet(buffer, index=False)
    s3.put_object(Bucket=LABEL_BUCKET, Key=LABELS_KEY, Body=buffer.getvalue())
    return {
        "features": f"s3://{FEATURE_BUCKET}/{features.name}",
        "labels": f"s3://{LABEL_BUCKET}/{LABELS_KEY}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint-url", required=True, help="The object store's S3 API.")
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--min-support-calls", type=int, default=3)
    parser.add_argument("--min-monthly-charges", type=float, default=45.0)
    args = parser.parse_args()
    import boto3

    s3 = boto3.client("s3", endpoint_url=args.endpoint_url, region_name="us-east-1")
    seeded = seed(
        s3,
        args.customers,
        args.days,
        min_support_calls=args.min_support_calls,
        min_monthly_charges=args.min_monthly_charges,
    )
    for what, uri in seeded.items():
        print(f"{what}: {uri}")


if __name__ == "__main__":
    main()
