"""A real Prometheus (Debian's `/usr/bin/prometheus`) on 127.0.0.1 for the workload tests:
static scrape targets with the labels Kubernetes service discovery would give them, and
instant queries asked the way Argo Rollouts' Prometheus provider asks them."""

from __future__ import annotations

import json
import math
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.testing.local_servers import prometheus_binary, prometheus_server


@dataclass(frozen=True)
class ScrapeTarget:
    """One `/metrics` endpoint and the target labels its series get."""

    address: str
    """host:port"""
    labels: dict[str, str]


@dataclass(frozen=True)
class Prometheus:
    """A running Prometheus."""

    url: str

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())

    def query(self, promql: str, at: float | None = None) -> list[float]:
        """An instant query as Argo Rollouts v1.10 sends it (client_golang's `API.Query`:
        `POST /api/v1/query`, form `query` and `time`), its vector result as the list of
        floats the provider hands to the condition (`sampleValuesToFloatSlice`)."""
        form = {"query": promql, "time": f"{time.time() if at is None else at:.3f}"}
        request = urllib.request.Request(
            f"{self.url}/api/v1/query",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success", answer
        data = answer["data"]
        if data["resultType"] == "scalar":
            return [float(data["result"][1])]
        assert data["resultType"] == "vector", f"Argo handles no {data['resultType']}: {promql}"
        return [float(sample["value"][1]) for sample in data["result"]]

    def wait_for_targets_up(self, count: int, timeout: float = 30) -> None:
        """Until `count` targets were scraped and are healthy."""
        deadline = time.monotonic() + timeout
        while True:
            active = self.get("/api/v1/targets")["data"]["activeTargets"]
            healthy = [t for t in active if t["health"] == "up"]
            if len(healthy) == count:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"targets not up within {timeout}s: {active}")
            time.sleep(0.2)

    def wait_for_value(self, promql: str, expected: float, timeout: float = 30) -> None:
        """Until `promql`'s single value is `expected` (a scrape caught up)."""
        deadline = time.monotonic() + timeout
        while True:
            values = self.query(promql)
            if values and math.isclose(values[0], expected):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{promql} is {values}, not {expected}, after {timeout}s")
            time.sleep(0.2)


def binary() -> str:
    """Prometheus' binary, or skip (fail under CI): tools/test-servers.sh installs it."""
    found = prometheus_binary()
    if found is None:
        reason = "prometheus not installed (Debian package prometheus; tools/test-servers.sh)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (under CI, .ci/run installs it)")
        pytest.skip(reason)
    return found


def scrape_config(targets: Sequence[ScrapeTarget], interval: str) -> dict[str, Any]:
    """One job, one static group per target (JSON is YAML)."""
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": interval},
        "scrape_configs": [
            {
                "job_name": "model-servers",
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [target.address], "labels": target.labels} for target in targets
                ],
            }
        ],
    }


@contextmanager
def prometheus(
    root: Path, targets: Sequence[ScrapeTarget], *, interval: str = "1s", timeout: float = 60
) -> Iterator[Prometheus]:
    """Prometheus scraping `targets` every `interval`, its TSDB and log under `root`; stopped
    with its whole process group on exit."""
    binary()  # skip, or fail under CI, without it
    with prometheus_server(root, scrape_config(targets, interval), timeout=timeout) as url:
        yield Prometheus(url)
