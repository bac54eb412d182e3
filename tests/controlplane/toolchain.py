"""The real Pulumi toolchain against a control plane: a project (the repo's own `Pulumi.yaml`,
or one `mlops-iac new` made) driven by the `pulumi` CLI with a stack config of its own, and
what the tier asserts about the cluster it leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_iac import charts
from mlops_iac.dev.controlplane import ControlPlane

REPO = Path(__file__).resolve().parents[2]
VENDORED_CHARTS = Path(
    os.environ.get("MLOPS_IAC_TIER_CHARTS", REPO.parent / "shared" / "vendor" / "charts")
)
"""The chart copies the tier installs from: ../shared/vendor/charts, or a folder of the same
layout named by MLOPS_IAC_TIER_CHARTS."""
STACK = "controlplane-tier"
"""The tier's stack name (its config file `Pulumi.controlplane-tier.yaml` is git-ignored)."""
RETRY_SIGNS = ("no matches for kind", "Retry #")
"""What the engine prints when a create failed and is retried: on an empty cluster, a custom
resource created before its CRD. The tier allows none (no race won by luck)."""


def missing_dependencies(chart: Path) -> list[str]:
    """The dependencies a chart's Chart.yaml names that its `charts/` folder lacks: Helm
    refuses to install such a chart from a folder (it cannot download them here)."""
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    present = (
        {path.name for path in (chart / "charts").glob("*")}
        if (chart / "charts").is_dir()
        else set()
    )
    return [
        dependency["name"]
        for dependency in metadata.get("dependencies") or []
        if dependency["name"] not in present
        and not any(name.startswith(f"{dependency['name']}-") for name in present)
    ]


class PulumiFailed(AssertionError):
    """A pulumi command exited non-zero; the message has the end of its output."""


@dataclass
class TierStack:
    """One stack of a project (the repo's by default), deployed by the real CLI to a control
    plane."""

    plane: ControlPlane
    name: str
    config_file: Path
    config: dict[str, Any]
    directory: Path = REPO
    """The project's folder: every command runs there."""
    log: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    """Parts of the local stack the tier could not deploy here, with why."""
    config_extra: dict[str, Any] = field(default_factory=dict)
    """Stack settings beside `config` (the passphrase's `encryptionsalt`)."""

    @classmethod
    def from_local_stack(cls, plane: ControlPlane, name: str = STACK) -> TierStack:
        """The repo's local stack (`Pulumi.local.yaml`), targeted at `plane` as an existing
        cluster that gets its own Envoy Gateway; its config is `Pulumi.<name>.yaml` in the
        repo (git-ignored; `remove` deletes it)."""
        local = yaml.safe_load((REPO / "Pulumi.local.yaml").read_text())["config"]
        config = {**local, "mlops:target": {"kind": "kubernetes", "install_gateway": True}}
        stack = cls(plane, name, REPO / f"Pulumi.{name}.yaml", config)
        incomplete = missing_dependencies(
            VENDORED_CHARTS / charts.KUBE_PROMETHEUS_STACK.folder_name
        )
        if incomplete:
            config.pop("mlops:monitoring", None)
            stack.left_out["monitoring"] = (
                f"{VENDORED_CHARTS / charts.KUBE_PROMETHEUS_STACK.folder_name} lacks its "
                f"dependency charts {', '.join(incomplete)}, so Helm cannot install it here"
            )
        stack.write_config()
        stack.pulumi("stack", "init", name)
        # `stack init` added the passphrase's salt to the file: keep it.
        written = yaml.safe_load(stack.config_file.read_text())
        stack.config_extra = {k: v for k, v in written.items() if k != "config"}
        return stack

    @classmethod
    def of_project(cls, plane: ControlPlane, directory: Path, name: str) -> TierStack:
        """Stack `name` of the project in `directory`, with the config file it has (nothing
        written or initialized: the commands under test do that)."""
        config_file = directory / f"Pulumi.{name}.yaml"
        config = yaml.safe_load(config_file.read_text())["config"]
        return cls(plane, name, config_file, config, directory=directory)

    def remove(self) -> None:
        """Delete the stack's config file from the repo."""
        self.config_file.unlink(missing_ok=True)

    def env(self) -> dict[str, str]:
        """The process environment of every pulumi command: the control plane's (PATH with
        the built binaries, PULUMI_HOME with the built plugins, a file backend), the venv's
        Python for the language host, and the vendored charts."""
        env = {**os.environ, **self.plane.env()}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
        env["PULUMI_PYTHON_CMD"] = sys.executable
        env["MLOPS_IAC_CHARTS"] = str(VENDORED_CHARTS)
        return env

    def write_config(self) -> None:
        """Write `config` as the stack's config file (values as YAML, as users write them)."""
        document = {**self.config_extra, "config": self.config}
        self.config_file.write_text(yaml.safe_dump(document, sort_keys=True))

    def set(self, key: str, value: Any) -> None:
        """Change one config value (None removes it)."""
        if value is None:
            self.config.pop(key, None)
        else:
            self.config[key] = value
        self.write_config()

    def pulumi(self, *args: str, check: bool = True) -> str:
        """Run `pulumi <args>` on this stack in the repo; its output (stdout and stderr)."""
        command = [str(self.plane.bin_dir / "pulumi"), *args, "--non-interactive"]
        if args[:2] != ("stack", "init"):
            command += ["--stack", self.name]
        return self.run(command, check=check)

    def mlops_iac(self, *args: str) -> str:
        """`mlops-iac <args>` in the project with this environment (the Automation API then
        drives the built CLI); its output."""
        return self.run([sys.executable, "-m", "mlops_iac.cli", *args])

    def run(self, command: list[str], *, check: bool = True) -> str:
        """Run a command in the project with `env()`; its output (stdout and stderr), or
        PulumiFailed with the end of it."""
        done = subprocess.run(
            command,
            cwd=self.directory,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=1500,
        )
        output = done.stdout + done.stderr
        shown = " ".join(Path(command[0]).name.split() + command[1:])
        self.log.append(f"$ {shown}\n{output}")
        if check and done.returncode != 0:
            raise PulumiFailed(f"{shown} exited {done.returncode}:\n{output[-6000:]}")
        return output

    def up(self) -> str:
        """`pulumi up --yes`; fails on any create retried for a missing kind."""
        output = self.pulumi("up", "--yes", "--skip-preview", "--diff")
        retried = [line for line in output.splitlines() if any(s in line for s in RETRY_SIGNS)]
        assert retried == [], "creates were retried:\n" + "\n".join(retried[:20])
        return output

    def planned_steps(self) -> list[dict[str, Any]]:
        """`pulumi preview --json` steps other than `same`: op, urn and changed keys."""
        output = self.pulumi("preview", "--json")
        plan = json.loads(output[output.index("{") :])
        return [
            {"op": step["op"], "urn": step["urn"], "diffs": step.get("diffReasons", [])}
            for step in plan.get("steps", [])
            if step["op"] != "same"
        ]

    def resources(self) -> list[dict[str, Any]]:
        """The stack's state: every resource of `pulumi stack export`."""
        exported = json.loads(self.pulumi("stack", "export"))
        return list(exported["deployment"].get("resources", []))


def uids(plane: ControlPlane, *kinds: str) -> dict[str, str]:
    """`<kind>/<namespace>/<name>` -> uid for every object of these kinds."""
    found = {}
    for kind in kinds:
        for item in plane.get(kind, "--all-namespaces")["items"]:
            meta = item["metadata"]
            found[f"{kind}/{meta.get('namespace', '')}/{meta['name']}"] = meta["uid"]
    return found


def not_converged(plane: ControlPlane) -> list[str]:
    """Everything the stack created that has not reached its goal: Deployments and
    StatefulSets not fully available, Jobs not complete, claims not bound, Helm releases not
    deployed."""
    problems = []
    for item in plane.get("deployments", "--all-namespaces")["items"]:
        want, status = item["spec"].get("replicas", 1), item.get("status", {})
        if status.get("availableReplicas", 0) < want or status.get("updatedReplicas", 0) < want:
            problems.append(f"Deployment {_ref(item)}: {status}")
    for item in plane.get("statefulsets", "--all-namespaces")["items"]:
        want, status = item["spec"].get("replicas", 1), item.get("status", {})
        if status.get("readyReplicas", 0) < want:
            problems.append(f"StatefulSet {_ref(item)}: {status}")
    for item in plane.get("jobs", "--all-namespaces")["items"]:
        conditions = {c["type"]: c["status"] for c in item.get("status", {}).get("conditions", [])}
        if conditions.get("Complete") != "True":
            problems.append(f"Job {_ref(item)}: {conditions}")
    for item in plane.get("persistentvolumeclaims", "--all-namespaces")["items"]:
        if item.get("status", {}).get("phase") != "Bound":
            problems.append(f"PersistentVolumeClaim {_ref(item)}: {item.get('status')}")
    for item in plane.get("secrets", "--all-namespaces", "-l", "owner=helm")["items"]:
        labels = item["metadata"]["labels"]
        if labels.get("status") not in ("deployed", "superseded"):
            problems.append(f"Helm release {labels.get('name')}: {labels.get('status')}")
    return problems


def _ref(item: dict[str, Any]) -> str:
    meta = item["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"
