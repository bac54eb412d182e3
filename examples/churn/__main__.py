"""The ready-made stack program: the whole spec comes from Pulumi config (`mlops:<field>`)."""

from mlops_iac import MLOpsStack, StackSpec

spec = StackSpec.from_pulumi_config()
MLOpsStack(spec.name, spec).export()
