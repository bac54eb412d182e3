"""Run a Pulumi program under recording mocks and return every resource and manifest."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from .manifests import (
    MASK,
    ObjectIdentity,
    canonical,
    duplicate_objects,
    is_kubernetes_object,
    manifest_filename,
    manifest_filenames,
    mask_secret_data,
    mask_secrets,
    to_manifest,
)
from .mocks import RealisticMocks, RecordingMonitor, Registration
from .output_wait import linear_output_wait


class DuplicateObjectError(Exception):
    """Two or more resources declare one Kubernetes object (apiVersion's group, kind,
    namespace, name): a cluster refuses every one after the first (AlreadyExists)."""

    duplicates: list[tuple[ObjectIdentity, list[str]]]
    """Each identity declared more than once, with the URNs of the resources declaring it."""

    def __init__(self, duplicates: list[tuple[ObjectIdentity, list[str]]]) -> None:
        self.duplicates = duplicates
        lines = [
            f"{identity} is declared by {len(urns)} resources: {', '.join(urns)}"
            for identity, urns in duplicates
        ]
        super().__init__(
            "Kubernetes objects declared more than once (a cluster refuses all but the "
            "first with AlreadyExists):\n  " + "\n  ".join(lines)
        )


@dataclass
class SynthResult:
    """Everything a program declared: resources, Kubernetes manifests and stack outputs."""

    resources: list[Registration]
    manifests: list[dict[str, Any]]
    outputs: dict[str, Any] = field(default_factory=dict)
    """Stack outputs, secrets unwrapped (`secret_outputs` names the secret ones)."""
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_token: str) -> list[Registration]:
        """Resources of one Pulumi type, e.g. `kubernetes:apps/v1:Deployment`."""
        return [r for r in self.resources if r.type == type_token]

    def resource(self, name: str) -> Registration:
        """The resource with this Pulumi name."""
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources are named {name!r}")
        return matches[0]

    def manifests_of(self, kind: str) -> list[dict[str, Any]]:
        """Manifests of one Kubernetes kind."""
        return [m for m in self.manifests if m.get("kind") == kind]

    def manifest(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The manifest of one object by kind and `metadata.name`."""
        for candidate in self.manifests:
            meta = candidate.get("metadata", {})
            if (
                candidate.get("kind") == kind
                and meta.get("name") == name
                and namespace in (None, meta.get("namespace"))
            ):
                return candidate
        raise KeyError(f"no {kind} named {name!r} was synthesized")

    def revealed_manifests(self) -> list[dict[str, Any]]:
        """The manifests with real secret values (the mocks' generated ones), for applying
        to a throwaway test cluster. Never write these anywhere."""
        return [
            to_manifest(r, reveal_secrets=True) for r in self.resources if is_kubernetes_object(r)
        ]

    def children_of(self, urn: str) -> list[Registration]:
        """Resources whose parent is `urn`."""
        return [r for r in self.resources if r.parent == urn]

    def resources_json(self) -> list[dict[str, Any]]:
        """Every resource as `resources.json` lists it; secret values are "[secret]"."""
        return [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "custom": r.custom,
                "inputs": _mask_secret_objects(r),
                "protect": r.protect,
                "retainOnDelete": r.retain_on_delete,
                "dependsOn": r.depends_on,
            }
            for r in self.resources
        ]

    def shown_outputs(self) -> dict[str, Any]:
        """The stack outputs as `outputs.json` has them: secret ones masked."""
        return {k: MASK if k in self.secret_outputs else v for k, v in self.outputs.items()}

    def write(self, out: Path) -> int:
        """Write `resources.json`, `outputs.json` and `manifests/*.yaml` under `out`; return
        how many manifest files were written (one per object, see `manifest_filenames`).
        A `manifests/` folder an earlier `write` made is replaced; any other is refused
        (`OutFolderError`), so a folder of the user's is never deleted."""
        names = manifest_filenames(self.manifests)
        manifests_dir = out / "manifests"
        if manifests_dir.exists():
            if not (out / WRITTEN_MARKER).is_file():
                raise OutFolderError(
                    f"{manifests_dir} exists and was not written by synth: give --out a "
                    "folder of its own (nothing was changed)"
                )
            shutil.rmtree(manifests_dir)
        manifests_dir.mkdir(parents=True)
        (out / WRITTEN_MARKER).write_text("manifests/ was written by mlops-iac synth\n")
        (out / "resources.json").write_text(json.dumps(self.resources_json(), indent=2) + "\n")
        shown = self.shown_outputs()
        (out / "outputs.json").write_text(json.dumps(shown, indent=2, sort_keys=True) + "\n")
        for name, manifest in zip(names, self.manifests, strict=True):
            (manifests_dir / name).write_text(yaml.safe_dump(manifest, sort_keys=False))
        return len(names)


WRITTEN_MARKER = ".mlops-iac-synth"
"""Beside every `manifests/` folder `SynthResult.write` made (hidden, and not in it, so the
folder holds manifests only)."""


class OutFolderError(OSError):
    """The output folder holds a `manifests/` folder synth did not write."""


def _mask_secret_objects(registration: Registration) -> dict[str, Any]:
    inputs: dict[str, Any] = mask_secrets(registration.inputs)
    kind = "Secret" if registration.type == "kubernetes:core/v1:Secret" else None
    mask_secret_data(kind, registration.inputs, inputs)
    return dict(canonical(inputs))


def synth(
    program: Callable[[], Any],
    *,
    project: str = "mlops-iac",
    stack: str = "test",
    config: Mapping[str, Any] | None = None,
    secret_keys: Iterable[str] = (),
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> SynthResult:
    """Run `program` under recording mocks (no CLI, cluster or cloud); return all it declared.

    `config` is flat Pulumi config (`{"mlops:target": {...}}`); structured values may be given
    as Python objects. `stack_outputs` are the outputs of the stacks the program reads with a
    `StackReference`, by stack name. The program runs in a fresh thread, so every call
    starts clean. Raises `DuplicateObjectError` when two resources declare one Kubernetes
    object.
    """
    monitor = RecordingMonitor(RealisticMocks(stack_outputs))
    flat = {key: _config_text(value) for key, value in (config or {}).items()}
    failure: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            _configure(monitor, project, stack)
            set_all_config(flat, list(secret_keys))
            with linear_output_wait():
                _sync_await(run_in_stack(program))
        except BaseException as error:
            failure.append(error)
        finally:
            _close_loop(loop)

    worker = threading.Thread(target=run, name="mlops-iac-synth")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return _result(monitor)


def synth_project(
    directory: str | Path,
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> SynthResult:
    """Synthesize the Pulumi project in `directory` with `Pulumi.<stack>.yaml` (and its
    project defaults), each key of `overrides` replacing that config value (errors and
    `stack_outputs` as `synth`'s)."""
    from mlops_iac.program import PulumiProject

    project = PulumiProject.load(Path(directory))
    config, secret_keys = project.config(stack)
    config.update(overrides or {})
    return synth(
        project.run,
        project=project.name,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        stack_outputs=stack_outputs,
    )


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close the program's loop now, not in the collector (which may run at interpreter exit,
    after the loop's self-pipe is gone). What the program left pending is not run to its
    cancellation: on Python 3.11.7, resuming tasks the SDK's `_sync_await` pumped by hand
    leaves the interpreter's recursion counter off (a later `compile` raises SystemError)."""
    asyncio.set_event_loop(None)
    loop.close()


def _config_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _configure(monitor: RecordingMonitor, project: str, stack: str) -> None:
    from pulumi.runtime.mocks import MockEngine, MockSettings

    features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
    settings.configure(
        MockSettings(
            monitor=monitor,
            monitor_features=features,
            engine=MockEngine(None),
            project=project,
            stack=stack,
            dry_run=False,
            organization="organization",
            callbacks=None,
        )
    )


def _result(monitor: RecordingMonitor) -> SynthResult:
    # Registration order depends on when outputs resolve; sort for a deterministic result.
    resources = sorted(monitor.registrations, key=lambda r: r.urn)
    duplicates = duplicate_objects(resources)
    if duplicates:
        raise DuplicateObjectError(duplicates)
    manifests = sorted(
        (to_manifest(r) for r in resources if is_kubernetes_object(r)), key=manifest_filename
    )
    raw_outputs = monitor.outputs.get(getattr(monitor, "stack_urn", ""), {})
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    for key, value in raw_outputs.items():
        if mask_secrets(value) == MASK:
            secret_outputs.add(key)
            value = value["value"]
        outputs[key] = value
    return SynthResult(resources, manifests, outputs, secret_outputs)
