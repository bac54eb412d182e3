"""Stateful resources keep their URNs: a rename or re-parent is a replacement in Pulumi, and
a replaced volume, database or password loses its data. The committed snapshot lists the
local stack's data-holding resources; each must still exist, or be aliased by its new self."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "tests" / "snapshots" / "local-stateful-urns.json"
sys.path.insert(0, str(REPO / "tools"))

from update_urn_snapshot import stateful_urns  # noqa: E402


def test_no_stateful_resource_was_renamed_or_reparented_without_an_alias():
    from mlops_iac.program import PulumiProject
    from mlops_iac.testing import synth

    project = PulumiProject.load(REPO)
    config, secret_keys = project.config("local")
    result = synth(
        project.run, project=project.name, stack="local", config=config, secret_keys=secret_keys
    )
    known = {r.urn for r in result.resources} | {a for r in result.resources for a in r.aliases}

    lost = [urn for urn in json.loads(SNAPSHOT.read_text()) if urn not in known]

    assert lost == [], (
        "these data-holding resources would be replaced (data lost): give their new "
        f"definitions a pulumi.Alias to the old URN: {lost}"
    )


def test_the_snapshot_lists_every_stateful_resource_of_the_local_stack():
    current = stateful_urns()

    missing = sorted(set(current) - set(json.loads(SNAPSHOT.read_text())))

    assert missing == [], f"new stateful resources; run tools/update_urn_snapshot.py: {missing}"
    assert any(urn.endswith("local-platform-postgres-statefulset") for urn in current)
