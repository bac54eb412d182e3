"""A recorder standing in for the Kubernetes API's Job calls and for the Pushgateway."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

NAMESPACE = "mlops-training"
CRONJOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "churn", "namespace": NAMESPACE, "uid": "cron-uid-1"},
    "spec": {
        "schedule": "@yearly",
        "jobTemplate": {
            "metadata": {"labels": {"mlops-iac.dev/training-job": "churn"}},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "trainer", "image": "mlops-iac/runtime:0.1.0"}],
                    }
                }
            },
        },
    },
}


class Recorder:
    """What the fake servers received."""

    def __init__(self) -> None:
        self.created_jobs: list[dict[str, Any]] = []
        self.pushed: list[tuple[str, str]] = []
        self.finished: set[str] = set()


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON: the base of the fake API servers."""

    def log_message(self, *args: Any) -> None:
        pass

    def reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def handler_for(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs/churn":
                self.reply(200, CRONJOB)
            elif path == f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs":
                items = []
                for job in recorder.created_jobs:
                    done = job["metadata"]["name"] in recorder.finished
                    conditions = [{"type": "Complete", "status": "True"}] if done else []
                    items.append({**job, "status": {"conditions": conditions}})
                self.reply(200, {"apiVersion": "batch/v1", "kind": "JobList", "items": items})
            else:
                self.reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body["metadata"]["uid"] = str(uuid.uuid4())
            body["metadata"]["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            recorder.created_jobs.append(body)
            self.reply(201, body)

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            recorder.pushed.append((self.path, body))
            self.reply(200, {})

    return Handler
