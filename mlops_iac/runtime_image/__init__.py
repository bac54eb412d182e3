"""The stack's runtime image, buildable from the installed package alone.

The Dockerfile and its pinned requirements ship in this folder as package data. A build
context is this folder's files plus a copy of the installed `mlops_iac` package, so a project
outside this repository (`pip install mlops-iac`) builds the same image a checkout does:
`mlops-iac up local` builds it into kind, the AWS platform pushes it to ECR, and
`mlops-iac image context` writes it for any other registry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from mlops_iac import versions
from mlops_iac.owned_folder import FolderError, package_files, write_owned

HERE = Path(__file__).resolve().parent

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


ContextError = FolderError
"""The destination cannot take a build context."""


def _context_files() -> Iterator[tuple[str, Path]]:
    """(path in the context, source file) for every file of a build context."""
    for name in CONTEXT_FILES:
        yield name, HERE / name
    yield from package_files()


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
    return write_owned(destination, _context_files(), marker=MARKER, marker_text=source_tag())


def ensure_context(destination: Path) -> Path:
    """`write_context` unless `destination` already holds the context of this package (its
    marker names the same source tag): cheap to call on every program run."""
    marker = destination / MARKER
    if marker.is_file() and marker.read_text().strip() == source_tag():
        return destination.resolve()
    return write_context(destination)
