"""Helpers that run a synthesized container's own command on this machine as the kubelet
would start it: its env from the manifest (Secret values from the mocks), `$(VAR)`
references in command and args expanded the kubelet's way, its volume mounts mapped to
local folders, and wrappers that log every command line a named tool is started with."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from mlops_iac.testing import SynthResult
from mlops_iac.testing.kubelet import kubelet_expand


def secret_value(result: SynthResult, namespace: str, ref: dict[str, str]) -> str:
    """A Secret's value as the kubelet puts it in the env (the mocks' real values)."""
    for manifest in result.revealed_manifests():
        meta = manifest.get("metadata", {})
        if manifest.get("kind") != "Secret" or meta.get("name") != ref["name"]:
            continue
        if meta.get("namespace") != namespace:
            continue
        if ref["key"] in (manifest.get("stringData") or {}):
            return str(manifest["stringData"][ref["key"]])
        return base64.b64decode(manifest["data"][ref["key"]]).decode()
    raise KeyError(f"no Secret {namespace}/{ref['name']}")


def container_env(result: SynthResult, namespace: str, container: dict[str, Any]) -> dict[str, str]:
    """The container's env as the kubelet builds it from the manifest."""
    env: dict[str, str] = {}
    for variable in container.get("env") or []:
        if "value" in variable:
            env[variable["name"]] = kubelet_expand(variable["value"], env)
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            env[variable["name"]] = secret_value(result, namespace, ref)
    return env


def localize(parts: list[str], places: dict[str, str]) -> list[str]:
    """Each part with the pod's paths (or ports) replaced by this machine's."""
    localized = []
    for part in parts:
        for pod_place, local_place in places.items():
            part = part.replace(pod_place, local_place)
        localized.append(part)
    return localized


def mounted_folders(container: dict[str, Any], root: Path) -> dict[str, str]:
    """A fresh folder under `root` for each of the container's volume mounts, by mount path."""
    places = {}
    for mount in container.get("volumeMounts") or []:
        folder = root / mount["name"]
        folder.mkdir(parents=True, exist_ok=True)
        places[mount["mountPath"]] = str(folder)
    return places


def argv_shims(folder: Path, log: Path, tools: dict[str, str]) -> Path:
    """`folder` with one wrapper per tool (name -> real binary) that appends its command
    line to `log`, then runs the real binary: what `ps` or /proc/<pid>/cmdline would show
    in the pod. Put `folder` first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, binary in tools.items():
        shim = folder / name
        shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "{name} $*" >> "{log}"\nexec "{binary}" "$@"\n')
        shim.chmod(0o755)
    return folder
