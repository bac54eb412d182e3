"""The stack's runtime image, buildable from the installed package alone.

The Dockerfile and its pinned requirements ship in this folder as package data. A build
context is this folder's files plus a copy of the installed `mlops_iac` package, so a project
outside this repository (`pip install mlops-iac`) builds the same image a checkout does:
`mlops-iac up local` builds it into kind, the AWS platform pushes it to ECR, and
`mlops-iac image context` writes it for any other registry.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from mlops_iac import versions

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
"""The installed `mlops_iac` package the image runs (an editable install's checkout too)."""

REQUIREMENTS = {
    "runtime": HERE / "requirements.txt",
    "mlserver": HERE / "mlserver-requirements.txt",
    "feast": HERE / "feast-requirements.txt",
}
"""The pinned requirements of the image's three venvs (/opt/runtime, /opt/mlserver,
/opt/feast); the tests build the same venvs from them."""

DOCKERFILE = HERE / "Dockerfile"
CONTEXT_FILES = ("Dockerfile", *(path.name for path in REQUIREMENTS.values()))
"""The files of this folder the Dockerfile needs, at the context's root."""

MARKER = ".mlops-iac-image-context"
"""Written into every context folder, so rewriting one never deletes a folder we did not
write."""


class ContextError(RuntimeError):
    """The destination cannot take a build context."""


def _package_files() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def _context_files() -> Iterator[tuple[str, Path]]:
    """(path in the context, source file) for every file of a build context."""
    for name in CONTEXT_FILES:
        yield name, HERE / name
    for path in _package_files():
        yield f"mlops_iac/{path.relative_to(PACKAGE).as_posix()}", path


def _tag(files: Iterable[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{versions.RUNTIME_VERSION}-{digest.hexdigest()[:12]}"


def source_tag() -> str:
    """`<runtime version>-<12 hex>`: a digest of every file a context written from this
    package holds, so an immutable registry takes each new build and an unchanged package
    reuses the last one."""
    return _tag(_context_files())


def context_tag(context: Path) -> str:
    """The same digest over the files of a context folder (yours, or one written here: then
    it equals `source_tag()`)."""
    files = (
        (path.relative_to(context).as_posix(), path)
        for path in context.rglob("*")
        if path.is_file() and path.name != MARKER
    )
    return _tag(files)


def write_context(destination: Path) -> Path:
    """Write the build context into `destination` (created; a context written there before
    is replaced, anything else there is refused) and return it."""
    destination = destination.resolve()
    if destination.exists():
        if not destination.is_dir():
            raise ContextError(f"{destination} is a file, not a folder")
        if any(destination.iterdir()) and not (destination / MARKER).is_file():
            raise ContextError(
                f"{destination} is not empty and was not written by mlops-iac: choose an "
                "empty or new folder"
            )
        shutil.rmtree(destination)
    for name, path in _context_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (destination / MARKER).write_text(source_tag() + "\n")
    return destination


def ensure_context(destination: Path) -> Path:
    """`write_context` unless `destination` already holds the context of this package (its
    marker names the same source tag): cheap to call on every program run."""
    marker = destination / MARKER
    if marker.is_file() and marker.read_text().strip() == source_tag():
        return destination.resolve()
    return write_context(destination)
