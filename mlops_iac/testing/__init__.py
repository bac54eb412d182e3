"""Test stacks without a cloud, a cluster or the Pulumi CLI.

from mlops_iac.testing import synth
result = synth(lambda: MLOpsStack("demo", spec))
result.of_type("kubernetes:apps/v1:Deployment")
"""

from .manifests import MASK, to_manifest
from .mocks import RealisticMocks, RecordingMonitor, Registration
from .secrets import generated_secrets, secret_leaks
from .synth import SynthResult, synth, synth_project

__all__ = [
    "MASK",
    "RealisticMocks",
    "RecordingMonitor",
    "Registration",
    "SynthResult",
    "generated_secrets",
    "secret_leaks",
    "synth",
    "synth_project",
    "to_manifest",
]
