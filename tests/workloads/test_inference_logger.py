"""The inference logger sidecar as a process: it passes traffic through unchanged and keeps
the inference requests it samples, in batches the drift monitor reads back."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlops_iac.testing.local_servers import LOOPBACK, S3Server, free_port, wait_for_http
from mlops_iac.workloads.inference_log import read_records, records_frame

pytestmark = pytest.mark.workload


class Upstream(BaseHTTPRequestHandler):
    """Stands in for the model server: echoes the row count, fails on /v2/models/bad/."""

    protocol_version = "HTTP/1.1"
    received: ClassVar[list[bytes]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.answer(200, {"ready": True})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Upstream.received.append(body)
        if "/bad/" in self.path:
            self.answer(500, {"error": "boom"})
            return
        request = json.loads(body)
        rows = len(request["inputs"][0]["data"]) if "inputs" in request else 1
        self.answer(200, {"model_name": "churn", "outputs": [{"name": "p", "data": [1] * rows}]})


@pytest.fixture
def upstream() -> Iterator[str]:
    Upstream.received = []
    server = ThreadingHTTPServer((LOOPBACK, 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{LOOPBACK}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def start_logger(upstream: str, location: str, **env: str) -> tuple[subprocess.Popen[Any], int]:
    port = free_port()
    settings = {
        "UPSTREAM": upstream, "LISTEN_PORT": str(port), "ENDPOINT": "churn",
        "ROLE": "stable", "SAMPLE_RATE": "1", "LOG_LOCATION": location,
        "FLUSH_RECORDS": "5", "FLUSH_SECONDS": "30", **env,
    }  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops_iac.workloads.inference_logger"],
        env={**os.environ, **settings},
    )
    wait_for_http(f"http://{LOOPBACK}:{port}/v2/health/ready", 30, process)
    return process, port


def oip(rows: int) -> bytes:
    data = [float(i) for i in range(rows)]
    return json.dumps(
        {"inputs": [{"name": "mean radius", "shape": [rows, 1], "datatype": "FP64", "data": data}]}
    ).encode()


def post(port: int, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    conn.request("POST", path, body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def stop(process: subprocess.Popen[Any]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def test_traffic_passes_through_and_sampled_requests_are_logged(upstream, tmp_path):
    process, port = start_logger(upstream, str(tmp_path))
    try:
        answers = [post(port, "/v2/models/churn/infer", oip(3)) for _ in range(12)]
        failed = post(port, "/v2/models/bad/infer", oip(1))
    finally:
        stop(process)

    assert answers[0] == (
        200,
        {"model_name": "churn", "outputs": [{"name": "p", "data": [1, 1, 1]}]},
    )
    assert failed == (500, {"error": "boom"})
    assert Upstream.received == [oip(3)] * 12 + [oip(1)]
    records = list(read_records(str(tmp_path), "churn", datetime.now(UTC) - timedelta(hours=1)))
    assert len(records) == 12  # the failed request is not kept
    assert {r["role"] for r in records} == {"stable"}
    assert records[0]["response"]["outputs"][0]["data"] == [1, 1, 1]
    frame = records_frame(records)
    assert list(frame.columns) == ["mean radius"] and len(frame) == 36
    batches = list((tmp_path / "churn").rglob("*.jsonl"))
    assert 2 <= len(batches) <= 3  # batches of up to FLUSH_RECORDS (5), the rest on shutdown


def test_sample_rate_zero_keeps_nothing(upstream, tmp_path):
    process, port = start_logger(upstream, str(tmp_path), SAMPLE_RATE="0")
    try:
        assert post(port, "/v2/models/churn/infer", oip(2))[0] == 200
    finally:
        stop(process)

    assert not list(Path(tmp_path).rglob("*.jsonl"))


def test_batches_go_to_the_object_store(upstream, s3_server: S3Server, monkeypatch):
    s3_server.put("inference-logs", "keep", b"")
    for key, value in s3_server.environ().items():
        monkeypatch.setenv(key, value)
    process, port = start_logger(upstream, "s3://inference-logs/inference", FLUSH_RECORDS="2")
    try:
        for _ in range(4):
            post(
                port,
                "/invocations",
                json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}).encode(),
            )
    finally:
        stop(process)

    since = datetime.now(UTC) - timedelta(hours=1)
    records = list(read_records("s3://inference-logs/inference", "churn", since))
    assert len(records) == 4
    assert records_frame(records).to_dict("records") == [{"a": 1, "b": 2}] * 4
