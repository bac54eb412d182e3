"""The whole spec comes from Pulumi config (`mlops:<field>` in Pulumi.<stack>.yaml)."""

from mlops_iac import MLOpsStack, StackSpec

spec = StackSpec.from_pulumi_config()
MLOpsStack(spec.name, spec).export()
