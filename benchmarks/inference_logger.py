"""The inference logger's cost on this machine: the same requests to a stand-in model server
directly, and through the logger sidecar (10% sampled to a local folder). Prints one JSON
document with the added p50/p99 latency.

    python benchmarks/inference_logger.py [--requests 2000]

The stand-in answers at once, so the numbers are the logger's own overhead; a real model
server's inference time comes on top of both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgen import LOOPBACK, drive  # noqa: E402  (benchmarks/ is the script's folder)

from mlops_iac.testing.local_servers import (  # noqa: E402
    free_port,
    stop_process_group,
    wait_for_http,
)

BODY = json.dumps(
    {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [1.0]}]}
).encode()
PATH = "/v2/models/churn/infer"


class Instant(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = b'{"outputs":[{"name":"p","data":[1]}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    upstream = ThreadingHTTPServer((LOOPBACK, 0), Instant)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    upstream_port = upstream.server_address[1]
    port = free_port()
    report: dict[str, Any] = {"requests": args.requests, "sample_rate": 0.1}
    with tempfile.TemporaryDirectory() as logs:
        env = {
            **os.environ,
            "UPSTREAM": f"http://{LOOPBACK}:{upstream_port}",
            "LISTEN_PORT": str(port),
            "SAMPLE_RATE": "0.1",
            "LOG_LOCATION": logs,
        }
        logger = subprocess.Popen(
            [sys.executable, "-m", "mlops_iac.workloads.inference_logger"],
            env=env,
            start_new_session=True,
        )
        try:
            wait_for_http(f"http://{LOOPBACK}:{port}/v2/health/ready", 30, logger)
            for concurrency in (1, 8):
                drive(upstream_port, PATH, BODY, 200, concurrency)  # warm-up
                drive(port, PATH, BODY, 200, concurrency)
                direct = drive(upstream_port, PATH, BODY, args.requests, concurrency)
                logged = drive(port, PATH, BODY, args.requests, concurrency)
                report[f"c{concurrency}"] = {
                    "direct": direct,
                    "through_logger": logged,
                    "added_p50_ms": round(logged["p50_ms"] - direct["p50_ms"], 2),
                    "added_p99_ms": round(logged["p99_ms"] - direct["p99_ms"], 2),
                }
        finally:
            stop_process_group(logger)
            upstream.shutdown()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
