"""The inference logger: a sidecar in each model-server pod that passes every request through
to the model server and keeps a sample of inference requests and responses for the drift
monitor, flushed in batches to the object store (:mod:`mlops_iac.workloads.inference_log`).

Neither MLServer 1.7 nor `mlflow models serve` can log payloads themselves (KServe's logger
needs Knative's agent), so the Service sends traffic here first. Standard library only: a
threaded HTTP/1.1 server, one keep-alive upstream connection per thread. Settings come from
the environment:

    UPSTREAM        http://127.0.0.1:8080 (the model server in the same pod)
    LISTEN_HOST     0.0.0.0 (the address it accepts on)
    LISTEN_PORT     8090
    ENDPOINT, ROLE  written into each record (ROLE: stable | challenger)
    SAMPLE_RATE     share of inference requests kept, 0..1 (default 0.1)
    LOG_LOCATION    s3://bucket/prefix, or a local folder
    FLUSH_RECORDS   write a batch at this many records (default 200)
    FLUSH_SECONDS   ... or when the oldest record is this old (default 60)
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger("mlops_iac.inference_logger")
INFERENCE_PATHS = re.compile(r"^/(v2/models/[^/]+(/versions/[^/]+)?/infer|invocations)$")
"""Requests worth keeping: Open Inference Protocol and MLflow scoring calls."""
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass
class Settings:
    """The logger's settings, from the environment."""

    upstream: str = "http://127.0.0.1:8080"
    listen_host: str = "0.0.0.0"
    listen_port: int = 8090
    endpoint: str = "model"
    role: str = "stable"
    sample_rate: float = 0.1
    location: str = "/tmp/inference-logs"
    flush_records: int = 200
    flush_seconds: float = 60

    @classmethod
    def from_environ(cls) -> Settings:
        env = os.environ
        return cls(
            upstream=env.get("UPSTREAM", cls.upstream),
            listen_host=env.get("LISTEN_HOST", cls.listen_host),
            listen_port=int(env.get("LISTEN_PORT", cls.listen_port)),
            endpoint=env.get("ENDPOINT", cls.endpoint),
            role=env.get("ROLE", cls.role),
            sample_rate=float(env.get("SAMPLE_RATE", cls.sample_rate)),
            location=env.get("LOG_LOCATION", cls.location),
            flush_records=int(env.get("FLUSH_RECORDS", cls.flush_records)),
            flush_seconds=float(env.get("FLUSH_SECONDS", cls.flush_seconds)),
        )


@dataclass
class Batcher:
    """Buffers records; a writer thread stores them as one JSON-lines object per batch, so
    no request waits for the object store."""

    settings: Settings
    records: list[str] = field(default_factory=list)
    oldest: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    full: threading.Event = field(default_factory=threading.Event)
    written: int = 0

    def add(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"))
        with self.lock:
            if not self.records:
                self.oldest = time.monotonic()
            self.records.append(line)
            if len(self.records) >= self.settings.flush_records:
                self.full.set()

    def due(self) -> bool:
        with self.lock:
            return bool(self.records) and (
                time.monotonic() - self.oldest >= self.settings.flush_seconds
            )

    def write_until(self, stop: threading.Event) -> None:
        """The writer thread: flush when a batch is full or old enough, until `stop`."""
        while not stop.is_set():
            self.full.wait(timeout=1.0)
            if self.full.is_set() or self.due():
                self.full.clear()
                self.flush()

    def flush(self) -> None:
        with self.lock:
            lines, self.records = self.records, []
        if not lines:
            return
        from mlops_iac.workloads.inference_log import object_key

        parsed = urlparse(self.settings.location)
        key = object_key(
            parsed.path if parsed.scheme == "s3" else "",
            self.settings.endpoint,
            datetime.now(UTC),
            uuid.uuid4().hex[:12],
        )
        body = ("\n".join(lines) + "\n").encode()
        try:
            if parsed.scheme == "s3":
                _put_s3(parsed.netloc, key, body)
            else:
                path = Path(self.settings.location) / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
            self.written += len(lines)
        except Exception:  # the object store may be down: serving must go on
            log.exception("dropped a batch of %d inference records", len(lines))


def _put_s3(bucket: str, key: str, body: bytes) -> None:
    import boto3

    from mlops_iac.workloads.datasets import s3_endpoint_url

    boto3.client("s3", endpoint_url=s3_endpoint_url()).put_object(
        Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson"
    )


def make_handler(settings: Settings, batcher: Batcher) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to these settings."""
    upstream = urlparse(settings.upstream)
    local = threading.local()

    def connection(fresh: bool = False) -> http.client.HTTPConnection:
        if fresh or getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection(
                upstream.hostname or "127.0.0.1", upstream.port or 80, timeout=60
            )
        conn: http.client.HTTPConnection = local.connection
        return conn

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave as one segment: with Nagle's algorithm on, a keep-alive
        # client's delayed ACK would stall every response ~40 ms.
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            try:
                response, payload = _send(connection(), self.command, self.path, body, headers)
            except (OSError, http.client.HTTPException):
                response, payload = _send(
                    connection(fresh=True), self.command, self.path, body, headers
                )
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if (
                body
                and response.status < 300
                and INFERENCE_PATHS.match(self.path.split("?")[0])
                and random.random() < settings.sample_rate
            ):
                batcher.add(_record(settings, self.path, body, payload))

        do_GET = do_POST = do_PUT = do_DELETE = _forward

    return Handler


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response, response.read()


def _record(settings: Settings, path: str, request: bytes, response: bytes) -> dict[str, Any]:
    def decoded(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            return None

    return {
        "time": datetime.now(UTC).isoformat(),
        "endpoint": settings.endpoint,
        "role": settings.role,
        "path": path,
        "request": decoded(request),
        "response": decoded(response),
    }


def serve(settings: Settings, ready: threading.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or `shutdown()` on the server); flush on the way out."""
    batcher = Batcher(settings)
    server = ThreadingHTTPServer(
        (settings.listen_host, settings.listen_port), make_handler(settings, batcher)
    )
    server.daemon_threads = True
    stop = threading.Event()
    writer = threading.Thread(target=batcher.write_until, args=(stop,), daemon=True)
    writer.start()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: threading.Thread(target=server.shutdown).start())
    if ready is not None:
        ready.set()
    try:
        server.serve_forever()
    finally:
        stop.set()
        writer.join(timeout=30)
        batcher.flush()
        server.server_close()


def main() -> None:
    """Run with settings from the environment."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_environ()
    log.info(
        "logging %.0f%% of %s inference requests to %s",
        settings.sample_rate * 100,
        settings.endpoint,
        settings.location,
    )
    serve(settings)


if __name__ == "__main__":
    main()
