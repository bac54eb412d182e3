"""A thin model server of our own, the benchmark's `own` candidate: one MLflow pyfunc over the
Open Inference Protocol v2 (REST), adaptive batching, Prometheus metrics, on Starlette and
uvicorn. It needs nothing the runtime image's /opt/runtime venv does not already pin
(mlflow, starlette, uvicorn, prometheus_client, pandas, numpy), so benchmarks/serving.py runs
it there:

    MODEL_DIR=/models/model MODEL_NAME=bench python serving_own.py --port 8080 [--workers 1] \
        [--max-batch-size 32] [--max-batch-time 0.005]

Batching: one predict at a time per worker. The next batch takes every request queued (up to
`--max-batch-size`), and waits, at most `--max-batch-time` seconds, for as many as were in the
server at once during the last batch (the load's concurrency): at concurrency 1 nothing
waits; at concurrency 8 the clients the last predict answered are back within a millisecond
or two and all 8 share the next one (taking only those queued meanwhile splits them into two
alternating halves).

Routes: POST /v2/models/NAME/infer (also /versions/V/infer); GET /v2, /v2/health/live,
/v2/health/ready, /v2/models/NAME, /v2/models/NAME/ready and /metrics. Inputs: one per
column (shape [n]), or one [n, k] input with the signature's k columns in order;
`parameters.content_type` is accepted and ignored. Output: `predict`, one value per row.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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
    requests: Counter
    request_seconds: Histogram
    predict_seconds: Histogram
    batch_requests: Histogram


@functools.cache
def metrics() -> Metrics:
    """Registered once per process, on first use (not at import: `python serving_own.py`
    imports this file twice, as __main__ and as the app's module)."""
    return Metrics(
        Counter(
            "inference_requests", "Inference requests answered, by HTTP status", ["model", "code"]
        ),
        Histogram(
            "inference_request_duration_seconds",
            "Time from a request's arrival to its answer (queueing, batching, predict, encoding)",
            ["model"],
            buckets=LATENCY_BUCKETS,
        ),
        Histogram(
            "inference_predict_duration_seconds",
            "Time of one batched pyfunc predict",
            ["model"],
            buckets=LATENCY_BUCKETS,
        ),
        Histogram(
            "inference_batch_requests",
            "Requests answered by one predict",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
        ),
    )


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
    for name, dtype in DATATYPES.items():
        if values.dtype == dtype:
            return name
    return "BYTES"


@dataclass
class Job:
    arrays: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future[np.ndarray]


@dataclass
class Batcher:
    """Joins concurrent requests into one predict (see the module docstring)."""

    model: Any
    name: str
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
        metrics().predict_seconds.labels(self.name).observe(time.perf_counter() - started)
        return result.reshape(len(frame), -1) if result.ndim > 1 else result

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self.next_batch()
            metrics().batch_requests.labels(self.name).observe(len(batch))
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


def create_app() -> Starlette:
    """The app for MODEL_DIR's pyfunc, served as MODEL_NAME; batching from MAX_BATCH_SIZE
    and MAX_BATCH_TIME (s)."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    name = os.environ.get("MODEL_NAME", "model")
    model = mlflow.pyfunc.load_model(os.environ.get("MODEL_DIR", "/models/model"))
    schema = model.metadata.get_input_schema()
    columns = schema.input_names()
    batcher = Batcher(
        model,
        name,
        columns,
        int(os.environ.get("MAX_BATCH_SIZE", "32")),
        float(os.environ.get("MAX_BATCH_TIME", "0.005")),
    )
    metadata = {
        "name": name,
        "versions": [],
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
    metrics()
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # several workers: one view of all
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)

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
        metrics().requests.labels(name, str(code)).inc()
        metrics().request_seconds.labels(name).observe(time.perf_counter() - started)
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

    async def exposition(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/v2/models/{model}/infer", infer, methods=["POST"]),
            Route("/v2/models/{model}/versions/{version}/infer", infer, methods=["POST"]),
            Route("/v2/models/{model}", model_metadata),
            Route("/v2/models/{model}/ready", ok),
            Route("/v2/health/live", ok),
            Route("/v2/health/ready", ok),
            Route("/v2", server_metadata),
            Route("/metrics", exposition),
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


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-batch-size", type=int)
    parser.add_argument("--max-batch-time", type=float, help="seconds")
    args = parser.parse_args()
    if args.max_batch_size is not None:
        os.environ["MAX_BATCH_SIZE"] = str(args.max_batch_size)
    if args.max_batch_time is not None:
        os.environ["MAX_BATCH_TIME"] = str(args.max_batch_time)
    if args.workers > 1:
        tcp_nodelay_for_workers()
    uvicorn.run(
        "serving_own:create_app",
        factory=True,
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
