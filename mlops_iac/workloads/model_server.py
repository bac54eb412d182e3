"""The stack's model server (runtime `builtin`, the default): one MLflow pyfunc over the Open
Inference Protocol v2 (REST), with adaptive batching and Prometheus metrics, on Starlette and
uvicorn. It needs nothing the runtime image's /opt/runtime venv does not already pin (mlflow,
starlette, uvicorn, prometheus_client, pandas, numpy). benchmarks/serving.py chose it.

    MODEL_DIR=/models/model MODEL_NAME=churn python -m mlops_iac.workloads.model_server \
        [--host 0.0.0.0] [--port 8080] [--metrics-port 8082] [--workers 1]

Settings in env: MODEL_DIR (the model as the fetch-model init container downloaded it),
MODEL_NAME (the endpoint's name, in the URL paths), MAX_BATCH_SIZE (32) and MAX_BATCH_TIME
(0.005 s). The registered model version, from the `registered-model.json` the init container
writes beside the model's files, labels every metric (`model_version`) and is the model's
`versions` in its v2 metadata and the `model_version` of every inference response.

Batching: one predict at a time per worker. The next batch takes every request queued (up to
MAX_BATCH_SIZE), and waits, at most MAX_BATCH_TIME seconds, for as many as were in the server
at once during the last batch (the load's concurrency): at concurrency 1 nothing waits; at
concurrency 8 the clients the last predict answered are back within a millisecond or two and
all 8 share the next one (taking only those queued meanwhile splits them into two alternating
halves).

Routes: POST /v2/models/NAME/infer (also /versions/V/infer); GET /v2, /v2/health/live,
/v2/health/ready, /v2/models/NAME and /v2/models/NAME/ready. Inputs: one per column (shape
[n]), or one [n, k] input with the signature's k columns in order; `parameters.content_type`
is accepted and ignored. Output: `predict`, one value per row. Metrics are on their own port
(`--metrics-port`), so a route to the model never exposes them; with several workers, one
view of all (prometheus_client's multiprocess mode, in a folder under /tmp).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlops_iac.workloads.model_fetch import REGISTERED_MODEL_FILE

DATATYPES = {
    "FP64": np.float64, "FP32": np.float32, "FP16": np.float16,
    "INT64": np.int64, "INT32": np.int32, "INT16": np.int16, "INT8": np.int8,
    "UINT64": np.uint64, "UINT32": np.uint32, "UINT16": np.uint16, "UINT8": np.uint8,
    "BOOL": np.bool_, "BYTES": np.object_,
}  # fmt: skip
OIP_TYPES = {
    "double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32",
    "boolean": "BOOL", "string": "BYTES", "binary": "BYTES",
}  # fmt: skip
"""MLflow signature types as v2 datatypes (model metadata)."""
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class Metrics:
    """The server's Prometheus metrics, each labelled `model` and `model_version`."""

    requests: Counter
    request_seconds: Histogram
    predict_seconds: Histogram
    batch_requests: Histogram


@functools.cache
def metrics() -> Metrics:
    """Registered once per process, on first use (not at import: `python -m` imports this
    file twice, as __main__ and as the app's module)."""
    labels = ["model", "model_version"]
    return Metrics(
        Counter(
            "inference_requests",
            "Inference requests answered, by HTTP status",
            [*labels, "code"],
        ),
        Histogram(
            "inference_request_duration_seconds",
            "Time from a request's arrival to its answer (queueing, batching, predict, encoding)",
            labels,
            buckets=LATENCY_BUCKETS,
        ),
        Histogram(
            "inference_predict_duration_seconds",
            "Time of one batched pyfunc predict",
            labels,
            buckets=LATENCY_BUCKETS,
        ),
        Histogram(
            "inference_batch_requests",
            "Requests answered by one predict",
            labels,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
        ),
    )


ANSWERED_CODES = ("200", "400", "500")
"""The status codes `infer` answers with."""


class BadRequest(ValueError):
    """The request is not a v2 inference request this model takes (HTTP 400)."""


def decode(body: bytes, columns: list[str]) -> tuple[dict[str, np.ndarray], int]:
    """A v2 inference request's inputs as one array per model column, and its row count."""
    try:
        request = json.loads(body)
        inputs = request["inputs"]
        arrays = {}
        for tensor in inputs:
            dtype = DATATYPES[tensor["datatype"]]
            arrays[tensor["name"]] = np.asarray(tensor["data"], dtype=dtype).reshape(
                tensor["shape"]
            )
    except (ValueError, KeyError, TypeError) as error:
        raise BadRequest(f"not a v2 inference request: {error!r}") from error
    if len(arrays) == 1 and len(columns) > 1:
        (matrix,) = arrays.values()
        if matrix.ndim != 2 or matrix.shape[1] != len(columns):
            raise BadRequest(f"one input must have shape [n, {len(columns)}]")
        arrays = {name: matrix[:, i] for i, name in enumerate(columns)}
    missing = [c for c in columns if c not in arrays]
    if missing:
        raise BadRequest(f"missing inputs: {missing}")
    arrays = {c: arrays[c].reshape(-1) for c in columns}
    rows = {len(a) for a in arrays.values()}
    if len(rows) != 1:
        raise BadRequest(f"inputs differ in length: {sorted(rows)}")
    return arrays, rows.pop()


def datatype(values: np.ndarray) -> str:
    """The v2 datatype of a result array."""
    for name, dtype in DATATYPES.items():
        if values.dtype == dtype:
            return name
    return "BYTES"


@dataclass
class Job:
    """One request's rows, waiting for its share of a batched predict."""

    arrays: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future[np.ndarray]


@dataclass
class Batcher:
    """Joins concurrent requests into one predict (see the module docstring)."""

    model: Any
    labels: tuple[str, str]
    """(model, model_version) for the metrics."""
    columns: list[str]
    max_batch_size: int
    max_batch_time: float
    queue: asyncio.Queue[Job] = field(default_factory=asyncio.Queue)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))
    task: asyncio.Task[None] | None = None
    in_server: int = 0
    """Requests received and not yet answered."""
    peak: int = 1
    """The most `in_server` reached since the last batch was formed."""

    async def predict(self, arrays: dict[str, np.ndarray], rows: int) -> np.ndarray:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())
        job = Job(arrays, rows, asyncio.get_running_loop().create_future())
        self.in_server += 1
        self.peak = max(self.peak, self.in_server)
        self.queue.put_nowait(job)
        try:
            return await job.future
        finally:
            self.in_server -= 1

    async def next_batch(self) -> list[Job]:
        batch = [await self.queue.get()]
        expected = min(self.max_batch_size, self.peak)
        deadline = time.monotonic() + self.max_batch_time
        while len(batch) < self.max_batch_size:
            if not self.queue.empty():
                batch.append(self.queue.get_nowait())
                continue
            left = deadline - time.monotonic()
            if len(batch) >= expected or left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), left))
            except TimeoutError:
                break
        self.peak = self.in_server
        return batch

    def call(self, batch: list[Job]) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame(
            {c: np.concatenate([job.arrays[c] for job in batch]) for c in self.columns}
        )
        started = time.perf_counter()
        result = np.asarray(self.model.predict(frame))
        metrics().predict_seconds.labels(*self.labels).observe(time.perf_counter() - started)
        return result.reshape(len(frame), -1) if result.ndim > 1 else result

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self.next_batch()
            metrics().batch_requests.labels(*self.labels).observe(len(batch))
            try:
                result = await loop.run_in_executor(self.pool, self.call, batch)
            except Exception as error:
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            start = 0
            for job in batch:
                if not job.future.done():
                    job.future.set_result(result[start : start + job.rows])
                start += job.rows


def registered_version(model_dir: str) -> str:
    """The registry version of the model in `model_dir`, or "" if nobody recorded it."""
    try:
        recorded = json.loads((Path(model_dir) / REGISTERED_MODEL_FILE).read_text())
    except (OSError, ValueError):
        return ""
    return str(recorded.get("version", "")) if isinstance(recorded, dict) else ""


def create_app() -> Starlette:
    """The app for MODEL_DIR's pyfunc, served as MODEL_NAME; batching from MAX_BATCH_SIZE
    and MAX_BATCH_TIME (s)."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    name = os.environ.get("MODEL_NAME", "model")
    model_dir = os.environ.get("MODEL_DIR", "/models/model")
    model = mlflow.pyfunc.load_model(model_dir)
    version = registered_version(model_dir)
    schema = model.metadata.get_input_schema()
    columns = schema.input_names()
    batcher = Batcher(
        model,
        (name, version),
        columns,
        int(os.environ.get("MAX_BATCH_SIZE", "32")),
        float(os.environ.get("MAX_BATCH_TIME", "0.005")),
    )
    metadata = {
        "name": name,
        "versions": [version] if version else [],
        "platform": "mlflow",
        "inputs": [
            {
                "name": c,
                "datatype": OIP_TYPES.get(getattr(t, "name", str(t)), "BYTES"),
                "shape": [-1],
            }
            for c, t in zip(columns, schema.input_types(), strict=True)
        ],
        "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
    }
    for code in ANSWERED_CODES:
        # Every series exists from the start, at 0: `rate()` ignores a series' first sample,
        # so failures before a new series' first scrape would never count (a canary that
        # fails in one burst would pass its rollout analysis).
        metrics().requests.labels(name, version, code)

    def known(request: Request) -> None:
        if request.path_params["model"] != name:
            raise BadRequest(f"no model {request.path_params['model']!r}")

    async def infer(request: Request) -> Response:
        started = time.perf_counter()
        code = 200
        try:
            known(request)
            arrays, rows = decode(await request.body(), columns)
            result = await batcher.predict(arrays, rows)
            answer: Response = Response(
                json.dumps(
                    {
                        "model_name": name,
                        **({"model_version": version} if version else {}),
                        "outputs": [
                            {
                                "name": "predict",
                                "shape": list(result.shape),
                                "datatype": datatype(result),
                                "data": result.reshape(-1).tolist(),
                            }
                        ],
                    }
                ),
                media_type="application/json",
            )
        except BadRequest as error:
            code = 400
            answer = JSONResponse({"error": str(error)}, code)
        except Exception as error:  # the model's: a schema mismatch is the caller's fault
            code = 400 if isinstance(error, MlflowException) else 500
            answer = JSONResponse({"error": f"{type(error).__name__}: {error}"}, code)
        metrics().requests.labels(name, version, str(code)).inc()
        metrics().request_seconds.labels(name, version).observe(time.perf_counter() - started)
        return answer

    async def model_metadata(request: Request) -> Response:
        try:
            known(request)
        except BadRequest as error:
            return JSONResponse({"error": str(error)}, 404)
        return JSONResponse(metadata)

    async def ok(request: Request) -> Response:
        if "model" in request.path_params and request.path_params["model"] != name:
            return JSONResponse({"error": "no such model"}, 404)
        return Response(status_code=200)

    async def server_metadata(request: Request) -> Response:
        return JSONResponse({"name": "mlops-iac-serving", "version": "0", "extensions": []})

    return Starlette(
        routes=[
            Route("/v2/models/{model}/infer", infer, methods=["POST"]),
            Route("/v2/models/{model}/versions/{version}/infer", infer, methods=["POST"]),
            Route("/v2/models/{model}", model_metadata),
            Route("/v2/models/{model}/ready", ok),
            Route("/v2/health/live", ok),
            Route("/v2/health/ready", ok),
            Route("/v2", server_metadata),
        ]
    )


def tcp_nodelay_for_workers() -> None:
    """uvicorn 0.54 with --workers > 1 binds its listener with proto 0, which accepted
    sockets inherit; asyncio then skips TCP_NODELAY (it checks proto == IPPROTO_TCP), and
    every keep-alive response waits ~40 ms for the client's delayed ACK (Kludex/uvicorn#3149,
    open). Re-wrap the bound socket as IPPROTO_TCP before the workers get it."""
    import socket

    from uvicorn.config import Config

    bind = Config.bind_socket

    def bind_socket(self: Config) -> socket.socket:
        sock = bind(self)
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return sock
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())

    Config.bind_socket = bind_socket  # type: ignore[method-assign]


def serve_metrics(host: str, port: int, workers: int) -> None:
    """Prometheus metrics on `port`, from this process (one worker) or, with several, every
    worker's through prometheus_client's multiprocess mode. Call before the workers start:
    they read PROMETHEUS_MULTIPROC_DIR when they import prometheus_client."""
    if workers == 1:
        start_http_server(port, host)
        return
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-")
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, host, registry)


def main(argv: list[str] | None = None) -> None:
    """Serve MODEL_DIR's model until SIGTERM (then finish what is in flight, up to 30 s)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--metrics-port", type=int, default=8082)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.workers > 1:
        tcp_nodelay_for_workers()
    serve_metrics(args.host, args.metrics_port, args.workers)
    uvicorn.run(
        "mlops_iac.workloads.model_server:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
