"""Folders mlops-iac writes for a user (an image build context, a policy pack): written whole
with a marker file, so writing one again replaces it, and a folder we did not write is never
touched."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
"""The installed `mlops_iac` package (an editable install's checkout too)."""


class FolderError(RuntimeError):
    """The destination cannot take the folder."""


def package_files() -> Iterator[tuple[str, Path]]:
    """(`mlops_iac/<path>`, source file) for every file of the installed package, without
    bytecode caches: what a folder needs to import mlops_iac with no install."""
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield f"mlops_iac/{path.relative_to(PACKAGE).as_posix()}", path


def write_owned(
    destination: Path,
    files: Iterable[tuple[str, Path | str]],
    *,
    marker: str,
    marker_text: str,
    keep: tuple[str, ...] = (),
) -> Path:
    """Write `files` ((path in the folder, source file or text)) into `destination`, created,
    with `marker` holding `marker_text`. A folder that has the marker is replaced, except its
    top-level entries named in `keep`; any other non-empty folder is refused."""
    destination = destination.resolve()
    if destination.exists():
        if not destination.is_dir():
            raise FolderError(f"{destination} is a file, not a folder")
        if any(destination.iterdir()) and not (destination / marker).is_file():
            raise FolderError(
                f"{destination} is not empty and was not written by mlops-iac: choose an "
                "empty or new folder"
            )
        for entry in destination.iterdir():
            if entry.name in keep:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    destination.mkdir(parents=True, exist_ok=True)
    for name, source in files:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copyfile(source, target)
        else:
            target.write_text(source)
    (destination / marker).write_text(marker_text + "\n")
    return destination
