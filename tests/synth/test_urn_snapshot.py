"""Stateful resources keep their URNs: a rename or re-parent is a replacement in Pulumi, and
a replaced volume, database, bucket or password loses its data. The committed snapshots
list the data-holding resources of the reference stacks (local on kind, aws-dev on AWS);
each must still exist, or be aliased by its new self."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from update_urn_snapshot import REFERENCE_STACKS, snapshot_path, synth_stack  # noqa: E402

SENTINELS = {
    "local": "local-platform-postgres-statefulset",
    "aws-dev": "mlops-platform-postgres-instance",
}
"""One resource each snapshot must hold: the database server."""


@pytest.fixture(scope="module", params=REFERENCE_STACKS)
def reference(request: pytest.FixtureRequest):
    return request.param, synth_stack(request.param)


def test_no_stateful_resource_was_renamed_or_reparented_without_an_alias(reference):
    stack, result = reference
    known = {r.urn for r in result.resources} | {a for r in result.resources for a in r.aliases}

    lost = [urn for urn in json.loads(snapshot_path(stack).read_text()) if urn not in known]

    assert lost == [], (
        f"these data-holding resources of {stack} would be replaced (data lost): give their "
        f"new definitions a pulumi.Alias to the old URN: {lost}"
    )


def test_the_snapshot_lists_every_stateful_resource_of_the_stack(reference):
    stack, result = reference
    current = sorted(r.urn for r in result.resources if r.protect or r.retain_on_delete)

    missing = sorted(set(current) - set(json.loads(snapshot_path(stack).read_text())))

    assert missing == [], f"new stateful resources; run tools/update_urn_snapshot.py: {missing}"
    assert any(urn.endswith(SENTINELS[stack]) for urn in current)
