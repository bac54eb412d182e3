"""The repository holds sources, not what running them leaves behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = (".db", ".sqlite", ".pyc")
ARTEFACT_FOLDERS = ("mlruns/", "mlartifacts/", ".pulumi-state/", "out/", ".scan/")


def test_no_test_artefact_is_tracked() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()

    artefacts = [
        path
        for path in tracked
        if path.endswith(ARTEFACTS) or any(f"/{d}" in f"/{path}" for d in ARTEFACT_FOLDERS)
    ]
    assert artefacts == []
