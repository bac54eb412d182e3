"""A steady load on an endpoint, each answer recorded: what a rollout must not disturb."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    at: float
    """Seconds since the load started."""
    status: int
    """The HTTP status; 0 when no answer came (refused, reset, timed out)."""
    version: str
    """The model version that answered (`model_version` of the response), or ""."""
    error: str = ""


@dataclass
class SteadyLoad:
    """`rate` requests a second, spread over `threads` clients, to `url` with `host` as the
    Host header, cycling through `bodies`; until `stop`."""

    url: str
    host: str
    path: str
    bodies: list[bytes]
    rate: float = 10.0
    threads: int = 4
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _started: float = 0.0

    def start(self) -> SteadyLoad:
        self._started = time.monotonic()
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def failures(self, since: float = 0.0, until: float = float("inf")) -> list[Answer]:
        return [a for a in self.answers if since <= a.at < until and a.status != 200]

    def versions(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        return Counter(a.version for a in self.answers if since <= a.at < until)

    def _run(self, index: int) -> None:
        period = self.threads / self.rate
        parts = urlsplit(self.url)
        next_at = time.monotonic() + index * period / self.threads
        sent = index
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            next_at += period
            body = self.bodies[sent % len(self.bodies)]
            sent += self.threads
            self.answers.append(self._send(parts.hostname or "", parts.port or 80, body))

    def _send(self, address: str, port: int, body: bytes) -> Answer:
        at = self.elapsed()
        connection = http.client.HTTPConnection(address, port, timeout=30)
        try:
            connection.request(
                "POST", self.path, body, {"Host": self.host, "Content-Type": "application/json"}
            )
            response = connection.getresponse()
            text = response.read()
        except OSError as error:
            return Answer(at, 0, "", repr(error))
        finally:
            connection.close()
        if response.status != 200:
            return Answer(at, response.status, "", text[:300].decode(errors="replace"))
        return Answer(at, 200, str(json.loads(text).get("model_version", "")))
