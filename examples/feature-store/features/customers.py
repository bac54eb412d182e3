"""Customer features for churn: one entity, one feature view over a Parquet file, and the
feature service that training and serving read.

Where the Parquet files live comes from the environment, so the same definitions work on a
laptop (a folder) and in the stack (the object store, `s3://<bucket>`): the FeatureStore
component sets MLOPS_FEAST_DATA and MLOPS_FEAST_S3_ENDPOINT for `feast apply`,
materialization and the feature server.
"""

import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float32, Int64

DATA = os.environ.get("MLOPS_FEAST_DATA", "data")
S3_ENDPOINT = os.environ.get("MLOPS_FEAST_S3_ENDPOINT") or None

# The join key's type is declared, so `feast apply` needs no data (a new stack has none).
customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A customer.",
)

customer_stats_source = FileSource(
    name="customer_stats_source",
    path=f"{DATA}/customer_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    s3_endpoint_override=S3_ENDPOINT,
)

customer_stats = FeatureView(
    name="customer_stats",
    entities=[customer],
    ttl=timedelta(days=7),
    schema=[
        Field(name="tenure_months", dtype=Int64),
        Field(name="monthly_charges", dtype=Float32),
        Field(name="support_calls_30d", dtype=Int64),
    ],
    source=customer_stats_source,
    online=True,
)

churn = FeatureService(name="churn", features=[customer_stats])
