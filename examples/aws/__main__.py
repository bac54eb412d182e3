"""The whole stack from Pulumi config (`mlops:*` in Pulumi.<stack>.yaml): the same program
deploys to kind or AWS; only `mlops:target` says which."""

from mlops_iac import MLOpsStack, StackSpec

spec = StackSpec.from_pulumi_config()
MLOpsStack(spec.name, spec).export()
