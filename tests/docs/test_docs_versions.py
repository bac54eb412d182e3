"""The versions the documentation names are the ones the code pins: a release moved in
`mlops_iac/versions.py` cannot leave README or docs/ behind (README once said Envoy Gateway
1.9.2, a release that does not exist, while the code pinned v1.9.0)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_iac import versions

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PINS = {
    "Envoy Gateway": versions.ENVOY_GATEWAY_VERSION,
    "kind": versions.KIND_VERSION,
    "MLflow": versions.MLFLOW_VERSION,
    "Pulumi CLI": versions.PULUMI_CLI_VERSION,
    "Kueue": versions.KUEUE_VERSION,
    "Feast": versions.FEAST_VERSION,
    "Argo Rollouts": versions.ARGO_ROLLOUTS_VERSION,
}


@pytest.mark.parametrize("name", sorted(PINS))
def test_every_version_the_docs_name_is_the_pinned_one(name: str) -> None:
    pattern = re.compile(rf"\b{re.escape(name)} (v?\d+\.\d+\.\d+)\b")
    wrong = [
        f"{page.relative_to(REPO)}: {name} {found}"
        for page in PAGES
        for found in pattern.findall(page.read_text())
        if found.lstrip("v") != PINS[name].lstrip("v")
    ]
    assert not wrong, f"pinned {name} is {PINS[name]}; the docs say: {wrong}"
