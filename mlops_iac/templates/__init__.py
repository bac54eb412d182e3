"""Project templates: what `mlops-iac new FOLDER` writes.

`mlops-stack/` is a Pulumi project template as well (`pulumi new <path>/mlops-stack`): its
Pulumi.yaml has a `template:` section and `${PROJECT}` / `${DESCRIPTION}` placeholders,
which `pulumi new` replaces and removes, and so does `new_project`. `targets/<target>.yaml`
are the dev stack's config for the targets other than kind.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

TEMPLATE_DIR = Path(__file__).parent / "mlops-stack"
"""The project template (the kind target's dev stack)."""
TARGET_STACKS = Path(__file__).parent / "targets"
TARGETS = ("kind", "kubernetes", "aws")
"""What `--target` may be: the kinds of `mlops:target`."""
STACK = "dev"
"""The stack a new project starts with (`Pulumi.dev.yaml`)."""
_SKIPPED = {"__pycache__", ".pytest_cache"}
_TEMPLATE_SECTION = re.compile(r"^template:\n(?:[ \t#].*\n|\n)*", re.MULTILINE)


class ProjectExistsError(FileExistsError):
    """The folder already holds files the new project would overwrite."""


def project_name(folder: Path) -> str:
    """A Pulumi project name from a folder's name: letters, digits, `_`, `.` and `-`."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.resolve().name).strip("-.")
    return name or "mlops-stack"


def template_description() -> str:
    """The template's description (Pulumi.yaml `template.description`)."""
    data = yaml.safe_load((TEMPLATE_DIR / "Pulumi.yaml").read_text())
    return str(data["template"]["description"])


def render(folder: Path, *, target: str = "kind", name: str | None = None) -> dict[str, str]:
    """The new project's files (path relative to the folder -> text), for `target`."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    name = name or project_name(folder)
    files: dict[str, str] = {}
    for path in sorted(TEMPLATE_DIR.rglob("*")):
        relative = path.relative_to(TEMPLATE_DIR)
        if path.is_dir() or _SKIPPED & set(relative.parts) or path.suffix == ".pyc":
            continue
        files[relative.as_posix()] = path.read_text()
    project = _TEMPLATE_SECTION.sub("", files["Pulumi.yaml"])
    files["Pulumi.yaml"] = project.replace("${PROJECT}", _yaml_scalar(name)).replace(
        "${DESCRIPTION}", _yaml_scalar(f"An MLOps stack on {target} (mlops-iac)")
    )
    if target != "kind":
        files[f"Pulumi.{STACK}.yaml"] = (TARGET_STACKS / f"{target}.yaml").read_text()
    if target == "aws":
        files["requirements.txt"] = files["requirements.txt"].replace(
            "mlops-iac>=", "mlops-iac[aws]>="
        )
    return files


def new_project(folder: Path, *, target: str = "kind", name: str | None = None) -> list[Path]:
    """Write a new project into `folder` (created when missing); the files written.

    Raises ProjectExistsError, writing nothing, when any of the files exists already."""
    files = render(folder, target=target, name=name)
    existing = sorted(relative for relative in files if (folder / relative).exists())
    if existing:
        raise ProjectExistsError(
            f"{folder} already has {', '.join(existing)}; choose a new or empty folder"
        )
    written = []
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _yaml_scalar(value: str) -> str:
    """`value` as one YAML scalar (quoted when it would read as another type)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()
