"""Every relative link and image in README.md and docs/ points at a file that exists, and
at a heading that exists when it names one."""

from __future__ import annotations

from pathlib import Path

import pytest
from _docs_markdown import REPO_ROOT, anchors, doc_files, is_relative, links


def _relative_links() -> list[tuple[Path, str]]:
    return [(path, target) for path in doc_files() for target in links(path) if is_relative(target)]


def test_the_docs_have_relative_links() -> None:
    linked = {path.name for path, _ in _relative_links()}
    assert {"README.md", "design.md", "serving.md", "testing.md"} <= linked


@pytest.mark.parametrize(
    ("path", "target"),
    _relative_links(),
    ids=[f"{p.relative_to(REPO_ROOT)}->{t}" for p, t in _relative_links()],
)
def test_relative_link_resolves(path: Path, target: str) -> None:
    name, _, fragment = target.partition("#")
    destination = (path.parent / name).resolve() if name else path
    assert destination.exists(), f"{path.relative_to(REPO_ROOT)}: {target}: no such file"
    if fragment and destination.suffix == ".md":
        assert fragment in anchors(destination), (
            f"{path.relative_to(REPO_ROOT)}: {target}: no heading #{fragment} in "
            f"{destination.relative_to(REPO_ROOT)}"
        )
