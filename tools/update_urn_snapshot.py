"""Rewrite tests/snapshots/<stack>-stateful-urns.json from the repo's reference stacks (local
on kind, aws-dev on AWS): the URNs of every resource that holds data (protected or retained
on delete).

    python tools/update_urn_snapshot.py [STACK ...]

Run it only for an intended change, and give a renamed or re-parented stateful resource an
alias (`pulumi.Alias`) first: without one Pulumi replaces it, and a replaced volume or
database loses its data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlops_iac.testing import SynthResult, synth_project

REPO = Path(__file__).resolve().parents[1]
REFERENCE_STACKS = ("local", "aws-dev")


def snapshot_path(stack: str) -> Path:
    """Where the snapshot of one reference stack is committed."""
    return REPO / "tests" / "snapshots" / f"{stack}-stateful-urns.json"


def synth_stack(stack: str) -> SynthResult:
    """The repo's program synthesized with `Pulumi.<stack>.yaml`."""
    return synth_project(REPO, stack)


def stateful_urns(stack: str = "local") -> list[str]:
    """URNs of one reference stack's resources that are protected or retained on delete."""
    return sorted(r.urn for r in synth_stack(stack).resources if r.protect or r.retain_on_delete)


if __name__ == "__main__":
    for name in sys.argv[1:] or REFERENCE_STACKS:
        path = snapshot_path(name)
        path.write_text(json.dumps(stateful_urns(name), indent=2) + "\n")
        print(path)
