"""A small HTTP load generator for the benchmarks: keep-alive connections, latency stats."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from typing import Any

LOOPBACK = "127.0.0.1"


def drive(port: int, path: str, body: bytes, requests: int, concurrency: int) -> dict[str, Any]:
    """Send `requests` POSTs over `concurrency` keep-alive connections; latency stats."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    per_thread = requests // concurrency

    def worker() -> None:
        nonlocal failures
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
        mine: list[float] = []
        bad = 0
        for _ in range(per_thread):
            start = time.perf_counter()
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            failures += bad

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return summary(latencies, elapsed, failures)


def summary(latencies: list[float], elapsed: float, failures: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "failed": failures,
        "rps": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }
