"""Write the CrossGuard policy pack (mlops_iac.crossguard) into a folder that
`pulumi preview --policy-pack FOLDER` runs: PulumiPolicy.yaml, a two-line `__main__.py`, a
copy of the installed `mlops_iac` (the rules; the pack needs no install of it), and
`requirements.txt` for the pack's own venv (`venv/`, which `install` creates the way
`pulumi install` would)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from mlops_iac import versions
from mlops_iac.owned_folder import FolderError, package_files, write_owned

MARKER = ".mlops-iac-policy-pack"
VENV = "venv"
PACK_VERSION = importlib.metadata.version("mlops-iac")

POLICY_YAML = f"""\
# mlops-iac's safety rules as a CrossGuard policy pack, written by `mlops-iac policy-pack`.
description: mlops-iac's safety rules (Pod Security, resources, probes, images, secrets, network)
version: {PACK_VERSION}
runtime:
  name: python
  options:
    virtualenv: {VENV}
"""
MAIN = """\
from mlops_iac.crossguard import serve

serve()
"""


def requirements() -> str:
    """The pack venv's requirements: pulumi-policy and the Pulumi SDK this package runs."""
    pulumi = importlib.metadata.version("pulumi")
    return f"pulumi-policy=={versions.PULUMI_POLICY_VERSION}\npulumi=={pulumi}\n"


def write_pack(destination: Path) -> Path:
    """The pack in `destination` (a pack written there before is replaced, keeping its
    venv; anything else there is refused)."""
    files: list[tuple[str, Path | str]] = [
        ("PulumiPolicy.yaml", POLICY_YAML),
        ("__main__.py", MAIN),
        ("requirements.txt", requirements()),
        *package_files(),
    ]
    return write_owned(destination, files, marker=MARKER, marker_text=PACK_VERSION, keep=(VENV,))


def install(pack: Path, python: str = sys.executable) -> bool:
    """Create or update the pack's venv from its requirements; False when it already had
    them (recorded in `venv/.requirements`)."""
    venv, wanted = pack / VENV, (pack / "requirements.txt").read_text()
    record = venv / ".requirements"
    if record.is_file() and record.read_text() == wanted:
        return False
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    requirements_file = str(pack / "requirements.txt")
    subprocess.run([*pip, "--disable-pip-version-check", "-r", requirements_file], check=True)
    record.write_text(wanted)
    return True


__all__ = ["MARKER", "FolderError", "install", "requirements", "write_pack"]
