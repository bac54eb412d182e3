"""Load a training table from a URI: a bundled scikit-learn dataset, a local file or S3.

Supported URIs:

* ``sklearn://NAME``: a dataset that ships inside scikit-learn (no download), one of
  :data:`BUNDLED_DATASETS`; its target column is ``target``.
* ``/path/file.csv``, ``file:///path/file.parquet``: a local CSV or Parquet file.
* ``s3://bucket/key.parquet``: an object read through the S3 API. The endpoint comes from
  ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL`` or ``MLFLOW_S3_ENDPOINT_URL`` (the in-cluster
  object store), else AWS itself; credentials from the usual AWS variables.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mlops_iac.spec.training import BUNDLED_DATASETS

if TYPE_CHECKING:
    import pandas as pd

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class DatasetError(ValueError):
    """The dataset URI is malformed or points at something that cannot be read as a table."""


@dataclass(frozen=True)
class Dataset:
    """A loaded table and where it came from."""

    frame: pd.DataFrame
    """The rows, features and target together."""
    source: str
    """The URI it was loaded from."""
    digest: str
    """sha256 of the raw bytes (files) or of the pandas row hashes (bundled datasets)."""


def load_dataset(uri: str) -> Dataset:
    """Read the table at ``uri`` (see the module docstring for the accepted forms)."""
    parsed = urlparse(uri)
    if parsed.scheme == "sklearn":
        return _load_bundled(parsed.netloc or parsed.path.lstrip("/"), uri)
    if parsed.scheme in ("", "file"):
        path = Path(parsed.path if parsed.scheme == "file" else uri)
        if not path.is_file():
            raise DatasetError(f"dataset {uri!r}: no such file")
        return _from_bytes(path.read_bytes(), path.suffix, uri)
    if parsed.scheme == "s3":
        if not parsed.netloc or not parsed.path.strip("/"):
            raise DatasetError(f"dataset {uri!r}: expected s3://BUCKET/KEY")
        raw = _read_s3(parsed.netloc, parsed.path.lstrip("/"))
        return _from_bytes(raw, Path(parsed.path).suffix, uri)
    raise DatasetError(
        f"dataset {uri!r}: unsupported scheme {parsed.scheme!r}; "
        "allowed: sklearn://NAME, a local path, file://, s3://"
    )


def _load_bundled(name: str, uri: str) -> Dataset:
    import sklearn.datasets

    if name not in BUNDLED_DATASETS:
        raise DatasetError(
            f"dataset {uri!r}: unknown bundled dataset {name!r}; "
            f"allowed: {', '.join(BUNDLED_DATASETS)}"
        )
    loader: Callable[..., Any] = getattr(sklearn.datasets, f"load_{name}")
    import pandas as pd

    frame: pd.DataFrame = loader(as_frame=True).frame
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return Dataset(frame, uri, hashlib.sha256(row_hashes.tobytes()).hexdigest())


def _from_bytes(raw: bytes, suffix: str, uri: str) -> Dataset:
    import pandas as pd

    fmt = FORMATS.get(suffix.lower())
    if fmt is None:
        raise DatasetError(
            f"dataset {uri!r}: unknown file type {suffix!r}; allowed: {', '.join(FORMATS)}"
        )
    buffer = io.BytesIO(raw)
    frame = pd.read_csv(buffer) if fmt == "csv" else pd.read_parquet(buffer)
    return Dataset(frame, uri, hashlib.sha256(raw).hexdigest())


def s3_endpoint_url() -> str | None:
    """The S3 endpoint to use: the first of the variables named in the module docstring."""
    for variable in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"):
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def _read_s3(bucket: str, key: str) -> bytes:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint_url())
    try:
        body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey as error:
        raise DatasetError(f"dataset s3://{bucket}/{key}: no such object") from error
    return body
