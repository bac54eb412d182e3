"""A stand-in for the Prometheus query API a rollout's analysis asks (the controller itself
runs from mlops_iac.dev.rollouts)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from mlops_iac.testing.local_servers import LOOPBACK


@dataclass
class PrometheusStandIn:
    """Answers Prometheus' instant-query API (`/api/v1/query`, POST form or GET) with one
    sample of `value` for every query, and records each query. The control-plane tier runs
    no containers, so nothing here exports metrics: what the analysis sends, and what it
    does with an answer, is what this tier checks (the queries are evaluated by a real
    Prometheus against real model servers in tests/workloads/test_rollout_analysis.py)."""

    value: float = 0.0
    queries: list[str] = field(default_factory=list)
    url: str = ""

    @contextmanager
    def serving(self) -> Iterator[PrometheusStandIn]:
        """Serve on a free loopback port (`url`) until the block ends."""
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(self.path.partition("?")[2])

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(length).decode())

            def _answer(self, form: str) -> None:
                query = parse_qs(form).get("query", [""])[0]
                stand_in.queries.append(query)
                sample = {"metric": {}, "value": [time.time(), repr(float(stand_in.value))]}
                body = json.dumps(
                    {"status": "success", "data": {"resultType": "vector", "result": [sample]}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
