"""Rewrite tests/snapshots/local-stateful-urns.json from the repo's local stack: the URNs of
every resource that holds data (protected or retained on delete).

    python tools/update_urn_snapshot.py

Run it only for an intended change, and give a renamed or re-parented stateful resource an
alias (`pulumi.Alias`) first: without one Pulumi replaces it, and a replaced volume or
database loses its data.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlops_iac.program import PulumiProject
from mlops_iac.testing import synth

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "tests" / "snapshots" / "local-stateful-urns.json"


def stateful_urns() -> list[str]:
    """URNs of the local stack's resources that are protected or retained on delete."""
    project = PulumiProject.load(REPO)
    config, secret_keys = project.config("local")
    result = synth(
        project.run, project=project.name, stack="local", config=config, secret_keys=secret_keys
    )
    return sorted(r.urn for r in result.resources if r.protect or r.retain_on_delete)


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(stateful_urns(), indent=2) + "\n")
    print(SNAPSHOT)
