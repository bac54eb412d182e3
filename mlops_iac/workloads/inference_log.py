"""Sampled inference records: how the inference logger writes them and how the drift
monitor reads them back as a table of model inputs.

A record is one JSON line: `{"time": ISO-8601, "endpoint": ..., "role": "stable"|
"challenger", "path": ..., "request": <body>, "response": <body>}`. Lines are batched into
objects `<prefix>/<endpoint>/<YYYY-MM-DD>/<HHMMSS>-<id>.jsonl` on the object store (or files
under a local folder). Request bodies are decoded from the Open Inference Protocol (MLServer:
`inputs`, one per column) or MLflow's scoring protocol (`dataframe_split`,
`dataframe_records`, `inputs`/`instances` as records).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mlops_iac.workloads.datasets import s3_endpoint_url

if TYPE_CHECKING:
    import pandas as pd


def object_key(prefix: str, endpoint: str, now: datetime, batch_id: str) -> str:
    """Where a batch of records goes: dated folders, so a window lists few of them."""
    moment = now.astimezone(UTC)
    parts = [prefix.strip("/"), endpoint, f"{moment:%Y-%m-%d}", f"{moment:%H%M%S}-{batch_id}.jsonl"]
    return "/".join(part for part in parts if part)


def request_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The input rows of one request body (OIP or MLflow scoring), as column -> value."""
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        return [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]
    if "dataframe_records" in body:
        return list(body["dataframe_records"])
    inputs = body.get("inputs")
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict) and "data" in inputs[0]:
        columns = {item["name"]: _flat(item["data"]) for item in inputs}
        length = min(len(values) for values in columns.values())
        return [{name: values[i] for name, values in columns.items()} for i in range(length)]
    records = inputs if inputs is not None else body.get("instances")
    if isinstance(records, list) and all(isinstance(r, dict) for r in records):
        return list(records)
    raise ValueError("request body is neither the Open Inference Protocol nor MLflow's")


def _flat(data: Any) -> list[Any]:
    if isinstance(data, list) and data and isinstance(data[0], list):
        return [value for row in data for value in row]
    return list(data)


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The model inputs of many records as one table; undecodable requests are skipped."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for record in records:
        try:
            rows.extend(request_rows(record["request"]))
        except (ValueError, KeyError, TypeError):
            continue
    return pd.DataFrame(rows)


def read_records(location: str, endpoint: str, since: datetime) -> Iterator[dict[str, Any]]:
    """Records of `endpoint` newer than `since` under `location`: `s3://bucket/prefix` or a
    local folder laid out the same way."""
    parsed = urlparse(location)
    days = _days(since)
    if parsed.scheme == "s3":
        yield from _read_s3(parsed.netloc, parsed.path.strip("/"), endpoint, days, since)
        return
    root = Path(parsed.path if parsed.scheme == "file" else location) / endpoint
    for day in days:
        for file in sorted((root / day).glob("*.jsonl")):
            yield from _parse(file.read_text(), since)


def _days(since: datetime) -> list[str]:
    start = since.astimezone(UTC).date()
    today = datetime.now(UTC).date()
    count = (today - start).days + 1
    return [f"{start + timedelta(days=offset):%Y-%m-%d}" for offset in range(max(count, 1))]


def _parse(text: str, since: datetime) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if datetime.fromisoformat(record["time"]) >= since:
            yield record


def _read_s3(
    bucket: str, prefix: str, endpoint: str, days: list[str], since: datetime
) -> Iterator[dict[str, Any]]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint_url())
    paginator = s3.get_paginator("list_objects_v2")
    for day in days:
        folder = f"{prefix}/{endpoint}/{day}/" if prefix else f"{endpoint}/{day}/"
        for page in paginator.paginate(Bucket=bucket, Prefix=folder):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                yield from _parse(body.decode(), since)
