"""The test suite itself: pytest imports test modules by basename (rootdir-relative, no
packages), so two modules of one name in different tiers stop the whole collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_test_module_under_the_testpaths_has_a_name_of_its_own() -> None:
    modules = [
        path
        for folder in ("tests", "examples")
        for path in (REPO / folder).rglob("test_*.py")
        if ".venv" not in path.parts
    ]
    counts = Counter(path.name for path in modules)

    repeated = sorted(str(p.relative_to(REPO)) for p in modules if counts[p.name] > 1)
    assert repeated == []
