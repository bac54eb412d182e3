"""What `up` prints when it is done, from the stack's own spec and outputs: where each URL is
reachable from, and the commands that come next (train, a first prediction, tear down)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlops_iac.spec import StackSpec

FROM_HERE, IN_CLUSTER = "from this machine", "in-cluster"


def url_rows(outputs: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, URL, where it is reachable) for every URL output: the external one where a
    route exists, else the in-cluster one."""
    rows = []
    for key, value in sorted(outputs.items()):
        if not (isinstance(value, str) and value.startswith("http") and key.endswith(URL_KEYS)):
            continue
        if key.endswith("_external_url"):
            rows.append((_label(key.removesuffix("_external_url")), value, FROM_HERE))
        elif not outputs.get(f"{_stem(key)}_external_url"):
            rows.append((_label(_stem(key)), value, IN_CLUSTER))
    return rows


URL_KEYS = ("_url", "_uri")


def _stem(key: str) -> str:
    """`serving_churn_url` -> `serving_churn`; `registry_tracking_uri` -> `registry`."""
    return key.removesuffix("_url").removesuffix("_uri").removesuffix("_tracking")


def _label(key: str) -> str:
    return key.replace("_", " ")


def port_forward(url: str, context: str | None) -> tuple[str, str]:
    """`kubectl port-forward` for an in-cluster `http://<svc>.<ns>.svc.cluster.local:<port>`
    URL (in kubeconfig context `context`, the current one when None), and the URL it makes
    reachable here."""
    parts = urlsplit(url)
    service, namespace = (parts.hostname or "").split(".")[:2]
    port = parts.port or 80
    flag = f"--context {context} " if context else ""
    command = f"kubectl {flag}-n {namespace} port-forward svc/{service} {port}"
    return command, f"http://127.0.0.1:{port}"


def _endpoint_base(
    name: str, outputs: dict[str, Any], context: str | None
) -> tuple[list[str], str]:
    external = outputs.get(f"serving_{name}_external_url")
    if external:
        return [], str(external)
    command, local = port_forward(str(outputs[f"serving_{name}_url"]), context)
    return [f"{command} &"], local


def next_steps(
    spec: StackSpec, stack: str, outputs: dict[str, Any], program_dir: Path
) -> list[tuple[str, str]]:
    """(command, what it does) for this stack, in the order a user runs them."""
    folder = Path(program_dir).resolve()
    where = "" if folder == Path.cwd().resolve() else f" -C {os.path.relpath(folder)}"
    context = getattr(spec.target, "context", None)
    steps: list[tuple[str, str]] = []
    tracking = outputs.get("registry_tracking_uri")
    if isinstance(tracking, str) and not outputs.get("registry_external_url"):
        command, local = port_forward(tracking, context)
        steps.append((f"{command} &", f"the MLflow UI and tracking URI at {local}"))
    jobs = spec.training.jobs if spec.training else []
    for job in jobs[:1]:
        steps.append(
            (
                f"mlops-iac train {job.name} --stack {stack}{where}",
                f"run training job {job.name} now and register {job.registered_model} in "
                "the registry; the champion gate promotes it",
            )
        )
    for endpoint in spec.serving:
        if f"serving_{endpoint.name}_url" not in outputs:
            continue
        setup, base = _endpoint_base(endpoint.name, outputs, context)
        steps += [(command, f"reach endpoint {endpoint.name} from here") for command in setup]
        if endpoint.runtime == "mlflow":
            steps.append(
                (
                    f"curl -s {base}/invocations -H 'Content-Type: application/json' "
                    '-d \'{"dataframe_split": {"columns": [...], "data": [[...]]}}\'',
                    f"a prediction from {endpoint.name} (`mlflow models serve`, serving "
                    f"{endpoint.model} once it is registered)",
                )
            )
        else:
            steps.append(
                (
                    f"curl -s {base}/v2/models/{endpoint.name}/infer -H 'Content-Type: "
                    "application/json' -d '{\"inputs\": [...]}'",
                    f"a prediction from {endpoint.name} (Open Inference Protocol v2, serving "
                    f"{endpoint.model} once it is registered; ready at {base}/v2/health/ready)",
                )
            )
    if jobs and not spec.serving:
        steps.append(
            (
                f"mlops:serving: [{{name: {jobs[0].name}, model: "
                f"'models:/{jobs[0].registered_model}@champion'}}]",
                f"add this to Pulumi.{stack}.yaml and run `mlops-iac up {stack}{where}` again "
                "to serve the champion",
            )
        )
    steps.append(
        (
            f"mlops-iac down {stack}{where}",
            "tear the stack down and keep its data (`--delete-data` removes it too)",
        )
    )
    return steps
