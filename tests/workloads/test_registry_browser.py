"""The MLflow UI behind the Gateway, as a browser uses it: headless Chromium loads a page
from the registry's external origin and sends the UI's own request to create an experiment.

MLflow 3.17's security middleware refuses POST/PATCH/DELETE whose `Origin` is not localhost
unless `--cors-allowed-origins` lists it, and browsers send `Origin` even on same-origin
POSTs. A real `mlflow server` runs on 127.0.0.1 with the flags of the synthesized local
stack's Deployment; a small HTTP proxy on 127.0.0.1 stands in for the Gateway (Chromium
sends every request to it, so `http://mlflow.localtest.me` is the page's origin and no name
is ever resolved): it serves the test pages and forwards the registry's host to MLflow with
the browser's Host and Origin headers, recording what MLflow answered.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.testing import synth_project
from mlops_iac.testing.local_servers import LOOPBACK, MlflowServer, mlflow_server, venv_environ

pytestmark = pytest.mark.workload

REPO = Path(__file__).resolve().parents[2]
CREATE = "/ajax-api/2.0/mlflow/experiments/create"
PAGE = "/__browser-test__.html"
ROUTED = "mlflow.localtest.me"
"""The registry's host in the local stack (`mlops:registry.ingress.host`)."""
OTHER_HOST = "elsewhere.localtest.me"
# Flags whose values are the container's own (address, port, stores, paths): the test
# server sets them (a SQLite backend store, local artifacts).
LOCAL_FLAGS = (
    "--host=",
    "--port=",
    "--backend-store-uri=",
    "--artifacts-destination=",
    "--expose-prometheus=",
)


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (under CI, tools/test-servers.sh installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    unavailable("no chromium on PATH (Debian: apt-get install chromium)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def registry_pod() -> dict[str, Any]:
    """The pod template of the local stack's MLflow Deployment."""
    local = synth_project(REPO, "local")
    pod: dict[str, Any] = local.manifest("Deployment", "mlflow")["spec"]["template"]["spec"]
    return pod


def container(pod: dict[str, Any], name: str, kind: str = "containers") -> dict[str, Any]:
    return next(c for c in pod[kind] if c["name"] == name)


def server_flags(pod: dict[str, Any]) -> list[str]:
    """The Deployment's `mlflow server` options but those the test server sets itself."""
    command = container(pod, "mlflow")["command"]
    assert command[:2] == ["mlflow", "server"]
    return [arg for arg in command[2:] if not arg.startswith(LOCAL_FLAGS)]


def external_origin(flags: list[str]) -> str:
    (origins,) = [f.split("=", 1)[1] for f in flags if f.startswith("--cors-allowed-origins=")]
    (origin,) = origins.split(",")
    return origin


@dataclass
class Gateway:
    """What the stand-in Gateway saw: (method, host, path, Origin, status) per request."""

    backend: tuple[str, int]
    pages: dict[str, str]
    """Test page per host, served at `PAGE`."""
    routed_host: str
    requests: list[tuple[str, str, str, str, int]] = field(default_factory=list)


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            url = urllib.parse.urlsplit(self.path)  # a proxy's request line is absolute
            host = url.hostname or ""
            path = url.path + (f"?{url.query}" if url.query else "")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if url.path == PAGE and host in gateway.pages:
                status, headers, payload = 200, {"Content-Type": "text/html"}, gateway.pages[host]
                data = payload.encode()
            elif host == gateway.routed_host:
                status, headers, data = self._forward(path, body)
            else:
                status, headers, data = 404, {"Content-Type": "text/plain"}, b"no route"
            gateway.requests.append(
                (self.command, host, path, self.headers.get("Origin", ""), status)
            )
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _forward(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
            upstream = http.client.HTTPConnection(*gateway.backend, timeout=30)
            hop = {"proxy-connection", "connection", "keep-alive", "content-length"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
            try:
                upstream.request(self.command, path, body=body or None, headers=headers)
                response = upstream.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            finally:
                upstream.close()

        do_GET = do_POST = do_OPTIONS = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

    return Handler


@pytest.fixture
def gateway(registry: tuple[MlflowServer, str]) -> Iterator[tuple[Gateway, int]]:
    """The stand-in Gateway routing `ROUTED` to the registry; its port on 127.0.0.1."""
    port = urllib.parse.urlsplit(registry[0].url).port
    assert port is not None
    state = Gateway(backend=(LOOPBACK, port), pages={}, routed_host=ROUTED)
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def page(target: str, requests: dict[str, tuple[str, str]]) -> str:
    """A page that POSTs each `{label: (content type, body)}` to `target` as the UI does
    (XMLHttpRequest, synchronous so that the DOM holds the answers when it loads) and
    writes `{label: "<status> <body>" or "error <name>"}` into `#result`."""
    return f"""<!doctype html><html><body><pre id="result">pending</pre><script>
const results = {{}};
for (const [label, [type, body]] of Object.entries({json.dumps(requests)})) {{
  const xhr = new XMLHttpRequest();
  try {{
    xhr.open("POST", {json.dumps(target)}, false);
    xhr.setRequestHeader("Content-Type", type);
    xhr.send(body);
    results[label] = xhr.status + " " + xhr.responseText;
  }} catch (error) {{
    results[label] = "error " + error.name;
  }}
}}
document.getElementById("result").textContent = JSON.stringify(results);
</script></body></html>"""


def browse(chromium: str, proxy_port: int, url: str, profile: Path) -> dict[str, str]:
    """Load `url` in headless Chromium through the proxy on 127.0.0.1; `#result`'s JSON."""
    command = [
        chromium,
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://{LOOPBACK}:{proxy_port}",
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOOPBACK}",
        "--dump-dom",
        url,
    ]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    start = done.stdout.index('<pre id="result">') + len('<pre id="result">')
    text = done.stdout[start : done.stdout.index("</pre>", start)]
    results: dict[str, str] = json.loads(text.replace("&quot;", '"').replace("&amp;", "&"))
    return results


def experiment_exists(server: MlflowServer, name: str) -> bool:
    query = urllib.parse.urlencode({"experiment_name": name})
    url = f"{server.url}/api/2.0/mlflow/experiments/get-by-name?{query}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return bool(json.load(response)["experiment"]["experiment_id"])
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


@pytest.fixture(scope="module")
def registry(
    registry_pod: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[MlflowServer, str]]:
    """MLflow with the Deployment's flags, its schema made by the Deployment's init
    container command; and the registry's external origin."""
    root = tmp_path_factory.mktemp("registry")
    migrate = container(registry_pod, "migrate-database", "initContainers")["command"]
    assert migrate[0] == "python"
    subprocess.run(
        [sys.executable, *migrate[1:]],
        env=venv_environ(MLFLOW_BACKEND_STORE_URI=f"sqlite:///{root / 'mlflow.db'}"),
        check=True,
        timeout=300,
    )
    flags = server_flags(registry_pod)
    with mlflow_server(root, flags=flags) as server:
        yield server, external_origin(flags)


def test_the_deployment_allows_the_route_origin_and_runs_without_the_job_runner(
    registry_pod: dict[str, Any],
) -> None:
    flags = server_flags(registry_pod)
    assert external_origin(flags) == "http://mlflow.localtest.me"
    env = {e["name"]: e.get("value") for e in container(registry_pod, "mlflow")["env"]}
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"  # as the test server runs


def test_the_ui_behind_the_gateway_creates_an_experiment(
    registry: tuple[MlflowServer, str],
    gateway: tuple[Gateway, int],
    chromium: str,
    tmp_path: Path,
) -> None:
    server, origin = registry
    state, proxy_port = gateway
    name = f"from-the-ui-{uuid.uuid4().hex[:8]}"
    state.pages[ROUTED] = page(CREATE, {"ui": ("application/json", json.dumps({"name": name}))})

    results = browse(chromium, proxy_port, f"{origin}{PAGE}", tmp_path / "profile")

    assert results["ui"].startswith("200 "), results
    assert json.loads(results["ui"][4:])["experiment_id"]
    assert ("POST", ROUTED, CREATE, origin, 200) in state.requests
    assert experiment_exists(server, name)


def test_a_page_of_another_origin_is_refused(
    registry: tuple[MlflowServer, str],
    gateway: tuple[Gateway, int],
    chromium: str,
    tmp_path: Path,
) -> None:
    server, origin = registry
    state, proxy_port = gateway
    names = {label: f"from-elsewhere-{label}-{uuid.uuid4().hex[:8]}" for label in ("ui", "form")}
    state.pages[OTHER_HOST] = page(
        f"{origin}{CREATE}",
        {
            # the UI's request: preflighted, MLflow refuses the preflight, no POST is sent
            "ui": ("application/json", json.dumps({"name": names["ui"]})),
            # a "simple" request (no preflight): it reaches MLflow, which answers 403
            "form": ("text/plain", json.dumps({"name": names["form"]})),
        },
    )

    results = browse(chromium, proxy_port, f"http://{OTHER_HOST}{PAGE}", tmp_path / "profile")

    assert results == {"ui": "error NetworkError", "form": "error NetworkError"}
    other = f"http://{OTHER_HOST}"
    to_mlflow = [r for r in state.requests if r[1] == ROUTED]
    assert [
        (m, status) for m, _, path, o, status in to_mlflow if path == CREATE and o == other
    ] == [
        ("OPTIONS", 400),
        ("POST", 403),
    ]
    assert not any(experiment_exists(server, name) for name in names.values())
