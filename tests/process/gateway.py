"""The data plane of a Gateway API implementation, for the process tier: HTTP requests routed
by the HTTPRoutes in the API server, to the ready endpoints of their backend Services.

What it does as Envoy Gateway does: the route is chosen by the request's host name and path
prefix; a backend by the rule's `backendRefs` weights (a weight of 0 gets nothing; a rule
whose weights are all 0 answers 500); an endpoint at random among the backend's ready ones
(EndpointSlices, `ready` condition); no retries, so a request to an endpoint that is gone
fails (503) as it would there. Routes and endpoints are re-read every quarter second, where
Envoy Gateway reacts to watches: a weight change reaches requests within about as long as
it does there.

Not done: Gateways and listeners (every route attached anywhere is served), header and
method matches, filters, TLS."""

from __future__ import annotations

import http.client
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from node import Endpoints

REFRESH_SECONDS = 0.25
UPSTREAM_TIMEOUT = 30
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}


@dataclass(frozen=True)
class Backend:
    namespace: str
    service: str
    port_name: str
    weight: int


@dataclass(frozen=True)
class Rule:
    path_prefixes: tuple[str, ...]
    backends: tuple[Backend, ...]


class Routes:
    """HTTPRoutes by host name, as last read from the API server."""

    def __init__(self) -> None:
        self._by_host: dict[str, list[Rule]] = {}
        self._lock = threading.Lock()

    def update(self, routes: list[dict[str, Any]], services: list[dict[str, Any]]) -> None:
        port_names = {
            (s["metadata"]["namespace"], s["metadata"]["name"], p["port"]): p.get("name") or ""
            for s in services
            for p in s["spec"].get("ports") or []
        }
        by_host: dict[str, list[Rule]] = {}
        for route in routes:
            namespace = route["metadata"]["namespace"]
            rules = []
            for rule in route["spec"].get("rules") or []:
                prefixes = tuple(
                    m["path"]["value"]
                    for m in rule.get("matches") or [{"path": {"value": "/"}}]
                    if m.get("path", {}).get("type", "PathPrefix") == "PathPrefix"
                )
                backends = tuple(
                    Backend(
                        ref.get("namespace", namespace),
                        ref["name"],
                        port_names.get((ref.get("namespace", namespace), ref["name"], ref["port"]))
                        or "",
                        int(ref.get("weight", 1)),
                    )
                    for ref in rule.get("backendRefs") or []
                )
                rules.append(Rule(prefixes, backends))
            for host in route["spec"].get("hostnames") or ["*"]:
                by_host.setdefault(host, []).extend(rules)
        with self._lock:
            self._by_host = by_host

    def backend(self, host: str, path: str) -> Backend | None:
        """The backend a request goes to; None when no route matches (404)."""
        with self._lock:
            rules = self._by_host.get(host, []) + self._by_host.get("*", [])
        for rule in rules:
            if any(path.startswith(prefix) for prefix in rule.path_prefixes):
                weighted = [b for b in rule.backends if b.weight > 0]
                if not weighted:
                    return Backend("", "", "", 0)  # all weights 0: 500, as the spec says
                return random.choices(weighted, [b.weight for b in weighted])[0]
        return None


class Gateway:
    """Serve the routes on `address` until `close`; `url` is where clients send requests
    (with the route's host name in `Host`)."""

    def __init__(self, api: Any, endpoints: Endpoints, address: str) -> None:
        from kubernetes import client

        self.api = api
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.endpoints = endpoints
        self.routes = Routes()
        self._closed = threading.Event()
        self._refresh()
        self._server = ThreadingHTTPServer((address, 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://{address}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        threading.Thread(target=self._keep_refreshing, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()

    def _refresh(self) -> None:
        routes = self.custom.list_cluster_custom_object(
            "gateway.networking.k8s.io", "v1", "httproutes"
        )["items"]
        services = self.api.sanitize_for_serialization(self.core.list_service_for_all_namespaces())[
            "items"
        ]
        self.routes.update(routes, services)

    def _keep_refreshing(self) -> None:
        while not self._closed.wait(REFRESH_SECONDS):
            try:
                self._refresh()
            except Exception:  # a transient API error: keep the last routes, as a gateway does
                continue

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                host = (self.headers.get("Host") or "").split(":")[0]
                backend = gateway.routes.backend(host, self.path)
                if backend is None:
                    return self._answer(404, b"no route")
                if not backend.service:
                    return self._answer(500, b"every backend has weight 0")
                ready = gateway.endpoints.ready(backend.namespace, backend.service)
                if not ready:
                    return self._answer(503, b"no healthy upstream")
                endpoint = random.choice(ready)
                port = endpoint.ports.get(backend.port_name)
                if port is None:
                    return self._answer(503, b"no such port on the endpoint")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(endpoint.ip, port, timeout=UPSTREAM_TIMEOUT)
                try:
                    upstream.request(self.command, self.path, body, headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                    kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
                except OSError as error:
                    return self._answer(503, f"upstream connect error: {error}".encode())
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for key, value in kept:
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def _answer(self, code: int, text: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def gateway(api: Any, endpoints: Endpoints, address: str) -> Iterator[Gateway]:
    served = Gateway(api, endpoints, address)
    try:
        yield served
    finally:
        served.close()
