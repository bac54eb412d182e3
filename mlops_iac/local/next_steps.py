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
        if not (isinstance(value, str) and value.startswith("http") and key.endswith("_url")):
            continue
        if key.endswith("_external_url"):
            rows.append((_label(key.removesuffix("_external_url")), value, FROM_HERE))
        elif not outputs.get(key.removesuffix("_url") + "_external_url"):
            rows.append((_label(key.removesuffix("_url")), value, IN_CLUSTER))
    return rows


def _label(key: str) -> str:
    return key.replace("_", " ")


def port_forward(url: str, context: str) -> tuple[str, str]:
    """`kubectl port-forward` for an in-cluster `http://<svc>.<ns>.svc.cluster.local:<port>`
    URL, and the URL it makes reachable here."""
    parts = urlsplit(url)
    service, namespace = (parts.hostname or "").split(".")[:2]
    port = parts.port or 80
    command = f"kubectl --context {context} -n {namespace} port-forward svc/{service} {port}"
    return command, f"http://127.0.0.1:{port}"


def _endpoint_base(name: str, outputs: dict[str, Any], context: str) -> tuple[list[str], str]:
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
    context = getattr(spec.target, "context", None) or "<context>"
    steps: list[tuple[str, str]] = []
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
